using System.Collections.Concurrent;
using System.Security.Cryptography;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

/// <summary>
/// Server-side sign-in sessions of chat users (table <c>SignInSessions</c>). The cookie carries the
/// session id; it is valid only while the row exists, checked on every request (cookie validation),
/// every few seconds by open circuits (revalidation), when a socket ticket is issued and when it is
/// redeemed. Ending a session deletes its row and publishes <see cref="SessionRevoked"/> with its id,
/// so the tabs and ticket sockets of that session close at once; ending all of a user's sessions
/// publishes it without an id (every tab and socket of the user closes).
/// </summary>
/// <remarks>
/// A positive answer is cached for a few seconds per session, so the static files of a page do not
/// each cost a database read; ending a session on this node drops its cache entry at once, on other
/// nodes the cache runs out within <see cref="CacheFor"/> (and the revocation event closes their tabs
/// and sockets at once).
/// </remarks>
public sealed class SignInSessions(IDbContextFactory<ChatDbContext> dbFactory, ChatSessions chat, TimeProvider time,
    ILogger<SignInSessions> log) : BackgroundService
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    /// <summary>Sessions unused this long are removed (the cookie's own sliding lifetime).</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromDays(30);
    private static readonly TimeSpan TouchEvery = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<string, (long UserId, DateTimeOffset CheckedAt)> _live = new(StringComparer.Ordinal);

    /// <summary>Starts a session for a successful sign-in; its id goes into the cookie.</summary>
    public async Task<string> StartAsync(long userId, string? remoteIp, string? userAgent, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var row = new SignInSession
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            UserId = userId,
            CreatedAt = now,
            LastSeenAt = now,
            RemoteIp = remoteIp is { Length: > 64 } ? remoteIp[..64] : remoteIp,
            UserAgent = userAgent is { Length: > 200 } ? userAgent[..200] : userAgent,
        };
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.SignInSessions.Add(row);
        await db.SaveChangesAsync(ct);
        return row.Id;
    }

    /// <summary>Whether the session exists and belongs to the user (briefly cached; see the remarks).</summary>
    public async Task<bool> IsLiveAsync(string? sessionId, long userId, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(sessionId)) return false;
        var now = time.GetUtcNow();
        if (_live.TryGetValue(sessionId, out var hit) && hit.UserId == userId && now - hit.CheckedAt < CacheFor) return true;
        return await IsLiveFreshAsync(sessionId, userId, ct);
    }

    /// <summary>Whether the session exists and belongs to the user, read from the database (tickets use this).</summary>
    public async Task<bool> IsLiveFreshAsync(string? sessionId, long userId, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(sessionId) || sessionId.Length > 64) return false;
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.SignInSessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == sessionId, ct);
        if (row is null || row.UserId != userId)
        {
            _live.TryRemove(sessionId, out _);
            return false;
        }
        if (now - row.LastSeenAt > TouchEvery)
            await db.SignInSessions.Where(s => s.Id == sessionId).ExecuteUpdateAsync(x => x.SetProperty(s => s.LastSeenAt, now), ct);
        _live[sessionId] = (userId, now);
        return true;
    }

    /// <summary>Signs out one session: its cookie stops working everywhere, its tabs and ticket sockets close.</summary>
    public async Task EndAsync(long userId, string sessionId, string reason = "signed_out", CancellationToken ct = default)
    {
        _live.TryRemove(sessionId, out _);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.SignInSessions.Where(s => s.Id == sessionId && s.UserId == userId).ExecuteDeleteAsync(ct);
        chat.Revoke(userId, reason, sessionId);
    }

    /// <summary>
    /// Ends every session of the user. With <paramref name="publish"/>, also tells every tab and socket
    /// of the user to close (the back office publishes its own revocation after a ban or kick).
    /// </summary>
    public async Task<int> EndAllAsync(long userId, string reason = "signed_out_everywhere", bool publish = true, CancellationToken ct = default)
    {
        foreach (var (id, entry) in _live)
            if (entry.UserId == userId) _live.TryRemove(id, out _);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var n = await db.SignInSessions.Where(s => s.UserId == userId).ExecuteDeleteAsync(ct);
        if (publish) chat.Revoke(userId, reason);
        return n;
    }

    /// <summary>Removes sessions unused for longer than the cookie lives anyway.</summary>
    public async Task<int> PurgeIdleAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        var cutoff = now - IdleLifetime;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.SignInSessions.Where(s => s.LastSeenAt < cutoff).ExecuteDeleteAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken);
                await PurgeIdleAsync(time.GetUtcNow(), stoppingToken);
                var now = time.GetUtcNow();
                foreach (var (id, entry) in _live)
                    if (now - entry.CheckedAt > CacheFor) _live.TryRemove(id, out _);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Purging idle sign-in sessions failed; it runs again later");
            }
        }
    }
}
