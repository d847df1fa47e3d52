using ChatPortal.Auth;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatPortal.Cluster;

/// <summary>
/// Single-use socket tickets across nodes: a redeemed ticket's nonce is claimed in this node's
/// memory and with <c>SET {prefix}:ticket:{nonce} NX PX</c> in Redis, kept until the ticket would
/// have expired, so replaying it on any node is refused.
/// <para>
/// While Redis is unreachable the node keeps accepting tickets with the local guarantee only
/// (it keeps serving its own users, as for chat): a ticket could then be replayed once on another
/// node within its short lifetime (30 s), by someone who already holds it. This is logged.
/// </para>
/// </summary>
public sealed class RedisTicketReplayGuard(RedisLink redis, IOptions<RedisOptions> options, TimeProvider time,
    ILogger<RedisTicketReplayGuard> log) : ITicketReplayGuard
{
    private readonly LocalTicketReplayGuard _local = new(time);
    private readonly string _prefix = options.Value.Prefix + ":ticket:";

    public async ValueTask<bool> TryClaimAsync(string nonce, DateTimeOffset expires, CancellationToken ct = default)
    {
        if (!await _local.TryClaimAsync(nonce, expires, ct).ConfigureAwait(false)) return false;
        var db = redis.Database;
        if (db is null)
        {
            log.LogWarning("Redis is down: socket ticket checked for single use on this node only");
            return true;
        }
        // A little longer than the ticket lives: clocks of the nodes may differ slightly.
        var ttl = expires - time.GetUtcNow() + TimeSpan.FromSeconds(5);
        if (ttl < TimeSpan.FromSeconds(1)) ttl = TimeSpan.FromSeconds(1);
        try
        {
            return await db.StringSetAsync(_prefix + nonce, redis.NodeId, ttl, When.NotExists)
                .WaitAsync(TimeSpan.FromMilliseconds(Math.Max(100, options.Value.PublishTimeoutMs)), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            log.LogWarning(ex.GetBaseException(), "Redis did not answer: socket ticket checked for single use on this node only");
            return true;
        }
    }
}
