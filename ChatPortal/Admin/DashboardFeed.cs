using ChatPortal.Chat;

namespace ChatPortal.Admin;

public sealed record MinutePoint(DateTimeOffset Minute, int Messages);

public sealed record ConnectionPoint(DateTimeOffset At, long Web, long Sockets, int OnlineUsers);

/// <summary>What the dashboard shows, as of <see cref="At"/>.</summary>
public sealed record DashboardSnapshot(
    DateTimeOffset At,
    int OnlineUsers,
    int Rooms,
    long MessagesToday,
    long WebConnections,
    long Sockets,
    IReadOnlyList<MinutePoint> MessagesPerMinute,
    IReadOnlyList<ConnectionPoint> Connections);

/// <summary>
/// Samples the portal for the dashboard: messages are counted from the database (new ids since
/// the last tick, so every node of a cluster sees every message), connections from this node's
/// counters. Ticks every 2 s while a dashboard is open, every 10 s otherwise, and pushes each
/// snapshot to the open dashboards.
/// </summary>
public sealed class DashboardFeed(ChatHistory history, ChatRooms rooms, ChatSessions sessions, ChatMetrics metrics, AdminGuard guard,
    TimeProvider time, ILogger<DashboardFeed> log, WebSockets.WebSocketMetrics? sockets = null) : BackgroundService
{
    public const int Minutes = 30;
    public const int ConnectionSamples = 60;
    public static readonly TimeSpan FastTick = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan ConnectionEvery = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _subscribersGate = new();
    private readonly List<Action<DashboardSnapshot>> _subscribers = [];
    private readonly LinkedList<MinutePoint> _minutes = new();
    private readonly LinkedList<ConnectionPoint> _connections = new();
    private long _lastId = -1;
    private long? _today;
    private DateOnly _todayDate;
    private int _rooms;
    private DateTimeOffset _roomsAt;
    private DateTimeOffset _lastConnectionSample;

    /// <summary>The current numbers, sampled now (the last tick may be seconds old).</summary>
    public async Task<DashboardSnapshot> GetAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await SampleAsync(ct);
    }

    /// <summary>Calls <paramref name="onSnapshot"/> with every new snapshot until disposed (on the sampler's thread).</summary>
    public async Task<IDisposable> SubscribeAsync(AdminCaller caller, Action<DashboardSnapshot> onSnapshot, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        lock (_subscribersGate) _subscribers.Add(onSnapshot);
        return new Subscription(this, onSnapshot);
    }

    private bool Watched
    {
        get { lock (_subscribersGate) return _subscribers.Count > 0; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FastTick, time);
        var idleTicks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!Watched && ++idleTicks < 5) continue;
                idleTicks = 0;
                try
                {
                    var snapshot = await SampleAsync(stoppingToken);
                    Action<DashboardSnapshot>[] targets;
                    lock (_subscribersGate) targets = [.. _subscribers];
                    foreach (var t in targets)
                    {
                        try { t(snapshot); }
                        catch (Exception ex) { log.LogWarning(ex, "A dashboard subscriber failed"); }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    log.LogWarning(ex, "Dashboard sampling failed; trying again on the next tick");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<DashboardSnapshot> SampleAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            var local = TimeZoneInfo.ConvertTime(now, time.LocalTimeZone);
            var today = DateOnly.FromDateTime(local.DateTime);
            var maxId = await history.LatestIdAsync(ct);
            var fresh = 0;
            if (_lastId < 0) _lastId = maxId; // first tick: the chart starts now
            else if (maxId > _lastId)
            {
                fresh = await history.CountPostsAsync(_lastId, maxId, null, ct);
                _lastId = maxId;
            }

            if (_today is null || today != _todayDate)
            {
                // Once (and at midnight): count today's posts up to the id just seen; later ticks add the new ones.
                var startLocal = new DateTimeOffset(local.Date, local.Offset);
                var start = startLocal.ToUniversalTime();
                _today = await history.CountPostsAsync(0, _lastId, start, ct);
                _todayDate = today;
            }
            else
            {
                _today += fresh;
            }

            var minute = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
            if (_minutes.Last is { } last && last.Value.Minute == minute) last.Value = last.Value with { Messages = last.Value.Messages + fresh };
            else _minutes.AddLast(new MinutePoint(minute, fresh));
            while (_minutes.Count > Minutes) _minutes.RemoveFirst();

            if (now - _roomsAt > TimeSpan.FromSeconds(10))
            {
                _rooms = await rooms.CountOpenAsync(ct);
                _roomsAt = now;
            }

            var online = sessions.Presence.OnlineUserCount();
            var point = new ConnectionPoint(now, metrics.WebConnections, sockets?.Current.Total ?? 0, online);
            if (_connections.Count == 0 || now - _lastConnectionSample >= ConnectionEvery)
            {
                _connections.AddLast(point);
                _lastConnectionSample = now;
                while (_connections.Count > ConnectionSamples) _connections.RemoveFirst();
            }
            else
            {
                _connections.Last!.Value = point; // the newest point follows the live value
            }

            return new DashboardSnapshot(now, online, _rooms, _today.Value, point.Web, point.Sockets,
                Filled(minute), [.. _connections]);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The last <see cref="Minutes"/> minutes, with quiet minutes as zeros.</summary>
    private List<MinutePoint> Filled(DateTimeOffset currentMinute)
    {
        var byMinute = _minutes.ToDictionary(m => m.Minute, m => m.Messages);
        return Enumerable.Range(0, Minutes).Select(i => currentMinute.AddMinutes(i - Minutes + 1))
            .Select(m => new MinutePoint(m, byMinute.GetValueOrDefault(m))).ToList();
    }

    private void Unsubscribe(Action<DashboardSnapshot> s)
    {
        lock (_subscribersGate) _subscribers.Remove(s);
    }

    private sealed class Subscription(DashboardFeed owner, Action<DashboardSnapshot> s) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Unsubscribe(s);
        }
    }
}
