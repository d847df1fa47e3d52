using ChatPortal.Data;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Integrations;

/// <summary>Built-in slash commands over <c>chatportal.v1</c> on the real portal (issue 16): each does its thing; replies only the caller sees.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class SlashCommandSocketTests(WsPortalFixture fx)
{
    private async Task<(string Slug, long Id)> RoomAsync(string prefix, bool isPrivate = false)
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName(prefix).ToLowerInvariant(), allowGuests: false, isPrivate);
        return (room.Slug, room.Id);
    }

    private static long UserId(WsClient ws) => ws.Frames.First(f => f.Is("welcome")).GetLong("user.id");

    private async Task AddMemberAsync(long roomId, long userId)
    {
        await using var db = fx.Portal.OpenDb();
        db.RoomMembers.Add(new RoomMember { RoomId = roomId, UserId = userId, JoinedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task Me_posts_an_action_message_everyone_sees_marked_as_an_action_and_history_keeps_it()
    {
        var (room, roomId) = await RoomAsync("me");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);

        var done = await ann.RequestAsync("command", ("room", room), ("text", "/me waves"));
        Assert.True(done.Is("command_done"), done.ToString());
        Assert.Equal("me", done.Get("command"));
        var id = done.GetLong("message_id");
        var seen = await ben.WaitForAsync(f => f.Is("message") && f.GetLong("message.id") == id);
        Assert.Equal("waves", seen.Get("message.text"));
        Assert.Equal("true", seen.Get("message.action"));

        await using var db = fx.Portal.OpenDb();
        var row = await db.Messages.SingleAsync(m => m.Id == id);
        Assert.True(row.IsAction);
        Assert.Equal(roomId, row.RoomId);
        var history = await ben.RequestAsync("history", ("room", room));
        var m = history.Json.GetProperty("messages").EnumerateArray().Single(x => x.GetProperty("id").GetInt64() == id);
        Assert.True(m.GetProperty("action").GetBoolean());

        // An ordinary send of text starting with "/" is posted as it is (commands are a request of their own).
        var literal = await ann.RequestAsync("send", ("room", room), ("text", "/me is literal here"), ("client_id", Guid.NewGuid().ToString("N")));
        Assert.True(literal.Is("ack"), literal.ToString());
        Assert.False((await db.Messages.SingleAsync(x => x.Id == literal.GetLong("message_id"))).IsAction);
    }

    [Fact]
    public async Task An_unknown_command_is_an_error_only_the_caller_sees_and_nothing_is_posted()
    {
        var (room, roomId) = await RoomAsync("unknown");
        var annName = PortalHelpers.UniqueName("ann");
        await using var ann = await fx.Portal.MemberSocketAsync(annName, room);
        await using var ann2 = await fx.Portal.MemberSocketAsync(annName, room); // the same user's second socket
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);

        var error = await ann.RequestAsync("command", ("room", room), ("text", "/frobnicate now"));
        Assert.Equal("unknown_command", error.Get("code"));
        Assert.Contains("/help", error.Get("message"));
        var ephemeral = await ann2.WaitForAsync(f => f.Is("ephemeral"));
        Assert.Equal("unknown_command", ephemeral.Get("code"));
        Assert.Equal("true", ephemeral.Get("error"));
        Assert.Equal(roomId, ephemeral.GetLong("room_id"));

        // Ben sees nothing of it: a marker posted after it reaches him first and alone.
        var marker = await ann.RequestAsync("send", ("room", room), ("text", "marker"), ("client_id", Guid.NewGuid().ToString("N")));
        await ben.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "marker");
        Assert.Empty(ben.Where(f => f.Is("ephemeral")));
        Assert.Equal("bad_request", (await ann.RequestAsync("command", ("room", room), ("text", "no slash"))).Get("code"));

        await using var db = fx.Portal.OpenDb();
        Assert.Equal(1, await db.Messages.CountAsync(m => m.RoomId == roomId)); // only the marker
        Assert.Equal(marker.GetLong("message_id"), (await db.Messages.SingleAsync(m => m.RoomId == roomId)).Id);
    }

    [Fact]
    public async Task Topic_invite_mute_unmute_help_and_leave_each_do_their_thing()
    {
        var (room, roomId) = await RoomAsync("builtins", isPrivate: true);
        var annName = PortalHelpers.UniqueName("ann");
        var bobName = PortalHelpers.UniqueName("bob");
        await using var ann = await fx.Portal.MemberSocketAsync(annName, join: null);
        await using var bob = await fx.Portal.MemberSocketAsync(bobName, join: null);
        var annId = UserId(ann);
        var bobId = UserId(bob);
        await AddMemberAsync(roomId, annId);
        await ann.JoinAsync(room);

        // /topic: the room changes for everyone in it; the caller alone gets the confirmation.
        Assert.True((await ann.RequestAsync("command", ("room", room), ("text", "/topic Release on Friday"))).Is("command_done"));
        var changed = await ann.WaitForAsync(f => f.Is("room_changed"));
        Assert.Equal("Release on Friday", changed.Get("room.topic"));
        Assert.Equal("topic_set", (await ann.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "topic_set")).Get("code"));

        // Bob may not act in a private room he is not in: it does not exist for him.
        Assert.Equal("not_found", (await bob.RequestAsync("command", ("room", room), ("text", "/topic hijack"))).Get("code"));

        // /invite @bob: Bob becomes a member and may join.
        Assert.True((await ann.RequestAsync("command", ("room", room), ("text", $"/invite @{bobName}"))).Is("command_done"));
        var invited = await ann.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "invited");
        Assert.Contains(bobName, invited.Get("text"));
        Assert.Equal("no_such_user", (await ann.RequestAsync("command", ("room", room), ("text", "/invite @nobody-here-at-all"))).Get("code"));
        Assert.True((await bob.JoinAsync(room)).Is("joined"));

        // /mute and /unmute: the caller's notification level for this room.
        Assert.True((await bob.RequestAsync("command", ("room", room), ("text", "/mute"))).Is("command_done"));
        await using (var db = fx.Portal.OpenDb())
            Assert.Equal(NotifyLevel.None, (await db.RoomNotificationSettings.SingleAsync(r => r.UserId == bobId && r.RoomId == roomId)).Level);
        Assert.True((await bob.RequestAsync("command", ("room", room), ("text", "/unmute"))).Is("command_done"));
        await using (var db = fx.Portal.OpenDb())
            Assert.False(await db.RoomNotificationSettings.AnyAsync(r => r.UserId == bobId && r.RoomId == roomId));

        // /help lists the built-ins, to the caller only.
        Assert.True((await bob.RequestAsync("command", ("room", room), ("text", "/help"))).Is("command_done"));
        var help = await bob.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "help");
        foreach (var name in new[] { "/me", "/topic", "/invite", "/leave", "/mute", "/unmute", "/help" }) Assert.Contains(name, help.Get("text"));
        Assert.Empty(ann.Where(f => f.Is("ephemeral") && f.Get("code") is "help" or "muted_room"));

        // /leave: Bob's membership goes, and the private room with it.
        Assert.True((await bob.RequestAsync("command", ("room", room), ("text", "/leave"))).Is("command_done"));
        await bob.WaitForAsync(f => f.Is("left") && f.Get("reason") == "removed");
        await using (var db = fx.Portal.OpenDb())
        {
            Assert.False(await db.RoomMembers.AnyAsync(m => m.RoomId == roomId && m.UserId == bobId));
            Assert.Equal("Release on Friday", (await db.Rooms.SingleAsync(r => r.Id == roomId)).Topic);
            Assert.Equal(0, await db.Messages.CountAsync(m => m.RoomId == roomId)); // commands posted nothing
        }
    }
}
