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
        if (o.ExpireAfterHours <= 0) return 0;
        var cutoff = now - TimeSpan.FromHours(o.ExpireAfterHours);
        await using var db = await dbFactory.CreateDbContextAsync(ct);

        var open = _open.Keys.ToList();
        foreach (var chunk in open.Chunk(500))
            await db.Users.Where(u => chunk.Contains(u.Id) && u.Kind == UserKind.Guest)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.LastSeenAt, now), ct);

        var online = sessions.Presence.OnlineUserIds();
        var candidates = await db.Users.AsNoTracking()
            .Where(u => u.Kind == UserKind.Guest && (u.LastSeenAt ?? u.CreatedAt) < cutoff)
            .OrderBy(u => u.Id).Select(u => new UserRef(u.Id, u.Name, u.Kind)).Take(500).ToListAsync(ct);
        var budget = Math.Max(1, o.MaxDeletesPerSweep);
        var removed = 0;
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromMinutes(Math.Max(0, options.Value.SweepIntervalMinutes));
        if (every <= TimeSpan.Zero || options.Value.ExpireAfterHours <= 0) return;
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
