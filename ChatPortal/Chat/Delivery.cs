using System.Threading.Channels;

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
/// A bounded queue drained by one loop: the standard subscriber for circuits and sockets.
/// A full queue means the consumer is too slow; it is dropped (it reconnects and catches up)
/// instead of slowing the room.
/// </summary>
public sealed class BoundedSubscriber : IChatSubscriber, IAsyncDisposable
{
    private readonly Channel<ChatEvent> _queue;
    private readonly Func<ChatEvent, CancellationToken, ValueTask> _handler;
    private readonly Action? _onOverflow;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _overflowed;

    public BoundedSubscriber(int capacity, Func<ChatEvent, CancellationToken, ValueTask> handler, Action? onOverflow = null)
    {
        _queue = Channel.CreateBounded<ChatEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping silently
        });
        _handler = handler;
        _onOverflow = onOverflow;
        _loop = Task.Run(DrainAsync);
    }

    public int Depth => _queue.Reader.Count;

    /// <summary>Deliveries whose handler threw (the loop carries on with the next event).</summary>
    public int HandlerFailures { get; private set; }

    public bool Overflowed => Volatile.Read(ref _overflowed) == 1;

    public bool TryDeliver(ChatEvent evt) => Volatile.Read(ref _overflowed) == 0 && _queue.Writer.TryWrite(evt);

    public void OnOverflow()
    {
        if (Interlocked.Exchange(ref _overflowed, 1) == 0)
        {
            ChatMetrics.SlowSubscriberDropped();
            _queue.Writer.TryComplete();
            _onOverflow?.Invoke();
        }
    }

    private async Task DrainAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var evt))
                {
                    try
                    {
                        await _handler(evt, _stop.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // One failed delivery (a closing socket, a disposed view) must not end the loop silently.
                        HandlerFailures++;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); } catch (Exception) { /* the handler's own failure ends its loop */ }
        _stop.Dispose();
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

    /// <summary>Delivers to all; returns the number delivered. Slow subscribers are removed.</summary>
    public int Publish(ChatEvent evt)
    {
        var items = Volatile.Read(ref _items);
        var delivered = 0;
        foreach (var s in items)
        {
            if (s.TryDeliver(evt))
            {
                delivered++;
                continue;
            }
            Remove(s);
            s.OnOverflow();
        }
        return delivered;
    }
}
