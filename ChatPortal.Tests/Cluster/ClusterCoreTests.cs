using ChatPortal.Chat;
using ChatPortal.Cluster;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Cluster;

/// <summary>One PostgreSQL server for the cluster tests (each test makes its own database).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = default!;
    public async ValueTask InitializeAsync() => Server = await PostgresServer.StartAsync();
    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Cluster tests start several servers each: they run one at a time, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "cluster";
}

/// <summary>Two nodes in this process sharing real Redis and PostgreSQL servers.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterCoreTests(PostgresFixture pg)
{
    [Fact]
    public async Task Posts_from_two_nodes_reach_every_subscriber_on_every_node_once_and_in_order()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("order");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("order");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");
        var onA = new RecordingSubscriber();
        var onB = new RecordingSubscriber();
        using var subA = a.Fanout.SubscribeRoom(room.Id, onA);
        using var subB = b.Fanout.SubscribeRoom(room.Id, onB);

        // Both nodes write to the same room at the same time.
        const int each = 60;
        var posts = Enumerable.Range(0, each).SelectMany(i => new[]
        {
            a.Commands.PostAsync(alice, room.Id, $"a{i}", clientMsgId: $"a{i}"),
            b.Commands.PostAsync(bob, room.Id, $"b{i}", clientMsgId: $"b{i}"),
        }).ToList();
        var results = await Task.WhenAll(posts);
        Assert.All(results, r => Assert.True(r.Ok, r.Error?.Message));

        var stored = (await PgQueries.MessagesAsync(db, room.Id)).Select(m => m.Id).ToList();
        Assert.Equal(2 * each, stored.Count);
        foreach (var (name, sub) in new[] { ("a", onA), ("b", onB) })
        {
            var got = (await sub.WaitForAsync<MessagePosted>(2 * each, TimeSpan.FromSeconds(30))).Select(p => p.Message.Id).ToList();
            // Exactly the stored rows, each once, in id order: the origin's local delivery and Redis never double up.
            Assert.True(stored.SequenceEqual(got), $"node {name} saw [{string.Join(",", got)}], stored [{string.Join(",", stored)}]");
        }
        await Task.Delay(300); // nothing more may trickle in
        Assert.Equal(2 * each, onA.Events.OfType<MessagePosted>().Count());
        Assert.Equal(2 * each, onB.Events.OfType<MessagePosted>().Count());
    }

    /// <summary>
    /// Read positions are stored in PostgreSQL by the batched cursor writer (one transaction for the moves that come
    /// together), and the other node hears the moves gathered into one event.
    /// </summary>
    [Fact]
    public async Task Read_positions_are_stored_in_postgres_together_and_the_other_node_hears_them_as_one_event()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("reads");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("reads");
        var ann = await a.CreateUserAsync("ann");
        var rooms = a.Services.GetRequiredService<ChatRooms>();
        var readers = new List<UserRef>();
        for (var i = 0; i < 8; i++)
        {
            var u = await a.CreateUserAsync($"读者{i}");
            await rooms.EnsureMemberAsync(room.Id, u);
            readers.Add(u);
        }
        await rooms.EnsureMemberAsync(room.Id, ann);
        var first = (await a.Commands.PostAsync(ann, room.Id, "one")).Value!;
        var second = (await a.Commands.PostAsync(ann, room.Id, "two")).Value!;
        var onB = new RecordingSubscriber();
        using var subB = b.Fanout.SubscribeRoom(room.Id, onB);
        var receipts = a.Services.GetRequiredService<ChatPortal.Chat.Conversations.ReadReceipts>();

        await Task.WhenAll(readers.Select(r => receipts.MarkReadAsync(r, room.Id, second.Id)));
        await Task.WhenAll(readers.Select(r => receipts.MarkReadAsync(r, room.Id, first.Id))); // never backwards

        var stored = (await b.Services.GetRequiredService<ChatPortal.Chat.Conversations.ReadReceipts>().CursorsAsync(ann, room.Id)).Value!;
        Assert.Equal(readers.Select(r => (r.Id, second.Id)).Order(), stored.Select(c => (c.User.Id, c.LastReadId)).Order());
        await b.WaitUntilAsync(() => onB.Events.OfType<ReceiptsMoved>().SelectMany(e => e.Cursors).Select(c => c.User.Id)
            .Concat(onB.Events.OfType<ReadReceipt>().Select(r => r.User.Id)).Distinct().Count() == readers.Count, "node b hears every reader");
        Assert.NotEmpty(onB.Events.OfType<ReceiptsMoved>());
        Assert.All(onB.Events.OfType<ReceiptsMoved>().SelectMany(e => e.Cursors), c => Assert.Equal(second.Id, c.LastReadId));
    }

    [Fact]
    public async Task Catch_up_after_id_N_on_either_node_misses_nothing_while_both_nodes_write()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("catchup");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("catchup");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");

        // A client that polls "everything after the last id I have", alternating nodes, while both write.
        var seen = new List<long>();
        using var writing = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var last = 0L;
            var turn = 0;
            while (true)
            {
                var done = writing.IsCancellationRequested;
                var node = turn++ % 2 == 0 ? a : b;
                foreach (var e in await node.History.GetStoredEventsAfterAsync(room.Id, last))
                {
                    var id = ChatEvents.StoredId(e);
                    Assert.True(id > last);
                    seen.Add(id);
                    last = id;
                }
                if (done) return;
            }
        });
        var writers = new[] { (a, alice), (b, bob) }.Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                var batch = Enumerable.Range(0, 5).Select(j => w.Item1.Commands.PostAsync(w.Item2, room.Id, $"{w.Item2.Name}{i}-{j}"));
                Assert.All(await Task.WhenAll(batch), r => Assert.True(r.Ok));
            }
        })).ToList();
        await Task.WhenAll(writers);
        await writing.CancelAsync();
        await reader;

        var stored = (await PgQueries.MessagesAsync(db, room.Id)).Select(m => m.Id).ToList();
        Assert.Equal(400, stored.Count);
        // No gap (a row committed "late" with a lower id would be missing) and no duplicate.
        Assert.Equal(stored, seen);
    }

    [Fact]
    public async Task Presence_spans_nodes_and_a_crashed_nodes_users_disappear()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("presence");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("presence");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");
        var watcherOnB = new RecordingSubscriber();
        using var sub = b.Fanout.SubscribeRoom(room.Id, watcherOnB);

        var aliceTab1 = a.EnterRoom(room.Id, alice);
        using var bobHere = b.EnterRoom(room.Id, bob);
        await b.WaitUntilAsync(() => b.Sessions.Online(room.Id).Any(u => u.Id == alice.Id), "b lists alice (on a)");
        await a.WaitUntilAsync(() => a.Sessions.Online(room.Id).Any(u => u.Id == bob.Id), "a lists bob (on b)");
        Assert.Equal(["alice", "bob"], a.Sessions.Online(room.Id).Select(u => u.Name));
        Assert.Equal(["alice", "bob"], b.Sessions.Online(room.Id).Select(u => u.Name));
        var joined = await watcherOnB.WaitForAsync<PresenceChanged>(2);
        Assert.Contains(joined, p => p.User.Id == alice.Id && p.Joined);

        // Alice opens a second tab on node b: still one alice, and no second "joined" notice.
        var aliceTab2 = b.EnterRoom(room.Id, alice);
        aliceTab1.Dispose();
        await Task.Delay(500);
        Assert.Equal(["alice", "bob"], b.Sessions.Online(room.Id).Select(u => u.Name));
        Assert.Single(watcherOnB.Events.OfType<PresenceChanged>(), p => p.User.Id == alice.Id && p.Joined);
        Assert.DoesNotContain(watcherOnB.Events.OfType<PresenceChanged>(), p => p.User.Id == alice.Id && !p.Joined);
        aliceTab2.Dispose();
        await watcherOnB.WaitForAsync<PresenceChanged>(3);
        Assert.Contains(watcherOnB.Events.OfType<PresenceChanged>(), p => p.User.Id == alice.Id && !p.Joined);

        // Without Redis a node cannot vouch for the others: their users leave its list after the TTL
        // (3 s here) and come back once Redis does. Its own users stay.
        await redis.StopAsync();
        await a.WaitUntilAsync(() => a.Sessions.Online(room.Id).All(u => u.Id != bob.Id), "a forgets bob (on b) while Redis is down");
        Assert.Empty(a.Sessions.Online(room.Id));
        using var aliceBack = a.EnterRoom(room.Id, alice);
        Assert.Equal(["alice"], a.Sessions.Online(room.Id).Select(u => u.Name));
        await redis.StartAgainAsync();
        await a.WaitUntilAsync(() => a.Sessions.Online(room.Id).Any(u => u.Id == bob.Id), "a lists bob again after the outage");
        await b.WaitUntilAsync(() => b.Sessions.Online(room.Id).Any(u => u.Id == alice.Id), "b lists alice again after the outage");
        Assert.Equal(["alice", "bob"], a.Sessions.Online(room.Id).Select(u => u.Name));
    }

    [Fact]
    public async Task A_node_that_stops_takes_its_users_off_the_other_nodes_lists_without_waiting_for_the_ttl()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("leave");
        // A TTL far longer than the test: only the stopping node's own goodbye can remove its users.
        var longTtl = new Dictionary<string, string?> { ["Redis:PresenceTtlSeconds"] = "600" };
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration, longTtl);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration, longTtl);
        var room = await a.CreateRoomAsync("leave");
        var bob = await a.CreateUserAsync("bob");
        var watcher = new RecordingSubscriber();
        using var sub = a.Fanout.SubscribeRoom(room.Id, watcher);
        b.EnterRoom(room.Id, bob); // never disposed: as if the tab were still open when the node stops
        await a.WaitUntilAsync(() => a.Sessions.Online(room.Id).Any(u => u.Id == bob.Id), "a lists bob (on b)");
        await b.StopAsync();
        await a.WaitUntilAsync(() => a.Sessions.Online(room.Id).All(u => u.Id != bob.Id), "bob leaves a's list with node b");
        Assert.Contains(await watcher.WaitForAsync<PresenceChanged>(2), p => p.User.Id == bob.Id && !p.Joined);
    }

    [Fact]
    public async Task Redis_outage_keeps_local_delivery_then_resumes_and_fills_the_gap_with_nothing_lost()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("outage");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("outage");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");
        var onA = new RecordingSubscriber();
        var onB = new RecordingSubscriber();
        using var subA = a.Fanout.SubscribeRoom(room.Id, onA);
        using var subB = b.Fanout.SubscribeRoom(room.Id, onB);
        var acked = new List<long>();

        async Task Post(ClusterNode node, UserRef who, string text)
        {
            var r = await node.Commands.PostAsync(who, room.Id, text);
            Assert.True(r.Ok, r.Error?.Message);
            lock (acked) acked.Add(r.Value!.Id);
        }

        await Post(a, alice, "before");
        await onB.WaitForAsync<MessagePosted>(1);

        await redis.StopAsync();
        await a.WaitUntilAsync(() => !a.Link.IsUp && !b.Link.IsUp, "both nodes notice Redis is gone");
        Assert.False(a.Link.Status.Connected);
        Assert.NotNull(a.Link.Status.LastError);

        // Each node keeps serving its own users.
        await Post(a, alice, "during-a");
        await Post(b, bob, "during-b");
        Assert.Contains((await onA.WaitForAsync<MessagePosted>(2)), p => p.Message.Text == "during-a");
        Assert.Contains((await onB.WaitForAsync<MessagePosted>(2)), p => p.Message.Text == "during-b");

        await redis.StartAgainAsync();
        await a.WaitUntilAsync(() => a.Link.IsUp && b.Link.IsUp, "both nodes reconnect by themselves");
        await Post(a, alice, "after-a");
        await Post(b, bob, "after-b");

        // Cross-node delivery is back, and what each side missed meanwhile was filled from the database: everything, once.
        var stored = (await PgQueries.MessagesAsync(db, room.Id)).Select(m => m.Id).ToList();
        Assert.Equal(acked.Order(), stored);
        foreach (var sub in new[] { onA, onB })
        {
            var got = await sub.WaitForAsync<MessagePosted>(stored.Count, TimeSpan.FromSeconds(20));
            Assert.Equal(stored, got.Select(p => p.Message.Id).Order());
        }
        await Task.Delay(300);
        Assert.Equal(stored.Count, onA.Events.OfType<MessagePosted>().Count());
        Assert.Equal(stored.Count, onB.Events.OfType<MessagePosted>().Count());
    }

    [Fact]
    public async Task Bans_and_room_changes_made_on_one_node_apply_on_the_other()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("mod");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("mod");
        var eve = await a.CreateUserAsync("eve");
        Assert.True((await b.Commands.PostAsync(eve, room.Id, "hi")).Ok); // b now caches eve and the room

        var eveOnB = new RecordingSubscriber();
        using var userSub = b.Fanout.SubscribeUser(eve.Id, eveOnB);
        await using (var ctx = await a.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync())
        {
            await ctx.Users.Where(u => u.Id == eve.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedAt, DateTimeOffset.UtcNow));
        }
        a.Sessions.Revoke(eve.Id, "banned");
        Assert.True((await a.Rooms.UpdateAsync(room.Id, r =>
        {
            r.Name = "Renamed";
            return null;
        })).Ok);

        Assert.Equal("banned", (await eveOnB.WaitForAsync<SessionRevoked>(1))[0].Reason);
        await b.WaitUntilAsync(() => b.Rooms.GetAsync(room.Id).Result?.Name == "Renamed", "b takes the new room name");
        Assert.Equal("banned", (await b.Commands.PostAsync(eve, room.Id, "still here?")).Error?.Code);
    }

    [Fact]
    public async Task Without_redis_a_postgres_node_runs_alone_and_health_says_so()
    {
        var db = await pg.Server.CreateDatabaseAsync("alone");
        await using var a = await ClusterNode.StartAsync("a", db, redis: null);
        Assert.Null(a.Services.GetService<RedisBackplane>());
        Assert.IsType<InProcessBackplane>(a.Services.GetRequiredService<IChatBackplane>());
        var room = await a.CreateRoomAsync("alone");
        var u = await a.CreateUserAsync("solo");
        var sub = new RecordingSubscriber();
        using var s = a.Fanout.SubscribeRoom(room.Id, sub);
        Assert.True((await a.Commands.PostAsync(u, room.Id, "one")).Ok);
        await sub.WaitForAsync<MessagePosted>(1);
        var health = await new RedisHealthCheck(a.Services).CheckHealthAsync(new());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, health.Status);
        Assert.Contains("not configured", health.Description);
    }

    [Fact]
    public async Task Two_nodes_starting_together_on_an_empty_database_migrate_once_and_create_one_lobby()
    {
        var db = await pg.Server.CreateDatabaseAsync("race");
        var starts = await Task.WhenAll(ClusterNode.StartAsync("a", db, null), ClusterNode.StartAsync("b", db, null));
        await using var a = starts[0];
        await using var b = starts[1];
        await using var ctx = await a.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        Assert.Equal(1, await ctx.Rooms.CountAsync(r => r.Slug == "lobby"));
        Assert.Empty(await ctx.Database.GetPendingMigrationsAsync());
        Assert.IsType<PostgresChatDbContext>(ctx);
    }
}
