using System.Collections.Concurrent;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19, an account's first connect: its first join makes it a member of the room, written with every other first
/// join of the moment (Chat/MemberWrites). On SQLite that batch is two SQL statements per room; PostgreSQL keeps the
/// EF Core path. Both must leave the same rows — one per member, the read cursor at the room's newest message, an
/// existing row (and its cursor) untouched, the departures of the new members gone and no one else's — report each
/// membership as new exactly once (two tabs of one user at once: one) and announce each new one once.
/// </summary>
public sealed class MemberWritesTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed record Outcome(
        Dictionary<string, bool> Results,
        List<(string Room, string User, long LastRead, DateTimeOffset JoinedAt)> Rows,
        List<(string Room, string User)> Departures,
        List<(string Room, string User)> Announced,
        bool CacheKnowsEveryMember);

    private static readonly DateTimeOffset Now = new(2026, 12, 6, 7, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Earlier = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    /// <summary>The same story on rooms and users of its own, written through one path; names without the prefix.</summary>
    private static async Task<Outcome> RunAsync(CoreHarness h, string prefix, bool efOnly)
    {
        var lobby = await h.CreateRoomAsync($"{prefix}-lobby");
        var quiet = await h.CreateRoomAsync($"{prefix}-quiet"); // no messages: cursors start at 0
        var names = new[] { "old-member", "came-back", "two-tabs", "both-rooms", "张伟", "bot" };
        var users = new Dictionary<string, UserRef>();
        foreach (var n in names) users[n] = await h.CreateUserAsync($"{prefix}-{n}", n == "bot" ? UserKind.Bot : UserKind.Member);
        var poster = await h.CreateUserAsync($"{prefix}-poster");
        await h.PostAsync(poster, lobby, "one");
        var newest = (await h.PostAsync(poster, lobby, "two")).Id;
        await using (var db = await h.Db())
        {
            db.RoomMembers.Add(new RoomMember { RoomId = lobby.Id, UserId = users["old-member"].Id, JoinedAt = Earlier, LastReadMessageId = 1 });
            // "came-back" left both rooms once; joining the lobby again lists it again, the quiet room stays left.
            db.RoomDepartures.Add(new RoomDeparture { RoomId = lobby.Id, UserId = users["came-back"].Id, LeftAt = Earlier });
            db.RoomDepartures.Add(new RoomDeparture { RoomId = quiet.Id, UserId = users["came-back"].Id, LeftAt = Earlier });
            await db.SaveChangesAsync();
        }

        var announced = new ConcurrentQueue<MemberAdded>();
        var directory = h.Services.GetRequiredService<RoomDirectory>();
        using var writes = new MemberWrites(h.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>(), directory, new FixedTime(Now),
            e =>
            {
                announced.Enqueue(e);
                directory.SetMember(e.RoomId, e.User.Id, true); // as the core's announcement does on every node
                return Task.CompletedTask;
            }, efOnly);
        var requests = new List<(string Key, Task<bool> Task)>
        {
            ("lobby/old-member", writes.AddAsync(lobby.Id, users["old-member"], default)),
            ("lobby/came-back", writes.AddAsync(lobby.Id, users["came-back"], default)),
            ("lobby/two-tabs#1", writes.AddAsync(lobby.Id, users["two-tabs"], default)),
            ("lobby/two-tabs#2", writes.AddAsync(lobby.Id, users["two-tabs"], default)),
            ("lobby/both-rooms", writes.AddAsync(lobby.Id, users["both-rooms"], default)),
            ("quiet/both-rooms", writes.AddAsync(quiet.Id, users["both-rooms"], default)),
            ("lobby/张伟", writes.AddAsync(lobby.Id, users["张伟"], default)),
            ("quiet/bot", writes.AddAsync(quiet.Id, users["bot"], default)),
        };
        await Task.WhenAll(requests.Select(r => r.Task));
        // And one more on its own, after the batch: already a member.
        requests.Add(("lobby/張伟-again", writes.AddAsync(lobby.Id, users["张伟"], default)));
        await requests[^1].Task;

        string RoomName(long id) => id == lobby.Id ? "lobby" : id == quiet.Id ? "quiet" : $"other-{id}";
        string UserName(long id) => users.First(u => u.Value.Id == id).Key;
        var ids = users.Values.Select(u => u.Id).ToList();
        await using var read = await h.Db();
        var rows = (await read.RoomMembers.AsNoTracking().Where(m => ids.Contains(m.UserId)).ToListAsync())
            .Select(m => (RoomName(m.RoomId), UserName(m.UserId), m.LastReadMessageId == newest ? -1 : m.LastReadMessageId, m.JoinedAt))
            .OrderBy(r => r.Item1, StringComparer.Ordinal).ThenBy(r => r.Item2, StringComparer.Ordinal).ToList();
        var departures = (await read.RoomDepartures.AsNoTracking().Where(d => ids.Contains(d.UserId)).ToListAsync())
            .Select(d => (RoomName(d.RoomId), UserName(d.UserId))).OrderBy(d => d.Item1, StringComparer.Ordinal).ToList();
        var results = new Dictionary<string, bool>();
        foreach (var (key, task) in requests) results[key] = task.Result;
        return new Outcome(results, rows, departures,
            announced.Select(e => (RoomName(e.RoomId), UserName(e.User.Id))).OrderBy(a => a.Item1, StringComparer.Ordinal)
                .ThenBy(a => a.Item2, StringComparer.Ordinal).ToList(),
            rows.All(r => directory.IsKnownMember(r.Item1 == "lobby" ? lobby.Id : quiet.Id, users[r.Item2].Id)));
    }

    [Fact]
    public async Task First_joins_in_one_batch_leave_the_same_rows_through_SQL_and_through_EF_Core()
    {
        await using var h = await CoreHarness.StartAsync();
        var sql = await RunAsync(h, "sql", efOnly: false);
        var ef = await RunAsync(h, "ef", efOnly: true);

        foreach (var outcome in new[] { sql, ef })
        {
            // The rows: the old member's as it was; every new one at the lobby's newest message (-1 here) or 0 in the quiet room.
            Assert.Equal(
            [
                ("lobby", "both-rooms", -1L, Now), ("lobby", "came-back", -1L, Now), ("lobby", "old-member", 1L, Earlier),
                ("lobby", "two-tabs", -1L, Now), ("lobby", "张伟", -1L, Now),
                ("quiet", "bot", 0L, Now), ("quiet", "both-rooms", 0L, Now),
            ], outcome.Rows);
            Assert.Equal([("quiet", "came-back")], outcome.Departures);
            Assert.False(outcome.Results["lobby/old-member"]);
            Assert.True(outcome.Results["lobby/came-back"]);
            Assert.True(outcome.Results["lobby/two-tabs#1"] ^ outcome.Results["lobby/two-tabs#2"]); // exactly one tab made it
            Assert.True(outcome.Results["lobby/both-rooms"] && outcome.Results["quiet/both-rooms"]);
            Assert.True(outcome.Results["lobby/张伟"] && outcome.Results["quiet/bot"]);
            Assert.False(outcome.Results["lobby/張伟-again"]);
            Assert.Equal(
            [
                ("lobby", "both-rooms"), ("lobby", "came-back"), ("lobby", "two-tabs"), ("lobby", "张伟"),
                ("quiet", "bot"), ("quiet", "both-rooms"),
            ], outcome.Announced);
            Assert.True(outcome.CacheKnowsEveryMember);
        }
        Assert.Equal(ef.Rows, sql.Rows);
    }

    [Fact]
    public async Task A_thousand_first_joins_at_once_make_a_thousand_rows_and_announce_each_once()
    {
        await using var h = await CoreHarness.StartAsync();
        var room = await h.CreateRoomAsync("busy");
        var users = new List<UserRef>();
        await using (var db = await h.Db())
        {
            var rows = Enumerable.Range(0, 1000).Select(i => new ChatUser
            {
                Name = $"bot-{i}", NormalizedName = $"bot-{i}", Kind = UserKind.Bot, CreatedAt = Now, SecurityStamp = $"s{i}",
            }).ToList();
            db.Users.AddRange(rows);
            await db.SaveChangesAsync();
            users.AddRange(rows.Select(u => new UserRef(u.Id, u.Name, u.Kind)));
        }
        var rooms = h.Services.GetRequiredService<ChatRooms>();
        var subscriber = new RecordingSubscriber();
        using var _ = h.Services.GetRequiredService<LocalFanout>().SubscribeRoom(room.Id, subscriber);

        // Each user twice at once (a bot and its second connection), all in parallel.
        var results = await Task.WhenAll(users.Concat(users).Select(u => Task.Run(() => rooms.EnsureMemberAsync(room.Id, u))));

        Assert.Equal(1000, results.Count(made => made));
        await using var read = await h.Db();
        Assert.Equal(1000, await read.RoomMembers.CountAsync(m => m.RoomId == room.Id));
        var added = await subscriber.WaitForAsync<MemberAdded>(1000);
        Assert.Equal(1000, added.Select(a => a.User.Id).Distinct().Count());
        Assert.All(users, u => Assert.False(rooms.EnsureMemberAsync(room.Id, u).Result));
    }
}
