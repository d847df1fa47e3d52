using System.Collections.Concurrent;

namespace ChatPortal.Auth;

/// <summary>
/// Remembers which socket tickets were redeemed, so each works once. One node: in memory
/// (<see cref="LocalTicketReplayGuard"/>); with Redis configured, in Redis as well, so a ticket
/// redeemed on one node is refused on every other (<c>ChatPortal.Cluster.RedisTicketReplayGuard</c>).
/// </summary>
public interface ITicketReplayGuard
{
    /// <summary>True the first time a nonce is claimed (until <paramref name="expires"/>); false for a replay.</summary>
    ValueTask<bool> TryClaimAsync(string nonce, DateTimeOffset expires, CancellationToken ct = default);
}

/// <summary>This process's redeemed nonces, each kept until its ticket would have expired.</summary>
public sealed class LocalTicketReplayGuard(TimeProvider time) : ITicketReplayGuard
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _redeemed = new();
    private long _nextPrune;

    public ValueTask<bool> TryClaimAsync(string nonce, DateTimeOffset expires, CancellationToken ct = default)
    {
        Prune(time.GetUtcNow());
        return ValueTask.FromResult(_redeemed.TryAdd(nonce, expires));
    }

    private void Prune(DateTimeOffset now)
    {
        var due = Interlocked.Read(ref _nextPrune);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextPrune, now.UtcTicks + TimeSpan.TicksPerMinute, due) != due) return;
        foreach (var (nonce, expires) in _redeemed)
        {
            if (expires <= now) _redeemed.TryRemove(nonce, out _);
        }
    }
}
