using ChatPortal.Chat;

namespace ChatPortal.Cluster;

/// <summary>
/// The other nodes' users per room, as this node last heard it: from their presence events
/// (immediate) and their presence snapshots in Redis (every heartbeat, which also tells that a
/// node is still alive). Every change is numbered by its node, so an older snapshot never undoes
/// a newer event.
/// </summary>
public sealed class RemotePresenceCache(TimeProvider time) : IRemotePresence
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, NodePresence> _nodes = [];

    private sealed class NodePresence
    {
        public long Seq;
        public DateTimeOffset HeardAt;
        public Dictionary<long, Dictionary<long, UserRef>> Rooms = [];
    }

    /// <summary>What one node's snapshot says (room id → users).</summary>
    public sealed record Snapshot(string Node, long Seq, Dictionary<long, UserRef[]> Rooms);

    /// <summary>A user came or went in a room, as seen from the merged list.</summary>
    public readonly record struct Change(long RoomId, UserRef User, bool Joined);

    public IEnumerable<UserRef> Online(long roomId)
    {
        lock (_gate)
        {
            return _nodes.Values.SelectMany(n => n.Rooms.TryGetValue(roomId, out var users) ? users.Values : Enumerable.Empty<UserRef>())
                .DistinctBy(u => u.Id).ToList();
        }
    }

    public bool IsOnline(long roomId, long userId)
    {
        lock (_gate) return _nodes.Values.Any(n => n.Rooms.TryGetValue(roomId, out var users) && users.ContainsKey(userId));
    }

    public IEnumerable<long> OnlineUserIds()
    {
        lock (_gate) return _nodes.Values.SelectMany(n => n.Rooms.Values.SelectMany(u => u.Keys)).Distinct().ToList();
    }

    /// <summary>On how many other nodes the user is in the room.</summary>
    public int Sources(long roomId, long userId)
    {
        lock (_gate) return _nodes.Values.Count(n => n.Rooms.TryGetValue(roomId, out var users) && users.ContainsKey(userId));
    }

    public IReadOnlyList<string> Nodes()
    {
        lock (_gate) return _nodes.Keys.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Applies one node's presence event; returns false when it is older than what is known.</summary>
    public bool Apply(string node, long seq, long roomId, UserRef user, bool joined)
    {
        lock (_gate)
        {
            var n = NodeFor(node);
            if (seq <= n.Seq) return false;
            n.Seq = seq;
            n.HeardAt = time.GetUtcNow();
            if (joined)
            {
                if (!n.Rooms.TryGetValue(roomId, out var users)) n.Rooms[roomId] = users = [];
                users[user.Id] = user;
            }
            else if (n.Rooms.TryGetValue(roomId, out var users))
            {
                users.Remove(user.Id);
                if (users.Count == 0) n.Rooms.Remove(roomId);
            }
            return true;
        }
    }

    /// <summary>
    /// Replaces what is known from the nodes' snapshots and forgets nodes not among them (gone or
    /// silent for longer than the TTL). Returns the per-node differences; the caller decides
    /// which of them change the merged list.
    /// </summary>
    public IReadOnlyList<Change> ApplySnapshots(IReadOnlyCollection<Snapshot> alive)
    {
        var changes = new List<Change>();
        lock (_gate)
        {
            var now = time.GetUtcNow();
            foreach (var s in alive)
            {
                var n = NodeFor(s.Node);
                n.HeardAt = now;
                if (s.Seq < n.Seq) continue; // an event newer than this snapshot already arrived
                n.Seq = s.Seq;
                var next = s.Rooms.ToDictionary(r => r.Key, r => r.Value.ToDictionary(u => u.Id));
                Diff(n.Rooms, next, changes);
                n.Rooms = next;
            }
            var aliveNames = alive.Select(s => s.Node).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _nodes.Keys.Where(k => !aliveNames.Contains(k)).ToList())
            {
                Diff(_nodes[gone].Rooms, [], changes);
                _nodes.Remove(gone);
            }
        }
        return changes;
    }

    /// <summary>Forgets nodes not heard from within <paramref name="ttl"/> (Redis is unreachable, so nothing refreshes them).</summary>
    public IReadOnlyList<Change> ExpireOlderThan(TimeSpan ttl)
    {
        var changes = new List<Change>();
        lock (_gate)
        {
            var cutoff = time.GetUtcNow() - ttl;
            foreach (var (name, n) in _nodes.Where(kv => kv.Value.HeardAt < cutoff).ToList())
            {
                Diff(n.Rooms, [], changes);
                _nodes.Remove(name);
            }
        }
        return changes;
    }

    private NodePresence NodeFor(string node)
    {
        if (!_nodes.TryGetValue(node, out var n)) _nodes[node] = n = new NodePresence { HeardAt = time.GetUtcNow() };
        return n;
    }

    private static void Diff(Dictionary<long, Dictionary<long, UserRef>> before, Dictionary<long, Dictionary<long, UserRef>> after,
        List<Change> changes)
    {
        foreach (var (room, users) in before)
        {
            after.TryGetValue(room, out var now);
            foreach (var u in users.Values.Where(u => now is null || !now.ContainsKey(u.Id)))
                changes.Add(new Change(room, u, Joined: false));
        }
        foreach (var (room, users) in after)
        {
            before.TryGetValue(room, out var was);
            foreach (var u in users.Values.Where(u => was is null || !was.ContainsKey(u.Id)))
                changes.Add(new Change(room, u, Joined: true));
        }
    }
}
