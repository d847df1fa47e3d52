using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Governance;

/// <summary>One room's retention: its own setting (null: the site default), what applies, and (dry run) how many posts would go.</summary>
public sealed record RoomRetention(RoomInfo Room, int? RoomDays, int EffectiveDays, int Expired);

/// <summary>A retention run: per room, what was purged.</summary>
public sealed record RetentionReport(IReadOnlyList<(RoomInfo Room, int Days, PurgeResult Purged)> Rooms)
{
    public int Messages => Rooms.Sum(r => r.Purged.Messages);
    public TimeSpan LongestBatch => Rooms.Count == 0 ? TimeSpan.Zero : Rooms.Max(r => r.Purged.LongestBatch);
}

/// <summary>
/// Message retention: per room (<see cref="Room.RetentionDays"/>) or the site default, keep
/// forever or N days. Messages older than that are hard-deleted through <see cref="MessagePurge"/>
/// (in batches, files and search rows included; exempt ones such as pinned messages, once that
/// feature exists, stay through its <see cref="IMessagePurgeHook"/>). Each run that deletes
/// something writes an audit entry.
/// </summary>
public sealed class Retention(IDbContextFactory<ChatDbContext> dbFactory, GovernanceSettings settings, MessagePurge purge,
    TimeProvider time)
{
    public const string AuditAction = "retention.run";

    /// <summary>Every room with its retention and, for rooms that have one, the number of posts past it (the dry run).</summary>
    public async Task<IReadOnlyList<RoomRetention>> DryRunAsync(long? roomId = null, CancellationToken ct = default)
    {
        var policy = await settings.GetAsync(ct);
        var now = time.GetUtcNow();
        var list = new List<RoomRetention>();
        foreach (var room in await RoomsAsync(roomId, ct))
        {
            var days = GovernanceSettings.EffectiveDays(room.RetentionDays, policy.DefaultRetentionDays);
            var expired = days == 0 ? 0 : await purge.CountAsync(Expired(room.Id, now - TimeSpan.FromDays(days)), ct);
            list.Add(new RoomRetention(RoomInfo.From(room), room.RetentionDays, days, expired));
        }
        return list;
    }

    /// <summary>Deletes what is past retention in every room (or one); <paramref name="by"/> names who ran it in the audit log.</summary>
    public async Task<RetentionReport> RunAsync(string by, long? adminId = null, string? remoteIp = null, long? roomId = null,
        CancellationToken ct = default)
    {
        var policy = await settings.GetAsync(ct);
        var now = time.GetUtcNow();
        var done = new List<(RoomInfo, int, PurgeResult)>();
        foreach (var room in await RoomsAsync(roomId, ct))
        {
            var days = GovernanceSettings.EffectiveDays(room.RetentionDays, policy.DefaultRetentionDays);
            if (days == 0) continue;
            var result = await purge.PurgeAsync(Expired(room.Id, now - TimeSpan.FromDays(days)), $"retention of /rooms/{room.Slug}", ct);
            if (result.Messages > 0) done.Add((RoomInfo.From(room), days, result));
        }
        var report = new RetentionReport(done);
        if (report.Messages > 0 || adminId is not null)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            db.AuditLog.Add(new AuditEntry
            {
                At = time.GetUtcNow(),
                AdminId = adminId,
                AdminName = by.Length > 64 ? by[..64] : by,
                Action = AuditAction,
                Target = roomId is null ? "all rooms" : done.Count > 0 ? $"/rooms/{done[0].Item1.Slug}" : $"room #{roomId}",
                Detail = Clip($"deleted {report.Messages} messages; longest batch {report.LongestBatch.TotalMilliseconds:0} ms; " +
                    string.Join(", ", done.Select(d => $"/rooms/{d.Item1.Slug}: {d.Item3.Messages} older than {d.Item2} d"))),
                RemoteIp = remoteIp,
            });
            await db.SaveChangesAsync(ct);
        }
        return report;
    }

    private static string Clip(string s) => s.Length <= 500 ? s : s[..499] + "…";

    private static Func<IQueryable<Message>, IQueryable<Message>> Expired(long roomId, DateTimeOffset cutoff) =>
        q => q.Where(m => m.RoomId == roomId && m.CreatedAt < cutoff);

    private async Task<List<Room>> RoomsAsync(long? roomId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Rooms.AsNoTracking();
        if (roomId is { } id) q = q.Where(r => r.Id == id);
        return await q.OrderBy(r => r.Id).ToListAsync(ct);
    }
}

/// <summary>Runs retention by itself every <see cref="GovernanceOptions.RetentionInterval"/> (when any room has one).</summary>
public sealed class RetentionScheduler(Retention retention, IOptions<GovernanceOptions> options, ILogger<RetentionScheduler> log)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.RetentionInterval;
        if (every <= TimeSpan.Zero) return;
        try
        {
            await Task.Delay(options.Value.RetentionFirstRunDelay, stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var report = await retention.RunAsync("(retention schedule)", ct: stoppingToken);
                    if (report.Messages > 0)
                        log.LogInformation("Retention deleted {Count} messages; the longest batch held the database for {Ms:0.0} ms",
                            report.Messages, report.LongestBatch.TotalMilliseconds);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    log.LogError(ex, "Retention run failed; it is tried again at the next interval");
                }
                await Task.Delay(every, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
