using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Data;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>Reactions and pins across two nodes sharing real Redis and PostgreSQL servers.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ReactionClusterTests(PostgresFixture pg)
{
    private static ChatReactions Reactions(ClusterNode n) => n.Services.GetRequiredService<ChatReactions>();

    private static async Task<T> WithDbAsync<T>(ClusterNode n, Func<ChatDbContext, Task<T>> f)
    {
        await using var db = await n.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        return await f(db);
    }

    [Fact]
    public async Task A_reaction_on_one_node_reaches_the_other_nodes_sessions_and_the_cap_holds_across_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("reactions");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("reactions");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");
        var m = (await a.Commands.PostAsync(alice, room.Id, "react across nodes")).Value!;
        var onB = new RecordingSubscriber();
        using var sub = b.Fanout.SubscribeRoom(room.Id, onB);

        var r = await Reactions(a).ReactAsync(alice, m.Id, "👍");
        Assert.True(r.Ok, r.Error?.Message);
        var got = Assert.Single(await onB.WaitForAsync<ReactionChanged>(1));
        Assert.Equal((m.Id, "👍", true), (got.MessageId, got.Emoji, got.Added));
        Assert.Equal("alice", Assert.Single(Assert.Single(got.Reactions).Users).Name);

        // Both nodes add different emoji at once: the cap of 50 holds (the room's lock orders the writers).
        var emoji = Enumerable.Range(0, 60).Select(i => char.ConvertFromUtf32(0x1F400 + i)).ToList();
        var results = await Task.WhenAll(emoji.Select((e, i) => i % 2 == 0 ? Reactions(a).ReactAsync(alice, m.Id, e) : Reactions(b).ReactAsync(bob, m.Id, e)));
        Assert.All(results, x => Assert.True(x.Ok || x.Error!.Code == "too_many_reactions", x.Error?.Message));
        Assert.Equal(50, await WithDbAsync(a, d => d.Reactions.Where(x => x.MessageId == m.Id).Select(x => x.Emoji).Distinct().CountAsync()));
        var accepted = results.Count(x => x.Ok);
        Assert.Equal(49, accepted); // 👍 was the first of the 50

        // Every stored change reached node b, in id order, once.
        var all = await onB.WaitForAsync<ReactionChanged>(1 + accepted, TimeSpan.FromSeconds(30));
        var ids = all.Select(e => e.EventId).ToList();
        Assert.Equal(ids.Order().Distinct(), ids);
        Assert.Equal(50, all.MaxBy(e => e.EventId)!.Reactions.Count);
    }

    [Fact]
    public async Task Pinning_the_same_message_from_two_nodes_at_once_stores_and_announces_one_pin()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("pins");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var room = await a.CreateRoomAsync("pins");
        var alice = await a.CreateUserAsync("alice");
        var bob = await a.CreateUserAsync("bob");
        var m = (await a.Commands.PostAsync(alice, room.Id, "pin me")).Value!;
        var onA = new RecordingSubscriber();
        using var sub = a.Fanout.SubscribeRoom(room.Id, onA);

        var results = await Task.WhenAll(Reactions(a).PinAsync(alice, m.Id), Reactions(b).PinAsync(bob, m.Id));
        Assert.All(results, x => Assert.True(x.Ok, x.Error?.Message));
        Assert.Single(results, x => x.Value); // exactly one of them pinned it
        await onA.WaitForAsync<PinChanged>(1);
        var marker = (await b.Commands.PostAsync(bob, room.Id, "marker")).Value!;
        await onA.WaitForAsync<MessagePosted>(1);
        Assert.Single(onA.Events.OfType<PinChanged>());
        Assert.Equal(1, await WithDbAsync(a, d => d.Pins.CountAsync()));
        Assert.Equal(1, await WithDbAsync(a, d => d.Messages.CountAsync(x => x.Kind == MessageKind.Pinned)));
        Assert.True(marker.Id > onA.Events.OfType<PinChanged>().Single().EventId);
    }
}
