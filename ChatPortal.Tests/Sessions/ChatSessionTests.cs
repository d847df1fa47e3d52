using ChatPortal.Chat;

namespace ChatPortal.Tests.Sessions;

/// <summary>The core's per-connection session on its own (no socket, no circuit): joining, visibility, revocation.</summary>
public sealed class ChatSessionTests
{
    [Fact]
    public async Task A_join_with_a_cursor_while_others_post_sends_every_stored_event_after_it_once_and_in_order()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("busy");
        var poster = await core.CreateUserAsync("poster");
        var reader = await core.CreateUserAsync("reader");
        for (var i = 0; i < 30; i++) await core.PostAsync(poster, room, $"before {i}");
        var cursor = (await core.History.GetHistoryAsync(room.Id))[9].Id;

        // Posts keep coming while the session joins and catches up.
        using var stop = new CancellationTokenSource();
        var posting = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 400; i++) await core.PostAsync(poster, room, $"during {i}");
        });
        var sink = RecordingSink.Open(core, reader);
        Assert.True((await sink.Session.JoinAsync(room, since: cursor)).Ok);
        await Task.Delay(300);
        await stop.CancelAsync();
        await posting;
        var stored = (await core.WithDbAsync(db => Task.FromResult(db.Messages.Where(m => m.RoomId == room.Id && m.Id > cursor).Select(m => m.Id).ToList())))
            .Order().ToList();

        var output = await sink.WaitForAsync(o => o.OfType<MessagePosted>().Count() >= stored.Count);
        var got = output.OfType<MessagePosted>().Select(p => p.Message.Id).ToList();
        Assert.Equal(stored, got); // no gap, no duplicate, in id order
        // The reply comes before anything of the room (the user's own "you are a member now", which the
        // drawer uses, may come before it: opening a public room makes the reader a member).
        Assert.IsType<RoomJoin>(output.First(o => o is not MemberAdded));
        Assert.Single(output, o => o is ValueTuple<string, RoomJoin>); // then exactly one "caught up"
    }

    /// <summary>
    /// What a join causes (the user's membership of the public room, the session's presence on entering, a post before
    /// the catch-up is out) waits for that catch-up anyway, so it does not hurry the connection's write (a socket handling
    /// auth and join together answers both in one write); the same events reach a session already caught up as urgent ones.
    /// </summary>
    [Fact]
    public async Task Events_of_a_room_still_catching_up_are_not_urgent_for_the_joining_session_but_are_for_others()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("hurry");
        var ann = await core.CreateUserAsync("ann");
        var bea = await core.CreateUserAsync("bea");
        var present = RecordingSink.Open(core, ann);
        Assert.True((await present.Session.JoinAsync(room)).Ok);
        await present.WaitForAsync(o => o.Any(x => x is ValueTuple<string, RoomJoin>));

        var joining = RecordingSink.Open(core, bea, drains: false); // its catch-up never goes out: the room stays stashed
        Assert.True((await joining.Session.JoinAsync(room)).Ok);
        await core.PostAsync(ann, room, "while bea catches up");
        await present.WaitForAsync(o => o.OfType<MessagePosted>().Any());

        static bool Urgent(RecordingSink sink, Func<object, bool> which) => Assert.Single(sink.Queued, q => which(q.Item)).Urgent;
        bool BeaEntered(object o) => o is PresenceChanged { Joined: true } p && p.User.Id == bea.Id;
        static bool Posted(object o) => o is MessagePosted;
        Assert.False(Urgent(joining, BeaEntered));
        Assert.False(Urgent(joining, Posted));
        Assert.False(Urgent(joining, o => o is RoomJoin));
        var membership = joining.Queued.Where(q => q.Item is MemberAdded m && m.User.Id == bea.Id).ToList();
        Assert.NotEmpty(membership);
        Assert.All(membership, q => Assert.False(q.Urgent));
        Assert.True(Urgent(present, BeaEntered));
        Assert.True(Urgent(present, Posted));
    }

    [Fact]
    public async Task A_member_removed_from_a_private_room_loses_it_and_its_history_while_a_public_room_stays()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var bea = await core.CreateUserAsync("bea");
        var secret = await core.CreateRoomAsync("secret", isPrivate: true, ann, bea);
        var open = await core.CreateRoomAsync("open");
        var sink = RecordingSink.Open(core, ann);
        Assert.True((await sink.Session.JoinAsync(secret)).Ok);
        Assert.True((await sink.Session.JoinAsync(open)).Ok);
        await core.PostAsync(bea, secret, "hello");
        await sink.WaitForAsync(o => o.OfType<MessagePosted>().Any());

        Assert.True(await core.Rooms.RemoveMemberAsync(secret.Id, ann.Id));
        Assert.True(await core.Rooms.RemoveMemberAsync(open.Id, ann.Id)); // public: she still reads it
        var lost = await sink.WaitForAsync(o => o.Any(x => x is ValueTuple<string, RoomInfo, RoomLoss>));
        var (_, room, reason) = Assert.Single(lost.OfType<ValueTuple<string, RoomInfo, RoomLoss>>());
        Assert.Equal((secret.Id, RoomLoss.Removed), (room.Id, reason));
        Assert.False(sink.Session.IsJoined(secret.Id));
        Assert.True(sink.Session.IsJoined(open.Id));

        await core.PostAsync(bea, secret, "after");
        await core.PostAsync(bea, open, "still here");
        await sink.WaitForAsync(o => o.OfType<MessagePosted>().Any(p => p.Message.Text == "still here"));
        Assert.DoesNotContain(sink.Events.OfType<MessagePosted>(), p => p.Message.Text == "after");
        Assert.Equal("not_found", (await core.History.HistoryAsync(ann, secret.Id)).Error!.Code);
        Assert.Equal("not_found", (await sink.Session.JoinAsync(secret, since: 0)).Error!.Code);
    }

    [Fact]
    public async Task A_watched_room_has_no_presence_and_a_revoked_session_gets_nothing_more()
    {
        await using var core = await CoreHarness.StartAsync();
        var cid = await core.CreateUserAsync("cid");
        var dot = await core.CreateUserAsync("dot");
        var room = await core.CreateRoomAsync("quiet");
        var secret = await core.CreateRoomAsync("hidden", isPrivate: true, dot);
        var sink = RecordingSink.Open(core, cid);

        var watched = await sink.Session.WatchAsync([room, secret]);
        Assert.Equal([room.Id], watched.Select(r => r.Id)); // a room she may not read is not watched
        Assert.Empty(core.Sessions.Online(room.Id)); // watching is not being there
        await core.PostAsync(dot, room, "one");
        await sink.WaitForAsync(o => o.OfType<MessagePosted>().Any());

        core.Sessions.Revoke(cid.Id, "kicked");
        await sink.WaitForAsync(_ => sink.RevokedFor is not null);
        Assert.Equal("kicked", sink.RevokedFor);
        Assert.True(sink.Session.IsEnded);
        await core.PostAsync(dot, room, "two");
        await Task.Delay(200);
        Assert.DoesNotContain(sink.Events.OfType<MessagePosted>(), p => p.Message.Text == "two");
        Assert.Equal("session_ended", (await sink.Session.JoinAsync(room)).Error!.Code);
    }

    [Fact]
    public async Task A_tab_watching_with_presence_keeps_its_user_online_in_their_rooms_whichever_room_it_shows()
    {
        await using var core = await CoreHarness.StartAsync();
        var fay = await core.CreateUserAsync("fay");
        var lobby = await core.CreateRoomAsync("hall");
        var other = await core.CreateRoomAsync("corner");
        var stranger = await core.CreateRoomAsync("never-opened");
        var watcher = new RecordingSubscriber();
        using var _ = core.Fanout.SubscribeRoom(lobby.Id, watcher);
        var tab = RecordingSink.Open(core, fay);

        // Viewing the hall makes her a member; her drawer then watches her rooms with presence.
        Assert.True((await tab.Session.JoinAsync(lobby)).Ok);
        await tab.Session.WatchAsync([lobby, other, stranger], presence: true);
        Assert.Contains(core.Sessions.Online(lobby.Id), u => u.Id == fay.Id);
        Assert.DoesNotContain(core.Sessions.Online(stranger.Id), u => u.Id == fay.Id); // not a member there

        // Moving to another room: still online in the hall, and no presence event for it.
        Assert.True(tab.Session.Leave(lobby.Id));
        Assert.True((await tab.Session.JoinAsync(other)).Ok);
        Assert.Contains(core.Sessions.Online(lobby.Id), u => u.Id == fay.Id);
        Assert.Single(watcher.Events.OfType<PresenceChanged>(), p => p.User.Id == fay.Id);

        // The tab's connection goes, then the tab closes: offline, announced once.
        tab.Session.SetConnected(false);
        Assert.DoesNotContain(core.Sessions.Online(lobby.Id), u => u.Id == fay.Id);
        tab.Session.Dispose();
        var left = watcher.Events.OfType<PresenceChanged>().Where(p => p.User.Id == fay.Id).ToList();
        Assert.Equal([true, false], left.Select(p => p.Joined));

        // A watch without presence (a socket, the old drawer) is still not being there.
        var quiet = RecordingSink.Open(core, fay);
        await quiet.Session.WatchAsync([lobby]);
        Assert.DoesNotContain(core.Sessions.Online(lobby.Id), u => u.Id == fay.Id);
    }

    [Fact]
    public async Task Typing_needs_a_joined_room_and_is_throttled_once_for_all_of_a_users_connections()
    {
        await using var core = await CoreHarness.StartAsync();
        var eve = await core.CreateUserAsync("eve");
        var room = await core.CreateRoomAsync("typing");
        var watcher = new RecordingSubscriber();
        using var _ = core.Fanout.SubscribeRoom(room.Id, watcher);
        var tab = RecordingSink.Open(core, eve);
        var socket = RecordingSink.Open(core, eve);

        Assert.Equal("not_joined", tab.Session.Typing(room.Id)!.Code);
        Assert.True((await tab.Session.JoinAsync(room)).Ok);
        Assert.True((await socket.Session.JoinAsync(room)).Ok);
        for (var i = 0; i < 5; i++)
        {
            Assert.Null(tab.Session.Typing(room.Id));
            Assert.Null(socket.Session.Typing(room.Id));
        }
        await watcher.WaitForAsync<UserTyping>(1);
        await Task.Delay(200);
        Assert.Single(watcher.Events.OfType<UserTyping>());
    }
}
