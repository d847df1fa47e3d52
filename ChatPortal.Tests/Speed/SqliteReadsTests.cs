using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19, token connects: on SQLite a token connect reads its token with the user's row and the user's drawer as
/// prepared statements (Data/SqliteReads) instead of through EF Core. Those reads must give exactly what the EF queries
/// (which PostgreSQL keeps) give, for every kind of token, user and room; and they must still be reads of the database,
/// so a ban or a revocation written a moment ago — even straight into the file, as the command line does — stops the
/// next connect.
/// </summary>
public sealed class SqliteReadsTests
{
    [Fact]
    public async Task Token_reads_match_the_EF_query_for_every_kind_of_token_and_see_each_change_at_once()
    {
        await using var h = await CoreHarness.StartAsync();
        var reads = h.Services.GetRequiredService<SqliteReads>();
        var tokens = h.Services.GetRequiredService<ApiTokens>();
        var alice = await h.CreateUserAsync("alice");
        var zhang = await h.CreateUserAsync("张伟");
        var bot = await h.CreateUserAsync("helper-bot", UserKind.Bot);
        var admin = await h.CreateUserAsync("root-admin");

        var plain = (await tokens.IssueAsync(alice.Id, "laptop")).Token;
        var readOnly = (await tokens.IssueAsync(zhang.Id, new ApiTokenRequest("reader", ApiScopes.Read))).Token;
        var expiring = (await tokens.IssueAsync(bot.Id, new ApiTokenRequest("soon", ExpiresAt: DateTimeOffset.UtcNow.AddDays(3)))).Token;
        var expired = (await tokens.IssueAsync(bot.Id, new ApiTokenRequest("gone", ExpiresAt: DateTimeOffset.UtcNow.AddMinutes(-1)))).Token;
        var adminScoped = (await tokens.IssueAsync(admin.Id, new ApiTokenRequest("ops", ApiScopes.Read | ApiScopes.Write | ApiScopes.Admin,
            AdminId: 7, AdminStamp: "stamp-7"))).Token;
        var revoked = (await tokens.IssueAsync(zhang.Id, "old")).Token;
        Assert.True(await tokens.RevokeAsync(revoked));
        await using (var db = await h.Db()) // a mute: part of the user's state the read hands to the user cache
            await db.Users.Where(u => u.Id == zhang.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.MutedUntil, DateTimeOffset.UtcNow.AddHours(1)));
        Assert.NotNull(await tokens.AuthenticateAsync(plain)); // a use: "last used" is noted (and later written)

        async Task SameAsEf(string token, bool found)
        {
            var hash = ApiTokens.Hash(token);
            var fast = ApiTokens.FindActive(reads, hash);
            var ef = await tokens.FindActiveAsync(hash, CancellationToken.None);
            Assert.Equal(found, fast is not null);
            Assert.Equal(ef, fast);
        }
        await SameAsEf(plain, found: true);
        await SameAsEf(readOnly, found: true);
        await SameAsEf(expiring, found: true);
        await SameAsEf(expired, found: true); // found, and refused for its expiry (below)
        await SameAsEf(adminScoped, found: true);
        await SameAsEf(revoked, found: false);
        await SameAsEf(ApiTokens.Prefix + "not-a-token", found: false);

        var grant = ApiTokens.FindActive(reads, ApiTokens.Hash(adminScoped))!.Value;
        Assert.Equal((admin, ApiScopes.Read | ApiScopes.Write | ApiScopes.Admin, 7L, "stamp-7"),
            (grant.Grant.User, grant.Grant.Scopes, grant.Grant.AdminId, grant.Grant.AdminStamp));
        var muted = ApiTokens.FindActive(reads, ApiTokens.Hash(readOnly))!.Value;
        Assert.Equal(("张伟", ApiScopes.Read), (muted.Grant.User.Name, muted.Grant.Scopes));
        Assert.True(muted.User.IsMuted(DateTimeOffset.UtcNow));
        Assert.Null(await tokens.AuthenticateAsync(expired));
        Assert.Null(await tokens.AuthenticateAsync(revoked));
        Assert.Equal(UserKind.Bot, (await tokens.AuthenticateAsync(expiring))!.User.Kind);

        // Changes written a moment ago are seen by the next read on the same (kept, prepared) connections.
        for (var i = 0; i < 20; i++) Assert.NotNull(await tokens.AuthenticateAsync(plain));
        await using (var db = await h.Db()) // a ban written straight into the database, as `admin ban` from another process does
            await db.Users.Where(u => u.Id == alice.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedAt, DateTimeOffset.UtcNow));
        Assert.Null(await tokens.AuthenticateAsync(plain));
        await SameAsEf(plain, found: true);
        Assert.True(ApiTokens.FindActive(reads, ApiTokens.Hash(plain))!.Value.User.Banned);
        Assert.NotNull(await tokens.AuthenticateAsync(expiring));
        Assert.True(await tokens.RevokeAsync(expiring));
        Assert.Null(await tokens.AuthenticateAsync(expiring));
        await SameAsEf(expiring, found: false);

        // The reads reuse their connections: one at a time needs one.
        Assert.Equal(1, reads.Opened);
    }

    [Fact]
    public async Task Drawer_reads_match_the_EF_query_for_members_guests_bots_and_every_kind_of_room()
    {
        await using var h = await CoreHarness.StartAsync();
        var reads = h.Services.GetRequiredService<SqliteReads>();
        var rooms = h.Services.GetRequiredService<ChatRooms>();
        var alice = await h.CreateUserAsync("alice");
        var bob = await h.CreateUserAsync("Bob");
        var zhang = await h.CreateUserAsync("张伟");
        var carol = await h.CreateUserAsync("carol");
        var bot = await h.CreateUserAsync("helper-bot", UserKind.Bot);
        var guest = await h.CreateUserAsync("guest-4711", UserKind.Guest);
        var nobody = new UserRef(999_999, "nobody", UserKind.Member);

        var open = await h.CreateRoomAsync("茶馆");
        var left = await h.CreateRoomAsync("left-behind");
        var secret = await h.CreateRoomAsync("secret", isPrivate: true, alice, bot);
        await h.CreateRoomAsync("other-secret", isPrivate: true, bob);
        var archived = await h.CreateRoomAsync("archived", isPrivate: false, alice);
        var membersOnly = await h.CreateRoomAsync("members-only");
        await using (var db = await h.Db())
        {
            await db.Rooms.Where(r => r.Id == archived.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.IsArchived, true));
            await db.Rooms.Where(r => r.Id == membersOnly.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.AllowGuests, false)
                .SetProperty(r => r.Topic, "只给成员 · members only"));
            db.RoomDepartures.Add(new RoomDeparture { RoomId = left.Id, UserId = alice.Id, LeftAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        Assert.True((await rooms.OpenDirectAsync(alice, "Bob")).Ok);
        Assert.True((await rooms.OpenDirectAsync(alice, "张伟")).Ok);
        Assert.True((await rooms.OpenDirectAsync(zhang, "carol")).Ok);
        Assert.True((await rooms.OpenDirectAsync(bot, "alice")).Ok);

        foreach (var user in new[] { alice, bob, zhang, carol, bot, guest, nobody })
        {
            var fast = ChatRooms.ListDrawer(reads, user);
            var ef = await rooms.ListDrawerWithEfAsync(user);
            Assert.Equal(ef.Rooms, fast.Rooms);
            Assert.Equal(ef.Direct, fast.Direct);
            Assert.Equal(fast.Rooms, (await rooms.ListDrawerAsync(user)).Rooms); // the portal's own call takes the prepared path
        }

        var mine = ChatRooms.ListDrawer(reads, alice);
        Assert.Equal(["lobby", "茶馆", "secret", "members-only"], mine.Rooms.Select(r => r.Slug));
        Assert.Equal(["Bob", "helper-bot", "张伟"], mine.Direct.Select(d => d.Other.Name)); // by name, case ignored
        Assert.Equal("只给成员 · members only", mine.Rooms.Single(r => r.Id == membersOnly.Id).Topic);
        Assert.True(mine.Rooms.Single(r => r.Id == secret.Id).IsPrivate);
        Assert.Equal(["lobby", "茶馆", "left-behind"], ChatRooms.ListDrawer(reads, guest).Rooms.Select(r => r.Slug));
        Assert.Empty(ChatRooms.ListDrawer(reads, guest).Direct);

        // A membership change shows in the next read.
        await using (var db = await h.Db())
        {
            db.RoomMembers.Add(new RoomMember { RoomId = secret.Id, UserId = carol.Id, JoinedAt = DateTimeOffset.UtcNow });
            await db.RoomDepartures.Where(d => d.UserId == alice.Id).ExecuteDeleteAsync();
            await db.SaveChangesAsync();
        }
        Assert.Contains(ChatRooms.ListDrawer(reads, carol).Rooms, r => r.Id == secret.Id);
        // A join after a restart (nothing cached) asks whether the user is a member: the same answer as the database's.
        await using (var db = await h.Db())
            foreach (var (room, user) in new[] { (secret, carol), (secret, bob), (secret, alice), (open, alice), (archived, alice), (archived, guest) })
                Assert.Equal(await db.RoomMembers.AnyAsync(m => m.RoomId == room.Id && m.UserId == user.Id), ChatRooms.IsMember(reads, room.Id, user.Id));
        Assert.True(ChatRooms.IsMember(reads, secret.Id, carol.Id));
        Assert.False(ChatRooms.IsMember(reads, secret.Id, bob.Id));
        Assert.Contains(ChatRooms.ListDrawer(reads, alice).Rooms, r => r.Id == left.Id);
        Assert.Contains(ChatRooms.ListDrawer(reads, alice).Rooms, r => r.Id == open.Id);
    }
}
