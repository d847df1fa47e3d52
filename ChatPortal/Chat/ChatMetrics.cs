using System.Diagnostics.Metrics;

namespace ChatPortal.Chat;

/// <summary>Instruments of the chat core on the "ChatPortal" meter (exported by the metrics endpoint), made through <see cref="IMeterFactory"/>.</summary>
public sealed class ChatMetrics
{
    public const string MeterName = "ChatPortal";
    private readonly Counter<long> _stored;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _slowDropped;
    private readonly Histogram<int> _batch;
    private readonly UpDownCounter<long> _webGauge;
    private readonly Counter<long> _catchUps;
    private readonly Counter<long> _catchUpReads;
    private long _webConnections;

    public ChatMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _stored = meter.CreateCounter<long>("chatportal.messages.stored", description: "Messages stored");
        _deliveries = meter.CreateCounter<long>("chatportal.deliveries", description: "Events handed to subscribers");
        _slowDropped = meter.CreateCounter<long>("chatportal.subscribers.dropped", description: "Slow subscribers (tabs, sockets) dropped");
        _batch = meter.CreateHistogram<int>("chatportal.writer.batch", description: "Rows per group commit");
        _catchUps = meter.CreateCounter<long>("chatportal.catchups", description: "Catch-ups of rejoining tabs and sockets (pages of stored events)");
        _catchUpReads = meter.CreateCounter<long>("chatportal.catchup.reads", description: "Database reads for catch-ups (those asking at once share one)");
        _webGauge = meter.CreateUpDownCounter<long>("chatportal.connections.web", description: "Open web UI connections (Blazor circuits)");
    }

    /// <summary>Open web UI connections on this node (one per connected browser tab).</summary>
    public long WebConnections => Interlocked.Read(ref _webConnections);

    public void WebConnectionOpened()
    {
        Interlocked.Increment(ref _webConnections);
        _webGauge.Add(1);
    }

    public void WebConnectionClosed()
    {
        Interlocked.Decrement(ref _webConnections);
        _webGauge.Add(-1);
    }

    internal void Stored(int n)
    {
        _stored.Add(n);
        _batch.Record(n);
    }

    internal void Delivered(int n)
    {
        if (n > 0) _deliveries.Add(n);
    }

    internal void SlowSubscriberDropped() => _slowDropped.Add(1);

    private long _catchUpCount, _catchUpReadCount;

    /// <summary>Catch-ups served on this node, and the database reads they took (a storm's rejoins share reads).</summary>
    public (long CatchUps, long Reads) CatchUpTotals => (Interlocked.Read(ref _catchUpCount), Interlocked.Read(ref _catchUpReadCount));

    internal void CatchUp()
    {
        Interlocked.Increment(ref _catchUpCount);
        _catchUps.Add(1);
    }

    internal void CatchUpRead()
    {
        Interlocked.Increment(ref _catchUpReadCount);
        _catchUpReads.Add(1);
    }
}
