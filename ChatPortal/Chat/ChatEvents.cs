namespace ChatPortal.Chat;

/// <summary>
/// Everything the core fans out. Each event caches its wire encodings (one slot per
/// <see cref="IWireFormat"/>), so a message is serialized once per format, not per recipient.
/// </summary>
public abstract record ChatEvent(long RoomId)
{
    private readonly object?[] _encoded = new object?[WireFormats.MaxFormats];

    /// <summary>The event in the given format, encoded on first use and shared afterwards.</summary>
    public T Encoded<T>(IWireFormat<T> format) where T : class
    {
        var slot = _encoded[format.Slot];
        if (slot is T cached) return cached;
        var fresh = format.Encode(this);
        return (T)(Interlocked.CompareExchange(ref _encoded[format.Slot], fresh, null) ?? fresh);
    }

    // Records compare by value; the cache must not take part.
    public virtual bool Equals(ChatEvent? other) => ReferenceEquals(this, other);
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
}

public sealed record MessagePosted(ChatMessage Message) : ChatEvent(Message.RoomId);

public sealed record MessageEdited(ChatMessage Message, long EventId) : ChatEvent(Message.RoomId);

/// <summary>A message was deleted; <paramref name="ImageId"/> is the image it had (its file is removed too), only on the live event.</summary>
public sealed record MessageDeleted(long Room, long MessageId, long EventId, UserRef By, string? ImageId = null) : ChatEvent(Room);

/// <summary>A user came online in a room (first tab/socket) or went (last one closed).</summary>
public sealed record PresenceChanged(long Room, UserRef User, bool Joined) : ChatEvent(Room);

/// <summary>
/// A busy room's presence in one event (issue 19): where more than <see cref="ChatOptions.PresenceAnnounceUpTo"/>
/// sessions of this node are in a room, arrivals and departures are not delivered one by one (a connect storm
/// made O(room size) frames per connect) but at most once a second as the number online; clients ask for the
/// list when they show it. Made by each node for its own sessions (<see cref="PresenceDigest"/>), never stored or relayed.
/// </summary>
public sealed record PresenceSummary(long Room, int Online) : ChatEvent(Room);

public sealed record UserTyping(long Room, UserRef User) : ChatEvent(Room);

/// <summary>Sent to one user's own channel: a direct conversation with them started or got a message.</summary>
public sealed record DirectActivity(long Room, UserRef Recipient, DirectConversation Conversation, long MessageId) : ChatEvent(Room);

/// <summary>
/// Sent to a user's channel: their sessions must end now (ban, kick, sign-out). With a
/// <paramref name="SessionId"/>, only the tabs and ticket sockets of that sign-in session end; with a
/// <paramref name="TokenId"/>, only the sockets authenticated with that API token (it was revoked); neither: all of them.
/// </summary>
public sealed record SessionRevoked(long UserId, string Reason, string? SessionId = null, long? TokenId = null) : ChatEvent(0);

/// <summary>A room's settings changed (rename, made private or public, archived, guests on or off, ...).</summary>
public sealed record RoomChanged(RoomInfo Room) : ChatEvent(Room.Id);

/// <summary>
/// A new public room anyone may open (created by a user or the back office): sent to every
/// connected user, whose drawer lists it at once. Not stored; a reload lists it anyway.
/// </summary>
public sealed record RoomListed(RoomInfo Room) : ChatEvent(Room.Id);

/// <summary>A room and everything in it were deleted.</summary>
public sealed record RoomDeleted(long Room) : ChatEvent(Room);

/// <summary>A user became a member of a room (added, invited, a public room opened, a new direct conversation).</summary>
public sealed record MemberAdded(long Room, UserRef User) : ChatEvent(Room);

/// <summary>A user stopped being a member of a room: of a private one, their sessions lose it.</summary>
public sealed record MemberRemoved(long Room, UserRef User) : ChatEvent(Room);

/// <summary>
/// A busy room's membership changes in one event (issue 19), as <see cref="PresenceSummary"/> is for presence: where more
/// than <see cref="ChatOptions.PresenceAnnounceUpTo"/> sessions of this node are in a room, the room's sessions do not get
/// each <see cref="MemberAdded"/> and <see cref="MemberRemoved"/> (a thousand first joins made a million deliveries) but
/// at most once per <see cref="ChatOptions.PresenceSummaryInterval"/> the first <see cref="MembershipChanges.Named"/> who
/// joined and left, with the totals. The members' own sessions still get their event. Made by each node for its own
/// sessions (<see cref="PresenceDigest"/>), never stored or relayed.
/// </summary>
public sealed record MembershipSummary(long Room, IReadOnlyList<UserRef> Joined, int JoinedCount, IReadOnlyList<UserRef> Left, int LeftCount)
    : ChatEvent(Room);

/// <summary>
/// A user added or removed a reaction (stored: an event row orders it). <paramref name="Reactions"/> is the
/// message's reactions after the change, so a client replaces what it shows instead of counting.
/// </summary>
public sealed record ReactionChanged(long Room, long MessageId, long EventId, UserRef User, string Emoji, bool Added,
    IReadOnlyList<ReactionSummary> Reactions) : ChatEvent(Room);

/// <summary>A message was pinned in its room or unpinned (stored: an event row orders it; nothing is posted).</summary>
public sealed record PinChanged(long Room, long MessageId, long EventId, UserRef By, bool Pinned) : ChatEvent(Room);

/// <summary>
/// A member's read position in a room moved (their one cursor per room: storage does not grow with messages).
/// Not stored as an event and not ordered: a later one simply replaces an earlier one. Never sent for a user who
/// hides their read receipts.
/// </summary>
public sealed record ReadReceipt(long Room, UserRef User, long LastReadId) : ChatEvent(Room);

/// <summary>
/// Several members' read positions in a room moved within one short window (<see cref="Conversations.ReadReceipts"/>
/// gathers them): one event for all, so a room of N attentive viewers costs N deliveries per window instead of one
/// delivery to every viewer for each viewer's move (N²). Each member appears once, with their furthest position.
/// </summary>
public sealed record ReceiptsMoved(long Room, IReadOnlyList<Conversations.ReceiptCursor> Cursors) : ChatEvent(Room);

public static class ChatEvents
{
    /// <summary>The id that orders a stored event in its room; 0 for events that are not stored.</summary>
    public static long StoredId(ChatEvent evt) => evt switch
    {
        MessagePosted p => p.Message.Id,
        MessageEdited e => e.EventId,
        MessageDeleted d => d.EventId,
        ReactionChanged r => r.EventId,
        PinChanged p => p.EventId,
        _ => 0,
    };

    /// <summary>
    /// Events whose order against posts decides who may see what: stored events, membership and room
    /// lifecycle, revocations. A cluster carries them on one ordered channel to every node (the origin
    /// too), so "removed, then a post" is seen in that order everywhere.
    /// </summary>
    public static bool IsOrdered(ChatEvent evt) =>
        evt is MessagePosted or MessageEdited or MessageDeleted or ReactionChanged or PinChanged or MemberAdded or MemberRemoved or RoomChanged or RoomDeleted or SessionRevoked
        || evt is LinkPreviewReady; // after its post on every node
}

public interface IWireFormat<out T> where T : class
{
    /// <summary>Index of this format's cache slot (0..<see cref="WireFormats.MaxFormats"/>-1).</summary>
    int Slot { get; }
    T Encode(ChatEvent evt);
}

public static class WireFormats
{
    public const int MaxFormats = 6;
    private static int _next = -1;

    /// <summary>Hands out a cache slot; call once per format type (e.g. from a static field) so formats never collide.</summary>
    public static int Allocate()
    {
        var slot = Interlocked.Increment(ref _next);
        if (slot >= MaxFormats) throw new InvalidOperationException($"More than {MaxFormats} wire formats; raise WireFormats.MaxFormats.");
        return slot;
    }
}
