using Microsoft.Extensions.Options;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Notifications;

/// <summary>A user's settings with their per-room overrides (room id → level).</summary>
public sealed record NotificationProfile(NotificationPreference Preference, IReadOnlyDictionary<long, NotifyLevel> Rooms)
{
    public NotifyLevel LevelFor(long roomId) => Rooms.TryGetValue(roomId, out var l) ? l : Preference.Level;
}

/// <summary>Reads and writes notification settings (all / mentions / none, quiet hours, sound, push, digest).</summary>
public sealed class NotificationSettings(IDbContextFactory<ChatDbContext> dbFactory, IOptions<NotificationOptions> options, TimeProvider time)
{
    /// <summary>Who asked for every message: user-wide "all", and each room's overrides.</summary>
    private sealed record Levels(HashSet<long> AllEverywhere, Dictionary<long, Dictionary<long, NotifyLevel>> ByRoom, long LoadedAt);

    private volatile Levels? _levels;
    private long _version; // bumped by every change made here, so a load that raced with one is not kept

    /// <summary>
    /// The users whose level for <paramref name="roomId"/> is "all" (members or not: the caller checks
    /// membership). Read from memory — every stored post asks, and almost always the answer is nobody —
    /// reloaded after a change on this node and every <see cref="NotificationOptions.LevelsRefreshSeconds"/>.
    /// </summary>
    public async ValueTask<IReadOnlyCollection<long>> WantingEverythingAsync(long roomId, CancellationToken ct = default)
    {
        var levels = _levels;
        var maxAge = TimeSpan.FromSeconds(Math.Max(0, options.Value.LevelsRefreshSeconds));
        if (levels is null || time.GetElapsedTime(levels.LoadedAt) > maxAge) levels = await LoadLevelsAsync(ct);
        levels.ByRoom.TryGetValue(roomId, out var overrides);
        if (overrides is null) return levels.AllEverywhere;
        var users = new HashSet<long>();
        foreach (var u in levels.AllEverywhere)
            if (!overrides.ContainsKey(u)) users.Add(u);
        foreach (var (u, level) in overrides)
            if (level == NotifyLevel.All) users.Add(u);
        return users;
    }

    private async Task<Levels> LoadLevelsAsync(CancellationToken ct)
    {
        var version = Interlocked.Read(ref _version);
        var loadedAt = time.GetTimestamp();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var everywhere = await db.NotificationPreferences.AsNoTracking().Where(p => p.Level == NotifyLevel.All).Select(p => p.UserId).ToListAsync(ct);
        var rows = await db.RoomNotificationSettings.AsNoTracking().Select(r => new { r.RoomId, r.UserId, r.Level }).ToListAsync(ct);
        var byRoom = new Dictionary<long, Dictionary<long, NotifyLevel>>();
        foreach (var r in rows)
        {
            if (!byRoom.TryGetValue(r.RoomId, out var d)) byRoom[r.RoomId] = d = [];
            d[r.UserId] = r.Level;
        }
        var levels = new Levels([.. everywhere], byRoom, loadedAt);
        if (Interlocked.Read(ref _version) == version) _levels = levels;
        return levels;
    }

    /// <summary>A level changed (here, or its rows were deleted with an account): read them again on next use.</summary>
    public void LevelsChanged()
    {
        Interlocked.Increment(ref _version);
        _levels = null;
    }

    public async Task<NotificationProfile> GetAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var pref = await db.NotificationPreferences.AsNoTracking().FirstOrDefaultAsync(p => p.UserId == userId, ct)
                   ?? new NotificationPreference { UserId = userId };
        var rooms = await db.RoomNotificationSettings.AsNoTracking().Where(r => r.UserId == userId)
            .ToDictionaryAsync(r => r.RoomId, r => r.Level, ct);
        return new NotificationProfile(pref, rooms);
    }

    /// <summary>Saves the user-wide settings; null when saved, else why not.</summary>
    public async Task<string?> SaveAsync(NotificationPreference p, CancellationToken ct = default)
    {
        if (p.QuietFromMinute is < 0 or >= 1440 || p.QuietToMinute is < 0 or >= 1440) return "Quiet hours must be times of day.";
        if (p.QuietFromMinute.HasValue != p.QuietToMinute.HasValue) return "Give both the start and the end of the quiet hours.";
        if (!Enum.IsDefined(p.Level)) return "Unknown level.";
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.NotificationPreferences.FirstOrDefaultAsync(x => x.UserId == p.UserId, ct);
        if (row is null) db.NotificationPreferences.Add(row = new NotificationPreference { UserId = p.UserId });
        row.Level = p.Level;
        row.QuietFromMinute = p.QuietFromMinute;
        row.QuietToMinute = p.QuietToMinute;
        row.Sound = p.Sound;
        row.Push = p.Push;
        row.EmailDigest = p.EmailDigest;
        await db.SaveChangesAsync(ct);
        LevelsChanged();
        return null;
    }

    /// <summary>Sets a room's override; null goes back to the user-wide level.</summary>
    public async Task SetRoomLevelAsync(long userId, long roomId, NotifyLevel? level, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.RoomNotificationSettings.FirstOrDefaultAsync(r => r.UserId == userId && r.RoomId == roomId, ct);
        if (level is null)
        {
            if (row is not null) db.RoomNotificationSettings.Remove(row);
        }
        else if (row is null)
        {
            db.RoomNotificationSettings.Add(new RoomNotificationSetting { UserId = userId, RoomId = roomId, Level = level.Value });
        }
        else
        {
            row.Level = level.Value;
        }
        await db.SaveChangesAsync(ct);
        LevelsChanged();
    }

    /// <summary>Turns the email digest off (the unsubscribe link).</summary>
    public async Task UnsubscribeDigestAsync(long userId, CancellationToken ct = default)
    {
        var p = (await GetAsync(userId, ct)).Preference;
        p.EmailDigest = false;
        await SaveAsync(p, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.PendingNotifications.Where(n => n.UserId == userId).ExecuteDeleteAsync(ct);
    }

    /// <summary>The rooms (not direct conversations) the user is a member of, for per-room settings.</summary>
    public async Task<IReadOnlyList<RoomInfo>> RoomsOfAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rooms = await (from m in db.RoomMembers
                           where m.UserId == userId
                           join r in db.Rooms on m.RoomId equals r.Id
                           where !r.IsDirect && !r.IsArchived
                           orderby r.Name
                           select r).AsNoTracking().ToListAsync(ct);
        return rooms.Select(RoomInfo.From).ToList();
    }

    /// <summary>Whether now is inside the user's do-not-disturb hours, read in their time zone (UTC when unknown).</summary>
    public static bool IsQuiet(NotificationPreference p, string? timeZone, DateTimeOffset now)
    {
        if (p.QuietFromMinute is not { } from || p.QuietToMinute is not { } to || from == to) return false;
        var zone = timeZone is not null && TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var z) ? z : TimeZoneInfo.Utc;
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var minute = local.Hour * 60 + local.Minute;
        return from < to ? minute >= from && minute < to : minute >= from || minute < to;
    }
}
