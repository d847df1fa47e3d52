using System.Globalization;
using System.Text;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

/// <summary>A public room as the room browser lists it: with its member count and whether the viewer is in it.</summary>
public sealed record RoomListing(RoomInfo Room, int Members, bool Joined);

/// <summary>
/// What users do with rooms themselves (issue 21): browse public rooms, create one (public or
/// private), join, leave, and start a group conversation. Every change goes through
/// <see cref="ChatRooms"/> and its events (MemberAdded/MemberRemoved/RoomChanged/RoomListed), so
/// every tab, socket and node sees it as it sees a back-office change.
/// </summary>
public sealed class UserRooms(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms, UserDirectory users, TimeProvider time)
{
    /// <summary>Group conversations are private rooms whose slug starts with this (never a back-office slug).</summary>
    public const string GroupPrefix = "gdm-";
    public const int MaxNameLength = 80;
    public const int MaxTopicLength = 500;
    /// <summary>People in a group conversation besides its starter.</summary>
    public const int MaxGroupOthers = 15;

    /// <summary>Rooms and group conversations one user may start per <see cref="CreationWindow"/> (each new public room reaches every drawer).</summary>
    public const int MaxCreationsPerWindow = 10;
    public static readonly TimeSpan CreationWindow = TimeSpan.FromMinutes(10);

    // Per node, in memory: enough to stop one account flooding everyone's drawer with rooms.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, Queue<DateTimeOffset>> _created = new();

    public static bool IsGroup(RoomInfo room) => !room.IsDirect && room.Slug.StartsWith(GroupPrefix, StringComparison.Ordinal);

    public static readonly ChatError DefaultRoom = new("default_room", "Everyone stays in the default room.");
    public static readonly ChatError NameRequired = new("name_required", "Give the room a name.");
    public static readonly ChatError NameTooLong = new("name_too_long", $"The name is longer than {MaxNameLength} characters.");
    public static readonly ChatError TopicTooLong = new("topic_too_long", $"The topic is longer than {MaxTopicLength} characters.");
    public static readonly ChatError NotPublic = new("not_public", "That room is private; you need an invitation.");
    public static readonly ChatError GroupTooSmall = new("group_too_small", "Name at least two other people for a group conversation.");
    public static readonly ChatError GroupTooLarge = new("group_too_large", $"A group conversation has at most {MaxGroupOthers} other people.");

    /// <summary>Public rooms (not archived) the user may open, with member counts, optionally matching a text; at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<RoomListing>> BrowseAsync(UserRef user, string? search, int limit = 200, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Rooms.AsNoTracking().Where(r => !r.IsDirect && !r.IsPrivate && !r.IsArchived);
        if (user.IsGuest) q = q.Where(r => r.AllowGuests);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = $"%{ChatRooms.EscapeLike(search.Trim())}%";
            q = q.Where(r => EF.Functions.Like(r.Name, s, "\\") || EF.Functions.Like(r.Slug, s, "\\")
                || (r.Topic != null && EF.Functions.Like(r.Topic, s, "\\")));
        }
        var rows = await q.OrderBy(r => r.Name).ThenBy(r => r.Id)
            .Select(r => new
            {
                Room = r,
                Members = db.RoomMembers.Count(m => m.RoomId == r.Id),
                Joined = db.RoomMembers.Any(m => m.RoomId == r.Id && m.UserId == user.Id),
            })
            .Take(Math.Clamp(limit, 1, 1000)).ToListAsync(ct);
        return rows.Select(r => new RoomListing(RoomInfo.From(r.Room), r.Members, r.Joined)).ToList();
    }

    /// <summary>
    /// Creates a room for a user, who becomes its first member. New rooms do not let guests in (the
    /// back office can). The slug comes from the name (a short random one for names without Latin letters).
    /// </summary>
    public async Task<ChatResult<RoomInfo>> CreateAsync(UserRef user, string? name, string? topic, bool isPrivate, CancellationToken ct = default)
    {
        if (await MayActAsync(user, ct) is { } denied) return denied;
        name = name?.Trim() ?? "";
        topic = string.IsNullOrWhiteSpace(topic) ? null : topic.Trim();
        if (name.Length == 0) return NameRequired;
        if (name.Length > MaxNameLength) return NameTooLong;
        if (topic?.Length > MaxTopicLength) return TopicTooLong;
        if (!TryCountCreation(user.Id)) return ChatError.RateLimited;
        var baseSlug = SlugFrom(name);
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var slug = attempt == 0 && baseSlug.Length >= 2 ? baseSlug
                : $"{(baseSlug.Length >= 2 ? baseSlug[..Math.Min(baseSlug.Length, 60)] + "-" : "room-")}{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";
            var room = await rooms.CreateAsync(new RoomSpec(slug, name, topic, isPrivate, AllowGuests: false, IsArchived: false), ct: ct);
            if (room is null) continue; // the slug is taken: another one
            await rooms.EnsureMemberAsync(room.Id, user, ct);
            return room;
        }
        return ChatError.StorageFailed;
    }

    /// <summary>Joins a public room (from the room browser): it is listed in the user's drawer again if they had left it.</summary>
    public async Task<ChatResult<RoomInfo>> JoinAsync(UserRef user, long roomId, CancellationToken ct = default)
    {
        if (await MayActAsync(user, ct) is { } denied) return denied;
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return ChatError.NotFound("The room");
        if (room.IsPrivate) return NotPublic;
        if (room.IsArchived) return ChatError.Archived;
        await rooms.EnsureMemberAsync(room.Id, user, ct);
        return room;
    }

    /// <summary>
    /// Leaves a room: the user stops being a member (a private room or group conversation is lost to
    /// all their tabs), and a public room leaves their drawer until they join it again. Not the default room.
    /// </summary>
    public async Task<ChatResult<RoomInfo>> LeaveAsync(UserRef user, long roomId, CancellationToken ct = default)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return ChatError.NotFound("The room");
        if (rooms.IsDefault(room)) return DefaultRoom;
        if (!room.IsPrivate)
        {
            // Written before the membership goes, so the drawers that reload on MemberRemoved leave it out.
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            if (!await db.RoomDepartures.AnyAsync(d => d.RoomId == roomId && d.UserId == user.Id, ct))
            {
                db.RoomDepartures.Add(new RoomDeparture { RoomId = roomId, UserId = user.Id, LeftAt = time.GetUtcNow() });
                try
                {
                    await db.SaveChangesAsync(ct);
                }
                catch (DbUpdateException)
                {
                    // Another tab left at the same moment: the row exists.
                }
            }
            if (!await rooms.RemoveMemberAsync(roomId, user.Id, ct))
            {
                // Listed but never joined: still tell the user's tabs, so their drawers drop it.
                await rooms.AnnounceDepartureAsync(roomId, user);
            }
        }
        else if (!await rooms.RemoveMemberAsync(roomId, user.Id, ct))
        {
            return ChatError.NotFound("The room");
        }
        return room;
    }

    /// <summary>
    /// Starts a group conversation: a private room with the user and the named people (at least two,
    /// members, not guests), each told at once through MemberAdded. A second call with the same people
    /// opens a new conversation, as in other chat apps' "new message" with several names.
    /// </summary>
    public async Task<ChatResult<RoomInfo>> StartGroupAsync(UserRef me, IEnumerable<string> names, CancellationToken ct = default)
    {
        if (await MayActAsync(me, ct) is { } denied) return denied;
        var others = new List<UserRef>();
        foreach (var raw in names.Select(n => n.Trim().TrimStart('@')).Where(n => n.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var other = await users.FindByNameAsync(raw, ct);
            if (other is null) return new ChatError("no_such_user", $"There is no user \"{raw}\".");
            if (other.IsGuest) return new ChatError("guest", "Guests cannot receive direct messages.");
            if (other.Id == me.Id) continue;
            if (others.All(o => o.Id != other.Id)) others.Add(other);
        }
        if (others.Count < 2) return GroupTooSmall;
        if (others.Count > MaxGroupOthers) return GroupTooLarge;
        if (!TryCountCreation(me.Id)) return ChatError.RateLimited;
        var everyone = others.Prepend(me).ToList();
        var name = string.Join(", ", everyone.Select(u => u.Name));
        if (name.Length > MaxNameLength) name = name[..(MaxNameLength - 1)] + "…";
        RoomInfo? room = null;
        for (var attempt = 0; attempt < 4 && room is null; attempt++)
        {
            var slug = GroupPrefix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
            room = await rooms.CreateAsync(new RoomSpec(slug, name, null, IsPrivate: true, AllowGuests: false, IsArchived: false), ct: ct);
        }
        if (room is null) return ChatError.StorageFailed;
        foreach (var u in everyone) await rooms.EnsureMemberAsync(room.Id, u, ct);
        return room;
    }

    /// <summary>Counts one creation for the user; false (nothing counted) when they made too many lately.</summary>
    private bool TryCountCreation(long userId)
    {
        var now = time.GetUtcNow();
        var recent = _created.GetOrAdd(userId, _ => new Queue<DateTimeOffset>());
        lock (recent)
        {
            while (recent.Count > 0 && now - recent.Peek() >= CreationWindow) recent.Dequeue();
            if (recent.Count >= MaxCreationsPerWindow) return false;
            recent.Enqueue(now);
            return true;
        }
    }

    private async Task<ChatError?> MayActAsync(UserRef user, CancellationToken ct)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        var state = await users.GetAsync(user.Id, ct);
        if (state is null || state.Banned) return ChatError.Banned;
        if (state.MutedUntil is { } until && until > time.GetUtcNow()) return ChatError.Muted;
        return null;
    }

    /// <summary>A URL name from a room name: lowercase Latin letters and digits, dashes between words (accents dropped).</summary>
    internal static string SlugFrom(string name)
    {
        var sb = new StringBuilder();
        foreach (var c in name.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) continue;
            var lower = char.ToLowerInvariant(c);
            if (lower is >= 'a' and <= 'z' or >= '0' and <= '9') sb.Append(lower);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
            if (sb.Length >= 70) break;
        }
        var slug = sb.ToString().Trim('-');
        // Never a direct or group conversation's slug.
        if (slug.StartsWith("dm-", StringComparison.Ordinal) || slug.StartsWith(GroupPrefix, StringComparison.Ordinal)) slug = "room-" + slug;
        return slug;
    }
}
