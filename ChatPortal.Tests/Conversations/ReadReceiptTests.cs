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
        var events = await watcher.WaitForAsync<ReadReceipt>(30);
        Assert.Equal(ids, events.Select(e => e.LastReadId));
        Assert.Equal(rowsBefore, await core.WithDbAsync(db => db.RoomMembers.CountAsync())); // storage does not grow with messages
        Assert.Equal(ids[^1], Assert.Single((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id).LastReadId);

        await receipts.SetHiddenAsync(ben, true);
        var post = await core.PostAsync(ann, room, "after the opt-out");
        await receipts.MarkReadAsync(ben, room.Id, post.Id);
        await core.PostAsync(ann, room, "marker");
        await watcher.WaitForAsync<MessagePosted>(32);
        Assert.Equal(30, watcher.Events.OfType<ReadReceipt>().Count());
        Assert.DoesNotContain((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id);
        // The cursor itself still moved: his unread counts stay right.
        Assert.False((await core.History.UnreadCountsAsync(ben.Id)).ContainsKey(room.Id) && (await core.History.UnreadCountsAsync(ben.Id))[room.Id] > 1);

        await receipts.SetHiddenAsync(ben, false);
        Assert.Contains((await receipts.CursorsAsync(ann, room.Id)).Value!, c => c.User.Id == ben.Id);
        var eve = await core.CreateUserAsync("eve");
        var secret = await core.CreateRoomAsync("secret", true, ann);
        Assert.Equal("not_found", (await receipts.CursorsAsync(eve, secret.Id)).Error?.Code);
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
}
