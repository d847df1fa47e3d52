using ChatPortal.Data;

namespace ChatPortal.Chat;

/// <summary>Who did something, as every adapter shows it.</summary>
public sealed record UserRef(long Id, string Name, UserKind Kind)
{
    public bool IsGuest => Kind == UserKind.Guest;
    public bool IsBot => Kind == UserKind.Bot;
}

/// <summary>
/// A stored image; <paramref name="Name"/> is the uploader's file name (display only, never trusted). With
/// <paramref name="IsFile"/> it is a file attachment (issue 15): its type sniffed from content, no size in
/// pixels, shown as a download, never inline.
/// </summary>
public sealed record ImageRef(string Id, string ContentType, int Width, int Height, long Length, string? Name = null, bool IsFile = false);

/// <summary>A stored message as the core hands it out (never an EF entity).</summary>
public sealed record ChatMessage(
    long Id,
    long RoomId,
    UserRef Sender,
    MessageKind Kind,
    string Text,
    DateTimeOffset CreatedAt,
    string? ClientMsgId = null,
    ImageRef? Image = null,
    DateTimeOffset? EditedAt = null,
    DateTimeOffset? DeletedAt = null,
    /// <summary>For Edit/Delete event rows: the message they change.</summary>
    long? TargetId = null,
    /// <summary>The reactions on a post (pages and catch-up fill it; a new post has none).</summary>
    IReadOnlyList<ReactionSummary>? Reactions = null,
    /// <summary>Pinned in its room.</summary>
    bool Pinned = false,
    /// <summary>A quote-reply: the quoted message's id, and (on posts handed out) what it says.</summary>
    long? QuoteId = null,
    QuoteRef? Quote = null,
    /// <summary>A thread reply: the thread's first message. Shown in the room's list only with <see cref="AlsoInRoom"/>.</summary>
    long? ThreadId = null,
    bool AlsoInRoom = false,
    /// <summary>For a thread's first message: its replies so far (pages fill it).</summary>
    ThreadSummary? Thread = null,

    /// <summary>The post's link preview once fetched (issue 15), or null.</summary>
    LinkPreview? Preview = null,
    /// <summary>An action message (<c>/me</c>): shown as "* name text" in italics (issue 16).</summary>
    bool IsAction = false,
    /// <summary>Posted by an integration (webhook, slash command): the name and icon to show and a marker.</summary>
    PostedAs? PostedAs = null)
{
    /// <summary>The name shown for the sender: an integration's override, else the user's name.</summary>
    public string ShownName => PostedAs?.Name is { Length: > 0 } n ? n : Sender.Name;

    public bool IsDeleted => DeletedAt is not null;

    /// <summary>Shown in the room's message list (everything but thread replies not also sent to the room).</summary>
    public bool InRoom => ThreadId is null || AlsoInRoom;

    /// <summary>The same message with the conversation state (reactions, pin) of <paramref name="from"/>: an edit event carries the text only.</summary>
    public ChatMessage WithStateOf(ChatMessage from) =>
        this with { Reactions = from.Reactions, Pinned = from.Pinned, Quote = from.Quote, Thread = from.Thread, Preview = Preview ?? from.Preview };
}

/// <summary>
/// What an integration posted as: <paramref name="Name"/> and <paramref name="IconUrl"/> override the sender's (the payload's
/// <c>username</c> / <c>icon_url</c>); <paramref name="Via"/> says which integration ("webhook:12", "outgoing:3", "command:4").
/// Clients show a "BOT" marker on such messages.
/// </summary>
public sealed record PostedAs(string? Name, string? IconUrl, string Via);

/// <summary>How a post is presented (issue 16): an action message, or an integration's post.</summary>
public sealed record MessageStyle(bool Action = false, PostedAs? As = null);

/// <summary>What a quote-reply shows of the message it quotes (the start of its text).</summary>
public sealed record QuoteRef(long Id, UserRef Sender, string Text, bool Deleted);

/// <summary>A thread's replies: how many, and when the last came.</summary>
public sealed record ThreadSummary(int Replies, DateTimeOffset? LastReplyAt);

/// <summary>One emoji on a message: how many reacted with it, and who (the first <see cref="Conversations.ChatReactions.MaxNamesPerEmoji"/>).</summary>
public sealed record ReactionSummary(string Emoji, int Count, IReadOnlyList<UserRef> Users);

/// <summary>A room as the core hands it out.</summary>
public sealed record RoomInfo(
    long Id,
    string Slug,
    string Name,
    string? Topic,
    bool IsPrivate,
    bool AllowGuests,
    bool IsArchived,
    bool IsDirect,
    string InviteCode)
{
    public static RoomInfo From(Room r) =>
        new(r.Id, r.Slug, r.Name, r.Topic, r.IsPrivate, r.AllowGuests, r.IsArchived, r.IsDirect, r.InviteCode);
}

/// <summary>One direct conversation from one side: the room and the other person.</summary>
public sealed record DirectConversation(RoomInfo Room, UserRef Other);

/// <summary>A room's unread messages: how many, and the newest one's id.</summary>
public readonly record struct UnreadRoom(int Count, long LastId);

/// <summary>Result of a chat command: either a value or a stable error code with a message.</summary>
public readonly record struct ChatResult<T>(T? Value, ChatError? Error)
{
    public bool Ok => Error is null;
    public static implicit operator ChatResult<T>(T value) => new(value, null);
    public static implicit operator ChatResult<T>(ChatError error) => new(default, error);
}

public static class ChatResult
{
    /// <summary>A success (for values of interface type, which implicit conversions cannot take).</summary>
    public static ChatResult<T> Of<T>(T value) => new(value, null);
}

/// <summary>Errors with stable codes: adapters show them and the protocol sends the code.</summary>
public sealed record ChatError(string Code, string Message)
{
    public static ChatError NotFound(string what) => new("not_found", $"{what} was not found.");
    public static readonly ChatError Forbidden = new("forbidden", "You may not do that here.");
    public static readonly ChatError Muted = new("muted", "You are muted and cannot send messages right now.");
    public static readonly ChatError Banned = new("banned", "Your account is banned.");
    public static readonly ChatError Archived = new("archived", "This room is archived and read-only.");
    public static readonly ChatError RateLimited = new("rate_limited", "You are sending too fast; wait a moment.");
    public static readonly ChatError Filtered = new("filtered", "The message contains a word that is not allowed here.");
    public static readonly ChatError Empty = new("empty", "The message is empty.");
    public static ChatError TooLong(int max) => new("too_long", $"The message is longer than {max} characters.");
    public static readonly ChatError StorageFailed = new("storage_failed", "The message could not be stored; it was not sent. Try again.");
    public static readonly ChatError Unavailable = new("unavailable", "The server is shutting down; try again shortly.");
}

/// <summary>Numbers about a room (visible posts only).</summary>
public sealed record RoomStats(int Messages, int Images, int Senders, int Members, DateTimeOffset? FirstMessageAt);
