using System.Collections.Concurrent;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>
/// Per room, the JSON of the online list the last join carried. <see cref="PresenceTracker.OnlineFirst"/> hands every
/// join the same list while nobody comes or goes within it, so a burst of joins writes it once instead of once per
/// join. Besides the list itself, a stamp per user (the v1 format's profile card) must be the same object as when it
/// was written; a changed profile writes the list anew. Only lists of <see cref="KeepFrom"/> users or more are kept:
/// a short list is cheap to write, and direct conversations and small rooms (most rooms) then keep nothing here.
/// </summary>
internal sealed class OnlineListJson(Func<long, object?>? stampOf = null)
{
    public const int KeepFrom = 8;

    private readonly ConcurrentDictionary<long, Kept> _rooms = new();

    private sealed record Kept(IReadOnlyList<UserRef> Users, object?[] Stamps, UserListJson Json);

    public UserListJson Get(long roomId, IReadOnlyList<UserRef> users, Func<IReadOnlyList<UserRef>, byte[]> write)
    {
        if (users.Count < KeepFrom)
        {
            _rooms.TryRemove(roomId, out _);
            return new UserListJson(write(users));
        }
        if (_rooms.TryGetValue(roomId, out var kept) && ReferenceEquals(kept.Users, users) && Unchanged(kept)) return kept.Json;
        // Stamps first: a profile changing while the list is written makes the next join write it again.
        var stamps = stampOf is null ? [] : users.Select(u => stampOf(u.Id)).ToArray();
        var json = new UserListJson(write(users));
        _rooms[roomId] = new Kept(users, stamps, json);
        return json;
    }

    private bool Unchanged(Kept kept)
    {
        for (var i = 0; i < kept.Stamps.Length; i++)
        {
            if (!ReferenceEquals(kept.Stamps[i], stampOf!(kept.Users[i].Id))) return false;
        }
        return true;
    }
}
