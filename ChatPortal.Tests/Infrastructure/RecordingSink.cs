using ChatPortal.Chat;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>
/// A connection for tests: a bounded queue drained (unless told not to) by one loop that hands the
/// session's items back to it, as the socket and the circuit do, and a record of what came out.
/// </summary>
public sealed class RecordingSink(int capacity = 10_000, bool drains = true) : IChatSessionSink
{
    private readonly Queue<object> _queue = new();
    private readonly List<object> _out = [];
    private readonly SemaphoreSlim _signal = new(0);
    private bool _draining;

    public ChatSession Session { get; private set; } = default!;
    public bool Overflowed { get; private set; }
    public string? RevokedFor { get; private set; }

    /// <summary>What the session produced, in order: events, joins (at their reply), ("caught_up", join), ("lost", room, reason).</summary>
    public IReadOnlyList<object> Output
    {
        get { lock (_out) return [.. _out]; }
    }

    public IReadOnlyList<ChatEvent> Events => Output.OfType<ChatEvent>().ToList();

    public static RecordingSink Open(IChatCore core, UserRef user, int capacity = 10_000, bool drains = true)
    {
        var sink = new RecordingSink(capacity, drains);
        sink.Session = core.Sessions.Open(user, sink);
        return sink;
    }

    /// <summary>Every item queued, with whether the session asked for it to go at once (an event from elsewhere).</summary>
    public IReadOnlyList<(object Item, bool Urgent)> Queued
    {
        get { lock (_queue) return [.. _queued]; }
    }

    private readonly List<(object Item, bool Urgent)> _queued = [];

    public bool TryQueue(object item, bool urgent, out bool startDrain)
    {
        lock (_queue)
        {
            startDrain = false;
            _queued.Add((item, urgent));
            if (_queue.Count >= capacity) return false;
            _queue.Enqueue(item);
            if (drains && !_draining) startDrain = _draining = true;
            return true;
        }
    }

    public void Drain() => _ = Task.Run(DrainAsync);

    private async Task DrainAsync()
    {
        while (true)
        {
            object item;
            lock (_queue)
            {
                if (!_queue.TryDequeue(out item!))
                {
                    _draining = false;
                    return;
                }
            }
            await Session.DeliverAsync(item);
        }
    }

    public void Overflow() => Overflowed = true;

    public ValueTask JoinedAsync(RoomJoin join) => Record(join);

    public ValueTask EventAsync(ChatEvent evt) => Record(evt);

    public ValueTask CaughtUpAsync(RoomJoin join) => Record(("caught_up", join));

    public ValueTask RoomLostAsync(RoomInfo room, RoomLoss reason) => Record(("lost", room, reason));

    public void Revoked(string reason)
    {
        RevokedFor = reason;
        _signal.Release();
    }

    private ValueTask Record(object o)
    {
        lock (_out) _out.Add(o);
        _signal.Release();
        return ValueTask.CompletedTask;
    }

    public async Task<IReadOnlyList<object>> WaitForAsync(Func<IReadOnlyList<object>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var now = Output;
            if (done(now)) return now;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"The session's output did not get there; it has {now.Count} items.");
            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }
}
