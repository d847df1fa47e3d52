using ChatPortal.Chat.Notifications;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.Identity;

/// <summary>
/// Who wants every message of a room comes from memory (every stored post asks): user-wide "all"
/// unless the room says otherwise, and the room's own "all"; a change made here applies at once,
/// one made by another node (straight in the database) once the copy is older than the refresh.
/// </summary>
public sealed class NotificationLevelsTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks { get; set; } = 1_000_000;
        public override long GetTimestamp() => Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public void Advance(TimeSpan by) => Ticks += by.Ticks;
    }

    [Fact]
    public async Task Levels_are_answered_from_memory_local_changes_apply_at_once_and_other_nodes_changes_after_the_refresh()
    {
        await using var core = await CoreHarness.StartAsync();
        var ann = await core.CreateUserAsync("ann");
        var bob = await core.CreateUserAsync("bob");
        var cat = await core.CreateUserAsync("cat");
        var dan = await core.CreateUserAsync("dan");
        var busy = await core.CreateRoomAsync("busy");
        var quiet = await core.CreateRoomAsync("quiet");
        var clock = new ManualClock();
        var settings = new NotificationSettings(core.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>(),
            Options.Create(new NotificationOptions { LevelsRefreshSeconds = 30 }), clock);

        Assert.Empty(await settings.WantingEverythingAsync(busy.Id));

        // Bob and Cat want everything everywhere, but Cat only mentions in #busy; Ann wants all of #busy.
        foreach (var u in new[] { bob, cat })
            Assert.Null(await settings.SaveAsync(new NotificationPreference { UserId = u.Id, Level = NotifyLevel.All }));
        await settings.SetRoomLevelAsync(cat.Id, busy.Id, NotifyLevel.Mentions);
        await settings.SetRoomLevelAsync(ann.Id, busy.Id, NotifyLevel.All);
        Assert.Equal([ann.Id, bob.Id], (await settings.WantingEverythingAsync(busy.Id)).Order());
        Assert.Equal([bob.Id, cat.Id], (await settings.WantingEverythingAsync(quiet.Id)).Order());

        // Back to the user-wide level for Cat in #busy (the override goes).
        await settings.SetRoomLevelAsync(cat.Id, busy.Id, null);
        Assert.Equal([ann.Id, bob.Id, cat.Id], (await settings.WantingEverythingAsync(busy.Id)).Order());

        // Another node saves Dan's "all": not seen until this copy is older than the refresh.
        await core.WithDbAsync(async db =>
        {
            db.NotificationPreferences.Add(new NotificationPreference { UserId = dan.Id, Level = NotifyLevel.All });
            return await db.SaveChangesAsync();
        });
        Assert.DoesNotContain(dan.Id, await settings.WantingEverythingAsync(quiet.Id));
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Contains(dan.Id, await settings.WantingEverythingAsync(quiet.Id));
    }
}
