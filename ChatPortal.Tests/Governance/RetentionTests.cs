using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Governance;

/// <summary>
/// Retention: per room or the site default, keep forever or N days; old messages go in batches
/// with their edit rows, images (rows and files) and search rows; a dry run counts first; an
/// audit entry records the run; catch-up after an id is still exact.
/// </summary>
public sealed class RetentionTests
{
    [Fact]
    public async Task Expired_messages_go_in_batches_with_their_edits_images_and_search_rows_and_the_rest_stays_in_order()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var alice = await h.RegisterAsync("alice");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        var short2 = await h.CreateRoomAsync("short", false, alice);
        var forever = await h.CreateRoomAsync("forever", false, alice);
        await h.SetPolicyAsync(new GovernancePolicy(1, AccountDeletionMode.KeepAsDeletedUser)); // site default: 1 day
        await h.SetRoomRetentionAsync(short2.Id, 2);
        await h.SetRoomRetentionAsync(forever.Id, 0);

        // Old rows: 20 posts, an image, an edit of one of them; in every room.
        var old = new List<long>();
        foreach (var room in new[] { short2, forever, lobby })
            for (var i = 0; i < 20; i++)
                old.Add((await h.PostAsync(alice, room, $"ancientword {room.Slug} {i}")).Id);
        var png = WebSockets.PortalHelpers.TinyPng();
        var image = await h.Images.SaveAsync(png, alice.Id, "old.png");
        var pic = await h.Commands.PostAsync(alice, short2.Id, null, imageId: image.Value!.Id);
        old.Add(pic.Value!.Id);
        var edited = (await h.Commands.EditAsync(alice, old[0], "ancientword edited secretedit")).Value!;
        var editRow = (await h.RowsAsync(short2.Id)).Single(r => r.Kind == MessageKind.Edit).Id;
        await h.AgeAsync(old, TimeSpan.FromDays(3)); // the edit row itself is recent: it goes because its target goes

        // New rows: stay everywhere.
        var fresh = new List<long>();
        foreach (var room in new[] { short2, forever, lobby })
            for (var i = 0; i < 3; i++)
                fresh.Add((await h.PostAsync(alice, room, $"freshword {room.Slug} {i}")).Id);
        await h.WaitForSearchIndexAsync();
        Assert.True(await h.FtsCountAsync("secretedit") == 1);
        var imagePath = Path.Combine(h.Images.Folder, image.Value.Id);
        Assert.True(File.Exists(imagePath));

        // Dry run: counts posts, deletes nothing.
        var retention = h.Get<Retention>();
        var dry = (await retention.DryRunAsync()).ToDictionary(r => r.Room.Slug);
        Assert.Equal((2, 21), (dry["short"].EffectiveDays, dry["short"].Expired));
        Assert.Equal((0, 0), (dry["forever"].EffectiveDays, dry["forever"].Expired));
        Assert.Equal((1, 20), (dry["lobby"].EffectiveDays, dry["lobby"].Expired));
        Assert.Equal(20 + 21 + 20 + 9 + 1, await h.WithDbAsync(db => db.Messages.CountAsync()));

        var report = await retention.RunAsync("(test)");
        Assert.Equal(41 + 1, report.Messages + report.Rooms.Sum(r => r.Purged.EventRows)); // 41 old rows + the edit row
        Assert.True(report.Rooms.Sum(r => r.Purged.Batches) >= 6, "batches of at most 7 rows");
        Assert.Equal(1, report.Rooms.Sum(r => r.Purged.Images));

        // What stays: the fresh rows (and the forever room's old ones), in id order.
        Assert.Equal(fresh.Where((_, i) => i < 3), (await h.RowsAsync(short2.Id)).Select(r => r.Id));
        Assert.Equal(23, (await h.RowsAsync(forever.Id)).Count);
        Assert.Equal(fresh.Skip(6), (await h.RowsAsync(lobby.Id)).Select(r => r.Id));
        Assert.DoesNotContain(editRow, await h.WithDbAsync(db => db.Messages.Select(m => m.Id).ToListAsync()));
        Assert.False(File.Exists(imagePath), "the image file is gone");
        Assert.Null(await h.WithDbAsync(db => db.Images.FirstOrDefaultAsync(i => i.Id == image.Value.Id)));

        // Search rows are gone with them; the rest is still found.
        Assert.Equal(0, await h.FtsCountAsync("secretedit"));
        Assert.Equal(20, await h.FtsCountAsync("ancientword forever"));
        Assert.Equal(0, await h.FtsCountAsync("ancientword short"));
        Assert.Empty(await h.Search.SearchAsync(alice, "ancientword lobby"));
        Assert.Equal(3, (await h.Search.SearchAsync(alice, "freshword lobby")).Count);

        // Catch-up after an old id: exactly the remaining rows, in order; new posts still get higher ids.
        var after = await h.History.GetStoredEventsAfterAsync(short2.Id, old[5]);
        Assert.Equal(fresh.Take(3), after.Select(ChatEvents.StoredId));
        var next = await h.PostAsync(alice, short2, "after retention");
        Assert.True(next.Id > fresh.Max());
        Assert.Equal([.. fresh.Take(3), next.Id], (await h.History.GetStoredEventsAfterAsync(short2.Id, 0)).Select(ChatEvents.StoredId));

        // One audit entry for the run; a second run finds nothing and writes none.
        var audit = await h.WithDbAsync(db => db.AuditLog.Where(a => a.Action == Retention.AuditAction).ToListAsync());
        var entry = Assert.Single(audit);
        Assert.Contains("deleted 41 messages", entry.Detail);
        Assert.Contains("/rooms/short", entry.Detail);
        Assert.Equal(0, (await retention.RunAsync("(test)")).Messages);
        Assert.Single(await h.WithDbAsync(db => db.AuditLog.Where(a => a.Action == Retention.AuditAction).ToListAsync()));
        Assert.Equal("ancientword edited secretedit", edited.Text);
    }

    [Fact]
    public async Task A_purge_hook_keeps_exempt_messages_and_cleans_up_the_others_in_the_same_batch()
    {
        var hook = new PinLikeHook();
        await using var h = await GovernanceHarness.StartAsync(configure: s => s.AddSingleton<IMessagePurgeHook>(hook));
        var alice = await h.RegisterAsync("alice");
        var room = await h.CreateRoomAsync("pins", false, alice);
        await h.SetRoomRetentionAsync(room.Id, 1);
        var ids = new List<long>();
        for (var i = 0; i < 10; i++) ids.Add((await h.PostAsync(alice, room, $"m{i}")).Id);
        await h.AgeAsync(ids, TimeSpan.FromDays(2));
        hook.Pinned.Add(ids[4]);

        var dry = Assert.Single(await h.Get<Retention>().DryRunAsync(room.Id));
        Assert.Equal(9, dry.Expired);
        var report = await h.Get<Retention>().RunAsync("(test)", roomId: room.Id);
        Assert.Equal(9, report.Messages);
        Assert.Equal([ids[4]], (await h.RowsAsync(room.Id)).Select(r => r.Id));
        Assert.Equal(ids.Where(id => id != ids[4]).Order(), hook.Cleaned.Order());
    }

    [Fact]
    public async Task Posts_keep_being_stored_in_order_while_retention_deletes_thousands_of_rows()
    {
        await using var h = await GovernanceHarness.StartAsync(new() { ["Governance:PurgeBatchSize"] = "500", ["Governance:PurgePause"] = "00:00:00.010" });
        var alice = await h.RegisterAsync("alice");
        var room = await h.CreateRoomAsync("busy", false, alice);
        await h.SetRoomRetentionAsync(room.Id, 1);
        await using (var db = await h.Db())
        {
            var old = DateTimeOffset.UtcNow.AddDays(-3);
            for (var i = 0; i < 4000; i++)
                db.Messages.Add(new Message { RoomId = room.Id, SenderId = alice.Id, Kind = MessageKind.Text, Text = $"old {i}", CreatedAt = old });
            await db.SaveChangesAsync();
        }
        var run = Task.Run(() => h.Get<Retention>().RunAsync("(test)"));
        var posted = new List<long>();
        var k = 0;
        while ((!run.IsCompleted || k < 50) && k < 2000)
        {
            var r = await h.Commands.PostAsync(alice, room.Id, $"live {k++}");
            Assert.True(r.Ok, r.Error?.Message); // never storage_failed: the writer got the lock between batches
            posted.Add(r.Value!.Id);
        }
        var report = await run;
        Assert.Equal(4000, report.Messages);
        Assert.True(report.Rooms.Single().Purged.Batches >= 8);
        Assert.Equal(posted, (await h.RowsAsync(room.Id)).Select(m => m.Id)); // exactly the live posts, in id order
        Assert.Equal(posted, (await h.History.GetStoredEventsAfterAsync(room.Id, 0, 5000)).Select(ChatEvents.StoredId));
    }

    /// <summary>What the pinned-messages/reactions feature will register: keeps pinned ones, cleans its rows of the rest.</summary>
    private sealed class PinLikeHook : IMessagePurgeHook
    {
        public HashSet<long> Pinned { get; } = [];
        public List<long> Cleaned { get; } = [];

        public Task<IReadOnlyCollection<long>> ExemptAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct) =>
            Task.FromResult<IReadOnlyCollection<long>>(messageIds.Where(Pinned.Contains).ToList());

        public Task OnPurgingAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct)
        {
            Assert.NotNull(db.Database.CurrentTransaction); // inside the batch's transaction
            lock (Cleaned) Cleaned.AddRange(messageIds);
            return Task.CompletedTask;
        }
    }
}
