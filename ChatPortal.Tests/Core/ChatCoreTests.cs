using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Core;

public sealed class ChatCoreTests
{
    [Fact]
    public async Task Posts_are_stored_in_order_and_fanned_out_to_every_subscriber()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("order");
        var alice = await core.CreateUserAsync("alice");
        var subs = Enumerable.Range(0, 5).Select(_ => new RecordingSubscriber()).ToList();
        var handles = subs.Select(s => core.Fanout.SubscribeRoom(room.Id, s)).ToList();

        // Concurrent posts: the single writer decides the order, and every subscriber sees exactly that order.
        var posted = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => core.Commands.PostAsync(alice, room.Id, $"m{i}")));
        Assert.All(posted, r => Assert.True(r.Ok, r.Error?.Message));

        var storedIds = await core.WithDbAsync(db => db.Messages.Where(m => m.RoomId == room.Id).OrderBy(m => m.Id).Select(m => m.Id).ToListAsync());
        Assert.Equal(200, storedIds.Count);
        foreach (var s in subs)
        {
            var got = await s.WaitForAsync<MessagePosted>(200);
            Assert.Equal(storedIds, got.Select(p => p.Message.Id).ToList());
        }
        handles.ForEach(h => h.Dispose());
    }

    [Fact]
    public async Task Ack_comes_only_after_the_message_is_in_the_database()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("ack");
        var bob = await core.CreateUserAsync("bob");
        var result = await core.Commands.PostAsync(bob, room.Id, "hello 你好");
        Assert.True(result.Ok);
        // A brand-new connection (not the writer's) must already see it.
        var row = await core.WithDbAsync(db => db.Messages.AsNoTracking().SingleAsync(m => m.Id == result.Value!.Id));
        Assert.Equal("hello 你好", row.Text);
        Assert.Equal(bob.Id, row.SenderId);
    }

    [Fact]
    public async Task Disposing_a_subscription_stops_delivery()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("unsub");
        var u = await core.CreateUserAsync("carol");
        var kept = new RecordingSubscriber();
        var dropped = new RecordingSubscriber();
        using var keep = core.Fanout.SubscribeRoom(room.Id, kept);
        var handle = core.Fanout.SubscribeRoom(room.Id, dropped);
        await core.Commands.PostAsync(u, room.Id, "one");
        await dropped.WaitForAsync<MessagePosted>(1);
        handle.Dispose();
        await core.Commands.PostAsync(u, room.Id, "two");
        await kept.WaitForAsync<MessagePosted>(2);
        Assert.Single(dropped.Events.OfType<MessagePosted>());
    }

    [Fact]
    public async Task A_slow_subscriber_is_dropped_and_does_not_delay_the_others()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("slow");
        var u = await core.CreateUserAsync("dave");
        // A connection that never reads: its small queue fills up.
        var slow = RecordingSink.Open(core, u, capacity: 4, drains: false);
        Assert.True((await slow.Session.JoinAsync(room)).Ok);
        var fast = new RecordingSubscriber();
        using var fastSub = core.Fanout.SubscribeRoom(room.Id, fast);

        for (var i = 0; i < 50; i++)
            Assert.True((await core.Commands.PostAsync(u, room.Id, $"x{i}")).Ok);

        // Every post was acknowledged while the slow one was stuck; the fast one got them all.
        Assert.Equal(50, (await fast.WaitForAsync<MessagePosted>(50)).Count);
        Assert.True(slow.Overflowed);
        Assert.Equal(0, core.Fanout.RoomSubscriberCount(room.Id) - 1); // the slow session is no longer subscribed
        Assert.Empty(slow.Output); // it never read anything
    }

    [Fact]
    public async Task Join_and_leave_are_announced_once_per_user_not_per_tab()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("presence");
        var erin = await core.CreateUserAsync("erin");
        var watcher = new RecordingSubscriber();
        using var _ = core.Fanout.SubscribeRoom(room.Id, watcher);

        var tab1 = core.EnterRoom(room.Id, erin);
        var tab2 = core.EnterRoom(room.Id, erin);
        Assert.Single(core.Sessions.Online(room.Id));
        tab1.Dispose();
        Assert.Single(core.Sessions.Online(room.Id)); // still there in the other tab
        tab2.Dispose();
        tab2.Dispose(); // double dispose is harmless
        Assert.Empty(core.Sessions.Online(room.Id));

        var events = await watcher.WaitForAsync<PresenceChanged>(2);
        Assert.Equal(2, events.Count);
        Assert.True(events[0].Joined);
        Assert.False(events[1].Joined);
        await Task.Delay(100);
        Assert.Equal(2, watcher.Events.OfType<PresenceChanged>().Count());
    }

    [Fact]
    public async Task History_pages_backwards_without_gaps_or_overlap()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("paging");
        var u = await core.CreateUserAsync("frank");
        for (var i = 0; i < 120; i++) await core.Commands.PostAsync(u, room.Id, $"p{i}");

        var latest = await core.History.GetHistoryAsync(room.Id);
        Assert.Equal(50, latest.Count);
        Assert.Equal("p119", latest[^1].Text);
        var all = new List<ChatMessage>(latest);
        long? before = latest[0].Id;
        while (true)
        {
            var page = await core.History.GetHistoryAsync(room.Id, before);
            if (page.Count == 0) break;
            all.InsertRange(0, page);
            before = page[0].Id;
        }
        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"p{i}"), all.Select(m => m.Text));
        Assert.Equal(all.Select(m => m.Id).OrderBy(x => x), all.Select(m => m.Id));
    }

    [Fact]
    public async Task A_retry_with_the_same_client_id_never_duplicates()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("idem");
        var u = await core.CreateUserAsync("gina");
        var watcher = new RecordingSubscriber();
        using var _ = core.Fanout.SubscribeRoom(room.Id, watcher);

        var first = await core.Commands.PostAsync(u, room.Id, "once", clientMsgId: "c-1");
        var again = await core.Commands.PostAsync(u, room.Id, "once", clientMsgId: "c-1");
        // Two retries racing in the same batch.
        var racing = await Task.WhenAll(core.Commands.PostAsync(u, room.Id, "twice", "c-2"), core.Commands.PostAsync(u, room.Id, "twice", "c-2"));

        Assert.Equal(first.Value!.Id, again.Value!.Id);
        Assert.Equal(racing[0].Value!.Id, racing[1].Value!.Id);
        Assert.Equal(2, await core.WithDbAsync(db => db.Messages.CountAsync(m => m.RoomId == room.Id)));
        await watcher.WaitForAsync<MessagePosted>(2);
        await Task.Delay(100);
        Assert.Equal(2, watcher.Events.OfType<MessagePosted>().Count());
    }

    [Fact]
    public async Task Edits_and_deletes_are_events_that_catch_up_in_order()
    {
        await using var core = await CoreHarness.StartAsync();
        var room = await core.CreateRoomAsync("edits");
        var u = await core.CreateUserAsync("hank");
        var other = await core.CreateUserAsync("ivy");
        var a = (await core.Commands.PostAsync(u, room.Id, "first")).Value!;
        var b = (await core.Commands.PostAsync(u, room.Id, "second")).Value!;

        Assert.Equal(ChatError.Forbidden, (await core.Commands.EditAsync(other, a.Id, "hacked")).Error);
        Assert.True((await core.Commands.EditAsync(u, a.Id, "first, edited")).Ok);
        Assert.True((await core.Commands.DeleteAsync(u, b.Id)).Ok);
        Assert.False((await core.Commands.DeleteAsync(u, b.Id)).Ok); // already gone

        var history = await core.History.GetHistoryAsync(room.Id);
        Assert.Equal("first, edited", history[0].Text);
        Assert.NotNull(history[0].EditedAt);
        Assert.True(history[1].IsDeleted);
        Assert.Equal("", history[1].Text);

        // A client that saw only message a catches up: b, then the edit of a, then the delete of b.
        var events = await core.History.GetStoredEventsAfterAsync(room.Id, a.Id);
        Assert.Equal([typeof(MessagePosted), typeof(MessageEdited), typeof(MessageDeleted)], events.Select(e => e.GetType()));
        Assert.Equal(b.Id, ((MessagePosted)events[0]).Message.Id);
        var edited = (MessageEdited)events[1];
        Assert.Equal((a.Id, "first, edited"), (edited.Message.Id, edited.Message.Text));
        Assert.Equal(b.Id, ((MessageDeleted)events[2]).MessageId);
        // Each is ordered by the id of its own stored row, after the one before.
        var ids = events.Select(ChatEvents.StoredId).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.True(ids[0] == b.Id && ids[1] > b.Id);
    }

    [Fact]
    public async Task Mute_ban_archive_and_private_rooms_are_enforced_by_the_core()
    {
        await using var core = await CoreHarness.StartAsync();
        var open = await core.CreateRoomAsync("open");
        var secret = await core.CreateRoomAsync("secret", isPrivate: true);
        var u = await core.CreateUserAsync("jack");

        // A private room answers a non-member as a room that does not exist: its existence is not given away.
        Assert.Equal("not_found", (await core.Commands.PostAsync(u, secret.Id, "let me in")).Error!.Code);
        Assert.Equal("not_found", (await core.Commands.PostAsync(u, 999_999, "nowhere")).Error!.Code);
        Assert.Equal(ChatError.Empty, (await core.Commands.PostAsync(u, open.Id, "   \n ")).Error);
        Assert.Equal("too_long", (await core.Commands.PostAsync(u, open.Id, new string('x', 4001))).Error!.Code);

        await core.WithDbAsync(db => db.Users.Where(x => x.Id == u.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.MutedUntil, DateTimeOffset.UtcNow.AddMinutes(5))));
        core.Users.Invalidate(u.Id);
        Assert.Equal(ChatError.Muted, (await core.Commands.PostAsync(u, open.Id, "hi")).Error);

        await core.WithDbAsync(db => db.Users.Where(x => x.Id == u.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.BannedAt, DateTimeOffset.UtcNow)));
        core.Users.Invalidate(u.Id);
        Assert.Equal(ChatError.Banned, (await core.Commands.PostAsync(u, open.Id, "hi")).Error);
    }

    [Fact]
    public async Task Rate_limit_holds_a_user_to_the_burst()
    {
        await using var core = await CoreHarness.StartAsync(settings: new() { ["Chat:RateLimitBurst"] = "5", ["Chat:RateLimitPerSecond"] = "0.1" });
        var room = await core.CreateRoomAsync("rate");
        var u = await core.CreateUserAsync("kim");
        var v = await core.CreateUserAsync("lee");
        var results = new List<ChatResult<ChatMessage>>();
        for (var i = 0; i < 8; i++) results.Add(await core.Commands.PostAsync(u, room.Id, $"r{i}"));
        Assert.Equal(5, results.Count(r => r.Ok));
        Assert.Equal(3, results.Count(r => r.Error == ChatError.RateLimited));
        Assert.True((await core.Commands.PostAsync(v, room.Id, "others unaffected")).Ok);
    }

    [Fact]
    public async Task Direct_conversation_is_created_once_and_notifies_the_other_user()
    {
        await using var core = await CoreHarness.StartAsync();
        var a = await core.CreateUserAsync("mia");
        var b = await core.CreateUserAsync("Noah");
        var inbox = new RecordingSubscriber();
        using var _ = core.Fanout.SubscribeUser(b.Id, inbox);

        var dm1 = await core.Rooms.OpenDirectAsync(a, "noah"); // names ignore case
        var dm2 = await core.Rooms.OpenDirectAsync(b, "MIA");
        Assert.True(dm1.Ok && dm2.Ok);
        Assert.Equal(dm1.Value!.Room.Id, dm2.Value!.Room.Id);
        Assert.Equal("Noah", dm1.Value.Other.Name);

        await core.Commands.PostAsync(a, dm1.Value.Room.Id, "psst");
        var notices = await inbox.WaitForAsync<DirectActivity>(2);
        Assert.Equal("mia", notices[^1].Conversation.Other.Name);
        Assert.Single(await core.Rooms.ListDirectAsync(b));
        Assert.Equal(1, (await core.History.UnreadCountsAsync(b.Id))[dm1.Value.Room.Id]);

        var stranger = await core.CreateUserAsync("oscar");
        Assert.Equal("not_found", (await core.Commands.PostAsync(stranger, dm1.Value.Room.Id, "hi")).Error!.Code);
    }

    [Fact]
    public async Task A_new_service_over_the_same_database_file_has_the_history()
    {
        var dir = TempDir.Create("restart");
        try
        {
            long roomId;
            await using (var first = await CoreHarness.StartAsync(dir))
            {
                var room = await first.CreateRoomAsync("durable");
                roomId = room.Id;
                var u = await first.CreateUserAsync("pat");
                for (var i = 0; i < 30; i++) await first.Commands.PostAsync(u, room.Id, $"d{i}");
            }
            await using var second = await CoreHarness.StartAsync(dir);
            var history = await second.History.GetHistoryAsync(roomId);
            Assert.Equal(Enumerable.Range(0, 30).Select(i => $"d{i}"), history.Select(m => m.Text));
            var mode = await second.WithDbAsync(async db =>
            {
                await db.Database.OpenConnectionAsync();
                using var cmd = db.Database.GetDbConnection().CreateCommand();
                cmd.CommandText = "PRAGMA journal_mode;";
                return (string)(await cmd.ExecuteScalarAsync())!;
            });
            Assert.Equal("wal", mode);
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    [Theory]
    [InlineData("  Alice  ", null)]
    [InlineData("小爱同学", null)]
    [InlineData("a", "at least")]
    [InlineData("<script>", "may contain")]
    [InlineData("x\u0000y", "may contain")]
    public void Nicknames_are_checked(string name, string? error)
    {
        var result = UserNames.Validate(name);
        if (error is null) Assert.Null(result);
        else Assert.Contains(error, result);
    }
}
