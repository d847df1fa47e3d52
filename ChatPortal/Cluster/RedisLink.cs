using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatPortal.Cluster;

/// <summary>Redis as this node sees it, for health, logs and the dashboard.</summary>
public sealed record RedisStatus(bool Enabled, bool Connected, DateTimeOffset Since, string? LastError, string NodeId, int OtherNodes);

/// <summary>What reacts to Redis coming and going (the backplane, the shared presence).</summary>
internal interface IRedisLinkWatcher
{
    /// <summary>The link is (again) healthy: subscriptions are in place.</summary>
    Task CameUpAsync(CancellationToken stop);
    void WentDown();
    /// <summary>About once a second while the host runs, up or down.</summary>
    Task TickAsync(bool up, CancellationToken stop);
    /// <summary>The node stops: last words while Redis may still be reachable.</summary>
    Task StoppingAsync(CancellationToken ct);
}

/// <summary>
/// This node's connection to Redis and its health: connects (or waits for Redis to come), keeps the
/// channel subscriptions the others registered, checks every second (ping + subscription state),
/// and tells its watchers when Redis goes down and when it is back. While down the node keeps
/// serving its own users, says so in <c>/healthz</c>, and publishing fails fast.
/// </summary>
public sealed class RedisLink : BackgroundService
{
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisLink> _log;
    private readonly Func<int> _otherNodes;
    private readonly List<IRedisLinkWatcher> _watchers = [];
    private readonly List<(RedisChannel Channel, Action<ChannelMessage> Handler)> _channels = [];
    private readonly SemaphoreSlim _wake = new(0);
    private ConnectionMultiplexer? _mux;
    private volatile bool _up;
    private volatile RedisStatus _status;
    // When the last check (ping + subscriptions) passed: a status older than StaleAfter is not reported as connected,
    // even if the checking loop itself is held up.
    private long _lastPassedTicks;
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(5);
    // A watcher's tick or heartbeat that takes longer holds up the checks; it is abandoned and counted as a failure.
    private static readonly TimeSpan WatcherTimeout = TimeSpan.FromSeconds(5);

    public RedisLink(IOptions<RedisOptions> options, RemotePresenceCache remote, TimeProvider time, ILogger<RedisLink> log)
    {
        _options = options.Value;
        _time = time;
        _log = log;
        _otherNodes = () => remote.Nodes().Count;
        NodeId = string.IsNullOrWhiteSpace(_options.NodeId)
            ? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}"
            : _options.NodeId.Trim();
        _status = new RedisStatus(true, false, time.GetUtcNow(), "not connected yet", NodeId, 0);
    }

    public string NodeId { get; }

    public RedisOptions Options => _options;

    public RedisStatus Status
    {
        get
        {
            var s = _status with { OtherNodes = _otherNodes() };
            if (!s.Connected) return s;
            var quiet = _time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _lastPassedTicks), TimeSpan.Zero);
            return quiet <= StaleAfter ? s
                : s with { Connected = false, LastError = $"no check has passed for {quiet.TotalSeconds:0} s (last error: {s.LastError ?? "none"})" };
        }
    }

    public bool IsUp => _up;

    /// <summary>The connection while up (null while down or not connected yet).</summary>
    public ConnectionMultiplexer? Connection => _up ? _mux : null;

    /// <summary>Redis for small shared state (e.g. redeemed socket tickets) while connected; null while down.</summary>
    public IDatabase? Database => _up && _mux is { IsConnected: true } mux ? mux.GetDatabase() : null;

    internal void Watch(IRedisLinkWatcher watcher)
    {
        lock (_watchers) _watchers.Add(watcher);
    }

    /// <summary>Messages of <paramref name="channel"/> go to <paramref name="handler"/>, one at a time in Redis's order.</summary>
    internal void Subscribe(RedisChannel channel, Action<ChannelMessage> handler)
    {
        lock (_channels) _channels.Add((channel, handler));
    }

    /// <summary>Something failed against Redis: check the connection now instead of within a second.</summary>
    internal void Suspect(Exception? ex)
    {
        if (!_up) return;
        _log.LogWarning(ex?.GetBaseException(), "A Redis call failed; checking the connection");
        _wake.Release();
    }

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

        var subscribed = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                subscribed = subscribed || await SubscribeAllAsync().ConfigureAwait(false);
                var healthy = subscribed && await IsHealthyAsync().ConfigureAwait(false);
                if (healthy) Interlocked.Exchange(ref _lastPassedTicks, _time.GetUtcNow().UtcTicks);
                if (healthy && !_up) await CameUpAsync(stop).ConfigureAwait(false);
                else if (!healthy && _up) WentDown();
                foreach (var w in Watchers()) await w.TickAsync(_up, stop).WaitAsync(WatcherTimeout, stop).ConfigureAwait(false);
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

    /// <summary>One ordered queue per channel: its messages are handled one at a time, in the order Redis sent them.</summary>
    private async Task<bool> SubscribeAllAsync()
    {
        (RedisChannel, Action<ChannelMessage>)[] channels;
        lock (_channels) channels = [.. _channels];
        try
        {
            foreach (var (channel, handler) in channels)
            {
                var queue = await _mux!.GetSubscriber().SubscribeAsync(channel).ConfigureAwait(false);
                queue.OnMessage(handler);
            }
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            SetLastError(ex.Message);
            return false;
        }
    }

    private async Task<bool> IsHealthyAsync()
    {
        var mux = _mux!;
        if (!mux.IsConnected) return false;
        lock (_channels)
        {
            if (_channels.Any(c => !mux.GetSubscriber().IsConnected(c.Channel))) return false;
        }
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
        SetStatus(true, null);
        _up = true;
        _log.LogInformation("Redis {Endpoint} connected: node {Node} shares rooms and presence with the other nodes", _options.Configuration, NodeId);
        foreach (var w in Watchers()) await w.CameUpAsync(stop).ConfigureAwait(false);
    }

    private void WentDown(string? reason = null)
    {
        if (!_up) return;
        SetStatus(false, reason ?? _status.LastError ?? "connection lost");
        _up = false;
        foreach (var w in Watchers()) w.WentDown();
        _log.LogWarning("Redis {Endpoint} is unreachable ({Reason}): node {Node} keeps serving its own users; cross-node delivery resumes when Redis is back",
            _options.Configuration, _status.LastError, NodeId);
    }

    private void SetStatus(bool connected, string? error) => _status = new RedisStatus(true, connected, _time.GetUtcNow(), error, NodeId, 0);

    private void SetLastError(string error) => _status = _status with { LastError = error };

    private IRedisLinkWatcher[] Watchers()
    {
        lock (_watchers) return [.. _watchers];
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Registered as the first hosted service, so stopped last: the writer has drained and its last events have gone out.
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_mux is not { } mux) return;
        foreach (var w in Watchers())
        {
            try { await w.StoppingAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) { _log.LogDebug(ex, "A Redis watcher's last words failed"); }
        }
        _up = false;
        await mux.CloseAsync().ConfigureAwait(false);
        await mux.DisposeAsync().ConfigureAwait(false);
    }
}
