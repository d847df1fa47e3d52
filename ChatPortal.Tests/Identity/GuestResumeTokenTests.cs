using ChatPortal.Auth;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatPortal.Tests.Identity;

/// <summary>
/// Guest resume tokens (<see cref="GuestResumeTokens"/>): HMAC-signed with one key per installation, kept encrypted in
/// the settings table, so two nodes on one database accept each other's tokens; expired, damaged and foreign tokens
/// name nobody, and a token only matches the security stamp it was issued for (a kick or ban changes it).
/// </summary>
public sealed class GuestResumeTokenTests
{
    [Fact]
    public async Task Nodes_of_one_installation_share_the_key_and_expired_damaged_or_foreign_tokens_name_nobody()
    {
        await using var core = await CoreHarness.StartAsync();
        var dbs = core.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        var keyRing = new EphemeralDataProtectionProvider(); // the DataProtection key ring the nodes share
        var clock = new Clock(DateTimeOffset.Parse("2026-12-05T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var nodeA = new GuestResumeTokens(dbs, keyRing, clock, NullLogger<GuestResumeTokens>.Instance);
        var nodeB = new GuestResumeTokens(dbs, keyRing, clock, NullLogger<GuestResumeTokens>.Instance);

        var token = await nodeA.IssueAsync(42, "stamp-1", clock.Now + TimeSpan.FromHours(1));
        var claim = await nodeB.ReadAsync(token);
        Assert.NotNull(claim);
        Assert.Equal(42, claim.GuestId);
        Assert.True(GuestResumeTokens.Matches(claim, "stamp-1"));
        Assert.False(GuestResumeTokens.Matches(claim, "stamp-2"));

        // The key is stored once, encrypted (not 32 raw bytes in base64).
        await using (var db = await dbs.CreateDbContextAsync())
        {
            var stored = await db.Settings.SingleAsync(s => s.Key == GuestResumeTokens.KeySetting);
            Assert.NotEqual(32, Convert.FromBase64String(stored.Value).Length);
        }

        // Damaged, nonsense, too long: nobody.
        var damaged = token[..10] + (token[10] == 'A' ? 'B' : 'A') + token[11..];
        Assert.Null(await nodeA.ReadAsync(damaged));
        Assert.Null(await nodeA.ReadAsync("not a token"));
        Assert.Null(await nodeA.ReadAsync(new string('A', token.Length)));
        Assert.Null(await nodeA.ReadAsync(token + token));

        // Another installation (its own database, its own key): nobody.
        await using (var other = await CoreHarness.StartAsync())
        {
            var foreign = new GuestResumeTokens(other.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>(), keyRing, clock,
                NullLogger<GuestResumeTokens>.Instance);
            Assert.Null(await foreign.ReadAsync(token));
        }

        // A database moved without its key ring: the stored key cannot be opened, so a new node makes a new one
        // (no error); old tokens name nobody, new ones work.
        var movedNode = new GuestResumeTokens(dbs, new EphemeralDataProtectionProvider(), clock, NullLogger<GuestResumeTokens>.Instance);
        Assert.Null(await movedNode.ReadAsync(token));
        var after = await movedNode.IssueAsync(7, "stamp-7", clock.Now + TimeSpan.FromHours(1));
        Assert.Equal(7, (await movedNode.ReadAsync(after))!.GuestId);

        // Expired: nobody.
        clock.Now += TimeSpan.FromHours(1);
        Assert.Null(await nodeB.ReadAsync(token));
    }

    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }
}
