using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Profiles;

/// <summary>What others see of a user besides the nickname: the online list, hover cards, <c>chatportal.v1</c> user objects.</summary>
public sealed record ProfileCard(long UserId, string? DisplayName, string? Status, string? TimeZone, string? AvatarId)
{
    public string? AvatarUrl => AvatarId is null ? null : "/avatars/" + AvatarId;
}

/// <summary>
/// The singleton profile cache: every profile in memory (a small row per user who set one), so
/// the online list, hover cards and the wire read it synchronously without a query. Changes made
/// on this node apply at once (<see cref="Set"/>); other nodes' changes are picked up by a poll of
/// rows updated since the last one (<c>Profiles:RefreshSeconds</c>, default 30).
/// </summary>
public sealed class ProfileDirectory(IDbContextFactory<ChatDbContext> dbFactory, IConfiguration config, ILogger<ProfileDirectory> log)
    : BackgroundService
{
    private readonly ConcurrentDictionary<long, ProfileCard> _cards = new();
    private readonly Lock _gate = new();
    private Action<ProfileCard>[] _listeners = [];
    private DateTimeOffset _seenUpTo = DateTimeOffset.MinValue;

    public ProfileCard? Get(long userId) => _cards.GetValueOrDefault(userId);

    /// <summary>Called with each changed card (on a background thread). Dispose to stop.</summary>
    public IDisposable Subscribe(Action<ProfileCard> listener)
    {
        lock (_gate) _listeners = [.. _listeners, listener];
        return new Subscription(this, listener);
    }

    internal void Set(UserProfile p)
    {
        var card = Card(p);
        _cards[p.UserId] = card;
        foreach (var l in _listeners)
        {
            try { l(card); }
            catch (Exception ex) { log.LogWarning(ex, "A profile listener failed"); }
        }
    }

    internal static ProfileCard Card(UserProfile p) => new(p.UserId, p.DisplayName, p.StatusText, p.TimeZone, p.AvatarId);

    /// <summary>Reads rows changed since the last read (all on the first call).</summary>
    public async Task RefreshAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // Clock skew between nodes writing UpdatedAt; nothing read yet: everything (MinValue minus anything throws).
        var since = _seenUpTo == DateTimeOffset.MinValue ? DateTimeOffset.MinValue : _seenUpTo - TimeSpan.FromSeconds(5);
        var rows = await db.Profiles.AsNoTracking().Where(p => p.UpdatedAt > since).ToListAsync(ct);
        foreach (var p in rows)
        {
            if (_cards.TryGetValue(p.UserId, out var known) && known == Card(p)) continue;
            Set(p);
        }
        if (rows.Count > 0) _seenUpTo = rows.Max(r => r.UpdatedAt);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromSeconds(Math.Max(1, config.GetValue("Profiles:RefreshSeconds", 30.0)));
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RefreshAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex) { log.LogWarning(ex, "Reading profiles failed; retrying"); }
            try { await Task.Delay(every, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private sealed class Subscription(ProfileDirectory owner, Action<ProfileCard> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate) owner._listeners = [.. owner._listeners.Where(l => l != listener)];
        }
    }
}
