using System.Net.WebSockets;
using ChatPortal.Data;
using ChatPortal.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// Clients of the original chat room: no subprotocol, raw text frames in, JSON out, images as
/// binary frames. They must work unchanged.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class PlainClientTests(WsPortalFixture fx)
{
    [Fact]
    public async Task Plain_client_lands_in_the_lobby_as_a_guest_and_gets_openSuccess_with_the_online_list()
    {
        await using var first = await WsClient.ConnectAsync(fx.BaseUri);
        var firstOpen = await first.WaitForAsync(f => f.Is("openSuccess"));
        await using var second = await WsClient.ConnectAsync(fx.BaseUri);
        var open = await second.WaitForAsync(f => f.Is("openSuccess"));

        Assert.Equal("openSuccess", second.Frames[0].Type); // the very first frame
        var me = open.Get("user.name")!;
        Assert.StartsWith("游客", me);
        var all = open.Json.GetProperty("all").EnumerateArray().Select(u => u.GetProperty("name").GetString()).ToList();
        Assert.Contains(me, all);
        Assert.Contains(firstOpen.Get("user.name"), all);

        // A guest is a real user row of kind Guest.
        await using var db = fx.Portal.OpenDb();
        var row = await db.Users.AsNoTracking().SingleAsync(u => u.Name == me);
        Assert.Equal(UserKind.Guest, row.Kind);
        Assert.Null(row.PasswordHash);
    }

    [Fact]
    public async Task Text_frames_are_stored_and_reach_the_others_as_message_json_but_not_the_sender()
    {
        await using var alice = await WsClient.ConnectAsync(fx.BaseUri);
        await using var bob = await WsClient.ConnectAsync(fx.BaseUri);
        var aliceName = (await alice.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name");
        await bob.WaitForAsync(f => f.Is("openSuccess"));
        await using var watcher = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("watch"));

        var text = $"hello from plain {Guid.NewGuid():N} 你好";
        await alice.SendTextAsync(text);

        var got = await bob.WaitForAsync(f => f.Is("message") && f.Get("message") == text);
        Assert.Equal(aliceName, got.Get("user.name"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", got.Get("datetime")!);
        // Web UI users see the same message (same core): the v1 watcher stands in here; the browser test shows the page.
        var seen = await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.text") == text);
        await using var db = fx.Portal.OpenDb();
        Assert.True(await db.Messages.AnyAsync(m => m.Id == seen.GetLong("message.id") && m.Text == text));

        // The sender does not get its own message back (give it the time bob needed, and then some).
        await bob.SendTextAsync("marker " + text);
        await alice.WaitForAsync(f => f.Is("message") && f.Get("message") == "marker " + text);
        Assert.DoesNotContain(alice.Frames, f => f.Is("message") && f.Get("message") == text);
    }

    [Fact]
    public async Task Json_escapes_html_sensitive_characters_so_innerHTML_stays_safe()
    {
        await using var alice = await WsClient.ConnectAsync(fx.BaseUri);
        await using var bob = await WsClient.ConnectAsync(fx.BaseUri);
        await alice.WaitForAsync(f => f.Is("openSuccess"));
        await bob.WaitForAsync(f => f.Is("openSuccess"));
        var evil = $"<img src=x onerror=alert(1)> & \"quoted\" 'single' {Guid.NewGuid():N}";
        await alice.SendTextAsync(evil);

        // Plain frames carry the text htmlspecialchars'd (as the original server sent it), then JSON-escaped.
        var escaped = PlainWireFormat.HtmlSpecialChars(evil);
        Assert.NotEqual(evil, escaped);
        var got = await bob.WaitForAsync(f => f.Is("message") && f.Get("message") == escaped);
        var raw = got.Text;
        Assert.DoesNotContain("<", raw);
        Assert.DoesNotContain(">", raw);
        Assert.DoesNotContain("&", raw);
        Assert.DoesNotContain("'", raw);
        Assert.Contains("\\u0026lt;img", raw);
        Assert.Contains("\\u0026", raw);
        Assert.Contains("\\u0026quot;quoted\\u0026quot;", raw);
    }

    [Fact]
    public async Task Leaving_sends_the_close_notice_to_the_others()
    {
        await using var stay = await WsClient.ConnectAsync(fx.BaseUri);
        await stay.WaitForAsync(f => f.Is("openSuccess"));
        var leaver = await WsClient.ConnectAsync(fx.BaseUri);
        var name = (await leaver.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!;
        await stay.WaitForAsync(f => f.Is("open") && f.Get("user.name") == name);

        await leaver.DisposeAsync();

        var notice = await stay.WaitForAsync(f => f.Is("close") && f.Get("user.name") == name);
        Assert.Equal($"{name}离开聊天室", notice.Get("message"));
        Assert.NotNull(notice.Get("datetime"));
        // A guest that posted nothing leaves no user row behind.
        await using var db = fx.Portal.OpenDb();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await db.Users.AnyAsync(u => u.Name == name) && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.False(await db.Users.AnyAsync(u => u.Name == name));
    }

    [Fact]
    public async Task A_binary_frame_is_an_image_stored_shown_on_the_web_and_relayed_as_binary_to_other_plain_clients()
    {
        await using var sender = await WsClient.ConnectAsync(fx.BaseUri);
        await using var other = await WsClient.ConnectAsync(fx.BaseUri);
        await sender.WaitForAsync(f => f.Is("openSuccess"));
        await other.WaitForAsync(f => f.Is("openSuccess"));
        await using var watcher = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("imgwatch"));
        var png = PortalHelpers.TinyPng();
        var before = other.Where(f => f.Binary).Count;

        await sender.SendBytesAsync(png, WebSocketMessageType.Binary);

        var relayed = await other.WaitForCountAsync(f => f.Binary, before + 1);
        Assert.Equal(png, relayed[^1].Bytes);
        Assert.DoesNotContain(sender.Frames, f => f.Binary); // not echoed to the sender

        // v1 clients and the web UI get it as an image message with a URL that serves the same bytes.
        var msg = await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.image.id") is not null
                                                  && f.Get("message.user.kind") == "guest");
        var url = msg.Get("message.image.url")!;
        Assert.StartsWith("/images/", url);
        using var http = fx.Portal.CreateClient();
        Assert.Equal(png, await http.GetByteArrayAsync(url));
        await using var db = fx.Portal.OpenDb();
        var stored = await db.Messages.AsNoTracking().SingleAsync(m => m.Id == msg.GetLong("message.id"));
        Assert.Equal(MessageKind.Image, stored.Kind);
    }

    [Fact]
    public async Task A_binary_frame_that_is_not_an_image_gets_an_error_and_nothing_is_stored()
    {
        await using var sender = await WsClient.ConnectAsync(fx.BaseUri);
        await sender.WaitForAsync(f => f.Is("openSuccess"));
        await sender.SendBytesAsync("this is not an image at all"u8.ToArray(), WebSocketMessageType.Binary);
        var error = await sender.WaitForAsync(f => f.Is("error"));
        Assert.Equal("image_type", error.Get("code"));
        // Still connected and working.
        await sender.SendTextAsync("still here " + Guid.NewGuid());
        Assert.Equal(WebSocketState.Open, sender.Socket.State);
    }

    [Fact]
    public async Task A_room_without_guests_refuses_plain_clients_with_1008()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("members").ToLowerInvariant(), allowGuests: false);
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, query: "room=" + room.Slug);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
        Assert.Equal("guests_not_allowed", ws.CloseReason);
        Assert.Contains(ws.Frames, f => f.Is("error") && f.Get("code") == "guests_not_allowed");

        // A room that allows guests works through ?room= too.
        var open = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("open").ToLowerInvariant(), allowGuests: true);
        await using var ok = await WsClient.ConnectAsync(fx.BaseUri, query: "room=" + open.Slug);
        await ok.WaitForAsync(f => f.Is("openSuccess"));
    }

    [Fact]
    public async Task A_plain_request_that_is_not_a_websocket_gets_a_clear_400()
    {
        using var http = fx.Portal.CreateClient();
        using var r = await http.GetAsync("/ws");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("WebSocket", await r.Content.ReadAsStringAsync());
    }
}
