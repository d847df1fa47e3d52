using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Safeguards;

/// <summary>Guest retention (section <c>Guests</c>).</summary>
public sealed class GuestOptions
{
    public const string Section = "Guests";

    /// <summary>A guest expires this long after its last connection closed (0: guests never expire).</summary>
    public double ExpireAfterHours { get; set; } = 24;
    /// <summary>How often expired guests are looked for.</summary>
    public double SweepIntervalMinutes { get; set; } = 10;
    /// <summary>At most this many messages are deleted per sweep (the rest in the next), so a sweep never floods a room.</summary>
    public int MaxDeletesPerSweep { get; set; } = 2000;
    /// <summary>
    /// How long the resume token a <c>chatportal.v1</c> guest gets in its welcome stays valid: a guest that comes back with it
    /// (a reconnect, a server restart, a page reload) is the same guest again (0: no tokens; v1 guests are then removed at close as plain ones are).
    /// </summary>
    public double ResumeHours { get; set; } = 24;
    /// <summary>
    /// A resumable guest that posted nothing is removed this long after its last connection closed (by the sweep; at least three
    /// sweep intervals, so a guest connected to another node, which that node marks as seen every sweep, never looks idle).
    /// </summary>
    public double UnusedExpireMinutes { get; set; } = 60;

    internal bool Resumable => ResumeHours > 0;

    internal TimeSpan UnusedAfter => TimeSpan.FromMinutes(Math.Max(UnusedExpireMinutes, 3 * SweepIntervalMinutes));
}

/// <summary>
/// Guests expire: the rule (docs/security.md) is that a guest with no open connection whose last
/// connection closed more than <see cref="GuestOptions.ExpireAfterHours"/> ago is removed with
/// its data. Its visible messages are deleted through the core's delete path (stored delete
/// events, so live views and catch-up see them go; the text of the message and its edits is
/// purged and its image removed, as for any delete), its unposted uploads are removed, then its
/// user row. Open connections keep a guest: the socket reports it open and closed
/// (<see cref="Opened"/>, <see cref="Closed"/>), and every sweep first marks the open ones as seen,
/// so a guest connected to any node never looks idle to another node's sweep.
/// </summary>
public sealed class GuestExpiry(IDbContextFactory<ChatDbContext> dbFactory, ChatCommands commands, ChatSessions sessions, UserDirectory users, ImageRetention images,
    IOptions<GuestOptions> options, TimeProvider time, ILogger<GuestExpiry> log) : BackgroundService
{
    private readonly ConcurrentDictionary<long, int> _open = new();

    /// <summary>A connection of this guest opened (on this node).</summary>
    public void Opened(long guestId) => _open.AddOrUpdate(guestId, 1, (_, n) => n + 1);

    /// <summary>A connection of this guest closed; the last one starts its expiry clock.</summary>
    public void Closed(long guestId)
    {
        while (_open.TryGetValue(guestId, out var n))
        {
            if (n <= 1 ? _open.TryRemove(new KeyValuePair<long, int>(guestId, n)) : _open.TryUpdate(guestId, n - 1, n)) return;
        }
    }

    public bool IsOpen(long guestId) => _open.ContainsKey(guestId);

    /// <summary>One sweep at <paramref name="now"/>; returns the number of guest rows removed.</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        var o = options.Value;
        if (o.ExpireAfterHours <= 0 && !o.Resumable) return 0;
        await using var db = await dbFactory.CreateDbContextAsync(ct);

        var open = _open.Keys.ToList();
        foreach (var chunk in open.Chunk(500))
            await db.Users.Where(u => chunk.Contains(u.Id) && u.Kind == UserKind.Guest)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.LastSeenAt, now), ct);

        var online = sessions.Presence.OnlineUserIds();
        var removed = o.Resumable ? await SweepUnusedAsync(db, now - o.UnusedAfter, online, ct) : 0;
        if (o.ExpireAfterHours <= 0) return removed;
        var cutoff = now - TimeSpan.FromHours(o.ExpireAfterHours);
        var candidates = await db.Users.AsNoTracking()
            .Where(u => u.Kind == UserKind.Guest && (u.LastSeenAt ?? u.CreatedAt) < cutoff)
            .OrderBy(u => u.Id).Select(u => new UserRef(u.Id, u.Name, u.Kind)).Take(500).ToListAsync(ct);
        var budget = Math.Max(1, o.MaxDeletesPerSweep);
        foreach (var guest in candidates)
        {
            if (IsOpen(guest.Id) || online.Contains(guest.Id)) continue;
            var posts = await db.Messages.AsNoTracking()
                .Where(m => m.SenderId == guest.Id && m.DeletedAt == null && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
                .OrderBy(m => m.Id).Select(m => m.Id).Take(budget + 1).ToListAsync(ct);
            foreach (var id in posts.Take(budget))
            {
                var done = await commands.DeleteAsync(guest, id, asModerator: true, ct);
                if (!done.Ok && done.Error!.Code != "not_found")
                {
                    log.LogWarning("Could not delete message {Id} of expired guest {Guest}: {Error}", id, guest.Name, done.Error.Code);
                    return removed; // storage trouble: try again next sweep
                }
            }
            budget -= Math.Min(budget, posts.Count);
            if (posts.Count > 0 && budget <= 0) break; // more next time
            var uploads = await db.Images.Where(i => i.UploaderId == guest.Id).Select(i => i.Id).ToListAsync(ct);
            await images.DeleteImagesAsync(uploads, ct);
            await db.RoomMembers.Where(m => m.UserId == guest.Id).ExecuteDeleteAsync(ct);
            removed += await db.Users.Where(u => u.Id == guest.Id && u.Kind == UserKind.Guest).ExecuteDeleteAsync(ct);
            users.Invalidate(guest.Id);
        }
        if (removed > 0) log.LogInformation("Removed {Count} expired guests", removed);
        return removed;
    }

    /// <summary>
    /// Resumable guests (chatportal.v1) keep their row when their socket closes, so the same guest can come back; the ones
    /// that posted and uploaded nothing go once they have been away for <see cref="GuestOptions.UnusedAfter"/>.
    /// </summary>
    private async Task<int> SweepUnusedAsync(ChatDbContext db, DateTimeOffset cutoff, IReadOnlySet<long> online, CancellationToken ct)
    {
        var idle = await db.Users.AsNoTracking()
            .Where(u => u.Kind == UserKind.Guest && (u.LastSeenAt ?? u.CreatedAt) < cutoff
                        && !db.Messages.Any(m => m.SenderId == u.Id) && !db.Images.Any(i => i.UploaderId == u.Id))
            .OrderBy(u => u.Id).Select(u => u.Id).Take(5000).ToListAsync(ct);
        idle.RemoveAll(id => IsOpen(id) || online.Contains(id));
        var removed = 0;
        foreach (var chunk in idle.Chunk(500))
        {
            await db.RoomMembers.Where(m => chunk.Contains(m.UserId)).ExecuteDeleteAsync(ct);
            // Checked again in the delete: a guest that came back meanwhile (on any node) was marked seen.
            removed += await db.Users.Where(u => chunk.Contains(u.Id) && u.Kind == UserKind.Guest && (u.LastSeenAt ?? u.CreatedAt) < cutoff)
                .ExecuteDeleteAsync(ct);
            foreach (var id in chunk) users.Invalidate(id);
        }
        return removed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromMinutes(Math.Max(0, options.Value.SweepIntervalMinutes));
        if (every <= TimeSpan.Zero || (options.Value.ExpireAfterHours <= 0 && !options.Value.Resumable)) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stoppingToken);
                await SweepAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Guest expiry sweep failed; it runs again later");
            }
        }
    }
}
