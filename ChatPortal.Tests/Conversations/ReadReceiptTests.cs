using Bunit;
using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.Web;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>Read receipts from the one cursor per (user, room): events, lists, the opt-out (core and view).</summary>
public sealed class ReadReceiptTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Reading_moves_one_cursor_per_user_and_room_tells_the_room_and_an_opt_out_hides_the_user_everywhere()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var ben = await core.CreateUserAsync("ben");
        var room = await core.CreateRoomAsync("receipts", false, ann, ben);
        var receipts = core.Services.GetRequiredService<ReadReceipts>();
        var watcher = new RecordingSubscriber();
        using var sub = core.Fanout.SubscribeRoom(room.Id, watcher);
        var ids = new List<long>();
        for (var i = 0; i < 30; i++) ids.Add((await core.PostAsync(ann, room, $"m{i}")).Id);
        var rowsBefore = await core.WithDbAsync(db => db.RoomMembers.CountAsync());

        foreach (var id in ids) await receipts.MarkReadAsync(ben, room.Id, id);
        await receipts.MarkReadAsync(ben, room.Id, ids[3]); // never backwards: no event
        // Announced after a short window, each user once at their furthest: 30 moves, far fewer receipts, in order.
        await WaitUntilAsync(() => watcher.Events.OfType<ReadReceipt>().LastOrDefault()?.LastReadId == ids[^1]);
        var events = watcher.Events.OfType<ReadReceipt>().ToList();
        Assert.True(events.Count < ids.Count, $"{events.Count} receipts for {ids.Count} moves of one reader");
        Assert.All(events, e => Assert.Equal(ben.Id, e.User.Id));
        Assert.Equal(events.Select(e => e.LastReadId).Order(), events.Select(e => e.LastReadId));
        var announced = events.Count;
        Assert.Equal(rowsBefore, await core.WithDbAsync(db => db.RoomMembers.CountAsync())); // storage does not grow with messages
        Assert.Equal(ids[^1], Assert.Single((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id).LastReadId);

        await receipts.SetHiddenAsync(ben, true);
        var post = await core.PostAsync(ann, room, "after the opt-out");
        await receipts.MarkReadAsync(ben, room.Id, post.Id);
        await core.PostAsync(ann, room, "marker");
        await watcher.WaitForAsync<MessagePosted>(32);
        await Task.Delay(receipts.AnnounceWindow * 3); // past the window the hidden move would be announced in
        Assert.Equal(announced, watcher.Events.OfType<ReadReceipt>().Count());
        Assert.Empty(watcher.Events.OfType<ReceiptsMoved>());
        Assert.DoesNotContain((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id);
        // The cursor itself still moved: his unread counts stay right.
        Assert.False((await core.History.UnreadCountsAsync(ben.Id)).ContainsKey(room.Id) && (await core.History.UnreadCountsAsync(ben.Id))[room.Id] > 1);

        await receipts.SetHiddenAsync(ben, false);
        Assert.Contains((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id);
        var eve = await core.CreateUserAsync("eve");
        var secret = await core.CreateRoomAsync("secret", true, ann);
        Assert.Equal("not_found", (await receipts.CursorsAsync(eve, secret.Id)).Error?.Code);
    }

    /// <summary>
    /// 40 members read the same new message within moments (every attentive viewer does when it arrives): the room
    /// hears one event carrying all 40, not 40 events each delivered to all 40 viewers.
    /// </summary>
    [Fact]
    public async Task Many_members_reading_at_once_are_announced_to_the_room_together_each_once_at_their_furthest()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var readers = new List<UserRef>();
        for (var i = 0; i < 40; i++) readers.Add(await core.CreateUserAsync($"读者{i}"));
        var room = await core.CreateRoomAsync("busy", false, [ann, .. readers]);
        var receipts = core.Services.GetRequiredService<ReadReceipts>();
        var watcher = new RecordingSubscriber();
        using var sub = core.Fanout.SubscribeRoom(room.Id, watcher);
        var first = await core.PostAsync(ann, room, "one");
        var second = await core.PostAsync(ann, room, "two");

        await Task.WhenAll(readers.Select(async (r, i) =>
        {
            await receipts.MarkReadAsync(r, room.Id, first.Id);
            if (i % 2 == 0) await receipts.MarkReadAsync(r, room.Id, second.Id);
        }));
        Dictionary<long, long> Furthest() => watcher.Events.OfType<ReceiptsMoved>().SelectMany(b => b.Cursors).Select(c => (c.User.Id, c.LastReadId))
            .Concat(watcher.Events.OfType<ReadReceipt>().Select(r => (r.User.Id, r.LastReadId)))
            .GroupBy(c => c.Item1).ToDictionary(g => g.Key, g => g.Max(c => c.Item2));
        var expected = readers.Select((r, i) => (r.Id, i % 2 == 0 ? second.Id : first.Id)).ToDictionary(x => x.Item1, x => x.Item2);
        await WaitUntilAsync(() => Furthest().Count == expected.Count && expected.All(e => Furthest().GetValueOrDefault(e.Key) == e.Value));
        await Task.Delay(receipts.AnnounceWindow * 3); // nothing more comes

        var batches = watcher.Events.OfType<ReceiptsMoved>().ToList();
        var single = watcher.Events.OfType<ReadReceipt>().ToList();
        Assert.True(batches.Count + single.Count <= 3, $"{batches.Count} batches and {single.Count} single receipts for 40 readers");
        Assert.Equal(expected.OrderBy(e => e.Key), Furthest().OrderBy(e => e.Key));
        Assert.All(batches, b => Assert.Equal(b.Cursors.Count, b.Cursors.Select(c => c.User.Id).Distinct().Count())); // each once per event
        Assert.Equal(expected.Count, (await receipts.CursorsAsync(ann, room.Id)).Value!.Count);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("the receipts did not arrive in time");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_direct_message_shows_one_tick_then_two_when_the_other_reads_it()
    {
        await using var h = await ComponentHarness.StartAsync("hana");
        var ivan = await h.Core.CreateUserAsync("ivan");
        var dm = (await h.Core.Rooms.OpenDirectAsync(h.Me, "ivan")).Value!;
        var sent = (await h.Core.Commands.PostAsync(h.Me, dm.Room.Id, "did you see this?")).Value!;
        var cut = h.Context.Render<DirectPage>(p => p.Add(x => x.Name, "ivan"));
        cut.WaitForAssertion(() => Assert.Equal("✓", cut.Find(".msg .msg-receipt").TextContent), Wait);

        await h.Core.Services.GetRequiredService<ReadReceipts>().MarkReadAsync(ivan, dm.Room.Id, sent.Id);
        cut.WaitForAssertion(() => Assert.Equal("✓✓", cut.Find(".msg .msg-receipt").TextContent), Wait);
        Assert.Contains("msg-receipt-read", cut.Find(".msg .msg-receipt").ClassList);
    }

    [Fact]
    public async Task Seen_by_counts_the_members_who_read_my_last_message_and_leaves_out_those_who_opted_out()
    {
        await using var h = await ComponentHarness.StartAsync("jill");
        var lobby = await h.LobbyAsync();
        var kim = await h.Core.CreateUserAsync("kim");
        var leo = await h.Core.CreateUserAsync("leo");
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, kim);
        await h.Core.Rooms.EnsureMemberAsync(lobby.Id, leo);
        var mine = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "anyone?")).Value!;
        var receipts = h.Core.Services.GetRequiredService<ReadReceipts>();
        await receipts.SetHiddenAsync(leo, true);
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        Assert.Empty(cut.FindAll(".msg-seen"));

        await receipts.MarkReadAsync(kim, lobby.Id, mine.Id);
        await receipts.MarkReadAsync(leo, lobby.Id, mine.Id);
        cut.WaitForAssertion(() => Assert.Equal("Seen by 1", cut.Find(".msg-seen").TextContent), Wait);
        Assert.Equal("kim", cut.Find(".msg-seen").GetAttribute("title"));
    }

    [Fact]
    public async Task Seen_by_counts_members_whose_reads_arrive_together()
    {
        await using var h = await ComponentHarness.StartAsync("mia");
        var lobby = await h.LobbyAsync();
        var readers = new List<UserRef>();
        foreach (var name in new[] { "nia", "oz", "小鹏" })
        {
            var u = await h.Core.CreateUserAsync(name);
            await h.Core.Rooms.EnsureMemberAsync(lobby.Id, u);
            readers.Add(u);
        }
        var mine = (await h.Core.Commands.PostAsync(h.Me, lobby.Id, "read together")).Value!;
        var receipts = h.Core.Services.GetRequiredService<ReadReceipts>();
        var watcher = new RecordingSubscriber();
        using var sub = h.Core.Fanout.SubscribeRoom(lobby.Id, watcher);
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        await Task.WhenAll(readers.Select(r => receipts.MarkReadAsync(r, lobby.Id, mine.Id)));
        cut.WaitForAssertion(() => Assert.Equal("Seen by 3", cut.Find(".msg-seen").TextContent), Wait);
        // The page can show them before the gathered event is out (a render re-reads the cursors from the store); the
        // room still hears the three as one event. Waited for by polling: the event renders nothing more when the page
        // shows them already, and a render-driven wait would check once and never again.
        await WaitUntilAsync(() => watcher.Events.OfType<ReceiptsMoved>().Any());
        Assert.Equal(3, Assert.Single(watcher.Events.OfType<ReceiptsMoved>()).Cursors.Count);
        Assert.Empty(watcher.Events.OfType<ReadReceipt>());
        Assert.Equal(["nia", "oz", "小鹏"], cut.Find(".msg-seen").GetAttribute("title")!.Split(", ").Order());
    }
}
