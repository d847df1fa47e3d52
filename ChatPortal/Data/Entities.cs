namespace ChatPortal.Data;

/// <summary>A chat user (people, guests and bots). Admins live in their own table.</summary>
public sealed class ChatUser
{
    public long Id { get; set; }
    public required string Name { get; set; }
    /// <summary>Trimmed, upper-invariant name: uniqueness ignores case.</summary>
    public required string NormalizedName { get; set; }
    /// <summary>Null for guests and bots: they cannot sign in with a password.</summary>
    public string? PasswordHash { get; set; }
    public UserKind Kind { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSeenAt { get; set; }
    public string? LastIp { get; set; }
    /// <summary>Changes on ban, password reset and kick: outstanding cookies and tokens stop working.</summary>
    public required string SecurityStamp { get; set; }
    public int FailedSignIns { get; set; }
    public DateTimeOffset? LockedUntil { get; set; }
    public DateTimeOffset? MutedUntil { get; set; }
    /// <summary>Why the user is muted (shown to them with the end time).</summary>
    public string? MuteReason { get; set; }
    public DateTimeOffset? BannedAt { get; set; }
    public string? BanReason { get; set; }
    public string? Locale { get; set; }
    public string? Theme { get; set; }
    /// <summary>Set when the account was deleted: the row stays as a tombstone ("deleted user") so kept messages have a sender.</summary>
    public DateTimeOffset? DeletedAt { get; set; }
    /// <summary>
    /// The name's confusable skeleton (Unicode TR39, see Auth/NameSkeletons): two names with the same
    /// skeleton look alike, so a new name may not take an existing one's. Null until computed.
    /// </summary>
    public string? NameSkeleton { get; set; }
    /// <summary>A bot account made in the back office (issue 16): the admin who made it. Null for people and the built-in bots.</summary>
    public long? BotOwnerId { get; set; }
}

/// <summary>
/// One signed-in browser session of a chat user. Its id is in the cookie; the cookie is valid only
/// while this row exists, so signing out (this session) or signing out everywhere (all rows)
/// ends the cookie on the server, not only in the browser.
/// </summary>
public sealed class SignInSession
{
    /// <summary>Random 128-bit id (hex), the cookie's <c>chatportal:sid</c> claim.</summary>
    public required string Id { get; set; }
    public long UserId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    public string? RemoteIp { get; set; }
    public string? UserAgent { get; set; }
}

public enum UserKind
{
    Member = 0,
    Guest = 1,
    Bot = 2,
}

public sealed class AdminUser
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string NormalizedName { get; set; }
    public required string PasswordHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public bool Disabled { get; set; }
    public int FailedSignIns { get; set; }
    public DateTimeOffset? LockedUntil { get; set; }
    public required string SecurityStamp { get; set; }
}

public sealed class Room
{
    public long Id { get; set; }
    /// <summary>URL name: <c>/rooms/{slug}</c>. Direct conversations use <c>dm-{a}-{b}</c>.</summary>
    public required string Slug { get; set; }
    public required string Name { get; set; }
    public string? Topic { get; set; }
    public bool IsPrivate { get; set; }
    public bool AllowGuests { get; set; }
    public bool IsArchived { get; set; }
    public bool IsDirect { get; set; }
    /// <summary>Random code for invite links to private rooms.</summary>
    public required string InviteCode { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Message retention: null follows the site default, 0 keeps forever, N deletes messages older than N days.</summary>
    public int? RetentionDays { get; set; }
}

public sealed class RoomMember
{
    public long RoomId { get; set; }
    public long UserId { get; set; }
    public DateTimeOffset JoinedAt { get; set; }
    /// <summary>The last message id the user has read in this room (unread counts).</summary>
    public long LastReadMessageId { get; set; }
}

/// <summary>
/// A user left a public room: it stays out of their drawer until they join it again (public rooms are
/// otherwise listed for everyone). Joining deletes the row.
/// </summary>
public sealed class RoomDeparture
{
    public long RoomId { get; set; }
    public long UserId { get; set; }
    public DateTimeOffset LeftAt { get; set; }
}

/// <summary>
/// Every stored event of a room. Posts are rows of kind Text or Image; an edit or a delete is a
/// row of its own (kind Edit/Delete, <see cref="TargetId"/> naming the message) so that one id
/// sequence orders everything and catch-up is simply "all rows after id N".
/// </summary>
public sealed class Message
{
    public long Id { get; set; }
    public long RoomId { get; set; }
    public long SenderId { get; set; }
    public MessageKind Kind { get; set; }
    public string Text { get; set; } = "";
    /// <summary>Client-chosen id, unique per sender: retries never duplicate.</summary>
    public string? ClientMsgId { get; set; }
    public long? TargetId { get; set; }
    public string? ImageId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? EditedAt { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
    public long? DeletedBy { get; set; }
    /// <summary>A quote-reply: the message quoted (same room).</summary>
    public long? QuoteId { get; set; }
    /// <summary>A thread reply: the thread's first message (same room). Stays out of the room's list unless <see cref="AlsoInRoom"/>.</summary>
    public long? ThreadId { get; set; }
    public bool AlsoInRoom { get; set; }
    /// <summary>An action message (<c>/me waves</c>): shown as "* alice waves" (issue 16).</summary>
    public bool IsAction { get; set; }
    /// <summary>Posted by an integration (incoming webhook, outgoing webhook reply, slash command): the name shown instead of the sender's.</summary>
    public string? AsName { get; set; }
    /// <summary>The integration's icon (an http(s) URL given by the payload), shown instead of the sender's avatar.</summary>
    public string? AsIcon { get; set; }
    /// <summary>The integration that posted it ("webhook:12", "outgoing:3", "command:4"); null for people's own posts.</summary>
    public string? PostedVia { get; set; }
}

public enum MessageKind
{
    Text = 0,
    Image = 1,
    Edit = 2,
    Delete = 3,
    /// <summary>Event rows of conversation features (Chat/Conversations): <see cref="Message.TargetId"/> is the message, Text the emoji.</summary>
    ReactionAdded = 4,
    ReactionRemoved = 5,
    Pinned = 6,
    Unpinned = 7,
}

public sealed class StoredImage
{
    /// <summary>Random id; also the file name in the images folder.</summary>
    public required string Id { get; set; }
    public required string ContentType { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    public long Length { get; set; }
    public string? OriginalName { get; set; }
    public long UploaderId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>A file attachment (issue 15), not an image: served only as a download.</summary>
    public bool IsFile { get; set; }
}

public sealed class ApiToken
{
    public long Id { get; set; }
    public long UserId { get; set; }
    /// <summary>SHA-256 of the token; the token itself is shown once and never stored.</summary>
    public required string TokenHash { get; set; }
    public string? Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    /// <summary>Space-separated scopes (<c>read</c>, <c>write</c>, <c>admin</c>; issue 16). Tokens from before scopes have read and write.</summary>
    public string Scopes { get; set; } = "read write";
    /// <summary>Optional expiry: the token stops working then.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>For an <c>admin</c>-scoped token: the admin account that granted it and that account's security stamp then
    /// (disabling the admin or changing its password ends the token's admin rights).</summary>
    public long? AdminId { get; set; }
    public string? AdminStamp { get; set; }
}

public sealed class AuditEntry
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public long? AdminId { get; set; }
    public required string AdminName { get; set; }
    public required string Action { get; set; }
    public string? Target { get; set; }
    public string? Detail { get; set; }
    public string? RemoteIp { get; set; }
}

/// <summary>Bot switch: a row with RoomId null is the global default for that bot.</summary>
public sealed class BotSetting
{
    public long Id { get; set; }
    public required string BotName { get; set; }
    public long? RoomId { get; set; }
    public bool Enabled { get; set; }
}

/// <summary>Small key/value settings edited from the back office (word filter, ...).</summary>
public sealed class PortalSetting
{
    public required string Key { get; set; }
    public required string Value { get; set; }
}

/// <summary>
/// Where an imported thing came from (e.g. a Slack user, channel or message) and what it became
/// here: a second import of the same export finds these rows and adds nothing. <see cref="Data"/>
/// keeps what has no home yet (a message's thread parent and reactions, as JSON).
/// </summary>
public sealed class ImportMapping
{
    public long Id { get; set; }
    /// <summary>The source system, e.g. <c>slack</c>.</summary>
    public required string Source { get; set; }
    /// <summary><c>user</c>, <c>channel</c> or <c>message</c>.</summary>
    public required string Kind { get; set; }
    /// <summary>The source's id (a Slack user id, channel id, or <c>channel:ts</c> for a message).</summary>
    public required string ExternalId { get; set; }
    /// <summary>Our id: a user, room or message id.</summary>
    public long LocalId { get; set; }
    public string? Data { get; set; }
    public DateTimeOffset ImportedAt { get; set; }
}

/// <summary>One reaction: one row per (message, user, emoji), whatever the number of toggles.</summary>
public sealed class Reaction
{
    public long MessageId { get; set; }
    public long UserId { get; set; }
    public required string Emoji { get; set; }
    public long RoomId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A message pinned in its room (shared by the room's members); at most one row per message.</summary>
public sealed class PinnedMessage
{
    public long MessageId { get; set; }
    public long RoomId { get; set; }
    public long PinnedBy { get; set; }
    public DateTimeOffset PinnedAt { get; set; }
}

/// <summary>A message a user saved for later (personal: nobody else sees it).</summary>
public sealed class SavedMessage
{
    public long UserId { get; set; }
    public long MessageId { get; set; }
    public DateTimeOffset SavedAt { get; set; }
}

/// <summary>A user following a thread (its root message): how far they have read it, for thread unread counts.</summary>
public sealed class ThreadFollower
{
    public long ThreadId { get; set; }
    public long UserId { get; set; }
    public long RoomId { get; set; }
    public long LastReadId { get; set; }
    public DateTimeOffset FollowedAt { get; set; }
}

/// <summary>A user who hides their read receipts: nobody is told how far they read, in any room.</summary>
public sealed class ReadReceiptOptOut
{
    public long UserId { get; set; }
    public DateTimeOffset Since { get; set; }
}
