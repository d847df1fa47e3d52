using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: "joins and leaves of a busy room must not cost O(room size) work per event" — membership too. A thousand
/// bots connecting for the first time each become a member of the lobby; with every first join delivered to every session
/// in the room that was O(N²) deliveries (sockets got them only to drop them). Above <c>Chat:PresenceAnnounceUpTo</c>
/// sessions of a node in a room, the room's sessions get one <see cref="MembershipSummary"/> per interval instead; the
/// new member's own sessions still get their <see cref="MemberAdded"/>, and the caches still learn of every change.
/// </summary>
public sealed class MembershipDigestTests
{
    [Fact]
    public async Task A_busy_rooms_first_joins_and_removals_reach_its_sessions_as_one_summary_per_interval()
    {
        // A long interval: the test flushes the digest itself, so it knows what one summary holds.
        await using var core = await CoreHarness.StartAsync(settings: new()
        {
            ["Chat:PresenceAnnounceUpTo"] = "3",
            ["Chat:PresenceSummaryInterval"] = "01:00:00",
        });
        var digest = core.Services.GetRequiredService<PresenceDigest>();
        var lobby = (await core.Rooms.GetDefaultAsync())!;
        var quiet = await core.CreateRoomAsync("quiet");

        var inLobby = Enumerable.Range(0, 5).Select(_ => new RecordingSubscriber()).ToList(); // five sessions: busy
        var inQuiet = Enumerable.Range(0, 2).Select(_ => new RecordingSubscriber()).ToList(); // two: quiet
        var leases = inLobby.Select(s => core.Fanout.SubscribeRoom(lobby.Id, s))
            .Concat(inQuiet.Select(s => core.Fanout.SubscribeRoom(quiet.Id, s))).ToList();
        var newcomers = new List<UserRef>();
        for (var i = 0; i < 12; i++) newcomers.Add(await core.CreateUserAsync($"新人{i:00}"));
        var own = new RecordingSubscriber(); // the first newcomer's own tab
        leases.Add(core.Fanout.SubscribeUser(newcomers[0].Id, own));
        try
        {
            foreach (var u in newcomers) Assert.True(await core.Rooms.EnsureMemberAsync(lobby.Id, u));
            foreach (var u in newcomers.Take(2)) Assert.True(await core.Rooms.EnsureMemberAsync(quiet.Id, u));

            // The busy room's sessions got none of the twelve; the quiet room's got both, one by one.
            Assert.All(inLobby, s => Assert.Empty(s.Events.OfType<MemberAdded>()));
            Assert.All(inQuiet, s => Assert.Equal(newcomers.Take(2).Select(u => u.Id), s.Events.OfType<MemberAdded>().Select(m => m.User.Id)));
            // The newcomer's own sessions heard of their new room, and the membership cache knows every member.
            Assert.Contains(own.Events.OfType<MemberAdded>(), m => m.RoomId == lobby.Id);
            Assert.All(newcomers, u => Assert.True(core.Rooms.Directory.IsKnownMember(lobby.Id, u.Id)));

            // One summary: the first ten named in order of joining, all twelve counted; the quiet room has none.
            digest.Flush();
            foreach (var s in inLobby)
            {
                var summary = Assert.Single(s.Events.OfType<MembershipSummary>());
                Assert.Equal(lobby.Id, summary.RoomId);
                Assert.Equal(newcomers.Take(MembershipChanges.Named).Select(u => u.Name), summary.Joined.Select(u => u.Name));
                Assert.Equal(12, summary.JoinedCount);
                Assert.Empty(summary.Left);
                Assert.Equal(0, summary.LeftCount);
            }
            Assert.All(inQuiet, s => Assert.Empty(s.Events.OfType<MembershipSummary>()));
            digest.Flush(); // nothing changed since: no second summary
            Assert.All(inLobby, s => Assert.Single(s.Events.OfType<MembershipSummary>()));

            // Removals the same way.
            Assert.True(await core.Rooms.RemoveMemberAsync(lobby.Id, newcomers[3].Id));
            Assert.True(await core.Rooms.RemoveMemberAsync(lobby.Id, newcomers[5].Id));
            Assert.All(inLobby, s => Assert.Empty(s.Events.OfType<MemberRemoved>()));
            Assert.False(core.Rooms.Directory.IsKnownMember(lobby.Id, newcomers[3].Id));
            digest.Flush();
            foreach (var s in inLobby)
            {
                var second = s.Events.OfType<MembershipSummary>().Last();
                Assert.Equal([newcomers[3].Name, newcomers[5].Name], second.Left.Select(u => u.Name));
                Assert.Equal(2, second.LeftCount);
                Assert.Equal(0, second.JoinedCount);
            }

            // Back to quiet (sessions gone): changes come one by one again.
            foreach (var lease in leases.Take(3)) lease.Dispose();
            Assert.True(await core.Rooms.EnsureMemberAsync(lobby.Id, newcomers[3]));
            Assert.All(inLobby.Skip(3), s => Assert.Equal(newcomers[3].Id, Assert.Single(s.Events.OfType<MemberAdded>()).User.Id));
        }
        finally
        {
            foreach (var lease in leases) lease.Dispose();
        }
    }

    [Fact]
    public void A_summary_names_the_first_and_counts_all_and_a_taken_set_refuses_more()
    {
        var changes = new MembershipChanges();
        var users = Enumerable.Range(1, MembershipChanges.Named + 5).Select(i => new UserRef(i, $"u{i}", UserKind.Member)).ToList();
        foreach (var u in users) Assert.True(changes.Add(u, joined: true));
        Assert.True(changes.Add(users[0], joined: false)); // joined and left within one interval: both are told
        var summary = changes.Close(7);
        Assert.Equal(users.Take(MembershipChanges.Named), summary.Joined);
        Assert.Equal(users.Count, summary.JoinedCount);
        Assert.Equal([users[0]], summary.Left);
        Assert.Equal(1, summary.LeftCount);
        // The digest took it: a change arriving now must go into a new set (the fan-out makes one), not be lost.
        Assert.False(changes.Add(users[1], joined: true));
    }
}
