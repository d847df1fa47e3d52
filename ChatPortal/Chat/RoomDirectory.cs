using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

/// <summary>
/// Rooms and memberships as the hot paths read them, cached, and the one rule of who may read a
/// room. The cache changes only through room and membership events — applied here before they are
/// delivered, on this node (by <see cref="ChatRooms"/>) and on the others (by <see cref="ClusterEventHandler"/>).
/// </summary>
public sealed class RoomDirectory(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time)
{
    private const int MaxCachedMemberships = 100_000;
    private readonly ConcurrentDictionary<long, RoomInfo> _byId = new();
    private readonly ConcurrentDictionary<string, long> _bySlug = new(StringComparer.Ordinal);
    private readonly CountedMap<(long Room, long User), bool> _members = new();
    private readonly CountedMap<long, byte> _deleted = new();
    private readonly ConcurrentDictionary<long, long> _latest = new();
    private long _roomChanges;

    /// <summary>Moves whenever a room's settings change or a room is listed or deleted (here or on another node): lists of rooms kept elsewhere are out of date then.</summary>
    public long RoomChanges => Volatile.Read(ref _roomChanges);

    public async ValueTask<RoomInfo?> GetAsync(long roomId, CancellationToken ct = default)
    {
        if (_byId.TryGetValue(roomId, out var cached)) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Id == roomId, ct);
        return room is null ? null : Remember(RoomInfo.From(room));
    }

    public async ValueTask<RoomInfo?> FindAsync(string slug, CancellationToken ct = default)
    {
        var s = slug.Trim().ToLowerInvariant();
        if (_bySlug.TryGetValue(s, out var id) && _byId.TryGetValue(id, out var cached) && cached.Slug == s) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Slug == s, ct);
        return room is null ? null : Remember(RoomInfo.From(room));
    }

    /// <summary>A room's new settings (this node changed them, or another node said so).</summary>
    public void Apply(RoomInfo room)
    {
        Interlocked.Increment(ref _roomChanges);
        if (_byId.TryGetValue(room.Id, out var old) && old.Slug != room.Slug) _bySlug.TryRemove(old.Slug, out _);
        Remember(room);
    }

    /// <summary>A deleted room: gone from the cache, with its memberships.</summary>
    public void Forget(long roomId)
    {
        Interlocked.Increment(ref _roomChanges);
        _latest.TryRemove(roomId, out _);
        if (_byId.TryRemove(roomId, out var old)) _bySlug.TryRemove(old.Slug, out _);
        foreach (var (key, _) in _members)
            if (key.Room == roomId) _members.TryRemove(key, out _);
    }

    /// <summary>A room deleted here or on another node: its writes are refused from now on.</summary>
    public void MarkDeleted(long roomId)
    {
        if (_deleted.Count >= 10_000) _deleted.Clear(); // old deletions: their rooms' caches are long gone
        _deleted.Set(roomId, 0);
        Forget(roomId);
    }

    public bool IsDeleted(long roomId) => _deleted.ContainsKey(roomId);

    /// <summary>
    /// The newest stored id of a room as far as this node has seen: every stored event of this node or
    /// another passes the fan-out (<see cref="Apply(ChatEvent)"/>) before anyone gets it, and ids only grow,
    /// so a join that reads this after subscribing gets everything newer live. Null until the room's
    /// first event or <see cref="NoteStored"/> from the database.
    /// </summary>
    public long? LatestStoredId(long roomId) => _latest.TryGetValue(roomId, out var id) ? id : null;

    public void NoteStored(long roomId, long id) => _latest.AddOrUpdate(roomId, id, (_, old) => Math.Max(old, id));

    /// <summary>
    /// Applies what a room or membership event changes in the cache; the fan-out calls it before it
    /// delivers the event, for events of this node and of the others alike.
    /// </summary>
    public void Apply(ChatEvent evt)
    {
        if (ChatEvents.StoredId(evt) is > 0 and var stored) NoteStored(evt.RoomId, stored);
        switch (evt)
        {
            case RoomChanged rc: Apply(rc.Room); break;
            case RoomListed rl: Apply(rl.Room); break;
            case RoomDeleted d: MarkDeleted(d.RoomId); break;
            case MemberAdded m: SetMember(m.RoomId, m.User.Id, true); break;
            case MemberRemoved m: SetMember(m.RoomId, m.User.Id, false); break;
        }
    }

    public void SetMember(long roomId, long userId, bool member)
    {
        if (_members.Count >= MaxCachedMemberships) _members.Clear(); // a cache: read again when needed
        _members.Set((roomId, userId), member);
    }

    /// <summary>True when the membership cache holds the user as a member (no database read).</summary>
    public bool IsKnownMember(long roomId, long userId) => _members.TryGetValue((roomId, userId), out var known) && known;

    public async ValueTask<bool> IsMemberAsync(long roomId, long userId, CancellationToken ct = default)
    {
        if (_members.TryGetValue((roomId, userId), out var known)) return known;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var member = await db.RoomMembers.AnyAsync(m => m.RoomId == roomId && m.UserId == userId, ct);
        SetMember(roomId, userId, member);
        return member;
    }

    /// <summary>
    /// Whether the user may read the room (join it, catch up, page its history, search it, be sent
    /// its events); null when they may, else why not. A room the user may not know about answers
    /// <c>not_found</c>, exactly as a room that does not exist, so private rooms do not show.
    /// </summary>
    public async ValueTask<ChatError?> CheckReadAsync(UserRef user, RoomInfo room, CancellationToken ct = default)
    {
        var state = await users.GetAsync(user.Id, ct);
        if (state is null) return ChatError.NotFound("The room");
        if (state.Banned) return ChatError.Banned;
        if (!await IsVisibleAsync(user, room, ct)) return ChatError.NotFound("The room");
        if (room.IsArchived) return ChatError.Archived;
        return null;
    }

    /// <summary>Whether the user may post in the room now (read access, not muted, not archived).</summary>
    public async ValueTask<ChatError?> CheckPostAsync(UserRef user, RoomInfo room, CancellationToken ct = default)
    {
        if (await CheckReadAsync(user, room, ct) is { } denied) return denied;
        var state = await users.GetAsync(user.Id, ct);
        return state!.IsMuted(time.GetUtcNow()) ? ChatError.Muted : null;
    }

    /// <summary>The membership rule alone (no ban, no archive): public rooms for members, guest rooms for guests, private ones for their members.</summary>
    public async ValueTask<bool> IsVisibleAsync(UserRef user, RoomInfo room, CancellationToken ct = default)
    {
        if (user.IsGuest) return IsGuestRoom(room);
        if (!room.IsPrivate && !room.IsDirect) return true;
        return await IsMemberAsync(room.Id, user.Id, ct);
    }

    /// <summary>Guests may read public rooms that allow them (never private rooms or direct conversations).</summary>
    public static bool IsGuestRoom(RoomInfo room) => room.AllowGuests && !room.IsPrivate && !room.IsDirect;

    private RoomInfo Remember(RoomInfo room)
    {
        _byId[room.Id] = room;
        _bySlug[room.Slug] = room.Id;
        return room;
    }
}
