namespace ChatPortal.Chat;

/// <summary>Receives events from the core. Must never block: it only queues.</summary>
public interface IChatSubscriber
{
    /// <summary>Queue the event; return false when the queue is full (the subscriber is too slow).</summary>
    bool TryDeliver(ChatEvent evt);

    /// <summary>Called once when a delivery was refused; the core has already unsubscribed it.</summary>
    void OnOverflow();
}

/// <summary>
/// A subscriber whose queue is drained on demand instead of by a loop that waits on it. The
/// fan-out first queues the event to every subscriber of the room, then starts the drains of
/// those that were idle in a few thread-pool work items (<see cref="DrainBatch"/>) rather than
/// waking one waiting loop per subscriber: one hand-over per 64 sockets instead of per socket.
/// </summary>
public interface IDrainedSubscriber : IChatSubscriber
{
    /// <summary>
    /// Queues the event; false when the queue is full. <paramref name="startDrain"/> is true when
    /// the subscriber was idle: the caller must then call <see cref="Drain"/> (soon, on any thread).
    /// </summary>
    bool TryQueue(ChatEvent evt, out bool startDrain);

    /// <summary>Sends what is queued; runs on the calling thread until a send has to wait, then goes on asynchronously.</summary>
    void Drain();
}

/// <summary>Starts the drains of many subscribers in work items of <see cref="Size"/> each.</summary>
internal sealed class DrainBatch : IThreadPoolWorkItem
{
    public const int Size = 64;
    private readonly IDrainedSubscriber[] _items;
    private readonly int _start, _count;

    private DrainBatch(IDrainedSubscriber[] items, int start, int count)
    {
        _items = items;
        _start = start;
        _count = count;
    }

    /// <summary>Queues the drains of <paramref name="items"/>[0..count) to the thread pool.</summary>
    public static void Start(IDrainedSubscriber[] items, int count)
    {
        for (var i = 0; i < count; i += Size)
            ThreadPool.UnsafeQueueUserWorkItem(new DrainBatch(items, i, Math.Min(Size, count - i)), preferLocal: false);
    }

    public void Execute()
    {
        for (var i = _start; i < _start + _count; i++)
            _items[i].Drain(); // a drain never throws: it ends its own socket on failure
    }
}

/// <summary>
/// Subscribers of one key (a room or a user), as a copy-on-write array so that publishing
/// never takes a lock and never waits on a subscriber.
/// </summary>
internal sealed class SubscriberSet
{
    private IChatSubscriber[] _items = [];

    public bool IsEmpty => Volatile.Read(ref _items).Length == 0;

    public int Count => Volatile.Read(ref _items).Length;

    public void Add(IChatSubscriber s)
    {
        while (true)
        {
            var old = Volatile.Read(ref _items);
            IChatSubscriber[] next = [.. old, s];
            if (Interlocked.CompareExchange(ref _items, next, old) == old) return;
        }
    }

    public void Remove(IChatSubscriber s)
    {
        while (true)
        {
            var old = Volatile.Read(ref _items);
            var i = Array.IndexOf(old, s);
            if (i < 0) return;
            var next = new IChatSubscriber[old.Length - 1];
            Array.Copy(old, 0, next, 0, i);
            Array.Copy(old, i + 1, next, i, old.Length - i - 1);
            if (Interlocked.CompareExchange(ref _items, next, old) == old) return;
        }
    }

    /// <summary>
    /// Delivers to all; returns the number delivered. Slow subscribers are removed. Every
    /// subscriber has the event queued before any drain starts, so each sees events in publish order.
    /// </summary>
    public int Publish(ChatEvent evt)
    {
        var items = Volatile.Read(ref _items);
        var delivered = 0;
        IDrainedSubscriber[]? starts = null;
        var startCount = 0;
        foreach (var s in items)
        {
            bool queued;
            if (s is IDrainedSubscriber d)
            {
                queued = d.TryQueue(evt, out var start);
                if (queued && start) (starts ??= new IDrainedSubscriber[items.Length])[startCount++] = d;
            }
            else
            {
                queued = s.TryDeliver(evt);
            }
            if (queued)
            {
                delivered++;
                continue;
            }
            Remove(s);
            s.OnOverflow();
        }
        if (startCount > 0) DrainBatch.Start(starts!, startCount);
        return delivered;
    }
}
