using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Notifications;

/// <summary>A user's settings with their per-room overrides (room id → level).</summary>
public sealed record NotificationProfile(NotificationPreference Preference, IReadOnlyDictionary<long, NotifyLevel> Rooms)
{
    public NotifyLevel LevelFor(long roomId) => Rooms.TryGetValue(roomId, out var l) ? l : Preference.Level;
}

/// <summary>Reads and writes notification settings (all / mentions / none, quiet hours, sound, push, digest).</summary>
public sealed class NotificationSettings(IDbContextFactory<ChatDbContext> dbFactory)
{
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
