using System.Text.Json;
using System.Text.Json.Serialization;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

// chatportal.v1 frames of the conversation features (issue 15; docs/protocol.md "Reactions, pins, saved messages").

/// <summary>One emoji on a message: the exact count and the first users who reacted (for "who reacted").</summary>
internal sealed record WireReaction(string Emoji, int Count, List<WireUser> Users);

internal sealed record ReactionFrame(long RoomId, long EventId, long MessageId, WireUser User, string Emoji, bool Added, List<WireReaction> Reactions)
{
    [JsonPropertyOrder(-1)] public string Type => "reaction";
}

internal sealed record PinFrame(long RoomId, long EventId, long MessageId, WireUser By, bool Pinned)
{
    [JsonPropertyOrder(-1)] public string Type => "pin";
}

/// <summary>Reply to <c>react</c> / <c>unreact</c>: the message's reactions after it.</summary>
internal sealed record ReactedFrame(JsonElement? ReplyTo, long MessageId, List<WireReaction> Reactions)
{
    [JsonPropertyOrder(-1)] public string Type => "reacted";
}

/// <summary>Reply to <c>pin</c>, <c>unpin</c>, <c>save</c>, <c>unsave</c>: <c>changed</c> false when it already was so.</summary>
internal sealed record MarkedFrame([property: JsonIgnore] string Kind, JsonElement? ReplyTo, long MessageId, bool Changed)
{
    [JsonPropertyOrder(-1)] public string Type => Kind;
}

/// <summary>Reply to <c>pins</c> (a room's pinned messages) and <c>saved_messages</c> (the user's saved ones, from any room).</summary>
internal sealed record MessageListFrame([property: JsonIgnore] string Kind, JsonElement? ReplyTo, long? RoomId, List<WireMessage> Messages)
{
    [JsonPropertyOrder(-1)] public string Type => Kind;
}

internal sealed record WireQuote(long Id, WireUser User, string Text, bool? Deleted);

internal sealed record WireThread(int Replies, DateTime? LastReplyAt);

/// <summary>A reply in a thread that was not also sent to the room (the same message object as <c>message</c>).</summary>
internal sealed record ThreadMessageFrame(long RoomId, long EventId, WireMessage Message)
{
    [JsonPropertyOrder(-1)] public string Type => "thread_message";
}

/// <summary>Reply to <c>thread</c>: the first message and the replies, oldest first.</summary>
internal sealed record ThreadFrame(JsonElement? ReplyTo, WireMessage Root, List<WireMessage> Replies, bool Following)
{
    [JsonPropertyOrder(-1)] public string Type => "thread";
}

internal sealed record WireThreadEntry(WireMessage Root, long RoomId, int Replies, int Unread, DateTime? LastReplyAt);

/// <summary>Reply to <c>threads</c>: the threads the user follows, latest activity first.</summary>
internal sealed record ThreadsFrame(JsonElement? ReplyTo, List<WireThreadEntry> Threads)
{
    [JsonPropertyOrder(-1)] public string Type => "threads";
}

/// <summary>A member's read position moved (never sent for users who hide their receipts).</summary>
internal sealed record ReceiptFrame(long RoomId, WireUser User, long LastReadId)
{
    [JsonPropertyOrder(-1)] public string Type => "receipt";
}

internal sealed record WireCursor(WireUser User, long LastReadId);

/// <summary>Reply to <c>receipts</c>: how far each member has read; without reply_to, several members' moves announced together.</summary>
internal sealed record ReceiptsFrame(JsonElement? ReplyTo, long RoomId, List<WireCursor> Cursors)
{
    [JsonPropertyOrder(-1)] public string Type => "receipts";
}

/// <summary>The user saved or unsaved a message on another of their tabs or sockets (or this one): only they get it.</summary>
internal sealed record SavedChangedFrame(long MessageId, long RoomId, bool Saved)
{
    [JsonPropertyOrder(-1)] public string Type => "saved_changed";
}

/// <summary>The user followed or unfollowed a thread (<c>message_id</c> is its first message): only they get it.</summary>
internal sealed record FollowChangedFrame(long MessageId, long RoomId, bool Following)
{
    [JsonPropertyOrder(-1)] public string Type => "follow_changed";
}

internal static class WireConversations
{
    public static List<WireReaction> Reactions(V1WireFormat f, IReadOnlyList<ReactionSummary> r) =>
        r.Select(x => new WireReaction(x.Emoji, x.Count, x.Users.Select(f.User).ToList())).ToList();
}
