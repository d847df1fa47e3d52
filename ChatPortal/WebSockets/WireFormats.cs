using System.Globalization;
using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Hosting;
using ChatPortal.Images;
using Microsoft.Extensions.Options;

namespace ChatPortal.WebSockets;

/// <summary>
/// The original chat room's frames for plain clients: <c>message</c>, <c>open</c>/<c>close</c>
/// notices, and images as binary frames. Everything else is not sent to them.
/// </summary>
public sealed class PlainWireFormat(ImageStore images, ILogger<PlainWireFormat> log) : IWireFormat<WireFrame>
{
    private static readonly int SlotIndex = WireFormats.Allocate();

    public int Slot => SlotIndex;

    public WireFrame Encode(ChatEvent evt) => evt switch
    {
        // A file attachment (issue 15) is no image: the seed's clients get its name (and caption) as a text message.
        MessagePosted { Message: { IsDeleted: false, Image.IsFile: true } m } => Json(new PlainMessage(HtmlSpecialChars(
            "📎 " + (m.Image!.Name ?? "file") + (m.Text.Length > 0 ? " " + m.Text : "")), Datetime(m.CreatedAt), User(m.Sender)), WireJson.Context.PlainMessage),
        MessagePosted { Message: { IsDeleted: false } m } when m.Image is { } img => ImageFrame(img, m),
        MessagePosted { Message: { IsDeleted: false } m } => Json(new PlainMessage(HtmlSpecialChars(m.Text), Datetime(m.CreatedAt), User(m.Sender)), WireJson.Context.PlainMessage),
        PresenceChanged p => Json(new PlainNotice(p.Joined ? "open" : "close",
            HtmlSpecialChars(p.Joined ? $"{p.User.Name}加入聊天室" : $"{p.User.Name}离开聊天室"), Datetime(DateTimeOffset.Now), User(p.User)), WireJson.Context.PlainNotice),
        _ => WireFrame.None,
    };

    /// <summary>The original's time format, in the server's time zone.</summary>
    public static string Datetime(DateTimeOffset t) => t.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    internal static PlainUser User(UserRef u) => new(u.Id, u.Name);

    private readonly OnlineListJson _online = new();

    /// <summary>An <c>openSuccess</c>'s online list as JSON, written once per list the presence tracker hands out.</summary>
    internal UserListJson OnlineList(long roomId, IReadOnlyList<UserRef> users) =>
        _online.Get(roomId, users, list => JsonSerializer.SerializeToUtf8Bytes(list.Select(User).ToList(), WireJson.Context.ListPlainUser));

    /// <summary>
    /// The text of a plain frame's <c>message</c> as the original server sent it: PHP's
    /// <c>htmlspecialchars</c> (ENT_QUOTES) before JSON, so a client that JSON-parses the frame and
    /// puts <c>message</c> into innerHTML shows the text instead of running it. Only these five
    /// characters change; the JSON escaping of the frame stays as well.
    /// </summary>
    public static string HtmlSpecialChars(string text)
    {
        if (text.AsSpan().IndexOfAny("&<>\"'") < 0) return text;
        var sb = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#039;",
                _ => null,
            });
            if (c is not ('&' or '<' or '>' or '"' or '\'')) sb.Append(c);
        }
        return sb.ToString();
    }

    internal static WireFrame Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        new(JsonSerializer.SerializeToUtf8Bytes(value, type));

    /// <summary>The stored image's bytes (read once per event, shared by every plain socket), then its caption if any.</summary>
    private WireFrame ImageFrame(ImageRef img, ChatMessage m)
    {
        var caption = m.Text.Length > 0
            ? Json(new PlainMessage(HtmlSpecialChars(m.Text), Datetime(m.CreatedAt), User(m.Sender)), WireJson.Context.PlainMessage)
            : null;
        var path = images.PathOf(img.Id);
        if (path is null) return caption ?? WireFrame.None;
        try
        {
            return new WireFrame(File.ReadAllBytes(path), binary: true, next: caption);
        }
        catch (IOException ex)
        {
            log.LogWarning(ex, "Image {Id} could not be read for plain clients", img.Id);
            return caption ?? WireFrame.None;
        }
    }
}

/// <summary>Events of the <c>chatportal.v1</c> protocol (see docs/protocol.md).</summary>
public sealed class V1WireFormat(IOptions<PortalOptions> portal, Profiles.ProfileDirectory? profiles = null) : IWireFormat<WireFrame>
{
    private static readonly int SlotIndex = WireFormats.Allocate();
    private readonly string _imageBase = ImageBase(portal.Value.PublicImageBaseUrl);

    public int Slot => SlotIndex;

    public WireFrame Encode(ChatEvent evt)
    {
        var c = WireJson.Context;
        return evt switch
        {
            // A thread-only reply is its own frame type, so a client that knows no threads does not show it in the room.
            MessagePosted { Message.InRoom: false } p => PlainWireFormat.Json(new ThreadMessageFrame(p.RoomId, p.Message.Id, Message(p.Message)), c.ThreadMessageFrame),
            MessagePosted p => PlainWireFormat.Json(new MessageFrame(p.RoomId, p.Message.Id, Message(p.Message)), c.MessageFrame),
            MessageEdited e => PlainWireFormat.Json(new EditedFrame(e.RoomId, e.EventId, e.Message.Id, e.Message.Text,
                WireJson.Utc(e.Message.EditedAt ?? e.Message.CreatedAt), User(e.Message.Sender)), c.EditedFrame),
            MessageDeleted d => PlainWireFormat.Json(new DeletedFrame(d.RoomId, d.EventId, d.MessageId, User(d.By)), c.DeletedFrame),
            PresenceChanged p => PlainWireFormat.Json(new PresenceFrame(p.RoomId, User(p.User), p.Joined), c.PresenceFrame),
            PresenceSummary p => PlainWireFormat.Json(new PresenceSummaryFrame(p.RoomId, p.Online), c.PresenceSummaryFrame),
            UserTyping t => PlainWireFormat.Json(new TypingFrame(t.RoomId, User(t.User)), c.TypingFrame),
            DirectActivity a => PlainWireFormat.Json(new DirectFrame(WireJson.Room(a.Conversation.Room), User(a.Conversation.Other),
                a.MessageId > 0 ? a.MessageId : null), c.DirectFrame),
            RoomChanged r => PlainWireFormat.Json(new RoomChangedFrame(WireJson.Room(r.Room)), c.RoomChangedFrame),
            LinkPreviewReady lp => PlainWireFormat.Json(new LinkPreviewFrame(lp.RoomId, lp.MessageId, lp.Preview is { } lpp ? Preview(lpp) : null), c.LinkPreviewFrame),
            ReactionChanged r => PlainWireFormat.Json(new ReactionFrame(r.RoomId, r.EventId, r.MessageId, User(r.User), r.Emoji, r.Added,
                WireConversations.Reactions(this, r.Reactions)), c.ReactionFrame),
            ReadReceipt r => PlainWireFormat.Json(new ReceiptFrame(r.RoomId, User(r.User), r.LastReadId), c.ReceiptFrame),
            // Several members' moves gathered in one window: one frame, the shape of the reply to `receipts` without reply_to.
            ReceiptsMoved r => PlainWireFormat.Json(new ReceiptsFrame(null, r.RoomId, [.. r.Cursors.Select(x => new WireCursor(User(x.User), x.LastReadId))]),
                c.ReceiptsFrame),
            PinChanged p => PlainWireFormat.Json(new PinFrame(p.RoomId, p.EventId, p.MessageId, User(p.By), p.Pinned), c.PinFrame),
            SavedChanged s => PlainWireFormat.Json(new SavedChangedFrame(s.MessageId, s.MessageRoomId, s.Saved), c.SavedChangedFrame),
            ThreadFollowChanged t => PlainWireFormat.Json(new FollowChangedFrame(t.ThreadId, t.ThreadRoomId, t.Following), c.FollowChangedFrame),
            Chat.Integrations.EphemeralReply e => PlainWireFormat.Json(new EphemeralFrame(e.RoomId, e.Code, e.Text, e.IsError ? true : null, e.From), c.EphemeralFrame),
            _ => WireFrame.None,
        };
    }

    /// <summary>A user object of this protocol: with the profile card when the user has one.</summary>
    internal WireUser User(UserRef u) => WireJson.User(u, profiles?.Get(u.Id));

    // Per room: the online list the last join carried and its JSON, kept while the list and its users' profile cards are the same.
    private readonly OnlineListJson _online = new(id => profiles?.Get(id));

    /// <summary>
    /// A join's online list as JSON. The presence tracker hands every join the same list while nobody comes or goes
    /// within it; while that list and its users' profile cards are the ones of the last join, its JSON is reused (a
    /// socket join wrote up to 100 users anew: ~6 % of the server's CPU in a burst of token connects).
    /// </summary>
    internal UserListJson OnlineList(long roomId, IReadOnlyList<UserRef> users) =>
        _online.Get(roomId, users, list => JsonSerializer.SerializeToUtf8Bytes(list.Select(User).ToList(), WireJson.Context.ListWireUser));

    internal WireMessage Message(ChatMessage m) => new(
        m.Id, m.RoomId, User(m.Sender), m.Text, WireJson.Utc(m.CreatedAt), m.ClientMsgId,
        m.Image is { IsFile: false } i ? new WireImage(i.Id, _imageBase + i.Id, i.ContentType, i.Width, i.Height, i.Length) : null,
        m.EditedAt is { } e ? WireJson.Utc(e) : null,
        m.IsDeleted ? true : null,
        m.Reactions is { Count: > 0 } r ? WireConversations.Reactions(this, r) : null,
        m.Pinned ? true : null,
        m.Quote is { } q ? new WireQuote(q.Id, User(q.Sender), q.Text, q.Deleted ? true : null) : null,
        m.ThreadId,
        m.ThreadId is not null && m.AlsoInRoom ? true : null,
        m.Thread is { } t ? new WireThread(t.Replies, t.LastReplyAt is { } at ? WireJson.Utc(at) : null) : null,
        m.Preview is { } p ? Preview(p) : null,
        m.Image is { IsFile: true } file ? new WireFile(file.Id, _imageBase + file.Id, file.ContentType, file.Name ?? "file", file.Length) : null,
        m.IsAction ? true : null,
        m.PostedAs is { } via ? new WirePostedAs(via.Name, via.IconUrl, via.Via) : null);

    internal static WirePreview Preview(LinkPreview p) => new(p.Url, p.Title, p.Description, p.SiteName,
        p.ImageId is { } id ? new WirePreviewImage("/previews/" + id, p.ImageWidth, p.ImageHeight) : null);

    private static string ImageBase(string? configured) =>
        string.IsNullOrWhiteSpace(configured) ? "/images/" : configured.TrimEnd('/') + "/";
}
