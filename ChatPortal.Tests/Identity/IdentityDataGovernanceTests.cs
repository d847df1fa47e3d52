using ChatPortal.Chat.Governance;
using ChatPortal.Chat.Notifications;
using ChatPortal.Data;
using ChatPortal.Profiles;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Identity;

/// <summary>Issue 18's data governance covers what issue 17 keeps about a person: their download holds it, a deletion takes it.</summary>
public sealed class IdentityDataGovernanceTests
{
    [Fact]
    public async Task A_users_download_holds_their_profile_sign_in_links_and_notification_settings_and_nobody_elses()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var name = PortalHelpers.UniqueName("gus");
        await portal.TokenAsync(name);
        var gus = (await portal.Users.FindByNameAsync(name))!;
        var otherName = PortalHelpers.UniqueName("hal");
        await portal.TokenAsync(otherName);
        var hal = (await portal.Users.FindByNameAsync(otherName))!;
        var lobby = (await portal.Rooms.GetDefaultAsync())!;
        var profiles = portal.Services.GetRequiredService<UserProfiles>();
        var settings = portal.Services.GetRequiredService<NotificationSettings>();
        var db = portal.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        foreach (var u in new[] { gus, hal })
        {
            Assert.Null(await profiles.UpdateAsync(u.Id, new ProfileEdit("Display " + u.Name, "status of " + u.Name, "Asia/Shanghai")));
            Assert.Null(await profiles.SetEmailAsync(u.Id, $"{u.Name}@example.org", verified: true));
            await using var c = await db.CreateDbContextAsync();
            c.ExternalLogins.Add(new ExternalLogin { Issuer = "https://idp-" + u.Name + ".example", Subject = "sub-" + u.Name, LocalId = u.Id, CreatedAt = DateTimeOffset.UtcNow });
            await c.SaveChangesAsync();
        }
        Assert.Null(await settings.SaveAsync(new NotificationPreference { UserId = gus.Id, Level = NotifyLevel.All, QuietFromMinute = 1320, QuietToMinute = 420, Push = false }));
        await settings.SetRoomLevelAsync(gus.Id, lobby.Id, NotifyLevel.None);

        using var zipped = new MemoryStream();
        Assert.True(await portal.Services.GetRequiredService<DataExport>().WriteUserAsync(gus.Id, zipped));
        zipped.Position = 0;
        using var zip = new System.IO.Compression.ZipArchive(zipped);
        var text = await new StreamReader(zip.GetEntry("account.json")!.Open()).ReadToEndAsync();
        using var account = System.Text.Json.JsonDocument.Parse(text);
        var profile = account.RootElement.GetProperty("profile");
        Assert.Equal("Display " + name, profile.GetProperty("displayName").GetString());
        Assert.Equal("status of " + name, profile.GetProperty("status").GetString());
        Assert.Equal("Asia/Shanghai", profile.GetProperty("timeZone").GetString());
        Assert.Equal($"{name}@example.org", profile.GetProperty("email").GetString());
        Assert.True(profile.GetProperty("emailVerified").GetBoolean());
        var link = Assert.Single(account.RootElement.GetProperty("signInLinks").EnumerateArray());
        Assert.Equal("https://idp-" + name + ".example", link.GetProperty("issuer").GetString());
        var notifications = account.RootElement.GetProperty("notifications");
        Assert.Equal("All", notifications.GetProperty("level").GetString());
        Assert.False(notifications.GetProperty("push").GetBoolean());
        Assert.Equal("22:00", notifications.GetProperty("quietFrom").GetString());
        Assert.Equal("07:00", notifications.GetProperty("quietTo").GetString());
        var room = Assert.Single(notifications.GetProperty("rooms").EnumerateArray());
        Assert.Equal(lobby.Slug, room.GetProperty("room").GetString());
        Assert.Equal("None", room.GetProperty("level").GetString());
        Assert.DoesNotContain(otherName, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_account_loses_its_profile_picture_provider_links_push_subscriptions_and_notification_settings()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var name = PortalHelpers.UniqueName("erin");
        await portal.TokenAsync(name);
        var erin = (await portal.Users.FindByNameAsync(name))!;
        var otherName = PortalHelpers.UniqueName("fay");
        await portal.TokenAsync(otherName);
        var fay = (await portal.Users.FindByNameAsync(otherName))!;
        var lobby = (await portal.Rooms.GetDefaultAsync())!;

        var profiles = portal.Services.GetRequiredService<UserProfiles>();
        var directory = portal.Services.GetRequiredService<ProfileDirectory>();
        var avatars = portal.Services.GetRequiredService<AvatarStore>();
        foreach (var u in new[] { erin, fay })
        {
            Assert.Null(await profiles.UpdateAsync(u.Id, new ProfileEdit("Display " + u.Name, "busy", "Europe/Berlin")));
            Assert.Null(await profiles.SetEmailAsync(u.Id, $"{u.Name}@example.org", verified: true));
            Assert.Null(await profiles.SetAvatarAsync(u.Id, PortalHelpers.TinyPng()));
        }
        var erinAvatar = directory.Get(erin.Id)!.AvatarId!;
        Assert.NotNull(avatars.PathOf(erinAvatar));
        var settings = portal.Services.GetRequiredService<NotificationSettings>();
        var db = portal.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        foreach (var u in new[] { erin, fay })
        {
            Assert.Null(await settings.SaveAsync(new NotificationPreference { UserId = u.Id, Level = NotifyLevel.All }));
            await settings.SetRoomLevelAsync(u.Id, lobby.Id, NotifyLevel.None);
            await using var c = await db.CreateDbContextAsync();
            c.ExternalLogins.Add(new ExternalLogin { Issuer = "https://idp.example", Subject = "sub-" + u.Name, LocalId = u.Id, CreatedAt = DateTimeOffset.UtcNow });
            c.PushSubscriptions.Add(new PushSubscriptionRecord
            {
                UserId = u.Id,
                Endpoint = "https://push.example/" + u.Name,
                EndpointHash = "hash-" + u.Name,
                P256dh = "key",
                Auth = "auth",
                CreatedAt = DateTimeOffset.UtcNow,
            });
            c.PendingNotifications.Add(new PendingNotification { UserId = u.Id, RoomId = lobby.Id, MessageId = 1, Kind = NotificationKind.Mention, CreatedAt = DateTimeOffset.UtcNow });
            var row = await c.Users.SingleAsync(x => x.Id == u.Id);
            row.MutedUntil = DateTimeOffset.UtcNow.AddHours(1);
            row.MuteReason = "spam";
            await c.SaveChangesAsync();
        }

        Assert.NotNull(await portal.Services.GetRequiredService<AccountDeletion>().DeleteAsync(erin.Id, "(test)"));

        await using (var c = await db.CreateDbContextAsync())
        {
            // Nothing that names or reaches the person is left: no address, picture, link to a provider identity, push endpoint or settings.
            var profile = await c.Profiles.AsNoTracking().SingleOrDefaultAsync(p => p.UserId == erin.Id);
            Assert.True(profile is null || profile is { DisplayName: null, StatusText: null, TimeZone: null, AvatarId: null, Email: null, NormalizedEmail: null });
            Assert.Empty(await profiles.FindByVerifiedEmailAsync($"{erin.Name}@example.org"));
            Assert.False(await c.ExternalLogins.AnyAsync(l => l.LocalId == erin.Id));
            Assert.False(await c.PushSubscriptions.AnyAsync(s => s.UserId == erin.Id));
            Assert.False(await c.PendingNotifications.AnyAsync(s => s.UserId == erin.Id));
            Assert.False(await c.NotificationPreferences.AnyAsync(s => s.UserId == erin.Id));
            Assert.False(await c.RoomNotificationSettings.AnyAsync(s => s.UserId == erin.Id));
            Assert.Null((await c.Users.AsNoTracking().SingleAsync(u => u.Id == erin.Id)).MuteReason);

            // The other person keeps everything.
            Assert.Equal("Display " + fay.Name, (await c.Profiles.AsNoTracking().SingleAsync(p => p.UserId == fay.Id)).DisplayName);
            Assert.True(await c.ExternalLogins.AnyAsync(l => l.LocalId == fay.Id));
            Assert.True(await c.PushSubscriptions.AnyAsync(s => s.UserId == fay.Id));
            Assert.True(await c.PendingNotifications.AnyAsync(s => s.UserId == fay.Id));
            Assert.True(await c.NotificationPreferences.AnyAsync(s => s.UserId == fay.Id));
            Assert.Equal("spam", (await c.Users.AsNoTracking().SingleAsync(u => u.Id == fay.Id)).MuteReason);
        }
        // The card others see (online list, v1 user objects on the tombstone's kept messages) is empty at once, and the picture file is gone.
        Assert.True(directory.Get(erin.Id) is null or { DisplayName: null, Status: null, AvatarId: null });
        Assert.Null(avatars.PathOf(erinAvatar));
        Assert.Equal("Display " + fay.Name, directory.Get(fay.Id)!.DisplayName);
    }
}
