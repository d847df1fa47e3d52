using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Conversations;

/// <summary>
/// Over <c>chatportal.v1</c> on the real portal: saved messages and thread follows reach the user's other sockets live
/// (and nobody else's); a rejoin's catch-up ends with the room's current read receipts.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class PersonalEventSocketTests(WsPortalFixture fx)
{
    private async Task<string> RoomAsync() =>
        (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("pe").ToLowerInvariant(), allowGuests: true)).Slug;

    private static async Task<long> SendAsync(WsClient ws, string room, string text) =>
        (await ws.RequestAsync("send", ("room", room), ("text", text), ("client_id", Guid.NewGuid().ToString("N")))).GetLong("message_id");

    [Fact]
    public async Task Saving_and_following_on_one_socket_reach_the_users_other_sockets_live_and_no_one_else()
    {
        var room = await RoomAsync();
        var annName = PortalHelpers.UniqueName("ann");
        await using var phone = await fx.Portal.MemberSocketAsync(annName, room);
        await using var laptop = await fx.Portal.MemberSocketAsync(annName, join: null); // another device, no room joined
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var roomId = phone.Frames.First(f => f.Is("joined")).GetLong("room.id");
        var id = await SendAsync(ben, room, "worth keeping");

        // Saved on the phone: the laptop hears of it (and the phone too: every socket of hers, one event).
        Assert.Equal("true", (await phone.RequestAsync("save", ("message_id", id))).Get("changed"));
        var saved = await laptop.WaitForAsync(f => f.Is("saved_changed"));
        Assert.Equal((id, roomId, "true"), (saved.GetLong("message_id"), saved.GetLong("room_id"), saved.Get("saved")));
        await phone.WaitForAsync(f => f.Is("saved_changed"));
        // Saving it again changes nothing and says nothing.
        Assert.Equal("false", (await phone.RequestAsync("save", ("message_id", id))).Get("changed"));
        Assert.Equal("true", (await laptop.RequestAsync("unsave", ("message_id", id))).Get("changed"));
        var unsaved = await phone.WaitForAsync(f => f.Is("saved_changed") && f.Get("saved") == "false");
        Assert.Equal(id, unsaved.GetLong("message_id"));

        // Following Ben's thread by hand, and unfollowing it, on the laptop: the phone follows.
        Assert.Equal("true", (await laptop.RequestAsync("follow", ("message_id", id))).Get("changed"));
        var follow = await phone.WaitForAsync(f => f.Is("follow_changed"));
        Assert.Equal((id, roomId, "true"), (follow.GetLong("message_id"), follow.GetLong("room_id"), follow.Get("following")));
        Assert.Equal("true", (await laptop.RequestAsync("unfollow", ("message_id", id))).Get("changed"));
        await phone.WaitForAsync(f => f.Is("follow_changed") && f.Get("following") == "false");

        // Ben, in the same room, heard of none of it (a ping orders after anything already sent to him).
        Assert.True((await ben.RequestAsync("ping")).Is("pong"));
        Assert.Empty(ben.Where(f => f.Is("saved_changed") || f.Is("follow_changed")));
        Assert.Equal(2, phone.Where(f => f.Is("saved_changed")).Count);
        Assert.True((await laptop.RequestAsync("ping")).Is("pong"));
        Assert.Equal(2, laptop.Where(f => f.Is("follow_changed")).Count);
    }

    [Fact]
    public async Task Replying_in_a_thread_or_being_mentioned_in_one_is_a_follow_the_users_other_sockets_hear_of_once()
    {
        var room = await RoomAsync();
        var annName = PortalHelpers.UniqueName("ann");
        var calName = PortalHelpers.UniqueName("cal");
        await using var phone = await fx.Portal.MemberSocketAsync(annName, room);
        await using var laptop = await fx.Portal.MemberSocketAsync(annName, join: null);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        await using var cal = await fx.Portal.MemberSocketAsync(calName, room);
        var root = await SendAsync(ben, room, "a question");

        // Ann replies (mentioning Cal) on her phone: Ann, Ben (the author) and Cal now follow, and each hears of it.
        Assert.True((await phone.RequestAsync("send", ("room", room), ("text", $"ask @{calName}"), ("thread_id", root),
            ("client_id", Guid.NewGuid().ToString("N")))).Is("ack"));
        var follow = await laptop.WaitForAsync(f => f.Is("follow_changed"));
        Assert.Equal((root, "true"), (follow.GetLong("message_id"), follow.Get("following")));
        await ben.WaitForAsync(f => f.Is("follow_changed") && f.GetLong("message_id") == root);
        await cal.WaitForAsync(f => f.Is("follow_changed") && f.GetLong("message_id") == root);
        // A second reply adds no follower: nothing more (a ping orders after anything already queued for the socket).
        Assert.True((await phone.RequestAsync("send", ("room", room), ("text", "and another"), ("thread_id", root),
            ("client_id", Guid.NewGuid().ToString("N")))).Is("ack"));
        Assert.True((await laptop.RequestAsync("ping")).Is("pong"));
        Assert.True((await ben.RequestAsync("ping")).Is("pong"));
        Assert.Single(laptop.Where(f => f.Is("follow_changed")));
        Assert.Single(ben.Where(f => f.Is("follow_changed")));
        var threads = await laptop.RequestAsync("threads");
        Assert.Contains(threads.Json.GetProperty("threads").EnumerateArray(), t => t.GetProperty("root").GetProperty("id").GetInt64() == root);
    }

    [Fact]
    public async Task A_rejoin_with_the_last_id_gets_the_rooms_current_receipts_after_its_catch_up_without_asking()
    {
        var room = await RoomAsync();
        var annName = PortalHelpers.UniqueName("ann");
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        await using var cal = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("cal"), room);
        await using var dee = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("dee"), room);
        var benId = ben.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        var calId = cal.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        var deeId = dee.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        long lastSeen;
        await using (var ann = await fx.Portal.MemberSocketAsync(annName, room))
        {
            lastSeen = await SendAsync(ann, room, "first");
        } // Ann goes offline.

        // Meanwhile: another post; Ben reads it, Cal reads the first one; Dee reads but hides her receipts.
        var second = await SendAsync(ben, room, "second");
        Assert.True((await ben.RequestAsync("read", ("room", room), ("message_id", second))).Is("read"));
        Assert.True((await cal.RequestAsync("read", ("room", room), ("message_id", lastSeen))).Is("read"));
        Assert.Equal("true", (await dee.RequestAsync("read_receipts", ("hidden", true))).Get("changed"));
        Assert.True((await dee.RequestAsync("read", ("room", room), ("message_id", second))).Is("read"));

        // Ann comes back with her last id: the missed post, then the receipts, then caught_up.
        await using var back = await fx.Portal.MemberSocketAsync(annName, room, since: lastSeen);
        var frames = back.Frames.ToList();
        var caughtUp = frames.FindIndex(f => f.Is("caught_up"));
        var missed = frames.FindIndex(f => f.Is("message") && f.GetLong("message.id") == second);
        var receipts = frames.Select((f, i) => (f, i)).Where(x => x.f.Is("receipt")).ToList();
        Assert.True(missed >= 0 && missed < caughtUp, string.Join("\n", frames));
        Assert.All(receipts, x => Assert.InRange(x.i, missed + 1, caughtUp - 1));
        var cursors = receipts.ToDictionary(x => x.f.GetLong("user.id"), x => x.f.GetLong("last_read_id"));
        Assert.Equal(second, cursors[benId]);
        Assert.Equal(lastSeen, cursors[calId]);
        Assert.False(cursors.ContainsKey(deeId)); // hidden: never replayed either
        Assert.All(receipts, x => Assert.Equal(back.Frames.First(f => f.Is("joined")).GetLong("room.id"), x.f.GetLong("room_id")));

        // A first join without a last id gets no replay (it asks "receipts" if it wants them).
        await using var fresh = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("eve"), room);
        Assert.True((await fresh.RequestAsync("ping")).Is("pong"));
        Assert.Empty(fresh.Where(f => f.Is("receipt")));
    }
}
