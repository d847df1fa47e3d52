namespace ChatPortal.Chat;

/// <summary>Who is online on the other nodes of a cluster (kept by the backplane).</summary>
public interface IRemotePresence
{
    IEnumerable<UserRef> Online(long roomId);
    bool IsOnline(long roomId, long userId);
    IEnumerable<long> OnlineUserIds();
}

/// <summary>
/// Who is online in which room on this node, counted per connection (tab, socket) so that
/// join and leave are announced once per user, not once per tab. With a cluster backplane the
/// lists also include the users of the other nodes (<see cref="IRemotePresence"/>).
/// </summary>
public sealed class PresenceTracker(IRemotePresence? remote = null)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Dictionary<long, (UserRef User, int Connections)>> _rooms = [];
    // Each room's users kept in list order (name, then id) as they come and go: a join's online list
    // is then a copy, not a sort of the whole room per join (issue 19: N joins sorted N lists).
    private readonly Dictionary<long, List<UserRef>> _sorted = [];
    // Each room's last answer to OnlineFirst, kept until a user comes or goes within its first Max places: joins
    // then share one list (and the sockets' serialized copy of it, OnlineListJson, in both socket formats) instead of a copy each.
    private readonly Dictionary<long, (int Max, UserRef[] First)> _first = [];

    /// <summary>The online list's order: name (case-insensitive), then id.</summary>
    private static readonly Comparer<UserRef> ListOrder = Comparer<UserRef>.Create((a, b) =>
    {
        var byName = StringComparer.OrdinalIgnoreCase.Compare(a.Name, b.Name);
        return byName != 0 ? byName : a.Id.CompareTo(b.Id);
    });

    private void Insert(long roomId, UserRef user)
    {
        if (!_sorted.TryGetValue(roomId, out var list)) _sorted[roomId] = list = [];
        var at = list.BinarySearch(user, ListOrder);
        if (at < 0) at = ~at;
        list.Insert(at, user);
        Moved(roomId, at);
    }

    /// <summary>The room's online list changed at <paramref name="at"/>: a kept first part that reaches it is out of date.</summary>
    private void Moved(long roomId, int at)
    {
        if (_first.TryGetValue(roomId, out var first) && at < first.Max) _first.Remove(roomId);
    }

    private void Remove(long roomId, UserRef user)
    {
        if (!_sorted.TryGetValue(roomId, out var list)) return;
        var at = list.BinarySearch(user, ListOrder);
        if (at >= 0)
        {
            list.RemoveAt(at);
            Moved(roomId, at);
        }
        if (list.Count == 0) _sorted.Remove(roomId);
    }

    /// <summary>
    /// Marks one more connection of the user in the room; dispose it to leave. The user's first
    /// connection in the room, and later their last one leaving, is announced through <paramref name="announce"/>.
    /// </summary>
    public IDisposable Enter(long roomId, UserRef user, Action<ChatEvent> announce)
    {
        bool first;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(roomId, out var users))
                _rooms[roomId] = users = [];
            users.TryGetValue(user.Id, out var entry);
            first = entry.Connections == 0;
            users[user.Id] = (user, entry.Connections + 1);
            if (first) Insert(roomId, user);
            else if (!ReferenceEquals(entry.User, user))
            {
                // Another connection of the user, perhaps under a new name (renamed meanwhile): the list shows the latest.
                Remove(roomId, entry.User);
                Insert(roomId, user);
            }
        }
        if (first) announce(new PresenceChanged(roomId, user, Joined: true));
        return new Lease(this, roomId, user, announce);
    }

    private void Leave(long roomId, UserRef user, Action<ChatEvent> announce)
    {
        var last = false;
        lock (_gate)
        {
            if (_rooms.TryGetValue(roomId, out var users) && users.TryGetValue(user.Id, out var entry))
            {
                if (entry.Connections <= 1)
                {
                    users.Remove(user.Id);
                    Remove(roomId, entry.User);
                    if (users.Count == 0) _rooms.Remove(roomId);
                    last = true;
                }
                else
                {
                    users[user.Id] = (entry.User, entry.Connections - 1);
                }
            }
        }
        if (last) announce(new PresenceChanged(roomId, user, Joined: false));
    }

    public IReadOnlyList<UserRef> Online(long roomId)
    {
        UserRef[] local;
        lock (_gate)
        {
            local = _sorted.TryGetValue(roomId, out var list) ? list.ToArray() : [];
        }
        if (remote is null) return local;
        return local.Concat(remote.Online(roomId)).DistinctBy(u => u.Id).Order(ListOrder).ToList();
    }

    /// <summary>
    /// The first <paramref name="max"/> users of the room's online list (its order) and how many are
    /// online in all: what a socket's join carries, O(max) however busy the room (issue 19: a join
    /// must not cost O(room size)). In a cluster the other nodes' users are merged in first.
    /// </summary>
    public (IReadOnlyList<UserRef> First, int Total) OnlineFirst(long roomId, int max)
    {
        if (remote is not null)
        {
            var all = Online(roomId);
            return (all.Count <= max ? all : all.Take(max).ToArray(), all.Count);
        }
        lock (_gate)
        {
            if (!_sorted.TryGetValue(roomId, out var list)) return ([], 0);
            // The same list for every join until someone comes or goes within it (a join sorting after it keeps it).
            if (_first.TryGetValue(roomId, out var kept) && kept.Max == max) return (kept.First, list.Count);
            var first = list.GetRange(0, Math.Min(max, list.Count)).ToArray();
            _first[roomId] = (max, first);
            return (first, list.Count);
        }
    }

    /// <summary>How many users are online in the room (this node and, in a cluster, the others).</summary>
    public int Count(long roomId)
    {
        if (remote is null)
        {
            lock (_gate) return _rooms.TryGetValue(roomId, out var users) ? users.Count : 0;
        }
        return Online(roomId).Count;
    }

    public bool IsOnline(long roomId, long userId) => IsOnlineHere(roomId, userId) || (remote?.IsOnline(roomId, userId) ?? false);

    /// <summary>Whether the user has a connection in the room on this node.</summary>
    public bool IsOnlineHere(long roomId, long userId)
    {
        lock (_gate) return _rooms.TryGetValue(roomId, out var users) && users.ContainsKey(userId);
    }

    /// <summary>Distinct users online anywhere (this node and, in a cluster, the others).</summary>
    public int OnlineUserCount()
    {
        List<long> local;
        lock (_gate) local = _rooms.Values.SelectMany(u => u.Keys).ToList();
        return (remote is null ? local : local.Concat(remote.OnlineUserIds())).Distinct().Count();
    }

    /// <summary>This node's own users per room (a cluster backplane shares it with the other nodes).</summary>
    public IReadOnlyDictionary<long, UserRef[]> LocalSnapshot()
    {
        lock (_gate) return _rooms.ToDictionary(r => r.Key, r => r.Value.Values.Select(v => v.User).ToArray());
    }

    /// <summary>Ids of the users online anywhere on this node.</summary>
    public IReadOnlySet<long> OnlineUserIds()
    {
        lock (_gate) return _rooms.Values.SelectMany(u => u.Keys).ToHashSet();
    }

    /// <summary>Rooms the user is online in on this node.</summary>
    public IReadOnlyList<long> RoomsOf(long userId)
    {
        lock (_gate) return _rooms.Where(r => r.Value.ContainsKey(userId)).Select(r => r.Key).ToList();
    }

    private sealed class Lease(PresenceTracker owner, long roomId, UserRef user, Action<ChatEvent> announce) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Leave(roomId, user, announce);
        }
    }
}
