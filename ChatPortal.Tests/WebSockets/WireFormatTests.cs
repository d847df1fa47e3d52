using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.WebSockets;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.WebSockets;

/// <summary>The wire formats without a server: shapes, escaping, and "encode once, share the bytes".</summary>
public sealed class WireFormatTests
{
    private static readonly UserRef Alice = new(7, "alice", UserKind.Member);
    private static readonly DateTimeOffset At = new(2026, 11, 25, 21, 28, 53, 992, TimeSpan.Zero);

    private static V1WireFormat V1(string? imageBase = null) =>
        new(Options.Create(new PortalOptions { PublicImageBaseUrl = imageBase }));

    private static JsonElement Json(WireFrame f) => JsonDocument.Parse(f.Bytes).RootElement;

    [Fact]
    public void An_event_is_encoded_once_per_format_and_the_same_bytes_are_shared()
    {
        var format = V1();
        var evt = new MessagePosted(new ChatMessage(12, 3, Alice, MessageKind.Text, "hi", At, "c1"));
        var first = evt.Encoded(format);
        var again = evt.Encoded(format);
        Assert.Same(first, again);
        Assert.Same(first.Bytes, again.Bytes);
        // The slot belongs to the format type, so every instance (one per host) shares the cache.
        Assert.Same(first, evt.Encoded(V1()));
        // The plain format has a slot of its own.
        var plain = evt.Encoded(new PlainWireFormat(null!, Microsoft.Extensions.Logging.Abstractions.NullLogger<PlainWireFormat>.Instance));
        Assert.NotSame(first, plain);
        Assert.Equal("message", Json(plain).GetProperty("type").GetString());
    }

    [Fact]
    public void Plain_frames_have_exactly_the_original_shapes()
    {
        var plain = new PlainWireFormat(null!, Microsoft.Extensions.Logging.Abstractions.NullLogger<PlainWireFormat>.Instance);
        var msg = Json(new MessagePosted(new ChatMessage(12, 3, Alice, MessageKind.Text, "hi", At)).Encoded(plain));
        Assert.Equal(["type", "message", "datetime", "user"], msg.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(["id", "name"], msg.GetProperty("user").EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(At.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), msg.GetProperty("datetime").GetString());

        var left = Json(new PresenceChanged(3, Alice, Joined: false).Encoded(plain));
        Assert.Equal("close", left.GetProperty("type").GetString());
        Assert.Equal("alice离开聊天室", left.GetProperty("message").GetString());
        Assert.Equal("open", Json(new PresenceChanged(3, Alice, Joined: true).Encoded(plain)).GetProperty("type").GetString());
        Assert.True(new UserTyping(3, Alice).Encoded(plain).IsNone);
        Assert.True(new MessageDeleted(3, 12, 14, Alice).Encoded(plain).IsNone);
    }

    [Fact]
    public void V1_message_frames_have_the_documented_shape()
    {
        var image = new ImageRef("ab12", "image/png", 640, 480, 4821);
        var m = new ChatMessage(12, 3, Alice, MessageKind.Image, "caption", At, "c1", image, EditedAt: At.AddMinutes(1));
        var j = Json(new MessagePosted(m).Encoded(V1("https://cdn.example/img/")));

        Assert.Equal(["type", "room_id", "event_id", "message"], j.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("message", j.GetProperty("type").GetString());
        Assert.Equal(12, j.GetProperty("event_id").GetInt64());
        var msg = j.GetProperty("message");
        Assert.Equal("alice", msg.GetProperty("user").GetProperty("name").GetString());
        Assert.Equal("member", msg.GetProperty("user").GetProperty("kind").GetString());
        Assert.Equal("2026-11-25T21:28:53.992Z", msg.GetProperty("created_at").GetString());
        Assert.Equal("c1", msg.GetProperty("client_id").GetString());
        Assert.Equal("https://cdn.example/img/ab12", msg.GetProperty("image").GetProperty("url").GetString());
        Assert.Equal(640, msg.GetProperty("image").GetProperty("width").GetInt32());
        Assert.True(msg.TryGetProperty("edited_at", out _));
        Assert.False(msg.TryGetProperty("deleted", out _)); // nulls are left out
    }

    [Fact]
    public void V1_encodes_every_event_kind_and_skips_what_sockets_do_not_get()
    {
        var f = V1();
        var room = new RoomInfo(3, "lobby", "Lobby", null, false, true, false, false, "secret-invite");
        var m = new ChatMessage(12, 3, Alice, MessageKind.Text, "hi", At);
        Assert.Equal("message_edited", Json(new MessageEdited(m with { Text = "hi!", EditedAt = At }, 13).Encoded(f)).GetProperty("type").GetString());
        Assert.Equal(13, Json(new MessageEdited(m, 13).Encoded(f)).GetProperty("event_id").GetInt64());
        Assert.Equal(12, Json(new MessageDeleted(3, 12, 14, Alice).Encoded(f)).GetProperty("message_id").GetInt64());
        Assert.False(Json(new PresenceChanged(3, Alice, false).Encoded(f)).GetProperty("online").GetBoolean());
        Assert.Equal("typing", Json(new UserTyping(3, Alice).Encoded(f)).GetProperty("type").GetString());
        var direct = Json(new DirectActivity(9, Alice, new DirectConversation(room with { IsDirect = true }, Alice), 15).Encoded(f));
        Assert.Equal(15, direct.GetProperty("event_id").GetInt64());
        var changed = new RoomChanged(room).Encoded(f);
        Assert.Equal("lobby", Json(changed).GetProperty("room").GetProperty("slug").GetString());
        Assert.DoesNotContain("secret-invite", System.Text.Encoding.UTF8.GetString(changed.Bytes)); // invite codes stay in the back office
        Assert.True(new SessionRevoked(7, "banned").Encoded(f).IsNone);
    }

    [Fact]
    public void Html_sensitive_characters_are_escaped_and_chinese_is_kept()
    {
        var m = new ChatMessage(1, 3, Alice with { Name = "<b>al&ce</b>" }, MessageKind.Text, "<script>alert('x')</script> & \"q\" 你好 😀", At);
        var text = System.Text.Encoding.UTF8.GetString(new MessagePosted(m).Encoded(V1()).Bytes);
        foreach (var c in new[] { "<", ">", "&", "'", "\\\"q" }) Assert.DoesNotContain(c, text);
        Assert.Contains("\\u003Cscript\\u003E", text);
        Assert.Contains("你好", text); // readable, not \u escapes (emoji outside the BMP are escaped, which any JSON parser reads)
        Assert.Equal("<script>alert('x')</script> & \"q\" 你好 😀", JsonDocument.Parse(text).RootElement.GetProperty("message").GetProperty("text").GetString());
    }
}
