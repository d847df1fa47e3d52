using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.WebSockets;

/// <summary>
/// One frame to send: the bytes and whether they go as a text or a binary message. Shared by
/// every socket of a format (see <see cref="ChatEvent.Encoded{T}"/>), so it is never mutated.
/// </summary>
public sealed class WireFrame(byte[] bytes, bool binary = false, WireFrame? next = null)
{
    /// <summary>"This format sends nothing for that event" (cached like any encoding).</summary>
    public static readonly WireFrame None = new([]);

    public byte[] Bytes { get; } = bytes;
    public bool Binary { get; } = binary;
    /// <summary>A second frame that belongs to the same event (an image's caption).</summary>
    public WireFrame? Next { get; } = next;
    public bool IsNone => ReferenceEquals(this, None);
}

/// <summary>JSON of both socket protocols: source-generated, written once per event.</summary>
internal static class WireJson
{
    /// <summary>
    /// Keeps Chinese readable (emoji outside the BMP become \u pairs) but escapes what is dangerous in
    /// HTML (<c>&lt; &gt; &amp; ' "</c> become <c>\u003C</c> …), so a client that puts a frame into
    /// innerHTML stays safe.
    /// </summary>
    public static readonly WireJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Encoder = JavaScriptEncoder.Create(UnicodeRanges.All),
        MaxDepth = 16,
    });

    public static string Kind(UserKind kind) => kind switch
    {
        UserKind.Guest => "guest",
        UserKind.Bot => "bot",
        _ => "member",
    };

    public static WireUser User(UserRef u) => new(u.Id, u.Name, Kind(u.Kind));

    /// <summary>The user with their profile (display name, avatar URL, status); fields without a value are left out.</summary>
    public static WireUser User(UserRef u, Profiles.ProfileCard? p) =>
        p is null ? User(u) : new(u.Id, u.Name, Kind(u.Kind), p.DisplayName, p.AvatarUrl, p.Status);

    public static WireRoom Room(RoomInfo r) => new(r.Id, r.Slug, r.IsDirect ? "" : r.Name, r.Topic, r.IsPrivate, r.AllowGuests, r.IsArchived, r.IsDirect);

    /// <summary>UTC to the millisecond (what the database keeps), so a retried ack says the same as the first.</summary>
    public static DateTime Utc(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
}

// ------------------------------------------------------------------ shared pieces

internal sealed record WireUser(long Id, string Name, string Kind, string? DisplayName = null, string? Avatar = null, string? Status = null);

internal sealed record WireImage(string Id, string Url, string ContentType, int Width, int Height, long Bytes);

internal sealed record WireMessage(long Id, long RoomId, WireUser User, string Text, DateTime CreatedAt, string? ClientId,
    WireImage? Image, DateTime? EditedAt, bool? Deleted, List<WireReaction>? Reactions = null, bool? Pinned = null,
    WireQuote? Quote = null, long? ThreadId = null, bool? AlsoInRoom = null, WireThread? Thread = null,
    WirePreview? Preview = null, WireFile? File = null, bool? Action = null, WirePostedAs? PostedAs = null);

/// <summary>A file attachment (issue 15): <c>url</c> downloads it (always as an attachment); the type was sniffed from its content.</summary>
internal sealed record WireFile(string Id, string Url, string ContentType, string Name, long Bytes);

/// <summary>A link preview (issue 15): text fields are plain text; the image is ours (<c>/previews/{id}</c>).</summary>
internal sealed record WirePreview(string Url, string? Title, string? Description, string? SiteName, WirePreviewImage? Image);

internal sealed record WirePreviewImage(string Url, int Width, int Height);

internal sealed record WireRoom(long Id, string Slug, string Name, string? Topic, bool Private, bool Guests, bool Archived, bool Direct);

internal sealed record WireDirect(WireRoom Room, WireUser With);

internal sealed record WireLimits(int MaxTextBytes, int MaxImageBytes, int MaxMessageChars, int SendQueue);

// ------------------------------------------------------------------ chatportal.v1: events (shared buffers)

internal sealed record MessageFrame(long RoomId, long EventId, WireMessage Message)
{
    [JsonPropertyOrder(-1)] public string Type => "message";
}

internal sealed record EditedFrame(long RoomId, long EventId, long MessageId, string Text, DateTime EditedAt, WireUser User)
{
    [JsonPropertyOrder(-1)] public string Type => "message_edited";
}

internal sealed record DeletedFrame(long RoomId, long EventId, long MessageId, WireUser By)
{
    [JsonPropertyOrder(-1)] public string Type => "message_deleted";
}

internal sealed record PresenceFrame(long RoomId, WireUser User, bool Online)
{
    [JsonPropertyOrder(-1)] public string Type => "presence";
}

internal sealed record PresenceSummaryFrame(long RoomId, int Online)
{
    [JsonPropertyOrder(-1)] public string Type => "presence_summary";
}

internal sealed record TypingFrame(long RoomId, WireUser User)
{
    [JsonPropertyOrder(-1)] public string Type => "typing";
}

internal sealed record DirectFrame(WireRoom Room, WireUser With, long? EventId)
{
    [JsonPropertyOrder(-1)] public string Type => "direct";
}

internal sealed record RoomChangedFrame(WireRoom Room)
{
    [JsonPropertyOrder(-1)] public string Type => "room_changed";
}

/// <summary>A post's preview is ready; without <c>preview</c>, an edit took its link out and the preview is gone.</summary>
internal sealed record LinkPreviewFrame(long RoomId, long MessageId, WirePreview? Preview)
{
    [JsonPropertyOrder(-1)] public string Type => "link_preview";
}

// ------------------------------------------------------------------ chatportal.v1: replies (one socket)

internal sealed record HelloFrame(string Protocol, string Server, int AuthTimeoutMs, WireLimits Limits)
{
    [JsonPropertyOrder(-1)] public string Type => "hello";
    /// <summary>True when the upgrade request's token was taken (the welcome follows; no <c>auth</c> frame is needed).</summary>
    public bool? Authenticated { get; init; }
    /// <summary>The rooms the upgrade request named (<c>?join=</c>): joined once the socket is authenticated, no join frame needed.</summary>
    public List<string>? Joins { get; init; }
}

internal sealed record WelcomeFrame(JsonElement? ReplyTo, WireUser User, List<WireRoom> Rooms, List<WireDirect> Direct)
{
    [JsonPropertyOrder(-1)] public string Type => "welcome";
    /// <summary>Guests: the token to send as <c>resume</c> in the next guest <c>auth</c> to come back as the same guest.</summary>
    public string? Resume { get; init; }
    /// <summary>Guests: whether this auth's <c>resume</c> brought the same guest back (false: a new guest).</summary>
    public bool? Resumed { get; init; }
}

/// <summary><c>online</c> is left out in a busy room (presence there comes as summaries; the client asks <c>online</c>).</summary>
internal sealed record JoinedFrame(JsonElement? ReplyTo, WireRoom Room, UserListJson? Online, int OnlineCount, long LastId)
{
    [JsonPropertyOrder(-1)] public string Type => "joined";
}

/// <summary>
/// Users already written as a JSON array (<see cref="WireUser"/> or <see cref="PlainUser"/>): a join's online list, written
/// once and copied into every <c>joined</c> / <c>openSuccess</c> frame while it is unchanged (<see cref="OnlineListJson"/>).
/// </summary>
[JsonConverter(typeof(UserListJsonConverter))]
internal sealed class UserListJson(byte[] utf8Json)
{
    public byte[] Utf8Json => utf8Json;
}

internal sealed class UserListJsonConverter : JsonConverter<UserListJson>
{
    public override UserListJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("The server only writes joined frames.");

    public override void Write(Utf8JsonWriter writer, UserListJson value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Utf8Json, skipInputValidation: true);
}

internal sealed record CaughtUpFrame(long RoomId, long LastId, int Count)
{
    [JsonPropertyOrder(-1)] public string Type => "caught_up";
}

/// <summary>The socket left a room: on request (<c>reply_to</c>), or because its user lost access (<c>reason</c>: removed, closed, archived, deleted).</summary>
internal sealed record LeftFrame(JsonElement? ReplyTo, long RoomId, string? Reason = null)
{
    [JsonPropertyOrder(-1)] public string Type => "left";
}

internal sealed record AckFrame(JsonElement? ReplyTo, string? ClientId, long RoomId, long MessageId, long EventId, DateTime CreatedAt)
{
    [JsonPropertyOrder(-1)] public string Type => "ack";
}

internal sealed record ChangeAckFrame([property: JsonIgnore] string Kind, JsonElement? ReplyTo, long MessageId, long? EventId)
{
    [JsonPropertyOrder(-1)] public string Type => Kind;
}

internal sealed record HistoryFrame(JsonElement? ReplyTo, long RoomId, List<WireMessage> Messages, bool More)
{
    [JsonPropertyOrder(-1)] public string Type => "history";
}

internal sealed record OnlineFrame(JsonElement? ReplyTo, long RoomId, List<WireUser> Users)
{
    [JsonPropertyOrder(-1)] public string Type => "online";
}

internal sealed record RoomsFrame(JsonElement? ReplyTo, List<WireRoom> Rooms, List<WireDirect> Direct)
{
    [JsonPropertyOrder(-1)] public string Type => "rooms";
}

internal sealed record PongFrame(JsonElement? ReplyTo, DateTime Time)
{
    [JsonPropertyOrder(-1)] public string Type => "pong";
}

internal sealed record ErrorFrame(JsonElement? ReplyTo, string Code, string Message)
{
    [JsonPropertyOrder(-1)] public string Type => "error";
    /// <summary>A room named on the upgrade request that could not be joined (such an error answers no request).</summary>
    public string? Room { get; init; }
}

/// <summary>Everything a <c>chatportal.v1</c> client may send; which fields matter depends on <see cref="Type"/>.</summary>
internal sealed class ClientFrame
{
    public string? Type { get; set; }
    /// <summary>Request id (number or string), echoed as <c>reply_to</c>.</summary>
    public JsonElement? Id { get; set; }
    public string? Ticket { get; set; }
    public string? Token { get; set; }
    public bool? Guest { get; set; }
    /// <summary>With <c>guest</c>: the resume token of an earlier welcome (the same guest comes back).</summary>
    public string? Resume { get; set; }
    /// <summary>A room's slug (string) or id (number).</summary>
    public JsonElement? Room { get; set; }
    /// <summary>A user's name: the other side of a direct conversation.</summary>
    public string? To { get; set; }
    /// <summary>A file's name (<c>file</c> requests; shown only).</summary>
    public string? Name { get; set; }
    public long? Since { get; set; }
    public long? Before { get; set; }
    public int? Limit { get; set; }
    public string? Text { get; set; }
    public string? ClientId { get; set; }
    public long? MessageId { get; set; }
    /// <summary>A reaction: one emoji.</summary>
    public string? Emoji { get; set; }
    /// <summary><c>send</c>: the message quoted.</summary>
    public long? Quote { get; set; }
    /// <summary><c>send</c>: reply in this thread (its first message's id); <c>also_in_room</c> shows it in the room too.</summary>
    public long? ThreadId { get; set; }
    public bool? AlsoInRoom { get; set; }
    /// <summary><c>read_receipts</c>: hide (true) or show (false) your read receipts everywhere.</summary>
    public bool? Hidden { get; set; }
}

// ------------------------------------------------------------------ plain (the original chat room's shapes)

internal sealed record PlainUser(long Id, string Name);

/// <summary><c>all</c>: the room's online list, its first <c>Chat:JoinOnlineListUpTo</c> in a busy room; <c>online</c>: how many are online.</summary>
internal sealed record PlainOpenSuccess(PlainUser User, UserListJson All, int Online)
{
    [JsonPropertyOrder(-1)] public string Type => "openSuccess";
}

internal sealed record PlainMessage(string Message, string Datetime, PlainUser User)
{
    [JsonPropertyOrder(-1)] public string Type => "message";
}

/// <summary><c>open</c> (someone came) and <c>close</c> (someone left) notices.</summary>
internal sealed record PlainNotice([property: JsonIgnore] string Kind, string Message, string Datetime, PlainUser User)
{
    [JsonPropertyOrder(-1)] public string Type => Kind;
}

internal sealed record PlainError(string Code, string Message)
{
    [JsonPropertyOrder(-1)] public string Type => "error";
}

[JsonSerializable(typeof(ClientFrame))]
[JsonSerializable(typeof(MessageFrame))]
[JsonSerializable(typeof(EditedFrame))]
[JsonSerializable(typeof(DeletedFrame))]
[JsonSerializable(typeof(PresenceFrame))]
[JsonSerializable(typeof(PresenceSummaryFrame))]
[JsonSerializable(typeof(TypingFrame))]
[JsonSerializable(typeof(DirectFrame))]
[JsonSerializable(typeof(RoomChangedFrame))]
[JsonSerializable(typeof(LinkPreviewFrame))]
[JsonSerializable(typeof(HelloFrame))]
[JsonSerializable(typeof(WelcomeFrame))]
[JsonSerializable(typeof(JoinedFrame))]
[JsonSerializable(typeof(CaughtUpFrame))]
[JsonSerializable(typeof(List<WireUser>))]
[JsonSerializable(typeof(List<PlainUser>))]
[JsonSerializable(typeof(LeftFrame))]
[JsonSerializable(typeof(AckFrame))]
[JsonSerializable(typeof(ChangeAckFrame))]
[JsonSerializable(typeof(HistoryFrame))]
[JsonSerializable(typeof(OnlineFrame))]
[JsonSerializable(typeof(RoomsFrame))]
[JsonSerializable(typeof(PongFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(ThreadMessageFrame))]
[JsonSerializable(typeof(ReceiptFrame))]
[JsonSerializable(typeof(ReceiptsFrame))]
[JsonSerializable(typeof(ThreadFrame))]
[JsonSerializable(typeof(ThreadsFrame))]
[JsonSerializable(typeof(ReactionFrame))]
[JsonSerializable(typeof(PinFrame))]
[JsonSerializable(typeof(ReactedFrame))]
[JsonSerializable(typeof(MarkedFrame))]
[JsonSerializable(typeof(MessageListFrame))]
[JsonSerializable(typeof(SavedChangedFrame))]
[JsonSerializable(typeof(FollowChangedFrame))]
[JsonSerializable(typeof(EphemeralFrame))]
[JsonSerializable(typeof(CommandDoneFrame))]
[JsonSerializable(typeof(PlainOpenSuccess))]
[JsonSerializable(typeof(PlainMessage))]
[JsonSerializable(typeof(PlainNotice))]
[JsonSerializable(typeof(PlainError))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
