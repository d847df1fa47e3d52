using System.Buffers;
using System.Text.Json;
using ChatPortal.Chat;
using StackExchange.Redis;

namespace ChatPortal.Cluster;

/// <summary>
/// Fan-out across nodes through one Redis pub/sub channel. Each event is serialized once and
/// published in an envelope numbered per node; every node hands what arrives to the core
/// (<see cref="LocalFanout.Deliver"/>, which also updates the core's room, membership and user
/// caches), presence events to <see cref="RedisPresence"/>. Ordered events (posts, edits, deletes,
/// membership, room changes, revocations) reach this node's users through the channel too, so all
/// nodes see them in the one order Redis gives; the rest is delivered here at once.
/// <para>
/// When Redis is unreachable each node goes on serving its own users (<see cref="RedisLink"/> says
/// so in health and logs); when it is back, every room with a subscriber here gets the stored events
/// it did not see meanwhile, read from the database (deduplicated by id), so nothing stored is lost
/// for live viewers either.
/// </para>
/// </summary>
public sealed class RedisBackplane : IChatBackplane, IRedisLinkWatcher
{
    private const int RecentPerRoom = 2048;

    private readonly RedisLink _link;
    private readonly RedisPresence _presence;
    private readonly LocalFanout _fanout;
    private readonly ChatHistory _history;
    private readonly ClusterMetrics _metrics;
    private readonly ILogger<RedisBackplane> _log;
    private readonly RedisChannel _channel;
    private readonly Lock _publishGate = new();
    private readonly Lock _recentGate = new();
    private readonly Dictionary<long, RecentIds> _recent = [];
    private long _seq;
    private Task _lastPublish = Task.CompletedTask;
    private Dictionary<long, long>? _fillFrom;
    private long _maxDeliveredAtDown;
    private long _maxDelivered;
    private bool _everUp;

    public RedisBackplane(RedisLink link, RedisPresence presence, LocalFanout fanout, ChatHistory history, ClusterMetrics metrics, ILogger<RedisBackplane> log)
    {
        (_link, _presence, _fanout, _history, _metrics, _log) = (link, presence, fanout, history, metrics, log);
        _channel = RedisChannel.Literal($"{link.Options.Prefix}:events");
        presence.CurrentSeq = () =>
        {
            lock (_publishGate) return _seq;
        };
        link.Subscribe(_channel, OnMessage);
        link.Watch(this);
    }

    public string NodeId => _link.NodeId;

    // ---------------------------------------------------------------- publishing

    public void Publish(ChatEvent evt)
    {
        var mux = _link.Connection;
        var up = mux is not null;
        var viaChannel = up && ChatEvents.IsOrdered(evt);
        if (!viaChannel && (evt is not PresenceChanged pc || _presence.ShowsLocally(pc)))
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
                    _link.Suspect(t.Exception);
                }, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            _metrics.Published();
        }
        catch (Exception ex)
        {
            // Never let the backplane fail a writer: the event is stored and delivered here; the others catch up.
            if (viaChannel) DeliverLocally(evt);
            _link.Suspect(ex);
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
            await last.WaitAsync(TimeSpan.FromMilliseconds(_link.Options.PublishTimeoutMs)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            _link.Suspect(ex);
        }
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
            env = JsonSerializer.Deserialize<WireEnvelope>((byte[])message.Message!, ClusterEventJson.Options) ?? throw new JsonException("empty envelope");
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Ignoring a malformed message on {Channel}", message.Channel);
            return;
        }
        if (env.N == NodeId)
        {
            // Our own ordered events come back to be delivered here in channel order; the rest was delivered at publish.
            if (ChatEvents.IsOrdered(env.E)) DeliverLocally(env.E);
            return;
        }
        _metrics.Received();
        try
        {
            if (env.E is PresenceChanged pc) _presence.OnRemote(env.N, env.S, pc);
            else DeliverLocally(env.E);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Delivering a {Type} from node {Node} failed", env.E.GetType().Name, env.N);
        }
    }

    /// <summary>Hands an event to the core here; a stored event already delivered here is skipped (once, also after a gap fill).</summary>
    private bool DeliverLocally(ChatEvent evt)
    {
        if (ChatEvents.StoredId(evt) is > 0 and var id)
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

    // ---------------------------------------------------------------- outages

    public async Task CameUpAsync(CancellationToken stop)
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
        if (fillFrom is not null) await FillGapAsync(fillFrom, fallback, stop).ConfigureAwait(false);
    }

    public void WentDown()
    {
        lock (_recentGate)
        {
            // Where to read from when Redis is back: the oldest id this node still remembers per room.
            _fillFrom = _recent.ToDictionary(r => r.Key, r => r.Value.Oldest);
            _maxDeliveredAtDown = _maxDelivered;
        }
    }

    public Task TickAsync(bool up, CancellationToken stop) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken ct) => FlushAsync().AsTask();

    /// <summary>Delivers what this node's viewers missed while Redis was down: stored events they have not had, in id order.</summary>
    private async Task FillGapAsync(Dictionary<long, long> fillFrom, long fallback, CancellationToken stop)
    {
        var filled = 0;
        foreach (var room in _fanout.RoomsWithSubscribers())
        {
            var after = fillFrom.TryGetValue(room, out var from) ? from : fallback;
            if (after == long.MaxValue) continue;
            try
            {
                foreach (var evt in await _history.GetStoredEventsAfterAsync(room, after, 2000, stop).ConfigureAwait(false))
                {
                    if (DeliverLocally(evt)) filled++;
                }
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                _log.LogWarning(ex, "Could not fill room {Room} after the Redis outage", room);
            }
        }
        _metrics.GapFilled(filled);
        if (filled > 0) _log.LogInformation("Delivered {Count} stored events that this node's viewers missed while Redis was down", filled);
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
