using System.Buffers;
using System.Text.Json;
using ChatPortal.Chat;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatPortal.Cluster;

/// <summary>Redis as this node sees it, for health, logs and the dashboard.</summary>
public sealed record RedisStatus(bool Enabled, bool Connected, DateTimeOffset Since, string? LastError, string NodeId, int OtherNodes);

/// <summary>
/// Fan-out across nodes through Redis pub/sub. The origin delivers presence and other transient events to its own subscribers at once
/// and publishes the event (serialized once) on one channel; every other node delivers it to
/// its subscribers. Presence is shared the same way, plus a snapshot per node with a TTL so a
/// crashed node's users disappear.
/// <para>
/// When Redis is unreachable each node goes on serving its own users and says so in health and
/// logs; when it is back, the node resubscribes by itself and fills the gap: every room with a
/// subscriber here gets the stored events it did not see meanwhile, read from the database
/// (deduplicated by id), so nothing stored is lost for live viewers either.
/// </para>
/// </summary>
public sealed class RedisBackplane : BackgroundService, IChatBackplane
{
    private const int RecentPerRoom = 2048;

    private readonly LocalFanout _fanout;
    private readonly RemotePresenceCache _remote;
    private readonly IServiceProvider _services;
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisBackplane> _log;
    private readonly RedisChannel _channel;
    private readonly string _nodesKey;
    private readonly Lock _publishGate = new();
    private readonly Lock _recentGate = new();
    private readonly Dictionary<long, RecentIds> _recent = [];
    private readonly SemaphoreSlim _wake = new(0);
    private ConnectionMultiplexer? _mux;
    private long _seq;
    private Task _lastPublish = Task.CompletedTask;
    private volatile bool _up;
    private volatile RedisStatus _status;
    private Dictionary<long, long>? _fillFrom;
    private long _maxDeliveredAtDown;
    private long _maxDelivered;
    private bool _everUp;

    public RedisBackplane(LocalFanout fanout, RemotePresenceCache remote, IServiceProvider services, IOptions<RedisOptions> options,
        TimeProvider time, ILogger<RedisBackplane> log)
    {
        _fanout = fanout;
        _remote = remote;
        _services = services;
        _options = options.Value;
        _time = time;
        _log = log;
        NodeId = string.IsNullOrWhiteSpace(_options.NodeId)
            ? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}"
            : _options.NodeId.Trim();
        _channel = RedisChannel.Literal($"{_options.Prefix}:events");
        _nodesKey = $"{_options.Prefix}:presence:nodes";
        _status = new RedisStatus(true, false, time.GetUtcNow(), "not connected yet", NodeId, 0);
    }

    public string NodeId { get; }

    public RedisStatus Status => _status with { OtherNodes = _remote.Nodes().Count };

    public bool IsUp => _up;

    /// <summary>Redis for small shared state (e.g. redeemed socket tickets) while connected; null while down.</summary>
    public IDatabase? Database => _up && _mux is { IsConnected: true } mux ? mux.GetDatabase() : null;

    // ---------------------------------------------------------------- publishing

    public void Publish(ChatEvent evt)
    {
        var mux = _mux;
        var up = _up && mux is not null;
        // Stored events reach this node's users through the channel too while Redis is up: the
        // channel's order is the one every node sees, and the room gate publishes in id order,
        // so no node shows (or lets a client record) id N+1 before id N from another node.
        // Anything else goes to our own users at once. A join or leave of someone still online on
        // another node changes nobody's list, so it is not shown here; the other nodes still hear of it.
        var viaChannel = up && StoredId(evt) is not null;
        if (!viaChannel && (evt is not PresenceChanged pc || !_remote.IsOnline(pc.RoomId, pc.User.Id)))
            DeliverLocally(evt);

        if (!up) return; // down: local only; the other nodes fill the gap from the database later
        try
        {
            var payload = evt.Encoded(ClusterEventJson.Format);
            lock (_publishGate)
            {
                // Numbered and handed to the connection under one lock: the channel carries them in this order.
                var seq = ++_seq;
                var task = mux!.GetSubscriber().PublishAsync(_channel, Envelope(seq, payload));
                _lastPublish = task;
                _ = task.ContinueWith(t =>
                {
                    if (viaChannel) DeliverLocally(evt); // it will not come back: our own users get it now (once, by id)
                    OnPublishFailed(t.Exception);
                }, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            ClusterMetrics.Published();
        }
        catch (Exception ex)
        {
            // Never let the backplane fail a writer: the event is stored and delivered here; the others catch up.
            if (viaChannel) DeliverLocally(evt);
            OnPublishFailed(ex);
        }
    }

    /// <summary>Waits until Redis has taken everything published so far (bounded: a dead Redis must not stall the writer).</summary>
    public async ValueTask FlushAsync()
    {
        Task last;
        lock (_publishGate) last = _lastPublish;
        if (last.IsCompleted) return;
        try
        {
            await last.WaitAsync(TimeSpan.FromMilliseconds(_options.PublishTimeoutMs)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            OnPublishFailed(ex);
        }
    }

    private void OnPublishFailed(Exception? ex)
    {
        if (!_up) return;
        _log.LogWarning(ex?.GetBaseException(), "Publishing to Redis failed; checking the connection");
        _wake.Release();
    }

    private byte[] Envelope(long seq, byte[] evt)
    {
        var buffer = new ArrayBufferWriter<byte>(evt.Length + 64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("n", NodeId);
            w.WriteNumber("s", seq);
            w.WritePropertyName("e");
            w.WriteRawValue(evt, skipInputValidation: true);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private sealed record WireEnvelope(string N, long S, ChatEvent E);

    // ---------------------------------------------------------------- receiving

    private void OnMessage(ChannelMessage message)
    {
        WireEnvelope env;
        try
        {
            env = JsonSerializer.Deserialize<WireEnvelope>((byte[])message.Message!, ClusterEventJson.Options)
                  ?? throw new JsonException("empty envelope");
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Ignoring a malformed message on {Channel}", message.Channel);
            return;
        }
        if (env.N == NodeId)
        {
            // Our own stored events come back to be delivered here in channel order; the rest was delivered at publish.
            if (StoredId(env.E) is not null) DeliverLocally(env.E);
            return;
        }
        ClusterMetrics.Received();
        try
        {
            Apply(env);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Delivering a {Type} from node {Node} failed", env.E.GetType().Name, env.N);
        }
    }

    private void Apply(WireEnvelope env)
    {
        switch (env.E)
        {
            case PresenceChanged pc:
                var presence = _services.GetRequiredService<PresenceTracker>();
                var before = presence.IsOnline(pc.RoomId, pc.User.Id);
                if (!_remote.Apply(env.N, env.S, pc.RoomId, pc.User, pc.Joined)) return;
                if (presence.IsOnline(pc.RoomId, pc.User.Id) != before) _fanout.Deliver(pc);
                return;
            case RoomChanged rc:
                _services.GetRequiredService<ChatService>().ApplyRemoteRoomChange(rc.Room);
                break;
            case SessionRevoked revoked:
                _services.GetRequiredService<UserDirectory>().Invalidate(revoked.UserId);
                break;
        }
        DeliverLocally(env.E);
    }

    /// <summary>Hands an event to this node's subscribers; a stored event already delivered here is skipped (once, also after a gap fill).</summary>
    private bool DeliverLocally(ChatEvent evt)
    {
        if (StoredId(evt) is { } id)
        {
            lock (_recentGate)
            {
                if (!_recent.TryGetValue(evt.RoomId, out var ids)) _recent[evt.RoomId] = ids = new RecentIds(RecentPerRoom);
                if (!ids.Add(id)) return false;
                if (id > _maxDelivered) _maxDelivered = id;
            }
        }
        _fanout.Deliver(evt);
        return true;
    }

    internal static long? StoredId(ChatEvent evt) => evt switch
    {
        MessagePosted p => p.Message.Id,
        MessageEdited e => e.EventId,
        MessageDeleted d => d.EventId,
        _ => null,
    };

    // ---------------------------------------------------------------- connection, presence, recovery

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var config = ConfigurationOptions.Parse(_options.Configuration!);
        config.AbortOnConnectFail = false; // start without Redis; connect when it comes
        config.BacklogPolicy = BacklogPolicy.FailFast; // while down, publishing fails at once instead of queueing stale events
        config.ClientName ??= $"chatportal-{NodeId}";
        if (config.ConnectTimeout > 3000) config.ConnectTimeout = 3000;
        config.ReconnectRetryPolicy ??= new LinearRetry(1000);

        try
        {
            _mux = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Redis configuration {Config} is unusable; this node runs alone", _options.Configuration);
            SetStatus(false, ex.Message);
            return;
        }
        _mux.ConnectionFailed += (_, e) => { SetLastError(e.Exception?.Message ?? e.FailureType.ToString()); _wake.Release(); };
        _mux.ConnectionRestored += (_, _) => _wake.Release();

        ChannelMessageQueue? queue = null;
        var heartbeat = TimeSpan.FromSeconds(Math.Max(0.2, _options.PresenceHeartbeatSeconds));
        var nextHeartbeat = DateTimeOffset.MinValue;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // One ordered queue: events of the channel are handled one at a time, in the order Redis sent them.
                queue ??= await SubscribeAsync().ConfigureAwait(false);
                var healthy = queue is not null && await IsHealthyAsync().ConfigureAwait(false);
                if (healthy && !_up) await CameUpAsync(stop).ConfigureAwait(false);
                else if (!healthy && _up) WentDown();

                if (_up && _time.GetUtcNow() >= nextHeartbeat)
                {
                    await HeartbeatAsync().ConfigureAwait(false);
                    nextHeartbeat = _time.GetUtcNow() + heartbeat;
                }
                if (!_up) ShowPresenceChanges(_remote.ExpireOlderThan(TimeSpan.FromSeconds(_options.PresenceTtlSeconds)));
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                if (_up) WentDown(ex.Message);
                else SetLastError(ex.Message);
            }
            try { await _wake.WaitAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    private async Task<ChannelMessageQueue?> SubscribeAsync()
    {
        try
        {
            var queue = await _mux!.GetSubscriber().SubscribeAsync(_channel).ConfigureAwait(false);
            queue.OnMessage(OnMessage);
            return queue;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            SetLastError(ex.Message);
            return null;
        }
    }

    private async Task<bool> IsHealthyAsync()
    {
        var mux = _mux!;
        if (!mux.IsConnected || !mux.GetSubscriber().IsConnected(_channel)) return false;
        try
        {
            await mux.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            SetLastError(ex.Message);
            return false;
        }
    }

    private async Task CameUpAsync(CancellationToken stop)
    {
        Dictionary<long, long>? fillFrom;
        long fallback;
        lock (_recentGate)
        {
            // Started while Redis was down: fill the rooms this node has seen messages in since its start.
            fillFrom = _fillFrom ?? (_everUp ? null : _recent.ToDictionary(r => r.Key, r => r.Value.Oldest));
            fallback = _fillFrom is null ? long.MaxValue : _maxDeliveredAtDown;
            _fillFrom = null;
            _everUp = true;
        }
        SetStatus(true, null);
        _up = true;
        _log.LogInformation("Redis {Endpoint} connected: node {Node} shares rooms and presence with the other nodes",
            _options.Configuration, NodeId);
        await HeartbeatAsync().ConfigureAwait(false);
        if (fillFrom is not null) await FillGapAsync(fillFrom, fallback, stop).ConfigureAwait(false);
    }

    private void WentDown(string? reason = null)
    {
        if (!_up) return;
        SetStatus(false, reason ?? _status.LastError ?? "connection lost");
        _up = false;
        lock (_recentGate)
        {
            // Where to read from when Redis is back: the oldest id this node still remembers per room.
            _fillFrom = _recent.ToDictionary(r => r.Key, r => r.Value.Oldest);
            _maxDeliveredAtDown = _maxDelivered;
        }
        _log.LogWarning("Redis {Endpoint} is unreachable ({Reason}): node {Node} keeps serving its own users; cross-node delivery resumes when Redis is back",
            _options.Configuration, _status.LastError, NodeId);
    }

    /// <summary>Delivers what this node's viewers missed while Redis was down: stored events they have not had, in id order.</summary>
    private async Task FillGapAsync(Dictionary<long, long> fillFrom, long fallback, CancellationToken stop)
    {
        var chat = _services.GetRequiredService<ChatService>();
        var filled = 0;
        foreach (var room in _fanout.RoomsWithSubscribers())
        {
            var after = fillFrom.TryGetValue(room, out var from) ? from : fallback;
            if (after == long.MaxValue) continue;
            try
            {
                foreach (var evt in await chat.GetStoredEventsAfterAsync(room, after, 2000, stop).ConfigureAwait(false))
                {
                    if (DeliverLocally(evt)) filled++;
                }
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                _log.LogWarning(ex, "Could not fill room {Room} after the Redis outage", room);
            }
        }
        ClusterMetrics.GapFilled(filled);
        if (filled > 0) _log.LogInformation("Delivered {Count} stored events that this node's viewers missed while Redis was down", filled);
    }

    private async Task HeartbeatAsync()
    {
        var mux = _mux!;
        var db = mux.GetDatabase();
        var ttl = TimeSpan.FromSeconds(Math.Max(1, _options.PresenceTtlSeconds));
        // Seq before the snapshot: a change racing with it carries a higher number and is applied after it.
        long seq;
        lock (_publishGate) seq = _seq;
        var presence = _services.GetRequiredService<PresenceTracker>();
        var mine = new RemotePresenceCache.Snapshot(NodeId, seq, presence.LocalSnapshot().ToDictionary(r => r.Key, r => r.Value));
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = db.CreateBatch();
        var set = batch.StringSetAsync(NodeKey(NodeId), JsonSerializer.SerializeToUtf8Bytes(mine, ClusterEventJson.Options), ttl);
        var add = batch.SortedSetAddAsync(_nodesKey, NodeId, now);
        var trim = batch.SortedSetRemoveRangeByScoreAsync(_nodesKey, double.NegativeInfinity, now - 4 * ttl.TotalMilliseconds);
        var alive = batch.SortedSetRangeByScoreAsync(_nodesKey, now - ttl.TotalMilliseconds, double.PositiveInfinity);
        batch.Execute();
        await Task.WhenAll(set, add, trim, alive).ConfigureAwait(false);

        var others = alive.Result.Select(v => (string)v!).Where(n => n != NodeId).ToList();
        var snapshots = new List<RemotePresenceCache.Snapshot>();
        if (others.Count > 0)
        {
            var values = await db.StringGetAsync(others.Select(n => (RedisKey)NodeKey(n)).ToArray()).ConfigureAwait(false);
            foreach (var v in values)
            {
                if (v.IsNullOrEmpty) continue; // expired: that node is gone
                try
                {
                    if (JsonSerializer.Deserialize<RemotePresenceCache.Snapshot>((byte[])v!, ClusterEventJson.Options) is { } s)
                        snapshots.Add(s);
                }
                catch (JsonException ex)
                {
                    _log.LogWarning(ex, "Ignoring an unreadable presence snapshot");
                }
            }
        }
        ShowPresenceChanges(_remote.ApplySnapshots(snapshots));
    }

    /// <summary>Tells local viewers about users that appeared or vanished with a snapshot (e.g. a crashed node's).</summary>
    private void ShowPresenceChanges(IReadOnlyList<RemotePresenceCache.Change> changes)
    {
        if (changes.Count == 0) return;
        var presence = _services.GetRequiredService<PresenceTracker>();
        foreach (var c in changes)
        {
            var online = presence.IsOnline(c.RoomId, c.User.Id);
            // Joined: show it only if this snapshot is what made the user appear; Left: only if they are gone everywhere.
            if (c.Joined ? online && !presence.IsOnlineHere(c.RoomId, c.User.Id) && _remote.Sources(c.RoomId, c.User.Id) == 1 : !online)
                _fanout.Deliver(new PresenceChanged(c.RoomId, c.User, c.Joined));
        }
    }

    private string NodeKey(string node) => $"{_options.Prefix}:presence:node:{node}";

    private void SetStatus(bool connected, string? error)
    {
        _status = new RedisStatus(true, connected, _time.GetUtcNow(), error, NodeId, 0);
    }

    private void SetLastError(string error) => _status = _status with { LastError = error };

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Let the writer drain first (the host stops us before it): its last events still reach the other nodes.
        try { await _services.GetRequiredService<MessageWriter>().StopAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) { _log.LogDebug(ex, "Writer stop before the backplane's"); }
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        _up = false;
        if (_mux is { } mux)
        {
            try
            {
                // Leave at once instead of after the TTL.
                if (mux.IsConnected)
                {
                    var db = mux.GetDatabase();
                    await Task.WhenAll(db.KeyDeleteAsync(NodeKey(NodeId)), db.SortedSetRemoveAsync(_nodesKey, NodeId))
                        .WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) { _log.LogDebug(ex, "Could not remove this node's presence from Redis"); }
            await mux.CloseAsync().ConfigureAwait(false);
            await mux.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The last N ids delivered in one room: enough to spot duplicates and to know where a gap fill starts.</summary>
    private sealed class RecentIds(int capacity)
    {
        private readonly HashSet<long> _set = [];
        private readonly Queue<long> _order = new();

        public long Oldest => _order.Count == 0 ? 0 : _order.Min();

        public bool Add(long id)
        {
            if (!_set.Add(id)) return false;
            _order.Enqueue(id);
            if (_order.Count > capacity) _set.Remove(_order.Dequeue());
            return true;
        }
    }
}
