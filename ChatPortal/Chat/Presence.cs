namespace ChatPortal.Chat;

/// <summary>
/// Who is online in which room on this node, counted per connection (tab, socket) so that
/// join and leave are announced once per user, not once per tab.
/// </summary>
public sealed class PresenceTracker(IChatBackplane backplane)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Dictionary<long, (UserRef User, int Connections)>> _rooms = [];

    /// <summary>Marks one more connection of the user in the room; dispose it to leave.</summary>
    public IDisposable Enter(long roomId, UserRef user)
    {
        bool first;
        lock (_gate)
        {
            if (!_rooms.TryGetValue(roomId, out var users))
                _rooms[roomId] = users = [];
            users.TryGetValue(user.Id, out var entry);
            first = entry.Connections == 0;
            users[user.Id] = (user, entry.Connections + 1);
        }
        if (first) backplane.Publish(new PresenceChanged(roomId, user, Joined: true));
        return new Lease(this, roomId, user);
    }

    private void Leave(long roomId, UserRef user)
    {
        var last = false;
        lock (_gate)
        {
            if (_rooms.TryGetValue(roomId, out var users) && users.TryGetValue(user.Id, out var entry))
            {
                if (entry.Connections <= 1)
                {
                    users.Remove(user.Id);
                    if (users.Count == 0) _rooms.Remove(roomId);
                    last = true;
                }
                else
                {
                    users[user.Id] = (entry.User, entry.Connections - 1);
                }
            }
        }
        if (last) backplane.Publish(new PresenceChanged(roomId, user, Joined: false));
    }

    public IReadOnlyList<UserRef> Online(long roomId)
    {
        lock (_gate)
        {
            return _rooms.TryGetValue(roomId, out var users)
                ? users.Values.Select(v => v.User).OrderBy(u => u.Name, StringComparer.OrdinalIgnoreCase).ToList()
                : [];
        }
    }

    public bool IsOnline(long roomId, long userId)
    {
        lock (_gate) return _rooms.TryGetValue(roomId, out var users) && users.ContainsKey(userId);
    }

    /// <summary>Distinct users online anywhere on this node.</summary>
    public int OnlineUserCount()
    {
        lock (_gate) return _rooms.Values.SelectMany(u => u.Keys).Distinct().Count();
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

    private sealed class Lease(PresenceTracker owner, long roomId, UserRef user) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Leave(roomId, user);
        }
    }
}
