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
/// Subscribers of one key (a room or a user). Publishing reads a snapshot array without a lock and never waits on a
/// subscriber; adding and removing change a list under a lock and drop the snapshot, which the next publish builds
/// again. Joins and leaves so cost O(1) (a removal swaps the last subscriber into the gap, found through an index once
/// the set is large), not a copy of the whole set each: 10,000 clients joining one room after a restart copied
/// 10,000 arrays of up to 10,000 entries (issue 19). Publishing stays O(subscribers), as delivering is.
/// </summary>
internal sealed class SubscriberSet
{
    /// <summary>Above this many subscribers a removal finds its subscriber through a dictionary instead of a scan.</summary>
    internal const int IndexFrom = 32;

    private readonly List<IChatSubscriber> _list = []; // also the lock (no extra object per set: there is one per user)
    private Dictionary<IChatSubscriber, int>? _index; // position in _list, kept once the set is large
    private IChatSubscriber[]? _snapshot = [];
    private int _count;

    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    public int Count => Volatile.Read(ref _count);

    public void Add(IChatSubscriber s)
    {
        lock (_list)
        {
            _index?.Add(s, _list.Count);
            _list.Add(s);
            if (_index is null && _list.Count > IndexFrom)
            {
                _index = new Dictionary<IChatSubscriber, int>(_list.Count * 2, ReferenceEqualityComparer.Instance);
                for (var i = 0; i < _list.Count; i++) _index[_list[i]] = i;
            }
            Changed();
        }
    }

    public void Remove(IChatSubscriber s)
    {
        lock (_list)
        {
            int i;
            if (_index is not null)
            {
                if (!_index.Remove(s, out i)) return;
            }
            else
            {
                i = -1;
                for (var j = 0; j < _list.Count; j++)
                {
                    if (ReferenceEquals(_list[j], s))
                    {
                        i = j;
                        break;
                    }
                }
                if (i < 0) return;
            }
            var last = _list.Count - 1;
            if (i != last)
            {
                var moved = _list[last];
                _list[i] = moved;
                if (_index is not null) _index[moved] = i;
            }
            _list.RemoveAt(last);
            Changed();
        }
    }

    /// <summary>Under the lock: the next publish takes a new snapshot.</summary>
    private void Changed()
    {
        Volatile.Write(ref _snapshot, null);
        Volatile.Write(ref _count, _list.Count);
    }

    /// <summary>The subscribers now, as an array nobody changes (built once per change, shared by publishes).</summary>
    internal IChatSubscriber[] Snapshot()
    {
        if (Volatile.Read(ref _snapshot) is { } snapshot) return snapshot;
        lock (_list) return _snapshot ??= [.. _list];
    }

    /// <summary>
    /// Delivers to all; returns the number delivered. Slow subscribers are removed. Every
    /// subscriber has the event queued before any drain starts, so each sees events in publish order.
    /// </summary>
    public int Publish(ChatEvent evt)
    {
        var items = Snapshot();
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
