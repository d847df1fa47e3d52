using System.Net.WebSockets;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>The chatportal.v1 protocol: acks after storing, idempotent retries, catch-up, DMs, typing, edits, presence, errors.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class ProtocolTests(WsPortalFixture fx)
{
    [Fact]
    public async Task The_ack_comes_only_after_the_message_is_stored()
    {
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("acker"));
        for (var i = 0; i < 20; i++)
        {
            var text = $"stored before ack {i} {Guid.NewGuid():N}";
            var ack = await ws.RequestAsync("send", ("room", "lobby"), ("text", text), ("client_id", $"ack-{i}-{Guid.NewGuid():N}"));
            Assert.True(ack.Is("ack"), ack.ToString());
            // Read from a separate connection the moment the ack is in: the row must already be there.
            await using var db = fx.Portal.OpenDb();
            var row = await db.Messages.AsNoTracking().SingleOrDefaultAsync(m => m.Id == ack.GetLong("message_id"));
            Assert.NotNull(row);
            Assert.Equal(text, row.Text);
        }
    }

    [Fact]
    public async Task Retrying_with_the_same_client_id_never_makes_a_duplicate()
    {
        var sender = PortalHelpers.UniqueName("retry");
        await using var ws = await fx.Portal.MemberSocketAsync(sender);
        await using var reader = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("reader"));
        var clientId = "cid-" + Guid.NewGuid().ToString("N");

        var first = await ws.RequestAsync("send", ("room", "lobby"), ("text", "only once"), ("client_id", clientId));
        var second = await ws.RequestAsync("send", ("room", "lobby"), ("text", "only once"), ("client_id", clientId));
        // A retry from another socket of the same user (after a reconnect) is the same message too.
        await using var again = await fx.Portal.MemberSocketAsync(sender, join: null);
        var third = await again.RequestAsync("send", ("room", "lobby"), ("text", "only once"), ("client_id", clientId));

        Assert.True(first.Is("ack") && second.Is("ack") && third.Is("ack"));
        Assert.Equal(first.Get("message_id"), second.Get("message_id"));
        Assert.Equal(first.Get("message_id"), third.Get("message_id"));
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(1, await db.Messages.CountAsync(m => m.ClientMsgId == clientId));

        // Others see it exactly once.
        await reader.SendJsonAsync(new { type = "ping", id = "sync" });
        await reader.WaitForAsync(f => f.Is("pong"));
        await ws.RequestAsync("send", ("room", "lobby"), ("text", "after " + clientId));
        await reader.WaitForAsync(f => f.Get("message.text") == "after " + clientId);
        Assert.Single(reader.Where(f => f.Is("message") && f.Get("message.client_id") == clientId));
    }

    [Fact]
    public async Task Catch_up_after_a_dropped_connection_gives_every_event_in_order_without_gaps_or_duplicates()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("catchup").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var writer = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("writer"), room);
        var reader = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("reader"), room);

        var expected = new List<long>();
        async Task<long> Post(string text)
        {
            var ack = await writer.RequestAsync("send", ("room", room), ("text", text), ("client_id", Guid.NewGuid().ToString("N")));
            Assert.True(ack.Is("ack"), ack.ToString());
            expected.Add(ack.GetLong("event_id"));
            return ack.GetLong("message_id");
        }

        for (var i = 0; i < 10; i++) await Post($"before {i}");
        var seen = await reader.WaitForCountAsync(f => f.Is("message") && f.Get("message.text")!.StartsWith("before", StringComparison.Ordinal), 10);
        var lastSeen = seen.Max(f => f.GetLong("event_id"));

        // The connection drops (no close handshake), and the room moves on meanwhile: posts, an edit, a delete.
        reader.Socket.Abort();
        await reader.DisposeAsync();
        var edited = await Post("during 0");
        for (var i = 1; i < 25; i++) await Post($"during {i}");
        var edit = await writer.RequestAsync("edit", ("message_id", edited), ("text", "during 0 (edited)"));
        Assert.True(edit.Is("edited"), edit.ToString());
        var deletedId = expected[^1];
        var deleted = await writer.RequestAsync("delete", ("message_id", deletedId));
        Assert.True(deleted.Is("deleted"), deleted.ToString());
        expected.Add(deleted.GetLong("event_id"));

        // Reconnect with the last id seen; keep posting while the catch-up runs.
        await using var back = await WsClient.ConnectAsync(fx.BaseUri, "chatportal.v1");
        await back.AuthAsync(token: await fx.Portal.TokenAsync(PortalHelpers.UniqueName("back")));
        var joinTask = back.JoinAsync(room, lastSeen);
        for (var i = 0; i < 15; i++) await Post($"live {i}");
        await joinTask;

        var stored = expected.Where(id => id > lastSeen).ToList();
        await using var db = fx.Portal.OpenDb();
        var roomId = (await db.Rooms.SingleAsync(r => r.Slug == room)).Id;
        var allAfter = await db.Messages.Where(m => m.RoomId == roomId && m.Id > lastSeen).OrderBy(m => m.Id).Select(m => m.Id).ToListAsync();
        await back.WaitForAsync(f => f.Get("message.text") == "live 14");
        var got = back.Where(f => f.Is("message") || f.Is("message_edited") || f.Is("message_deleted"))
            .Select(f => f.GetLong("event_id")).ToList();

        Assert.Equal(allAfter, got);                 // every stored event after the cursor, in id order, none twice
        Assert.Superset(stored.ToHashSet(), got.ToHashSet());
        Assert.Contains(back.Frames, f => f.Is("message_edited") && f.Get("text") == "during 0 (edited)" && f.GetLong("message_id") == edited);
        Assert.Contains(back.Frames, f => f.Is("message_deleted") && f.GetLong("message_id") == deletedId);
        Assert.DoesNotContain(back.Frames, f => f.Is("message") && f.GetLong("event_id") <= lastSeen);
    }

    [Fact]
    public async Task Direct_messages_reach_the_other_user_and_nobody_else()
    {
        var aliceName = PortalHelpers.UniqueName("alice");
        var bobName = PortalHelpers.UniqueName("bob");
        await using var bob = await fx.Portal.MemberSocketAsync(bobName, join: null);
        await using var alice = await fx.Portal.MemberSocketAsync(aliceName, join: null);
        await using var eve = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("eve"), join: null);

        var ack = await alice.RequestAsync("send", ("to", bobName), ("text", "psst, bob"), ("client_id", Guid.NewGuid().ToString("N")));
        Assert.True(ack.Is("ack"), ack.ToString());

        // The first "direct" announces the new conversation; the next one names the message.
        var notice = await bob.WaitForAsync(f => f.Is("direct") && f.Get("event_id") is not null);
        Assert.Equal(aliceName, notice.Get("with.name"));
        Assert.Equal("true", notice.Get("room.direct"));
        Assert.Equal(ack.Get("message_id"), notice.Get("event_id"));
        await bob.JoinAsync(notice.Get("room.slug")!, notice.GetLong("event_id") - 1);
        var msg = await bob.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "psst, bob");
        Assert.Equal(aliceName, msg.Get("message.user.name"));

        Assert.DoesNotContain(eve.Frames, f => f.Is("direct"));
        // Someone else's conversation answers as one that does not exist.
        Assert.Equal("not_found", (await eve.RequestAsync("join", ("room", notice.Get("room.slug")))).Get("code"));
        Assert.Equal("not_found", (await eve.RequestAsync("history", ("room", notice.GetLong("room.id")))).Get("code"));
    }

    [Fact]
    public async Task Typing_presence_and_the_online_list_are_events()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("live").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var a = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("typer"), room);
        var bName = PortalHelpers.UniqueName("watcher");
        var b = await fx.Portal.MemberSocketAsync(bName, room);
        var online = await a.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == bName);
        Assert.Equal("true", online.Get("online"));
        var list = await a.RequestAsync("online", ("room", room));
        Assert.Contains(list.Json.GetProperty("users").EnumerateArray(), u => u.GetProperty("name").GetString() == bName);

        await a.SendJsonAsync(new { type = "typing", room });
        var typing = await b.WaitForAsync(f => f.Is("typing"));
        Assert.NotEqual(bName, typing.Get("user.name"));
        Assert.DoesNotContain(a.Frames, f => f.Is("typing")); // not echoed

        var left = await b.RequestAsync("leave", ("room", room));
        Assert.True(left.Is("left"), left.ToString());
        var offline = await a.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == bName && f.Get("online") == "false");
        Assert.NotNull(offline);
        Assert.Equal("not_joined", (await b.RequestAsync("typing", ("room", room))).Get("code"));
        await b.DisposeAsync();
    }

    [Fact]
    public async Task Edit_and_delete_of_own_messages_reach_the_room_and_others_messages_are_refused()
    {
        await using var owner = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("owner"));
        await using var other = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("other"));
        var ack = await owner.RequestAsync("send", ("room", "lobby"), ("text", "typo hree"));
        var id = ack.GetLong("message_id");

        Assert.Equal("forbidden", (await other.RequestAsync("edit", ("message_id", id), ("text", "hijacked"))).Get("code"));
        Assert.Equal("forbidden", (await other.RequestAsync("delete", ("message_id", id))).Get("code"));

        Assert.True((await owner.RequestAsync("edit", ("message_id", id), ("text", "typo here"))).Is("edited"));
        var edited = await other.WaitForAsync(f => f.Is("message_edited") && f.GetLong("message_id") == id);
        Assert.Equal("typo here", edited.Get("text"));
        Assert.True(edited.GetLong("event_id") > id);

        var del = await owner.RequestAsync("delete", ("message_id", id));
        Assert.True(del.Is("deleted"), del.ToString());
        var gone = await other.WaitForAsync(f => f.Is("message_deleted") && f.GetLong("message_id") == id);
        Assert.Equal(del.Get("event_id"), gone.Get("event_id"));
        Assert.Equal("not_found", (await owner.RequestAsync("edit", ("message_id", id), ("text", "again"))).Get("code"));
    }

    [Fact]
    public async Task History_pages_backwards_through_stored_messages()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("hist").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("historian"), room);
        for (var i = 0; i < 7; i++) await ws.RequestAsync("send", ("room", room), ("text", $"h{i}"));

        var page1 = await ws.RequestAsync("history", ("room", room), ("limit", 4));
        var texts1 = page1.Json.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Equal(["h3", "h4", "h5", "h6"], texts1);
        Assert.Equal("true", page1.Get("more"));
        var oldest = page1.Json.GetProperty("messages")[0].GetProperty("id").GetInt64();
        var page2 = await ws.RequestAsync("history", ("room", room), ("before", oldest), ("limit", 4));
        var texts2 = page2.Json.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Equal(["h0", "h1", "h2"], texts2);
        Assert.Equal("false", page2.Get("more"));
    }

    [Fact]
    public async Task An_image_over_v1_is_announced_then_sent_as_binary_and_acked_after_storing()
    {
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("painter"));
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        Assert.Equal("image_unannounced", (await ws.WaitForAsync(f => f.Is("error") && f.Get("code") == "image_unannounced")).Get("code"));

        var clientId = Guid.NewGuid().ToString("N");
        await ws.SendJsonAsync(new { type = "image", id = 77, room = "lobby", client_id = clientId });
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
        var ack = await ws.WaitForAsync(f => f.Get("reply_to") == "77");
        Assert.True(ack.Is("ack"), ack.ToString());
        var msg = await ws.WaitForAsync(f => f.Is("message") && f.Get("message.client_id") == clientId);
        Assert.Equal("image/png", msg.Get("message.image.content_type"));
        await using var db = fx.Portal.OpenDb();
        var row = await db.Messages.AsNoTracking().SingleAsync(m => m.Id == ack.GetLong("message_id"));
        Assert.Equal(MessageKind.Image, row.Kind);
        Assert.Equal(msg.Get("message.image.id"), row.ImageId);
    }

    [Fact]
    public async Task Bad_requests_get_error_frames_with_stable_codes_and_the_socket_stays_open()
    {
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("clumsy"));
        var cases = new (string Frame, string Code)[]
        {
            ("not json at all", "bad_json"),
            ("[1,2,3]", "bad_json"),
            ("{\"id\":1}", "bad_request"),
            ("{\"type\":\"teleport\",\"id\":2}", "unknown_type"),
            ("{\"type\":\"join\",\"id\":3,\"room\":\"no-such-room-anywhere\"}", "not_found"),
            ("{\"type\":\"join\",\"id\":4}", "bad_request"),
            ("{\"type\":\"join\",\"id\":5,\"room\":\"lobby\"}", "already_joined"),
            ("{\"type\":\"send\",\"id\":6,\"room\":\"lobby\",\"text\":\"   \"}", "empty"),
            ("{\"type\":\"send\",\"id\":7,\"room\":\"lobby\",\"text\":\"" + new string('x', 4001) + "\"}", "too_long"),
            ("{\"type\":\"send\",\"id\":8,\"room\":\"lobby\",\"text\":\"x\",\"client_id\":\"" + new string('c', 65) + "\"}", "bad_client_id"),
            ("{\"type\":\"send\",\"id\":9,\"room\":{\"nested\":true},\"text\":\"x\"}", "bad_request"),
            ("{\"type\":\"edit\",\"id\":10,\"text\":\"x\"}", "bad_request"),
            ("{\"type\":\"delete\",\"id\":11,\"message_id\":\"not a number\"}", "bad_json"),
            ("{\"type\":\"typing\",\"id\":12,\"room\":\"elsewhere\"}", "not_joined"),
            ("{\"type\":\"auth\",\"id\":13,\"guest\":true}", "already_authenticated"),
            ("{\"type\":\"send\",\"id\":{\"x\":1}}", "bad_request"),
        };
        foreach (var (frame, code) in cases)
        {
            var before = ws.Where(f => f.Is("error")).Count;
            await ws.SendTextAsync(frame);
            var errors = await ws.WaitForCountAsync(f => f.Is("error"), before + 1);
            Assert.True(errors[^1].Get("code") == code, $"{frame[..Math.Min(frame.Length, 60)]} → {errors[^1]}");
        }
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "still fine"))).Is("ack"));
    }
}
