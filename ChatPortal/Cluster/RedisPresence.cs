using System.Text.Json;
using ChatPortal.Chat;
using StackExchange.Redis;

namespace ChatPortal.Cluster;

/// <summary>
/// Presence across nodes. Each node keeps its own (<see cref="PresenceTracker"/>); its presence events
/// travel on the backplane's channel (numbered per node), and every heartbeat it writes a snapshot with a
/// TTL, listed in a sorted set of live nodes, and reads the others'. An older snapshot never undoes a
/// newer event; a node that stops removes its snapshot, one that crashes drops out when its TTL passes,
/// and its users get "left" notices here.
/// </summary>
public sealed class RedisPresence : IRedisLinkWatcher
{
    private readonly RedisLink _link;
    private readonly LocalFanout _fanout;
    private readonly PresenceTracker _presence;
    private readonly RemotePresenceCache _remote;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisPresence> _log;
    private readonly string _nodesKey;
    private DateTimeOffset _nextHeartbeat = DateTimeOffset.MinValue;
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(3);

    public RedisPresence(RedisLink link, LocalFanout fanout, PresenceTracker presence, RemotePresenceCache remote, TimeProvider time,
        ILogger<RedisPresence> log)
    {
        (_link, _fanout, _presence, _remote, _time, _log) = (link, fanout, presence, remote, time, log);
        _nodesKey = $"{link.Options.Prefix}:presence:nodes";
        link.Watch(this); // heartbeats while Redis is up, expiry while it is down
    }

    /// <summary>The backplane numbers this node's messages; a snapshot carries the number it was taken at.</summary>
    internal Func<long> CurrentSeq { get; set; } = () => 0;

    /// <summary>A presence event from another node: remembered, and shown here only if it changes who is online.</summary>
    internal void OnRemote(string node, long seq, PresenceChanged pc)
    {
        var before = _presence.IsOnline(pc.RoomId, pc.User.Id);
        if (!_remote.Apply(node, seq, pc.RoomId, pc.User, pc.Joined)) return;
        if (_presence.IsOnline(pc.RoomId, pc.User.Id) != before) _fanout.Deliver(pc);
    }

    /// <summary>A join or leave of someone still online on another node changes nobody's list: it is not shown here.</summary>
    internal bool ShowsLocally(PresenceChanged pc) => !_remote.IsOnline(pc.RoomId, pc.User.Id);

    public async Task CameUpAsync(CancellationToken stop)
    {
        await HeartbeatAsync().ConfigureAwait(false);
    }

    public void WentDown()
    {
    }

    public async Task TickAsync(bool up, CancellationToken stop)
    {
        if (!up)
        {
            // Nothing refreshes the others' snapshots while Redis is away: they leave after the TTL.
            Show(_remote.ExpireOlderThan(TimeSpan.FromSeconds(_link.Options.PresenceTtlSeconds)));
            return;
        }
        if (_time.GetUtcNow() >= _nextHeartbeat) await HeartbeatAsync().ConfigureAwait(false);
    }

    private async Task HeartbeatAsync()
    {
        if (_link.Connection is not { } mux) return;
        _nextHeartbeat = _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Max(0.2, _link.Options.PresenceHeartbeatSeconds));
        var db = mux.GetDatabase();
        var ttl = TimeSpan.FromSeconds(Math.Max(1, _link.Options.PresenceTtlSeconds));
        // Seq before the snapshot: a change racing with it carries a higher number and is applied after it.
        var seq = CurrentSeq();
        var mine = new RemotePresenceCache.Snapshot(_link.NodeId, seq, _presence.LocalSnapshot().ToDictionary(r => r.Key, r => r.Value));
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = db.CreateBatch();
        var set = batch.StringSetAsync(NodeKey(_link.NodeId), JsonSerializer.SerializeToUtf8Bytes(mine, ClusterEventJson.Options), ttl);
        var add = batch.SortedSetAddAsync(_nodesKey, _link.NodeId, now);
        var trim = batch.SortedSetRemoveRangeByScoreAsync(_nodesKey, double.NegativeInfinity, now - 4 * ttl.TotalMilliseconds);
        var alive = batch.SortedSetRangeByScoreAsync(_nodesKey, now - ttl.TotalMilliseconds, double.PositiveInfinity);
        batch.Execute();
        // Bounded: a reply that never comes (the connection died under it) must not hold up the link's checks.
        await Task.WhenAll(set, add, trim, alive).WaitAsync(ReplyTimeout).ConfigureAwait(false);

        var others = alive.Result.Select(v => (string)v!).Where(n => n != _link.NodeId).ToList();
        var snapshots = new List<RemotePresenceCache.Snapshot>();
        if (others.Count > 0)
        {
            var values = await db.StringGetAsync(others.Select(n => (RedisKey)NodeKey(n)).ToArray()).WaitAsync(ReplyTimeout).ConfigureAwait(false);
            foreach (var v in values)
            {
                if (v.IsNullOrEmpty) continue; // expired: that node is gone
                try
                {
                    if (JsonSerializer.Deserialize<RemotePresenceCache.Snapshot>((byte[])v!, ClusterEventJson.Options) is { } s) snapshots.Add(s);
                }
                catch (JsonException ex)
                {
                    _log.LogWarning(ex, "Ignoring an unreadable presence snapshot");
                }
            }
        }
        Show(_remote.ApplySnapshots(snapshots));
    }

    /// <summary>Tells local viewers about users that appeared or vanished with a snapshot (e.g. a crashed node's).</summary>
    private void Show(IReadOnlyList<RemotePresenceCache.Change> changes)
    {
        foreach (var c in changes)
        {
            var online = _presence.IsOnline(c.RoomId, c.User.Id);
            // Joined: show it only if this snapshot is what made the user appear; Left: only if they are gone everywhere.
            if (c.Joined ? online && !_presence.IsOnlineHere(c.RoomId, c.User.Id) && _remote.Sources(c.RoomId, c.User.Id) == 1 : !online)
                _fanout.Deliver(new PresenceChanged(c.RoomId, c.User, c.Joined));
        }
    }

    /// <summary>Leave at once instead of after the TTL.</summary>
    public async Task StoppingAsync(CancellationToken ct)
    {
        if (_link.Database is not { } db) return;
        await Task.WhenAll(db.KeyDeleteAsync(NodeKey(_link.NodeId)), db.SortedSetRemoveAsync(_nodesKey, _link.NodeId))
            .WaitAsync(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
    }

    private string NodeKey(string node) => $"{_link.Options.Prefix}:presence:node:{node}";
}
