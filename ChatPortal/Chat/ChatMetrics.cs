using System.Diagnostics.Metrics;

namespace ChatPortal.Chat;

/// <summary>Counters of the chat core, exported by the metrics endpoint.</summary>
public static class ChatMetrics
{
    public const string MeterName = "ChatPortal";
    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> MessagesIn = Meter.CreateCounter<long>("chatportal.messages.stored", description: "Messages stored");
    private static readonly Counter<long> Deliveries = Meter.CreateCounter<long>("chatportal.deliveries", description: "Events handed to subscribers");
    private static readonly Counter<long> SlowDropped = Meter.CreateCounter<long>("chatportal.subscribers.dropped", description: "Slow subscribers dropped");
    private static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("chatportal.writer.batch", description: "Rows per group commit");

    private static readonly UpDownCounter<long> WebConnectionsGauge = Meter.CreateUpDownCounter<long>("chatportal.connections.web", description: "Open web UI connections (Blazor circuits)");

    private static long _webConnections;
    private static long _storedTotal;
    private static long _deliveredTotal;
    private static long _droppedTotal;

    public static long StoredTotal => Interlocked.Read(ref _storedTotal);
    public static long DeliveredTotal => Interlocked.Read(ref _deliveredTotal);
    public static long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    /// <summary>Open web UI connections on this node (one per connected browser tab).</summary>
    public static long WebConnections => Interlocked.Read(ref _webConnections);

    public static void WebConnectionOpened() { Interlocked.Increment(ref _webConnections); WebConnectionsGauge.Add(1); }

    public static void WebConnectionClosed() { Interlocked.Decrement(ref _webConnections); WebConnectionsGauge.Add(-1); }

    internal static void Stored(int n)
    {
        Interlocked.Add(ref _storedTotal, n);
        MessagesIn.Add(n);
        BatchSize.Record(n);
    }

    internal static void Delivered(int n)
    {
        if (n == 0) return;
        Interlocked.Add(ref _deliveredTotal, n);
        Deliveries.Add(n);
    }

    internal static void SlowSubscriberDropped()
    {
        Interlocked.Increment(ref _droppedTotal);
        SlowDropped.Add(1);
    }
}
