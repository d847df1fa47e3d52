using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// A room's online list is kept in order as users come and go (a join copies it instead of sorting the
/// whole room): it must read exactly as sorting would, through joins, second connections, renames and leaves.
/// </summary>
public sealed class PresenceListTests
{
    private static UserRef U(long id, string name) => new(id, name, UserKind.Member);

    [Fact]
    public void The_online_list_stays_sorted_by_name_then_id_through_joins_renames_and_leaves()
    {
        var presence = new PresenceTracker();
        var announced = new List<ChatEvent>();
        var random = new Random(7);
        var leases = new List<(IDisposable Lease, UserRef User)>();
        var latest = new Dictionary<long, UserRef>(); // the name of a user's latest connection is the one shown
        string[] names = ["bob", "Alice", "alice", "张三", "李四", "zed", "Émile", "游客123456", "carol", "Bob"];
        for (var i = 0; i < 400; i++)
        {
            if (leases.Count > 0 && random.Next(3) == 0)
            {
                var at = random.Next(leases.Count);
                var gone = leases[at];
                gone.Lease.Dispose();
                leases.RemoveAt(at);
                if (!leases.Any(l => l.User.Id == gone.User.Id)) latest.Remove(gone.User.Id);
            }
            else
            {
                var id = random.Next(1, 40);
                // Most connections reuse the user's current name; some come back renamed.
                var current = latest.GetValueOrDefault(id);
                var user = current is not null && random.Next(5) > 0 ? U(id, current.Name) : U(id, names[random.Next(names.Length)] + id % 3);
                leases.Add((presence.Enter(1, user, announced.Add), user));
                latest[id] = user;
            }

            // What sorting the latest name of every user with a connection gives.
            var expected = latest.Values
                .OrderBy(u => u.Name, StringComparer.OrdinalIgnoreCase).ThenBy(u => u.Id).ToList();
            Assert.Equal(expected, presence.Online(1));
            Assert.Equal(expected.Count, presence.Count(1));
        }
        foreach (var (lease, _) in leases) lease.Dispose();
        Assert.Empty(presence.Online(1));
        Assert.Equal(announced.OfType<PresenceChanged>().Count(p => p.Joined), announced.OfType<PresenceChanged>().Count(p => !p.Joined));
    }
}
