using ChatPortal.Data;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Conversations;

/// <summary>Reactions, pins and saved messages over <c>chatportal.v1</c> on the real portal (loopback sockets); plain sockets get none of it.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class ReactionSocketTests(WsPortalFixture fx)
{
    private async Task<(string Slug, long Id)> RoomAsync(string prefix)
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName(prefix).ToLowerInvariant(), allowGuests: true);
        return (room.Slug, room.Id);
    }

    private static async Task<long> PostAsync(WsClient ws, string room, string text)
    {
        var ack = await ws.RequestAsync("send", ("room", room), ("text", text), ("client_id", Guid.NewGuid().ToString("N")));
        Assert.True(ack.Is("ack"), ack.ToString());
        return ack.GetLong("message_id");
    }

    [Fact]
    public async Task A_reaction_reaches_everyone_in_the_room_with_the_whole_state_and_history_carries_it()
    {
        var (room, roomId) = await RoomAsync("react");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var id = await PostAsync(ann, room, "react to this");

        var reacted = await ben.RequestAsync("react", ("message_id", id), ("emoji", "🎉"));
        Assert.True(reacted.Is("reacted"), reacted.ToString());
        Assert.Equal("🎉", reacted.Json.GetProperty("reactions")[0].GetProperty("emoji").GetString());
        var seen = await ann.WaitForAsync(f => f.Is("reaction") && f.GetLong("message_id") == id);
        Assert.Equal(roomId, seen.GetLong("room_id"));
        Assert.Equal("true", seen.Get("added"));
        Assert.True(seen.GetLong("event_id") > id);
        var summary = seen.Json.GetProperty("reactions")[0];
        Assert.Equal(1, summary.GetProperty("count").GetInt32());
        Assert.Equal(ben.Frames.First(f => f.Is("welcome")).Get("user.name"), summary.GetProperty("users")[0].GetProperty("name").GetString());

        // The same reaction again changes nothing: no second event.
        Assert.True((await ben.RequestAsync("react", ("message_id", id), ("emoji", "🎉"))).Is("reacted"));
        await PostAsync(ann, room, "marker after the repeat");
        await ann.WaitForAsync(f => f.Get("message.text") == "marker after the repeat");
        Assert.Single(ann.Where(f => f.Is("reaction")));

        var history = await ann.RequestAsync("history", ("room", room));
        var message = history.Json.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("id").GetInt64() == id);
        Assert.Equal(1, message.GetProperty("reactions")[0].GetProperty("count").GetInt32());

        var unreacted = await ben.RequestAsync("unreact", ("message_id", id), ("emoji", "🎉"));
        Assert.Equal(0, unreacted.Json.GetProperty("reactions").GetArrayLength());
        var removed = await ann.WaitForAsync(f => f.Is("reaction") && f.Get("added") == "false");
        Assert.Equal(0, removed.Json.GetProperty("reactions").GetArrayLength());
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(0, await db.Reactions.CountAsync(r => r.MessageId == id));
    }

    [Fact]
    public async Task Bad_reactions_get_clear_errors_and_the_socket_stays_usable()
    {
        var (room, _) = await RoomAsync("badreact");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        var id = await PostAsync(ann, room, "hi");

        var unknown = await ann.RequestAsync("react", ("message_id", id), ("emoji", ":thumbsup:"));
        Assert.Equal("unknown_emoji", unknown.Get("code"));
        Assert.Contains("emoji", unknown.Get("message"));
        Assert.Equal("bad_request", (await ann.RequestAsync("react", ("message_id", id))).Get("code"));
        Assert.Equal("bad_request", (await ann.RequestAsync("pin", ("room", room))).Get("code"));
        Assert.Equal("not_found", (await ann.RequestAsync("react", ("message_id", id + 100_000), ("emoji", "👍"))).Get("code"));

        for (var i = 0; i < 50; i++)
            Assert.True((await ann.RequestAsync("react", ("message_id", id), ("emoji", char.ConvertFromUtf32(0x1F400 + i)))).Is("reacted"));
        var over = await ann.RequestAsync("react", ("message_id", id), ("emoji", "🚀"));
        Assert.Equal("too_many_reactions", over.Get("code"));

        Assert.True((await ann.RequestAsync("ping")).Is("pong"));
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(50, await db.Reactions.CountAsync(r => r.MessageId == id));
    }

    [Fact]
    public async Task A_non_member_of_a_private_room_cannot_react_or_pin_and_gets_not_found()
    {
        var slug = PortalHelpers.UniqueName("private").ToLowerInvariant();
        var room = await fx.Portal.CreateRoomAsync(slug, allowGuests: false, isPrivate: true);
        var annName = PortalHelpers.UniqueName("ann");
        await using var ann = await fx.Portal.MemberSocketAsync(annName, join: null);
        var annId = ann.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        await using (var db = fx.Portal.OpenDb())
        {
            db.RoomMembers.Add(new RoomMember { RoomId = room.Id, UserId = annId, JoinedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        await ann.JoinAsync(slug);
        var id = await PostAsync(ann, slug, "members only");
        await using var eve = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("eve"), join: null);

        Assert.Equal("not_found", (await eve.RequestAsync("react", ("message_id", id), ("emoji", "👍"))).Get("code"));
        Assert.Equal("not_found", (await eve.RequestAsync("pin", ("message_id", id))).Get("code"));
        Assert.Equal("not_found", (await eve.RequestAsync("save", ("message_id", id))).Get("code"));
        Assert.Equal("not_found", (await eve.RequestAsync("pins", ("room", slug))).Get("code"));
        await using var check = fx.Portal.OpenDb();
        Assert.Equal(0, await check.Reactions.CountAsync(r => r.MessageId == id));
        Assert.Equal(0, await check.Pins.CountAsync(p => p.MessageId == id));
    }

    [Fact]
    public async Task Pinning_twice_announces_it_once_posts_nothing_and_pins_lists_it()
    {
        var (room, _) = await RoomAsync("pin");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var id = await PostAsync(ann, room, "important");

        var first = await ann.RequestAsync("pin", ("message_id", id));
        var second = await ben.RequestAsync("pin", ("message_id", id));
        Assert.Equal(("pinned", "true"), (first.Type, first.Get("changed")));
        Assert.Equal(("pinned", "false"), (second.Type, second.Get("changed")));
        await PostAsync(ann, room, "marker after pins");
        await ben.WaitForAsync(f => f.Get("message.text") == "marker after pins");
        var pinEvent = Assert.Single(ben.Where(f => f.Is("pin")));
        Assert.Equal("true", pinEvent.Get("pinned"));
        // Nothing was posted for the pin: the only messages are the two posts.
        Assert.Equal(2, ben.Where(f => f.Is("message")).Count);

        var pins = await ben.RequestAsync("pins", ("room", room));
        var listed = Assert.Single(pins.Json.GetProperty("messages").EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetInt64());
        Assert.True(listed.GetProperty("pinned").GetBoolean());

        var unpinned = await ben.RequestAsync("unpin", ("message_id", id));
        Assert.Equal(("unpinned", "true"), (unpinned.Type, unpinned.Get("changed")));
        await ann.WaitForAsync(f => f.Is("pin") && f.Get("pinned") == "false");
        Assert.Equal(0, (await ann.RequestAsync("pins", ("room", room))).Json.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task A_client_that_was_away_gets_the_reactions_and_pins_in_its_catch_up()
    {
        var (room, _) = await RoomAsync("away");
        var benName = PortalHelpers.UniqueName("ben");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        var id = await PostAsync(ann, room, "while you were away");
        var ben = await fx.Portal.MemberSocketAsync(benName, room, since: 0);
        var cursor = (await ben.WaitForAsync(f => f.Is("message") && f.Get("message.id") == id.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .GetLong("event_id");
        await ben.DisposeAsync();

        await ann.RequestAsync("react", ("message_id", id), ("emoji", "👀"));
        await ann.RequestAsync("pin", ("message_id", id));

        await using var back = await fx.Portal.MemberSocketAsync(benName, room, since: cursor);
        var reaction = await back.WaitForAsync(f => f.Is("reaction"));
        var pin = await back.WaitForAsync(f => f.Is("pin"));
        Assert.Equal("👀", reaction.Get("emoji"));
        Assert.True(pin.GetLong("event_id") > reaction.GetLong("event_id"));
        Assert.Empty(back.Where(f => f.Is("message")));
    }

    [Fact]
    public async Task Saved_messages_are_personal_over_the_socket()
    {
        var (room, _) = await RoomAsync("save");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var id = await PostAsync(ann, room, "keep this");
        Assert.Equal(("saved", "true"), await Reply(ben.RequestAsync("save", ("message_id", id))));
        Assert.Equal(("saved", "false"), await Reply(ben.RequestAsync("save", ("message_id", id))));
        var list = await ben.RequestAsync("saved_messages");
        Assert.Equal(id, Assert.Single(list.Json.GetProperty("messages").EnumerateArray()).GetProperty("id").GetInt64());
        Assert.Equal(0, (await ann.RequestAsync("saved_messages")).Json.GetProperty("messages").GetArrayLength());
        Assert.Equal(("unsaved", "true"), await Reply(ben.RequestAsync("unsave", ("message_id", id))));
        Assert.Empty(ann.Where(f => f.Is("saved") || f.Is("unsaved"))); // nobody else hears of it

        static async Task<(string?, string?)> Reply(Task<WsFrame> t)
        {
            var f = await t;
            return (f.Type, f.Get("changed"));
        }
    }

    [Fact]
    public async Task Plain_clients_get_no_reaction_or_pin_frames_only_the_seed_protocol()
    {
        await using var plain = await WsClient.ConnectAsync(fx.BaseUri);
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"));
        var id = await PostAsync(ann, "lobby", "plain sees this " + Guid.NewGuid().ToString("N"));
        Assert.True((await ann.RequestAsync("react", ("message_id", id), ("emoji", "👍"))).Is("reacted"));
        Assert.True((await ann.RequestAsync("pin", ("message_id", id))).Is("pinned"));
        var marker = "after reactions " + Guid.NewGuid().ToString("N");
        await PostAsync(ann, "lobby", marker);
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == marker);
        Assert.All(plain.Frames.Where(f => !f.Binary), f => Assert.Contains(f.Type, new[] { "openSuccess", "message", "open", "close" }));
        Assert.All(plain.Where(f => f.Is("message")), f => Assert.Null(f.Get("reactions")));
    }
}
