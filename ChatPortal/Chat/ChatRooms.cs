using System.Security.Cryptography;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>What a room is made or changed into (the back office's form, checked there).</summary>
public sealed record RoomSpec(string Slug, string Name, string? Topic, bool IsPrivate, bool AllowGuests, bool IsArchived);

/// <summary>
/// Rooms, membership and direct conversations: the only code that writes them. Every change is a
/// core event (<see cref="RoomChanged"/>, <see cref="RoomDeleted"/>, <see cref="MemberAdded"/>,
/// <see cref="MemberRemoved"/>) that goes through the backplane like a message, so every session on
/// every node applies it; the call returns once the event has left this node, so whatever the caller
/// does next (a post, say) is ordered after it everywhere.
/// </summary>
public sealed class ChatRooms(IDbContextFactory<ChatDbContext> dbFactory, RoomDirectory directory, UserDirectory users,
    MessageWriter writer, IChatBackplane backplane, IOptions<ChatOptions> options, TimeProvider time, SqliteReads? reads = null) : IDisposable
{
    private readonly ChatOptions _options = options.Value;

    // Made on first use (its announcements are this class's); a second one made in a race is dropped unused.
    private MemberWrites Members => LazyInitializer.EnsureInitialized(ref _members, () => new MemberWrites(dbFactory, directory, time, AnnounceAsync));
    private MemberWrites? _members;

    public void Dispose() => _members?.Dispose();

    public RoomDirectory Directory => directory;

    public ValueTask<RoomInfo?> GetAsync(long roomId, CancellationToken ct = default) => directory.GetAsync(roomId, ct);

    public ValueTask<RoomInfo?> FindAsync(string slug, CancellationToken ct = default) => directory.FindAsync(slug, ct);

    public ValueTask<RoomInfo?> GetDefaultAsync(CancellationToken ct = default) => directory.FindAsync(_options.DefaultRoomSlug, ct);

    public bool IsDefault(RoomInfo room) => room.Slug == _options.DefaultRoomSlug.Trim().ToLowerInvariant();

    public static string NewInviteCode() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    // ---------------------------------------------------------------- a user opens rooms

    /// <summary>
    /// Opens a room for a user by slug or id: checks that they may read it, and records membership of
    /// public rooms (unread counts start there). Returns the room or a coded error.
    /// </summary>
    public async Task<ChatResult<RoomInfo>> OpenAsync(UserRef user, RoomInfo? room, CancellationToken ct = default)
    {
        if (room is null) return ChatError.NotFound("The room");
        if (await directory.CheckReadAsync(user, room, ct) is { } denied) return denied;
        if (!user.IsGuest && !room.IsDirect) await EnsureMemberAsync(room.Id, user, ct);
        return room;
    }

    public async Task<ChatResult<RoomInfo>> OpenAsync(UserRef user, string slug, CancellationToken ct = default) =>
        await OpenAsync(user, await directory.FindAsync(slug, ct), ct);

    /// <summary>Joins a private room by its invite code.</summary>
    public async Task<ChatResult<RoomInfo>> JoinByInviteAsync(UserRef user, string inviteCode, CancellationToken ct = default)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.InviteCode == inviteCode && !r.IsDirect, ct);
        if (row is null) return ChatError.NotFound("The invitation");
        if (row.IsArchived) return ChatError.Archived;
        await EnsureMemberAsync(row.Id, user, ct);
        return RoomInfo.From(row);
    }

    /// <summary>Rooms shown in a user's drawer: open public rooms (but those they left) and the private ones they belong to.</summary>
    public async Task<IReadOnlyList<RoomInfo>> ListAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await ListAsync(db, user, ct);
    }

    private async Task<IReadOnlyList<RoomInfo>> ListAsync(ChatDbContext db, UserRef user, CancellationToken ct)
    {
        var rooms = new List<RoomInfo>();
        await foreach (var r in _drawerRooms(db, user.Id, user.IsGuest).WithCancellation(ct)) rooms.Add(RoomInfo.From(r));
        return rooms;
    }

    // Compiled once per instance (per host, so per database provider): every socket's welcome lists the user's rooms (issue 19: EF's per-query expression
    // work was a tenth of a token connect's CPU).
    private readonly Func<ChatDbContext, long, bool, IAsyncEnumerable<Room>> _drawerRooms =
        EF.CompileAsyncQuery<ChatDbContext, long, bool, Room>((db, userId, guest) => db.Rooms.AsNoTracking()
            .Where(r => !r.IsDirect && !r.IsArchived
                && (!r.IsPrivate || db.RoomMembers.Any(m => m.UserId == userId && m.RoomId == r.Id))
                && !db.RoomDepartures.Any(d => d.UserId == userId && d.RoomId == r.Id)
                && (!guest || r.AllowGuests))
            .OrderBy(r => r.Id));

    private readonly Func<ChatDbContext, long, IAsyncEnumerable<DirectRow>> _directRooms =
        EF.CompileAsyncQuery((ChatDbContext db, long me) =>
            from mine in db.RoomMembers
            where mine.UserId == me
            join room in db.Rooms on mine.RoomId equals room.Id
            where room.IsDirect
            join theirs in db.RoomMembers on room.Id equals theirs.RoomId
            where theirs.UserId != me
            join u in db.Users on theirs.UserId equals u.Id
            select new DirectRow(room, u.Id, u.Name, u.Kind));

    private sealed record DirectRow(Room Room, long Id, string Name, UserKind Kind);

    /// <summary>Ids of the rooms a user may read (search), by the rule of <see cref="RoomDirectory.CheckReadAsync"/>.</summary>
    public async Task<List<long>> ReadableIdsAsync(UserRef user, CancellationToken ct = default)
    {
        if ((await users.GetAsync(user.Id, ct)) is not { Banned: false }) return [];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (user.IsGuest)
            return await db.Rooms.Where(r => r.AllowGuests && !r.IsPrivate && !r.IsDirect && !r.IsArchived).Select(r => r.Id).ToListAsync(ct);
        var memberOf = db.RoomMembers.Where(m => m.UserId == user.Id).Select(m => m.RoomId);
        return await db.Rooms.Where(r => !r.IsArchived && ((!r.IsPrivate && !r.IsDirect) || memberOf.Contains(r.Id))).Select(r => r.Id).ToListAsync(ct);
    }

    // ---------------------------------------------------------------- membership

    /// <summary>Makes the user a member (no-op when they are); true when they were not before.</summary>
    public async Task<bool> EnsureMemberAsync(long roomId, UserRef user, CancellationToken ct = default)
    {
        // Known a member (the directory's membership cache, kept by MemberAdded/MemberRemoved): nothing to write.
        if (directory.IsKnownMember(roomId, user.Id)) return false;
        // After a restart the cache is empty and every member's first join asks (a prepared statement on SQLite).
        if (reads is not null && IsMember(reads, roomId, user.Id))
        {
            directory.SetMember(roomId, user.Id, true);
            return false;
        }
        // Not a member: the row is written with the other first joins of the moment, and announced (MemberAdded).
        return await Members.AddAsync(roomId, user, ct);
    }

    private static readonly SqliteReads.Statement IsMemberSql = new(
        "SELECT EXISTS (SELECT 1 FROM RoomMembers WHERE RoomId = $room AND UserId = $user)", "$room", "$user");

    /// <summary>Whether the user is a member of the room, read now (SQLite's prepared path of <see cref="EnsureMemberAsync"/>).</summary>
    internal static bool IsMember(SqliteReads reads, long roomId, long userId) =>
        reads.Read(IsMemberSql, [roomId, userId], r => r.Read() && r.GetBoolean(0));

    /// <summary>
    /// Removes a user from a room's members. In a private room (or a direct conversation) their open
    /// sessions lose the room on every node; the call returns once that is on its way.
    /// </summary>
    public async Task<bool> RemoveMemberAsync(long roomId, long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var removed = await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId).ExecuteDeleteAsync(ct) > 0;
        directory.SetMember(roomId, userId, false);
        if (!removed) return false;
        var user = (await users.GetAsync(userId, ct))?.User ?? new UserRef(userId, "?", UserKind.Member);
        await AnnounceAsync(new MemberRemoved(roomId, user));
        return true;
    }

    /// <summary>A user left a public room they were listed in but not a member of: their tabs drop it from the drawer.</summary>
    public Task AnnounceDepartureAsync(long roomId, UserRef user) => AnnounceAsync(new MemberRemoved(roomId, user));

    /// <summary>
    /// Takes the user out of every room but direct conversations (a deleted account), announcing each
    /// removal so every node's caches and sessions drop the rooms; returns how many.
    /// </summary>
    public async Task<int> RemoveFromAllRoomsAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var roomIds = await (from m in db.RoomMembers
                             where m.UserId == userId
                             join r in db.Rooms on m.RoomId equals r.Id
                             where !r.IsDirect
                             select m.RoomId).ToListAsync(ct);
        var removed = 0;
        foreach (var roomId in roomIds)
        {
            if (await RemoveMemberAsync(roomId, userId, ct)) removed++;
        }
        return removed;
    }

    /// <summary>Members of a room (for @-completion), by name, at most <paramref name="limit"/>; banned users are left out.</summary>
    public async Task<IReadOnlyList<UserRef>> ListMembersAsync(long roomId, int limit = 200, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await (from m in db.RoomMembers
                      where m.RoomId == roomId
                      join u in db.Users on m.UserId equals u.Id
                      where u.BannedAt == null
                      orderby u.Name
                      select new UserRef(u.Id, u.Name, u.Kind)).Take(Math.Clamp(limit, 1, 1000)).ToListAsync(ct);
    }

    /// <summary>Members with the time they joined (the back office's member list).</summary>
    public async Task<IReadOnlyList<(UserRef User, DateTimeOffset JoinedAt)>> MembersSinceAsync(long roomId, int limit = 1000, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await (from m in db.RoomMembers
                          where m.RoomId == roomId
                          join u in db.Users on m.UserId equals u.Id
                          orderby u.Name
                          select new { u.Id, u.Name, u.Kind, m.JoinedAt }).AsNoTracking().Take(limit).ToListAsync(ct);
        return rows.Select(r => (new UserRef(r.Id, r.Name, r.Kind), r.JoinedAt)).ToList();
    }

    /// <summary>The rooms (not direct conversations) a user is a member of, by name.</summary>
    public async Task<IReadOnlyList<RoomInfo>> RoomsOfAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rooms = await (from m in db.RoomMembers
                           where m.UserId == userId
                           join r in db.Rooms on m.RoomId equals r.Id
                           where !r.IsDirect
                           orderby r.Name
                           select r).AsNoTracking().ToListAsync(ct);
        return rooms.Select(RoomInfo.From).ToList();
    }

    // ---------------------------------------------------------------- direct conversations

    /// <summary>Finds or creates the direct conversation between two users.</summary>
    public async Task<ChatResult<DirectConversation>> OpenDirectAsync(UserRef me, string otherName, CancellationToken ct = default)
    {
        if (me.IsGuest) return ChatError.Forbidden;
        var other = await users.FindByNameAsync(otherName, ct);
        if (other is null) return ChatError.NotFound("That user");
        if (other.Id == me.Id) return new ChatError("self", "You cannot start a conversation with yourself.");
        if (other.IsGuest) return new ChatError("guest", "Guests cannot receive direct messages.");
        var slug = DirectSlug(me.Id, other.Id);
        var room = await directory.FindAsync(slug, ct);
        if (room is null)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var now = time.GetUtcNow();
            var entity = new Room { Slug = slug, Name = slug, IsDirect = true, IsPrivate = true, InviteCode = NewInviteCode(), CreatedAt = now };
            db.Rooms.Add(entity);
            var created = false;
            try
            {
                await db.SaveChangesAsync(ct);
                db.RoomMembers.AddRange(
                    new RoomMember { RoomId = entity.Id, UserId = me.Id, JoinedAt = now },
                    new RoomMember { RoomId = entity.Id, UserId = other.Id, JoinedAt = now });
                await db.SaveChangesAsync(ct);
                created = true;
            }
            catch (DbUpdateException)
            {
                // Both sides opened it at once: the other insert won.
            }
            room = await directory.FindAsync(slug, ct);
            if (room is null) return ChatError.StorageFailed;
            if (created)
            {
                directory.SetMember(room.Id, me.Id, true);
                directory.SetMember(room.Id, other.Id, true);
                backplane.Publish(new DirectActivity(room.Id, other, new DirectConversation(room, me), 0));
                // The starter's own tabs list it too (not only the one that opened it, after a reload).
                backplane.Publish(new DirectActivity(room.Id, me, new DirectConversation(room, other), 0));
            }
        }
        else if (await directory.CheckReadAsync(me, room, ct) is { } denied)
        {
            return denied;
        }
        return new DirectConversation(room, other);
    }

    public async Task<IReadOnlyList<DirectConversation>> ListDirectAsync(UserRef me, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await ListDirectAsync(db, me, ct);
    }

    /// <summary>
    /// The drawer of a guest made just now (no memberships, no rooms left yet): the public rooms that allow guests, the
    /// same for every such guest. Read once and kept while no room changes (<see cref="RoomDirectory.RoomChanges"/>) and
    /// for at most <see cref="NewGuestDrawerKeptFor"/> (changes made without an event, such as an import); after a
    /// restart 10,000 guests each read it (issue 19).
    /// </summary>
    public Task<IReadOnlyList<RoomInfo>> ListForNewGuestAsync(CancellationToken ct = default) => _newGuestDrawer.ReadAsync(0).WaitAsync(ct);

    internal static readonly TimeSpan NewGuestDrawerKeptFor = TimeSpan.FromSeconds(5);

    /// <summary>Database reads of the new-guest drawer so far (a test sees them kept).</summary>
    internal long NewGuestDrawerReads => Interlocked.Read(ref _newGuestDrawerReads);
    private long _newGuestDrawerReads;

    private SharedReads<int, IReadOnlyList<RoomInfo>> _newGuestDrawer => LazyInitializer.EnsureInitialized(ref field, () => new(
        async _ =>
        {
            Interlocked.Increment(ref _newGuestDrawerReads);
            await using var db = await dbFactory.CreateDbContextAsync().ConfigureAwait(false);
            // Nobody's id: no memberships and no departures, exactly a new guest's drawer.
            return await ListAsync(db, new UserRef(0, "", UserKind.Guest), CancellationToken.None).ConfigureAwait(false);
        },
        // Both parts only grow: the sum moves when either does.
        _ => directory.RoomChanges + Environment.TickCount64 / (long)NewGuestDrawerKeptFor.TotalMilliseconds));

    /// <summary>A user's drawer: rooms and direct conversations (a socket's welcome), read in one go.</summary>
    public async Task<(IReadOnlyList<RoomInfo> Rooms, IReadOnlyList<DirectConversation> Direct)> ListDrawerAsync(UserRef user, CancellationToken ct = default) =>
        reads is not null ? ListDrawer(reads, user) : await ListDrawerWithEfAsync(user, ct);

    /// <summary>The drawer through EF Core, as PostgreSQL reads it (a test compares it with <see cref="ListDrawer"/>).</summary>
    internal async Task<(IReadOnlyList<RoomInfo> Rooms, IReadOnlyList<DirectConversation> Direct)> ListDrawerWithEfAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await ListAsync(db, user, ct), user.IsGuest ? [] : await ListDirectAsync(db, user, ct)); // guests have no direct conversations
    }

    // The compiled queries above as prepared statements on SQLite (Data/SqliteReads: a token connect's welcome reads them).
    private const string RoomColumns = "r.Id, r.Slug, r.Name, r.Topic, r.IsPrivate, r.AllowGuests, r.IsArchived, r.IsDirect, r.InviteCode";

    private static readonly SqliteReads.Statement DrawerRoomsSql = new($"""
        SELECT {RoomColumns}
        FROM Rooms AS r
        WHERE NOT r.IsDirect AND NOT r.IsArchived
          AND (NOT r.IsPrivate OR EXISTS (SELECT 1 FROM RoomMembers AS m WHERE m.UserId = $user AND m.RoomId = r.Id))
          AND NOT EXISTS (SELECT 1 FROM RoomDepartures AS d WHERE d.UserId = $user AND d.RoomId = r.Id)
          AND (NOT $guest OR r.AllowGuests)
        ORDER BY r.Id
        """, "$user", "$guest");

    private static readonly SqliteReads.Statement DirectRoomsSql = new($"""
        SELECT {RoomColumns}, u.Id, u.Name, u.Kind
        FROM RoomMembers AS mine
        INNER JOIN Rooms AS r ON mine.RoomId = r.Id
        INNER JOIN RoomMembers AS theirs ON r.Id = theirs.RoomId
        INNER JOIN Users AS u ON theirs.UserId = u.Id
        WHERE mine.UserId = $me AND r.IsDirect AND theirs.UserId <> $me
        """, "$me");

    private static RoomInfo Room(Microsoft.Data.Sqlite.SqliteDataReader r) => new(r.GetInt64(0), r.GetString(1), r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3), r.GetBoolean(4), r.GetBoolean(5), r.GetBoolean(6), r.GetBoolean(7), r.GetString(8));

    internal static (IReadOnlyList<RoomInfo> Rooms, IReadOnlyList<DirectConversation> Direct) ListDrawer(SqliteReads reads, UserRef user)
    {
        var rooms = reads.Read(DrawerRoomsSql, [user.Id, user.IsGuest], r =>
        {
            var list = new List<RoomInfo>();
            while (r.Read()) list.Add(Room(r));
            return list;
        });
        if (user.IsGuest) return (rooms, []); // guests have no direct conversations
        var direct = reads.Read(DirectRoomsSql, [user.Id], r =>
        {
            var list = new List<DirectConversation>();
            while (r.Read()) list.Add(new DirectConversation(Room(r), new UserRef(r.GetInt64(9), r.GetString(10), (UserKind)r.GetInt32(11))));
            return list;
        });
        return (rooms, direct.OrderBy(d => d.Other.Name, StringComparer.OrdinalIgnoreCase).ToList());
    }

    private async Task<IReadOnlyList<DirectConversation>> ListDirectAsync(ChatDbContext db, UserRef me, CancellationToken ct)
    {
        var list = new List<DirectConversation>();
        await foreach (var r in _directRooms(db, me.Id).WithCancellation(ct))
            list.Add(new DirectConversation(RoomInfo.From(r.Room), new UserRef(r.Id, r.Name, r.Kind)));
        return list.OrderBy(d => d.Other.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The other member of a direct room, seen from <paramref name="me"/>.</summary>
    public async Task<UserRef?> DirectPartnerAsync(long roomId, long me, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await (from m in db.RoomMembers
                      where m.RoomId == roomId && m.UserId != me
                      join u in db.Users on m.UserId equals u.Id
                      select new UserRef(u.Id, u.Name, u.Kind)).FirstOrDefaultAsync(ct);
    }

    public static string DirectSlug(long a, long b) => $"dm-{Math.Min(a, b)}-{Math.Max(a, b)}";

    // ---------------------------------------------------------------- room lifecycle (the back office)

    /// <summary>Rooms (not direct conversations) with their member counts, archived last; optionally matching a text.</summary>
    public async Task<IReadOnlyList<(RoomInfo Room, int Members, DateTimeOffset CreatedAt)>> ListAllAsync(string? search, int limit = 500,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Rooms.AsNoTracking().Where(r => !r.IsDirect);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = $"%{EscapeLike(search.Trim())}%";
            q = q.Where(r => EF.Functions.Like(r.Name, s, "\\") || EF.Functions.Like(r.Slug, s, "\\")
                || (r.Topic != null && EF.Functions.Like(r.Topic, s, "\\")));
        }
        var rows = await q.OrderBy(r => r.IsArchived).ThenBy(r => r.Id)
            .Select(r => new { Room = r, Members = db.RoomMembers.Count(m => m.RoomId == r.Id) })
            .Take(limit).ToListAsync(ct);
        return rows.Select(r => (RoomInfo.From(r.Room), r.Members, r.Room.CreatedAt)).ToList();
    }

    /// <summary>Open rooms (not archived, not direct), for the dashboard.</summary>
    public async Task<int> CountOpenAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Rooms.CountAsync(r => !r.IsDirect && !r.IsArchived, ct);
    }

    /// <summary>
    /// Creates a room. <paramref name="alsoWrite"/> adds rows to the same transaction (the back
    /// office's audit entry). Null when the slug is taken.
    /// </summary>
    public async Task<RoomInfo?> CreateAsync(RoomSpec spec, Action<ChatDbContext, RoomInfo>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Rooms.AnyAsync(r => r.Slug == spec.Slug, ct)) return null;
        var row = new Room
        {
            Slug = spec.Slug, Name = spec.Name, Topic = spec.Topic, IsPrivate = spec.IsPrivate,
            AllowGuests = spec.AllowGuests && !spec.IsPrivate, IsArchived = spec.IsArchived, InviteCode = NewInviteCode(),
            CreatedAt = time.GetUtcNow(),
        };
        db.Rooms.Add(row);
        alsoWrite?.Invoke(db, RoomInfo.From(row));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return null;
        }
        var room = RoomInfo.From(row);
        await AnnounceAsync(new RoomChanged(room));
        if (!room.IsPrivate && !room.IsArchived) await AnnounceAsync(new RoomListed(room));
        return room;
    }

    /// <summary>
    /// Changes a room (<paramref name="change"/> edits the row; <paramref name="alsoWrite"/> gets the room
    /// before and after). Sessions that may no longer read it lose it. Null when not found.
    /// </summary>
    public async Task<ChatResult<RoomInfo>> UpdateAsync(long roomId, Func<Room, ChatError?> change,
        Action<ChatDbContext, RoomInfo, RoomInfo>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.Rooms.FirstOrDefaultAsync(r => r.Id == roomId && !r.IsDirect, ct);
        if (row is null) return ChatError.NotFound("The room");
        var before = RoomInfo.From(row);
        if (change(row) is { } refused) return refused;
        row.AllowGuests &= !row.IsPrivate;
        var after = RoomInfo.From(row);
        if (after == before) return after;
        alsoWrite?.Invoke(db, before, after);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return new ChatError("slug_taken", $"Another room uses the slug \"{row.Slug}\".");
        }
        await AnnounceAsync(new RoomChanged(after));
        return after;
    }

    /// <summary>
    /// Deletes a room with its messages, members and bot settings, through the single writer (so no
    /// post lands in it meanwhile, on any node); every session loses it and every node forgets it.
    /// </summary>
    public async Task<ChatResult<int>> DeleteAsync(long roomId, Action<ChatDbContext, RoomInfo, int>? alsoWrite = null, CancellationToken ct = default)
    {
        var room = await directory.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return ChatError.NotFound("The room");
        directory.Forget(roomId);
        var result = await writer.SubmitAsync(new RoomDeleteOp(room, alsoWrite), ct);
        directory.Forget(roomId);
        if (result.Error is not null) return result.Error;
        await backplane.FlushAsync();
        return result.Deleted;
    }

    /// <summary>Creates the default room on first run (idempotent; another node may be doing the same).</summary>
    public async Task EnsureDefaultRoomAsync(string topic, CancellationToken ct = default)
    {
        var slug = _options.DefaultRoomSlug.Trim().ToLowerInvariant();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Rooms.AnyAsync(r => r.Slug == slug, ct)) return;
        db.Rooms.Add(new Room
        {
            Slug = slug, Name = _options.DefaultRoomName, Topic = topic, AllowGuests = true, InviteCode = NewInviteCode(), CreatedAt = time.GetUtcNow(),
        });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            await using var check = await dbFactory.CreateDbContextAsync(ct);
            if (!await check.Rooms.AnyAsync(r => r.Slug == slug, ct)) throw;
        }
    }

    /// <summary>Applies a room or membership change here, then sends it to every node and waits until it has left.</summary>
    private async Task AnnounceAsync(ChatEvent evt)
    {
        switch (evt)
        {
            case RoomChanged rc: directory.Apply(rc.Room); break;
            case MemberAdded m: directory.SetMember(m.RoomId, m.User.Id, true); break;
            case MemberRemoved m: directory.SetMember(m.RoomId, m.User.Id, false); break;
        }
        backplane.Publish(evt);
        await backplane.FlushAsync();
    }

    internal static string EscapeLike(string s) => s.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
}
