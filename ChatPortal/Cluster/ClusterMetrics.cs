using System.Diagnostics.Metrics;
using ChatPortal.Chat;
using ChatPortal.WebSockets;

namespace ChatPortal.Cluster;

/// <summary>Backplane counters, on the same "ChatPortal" meter as the core's (exported at /metrics).</summary>
public sealed class ClusterMetrics(IMeterFactory meters)
{
    private readonly Meter _meter = meters.Create(ChatMetrics.MeterName);
    private Counter<long>? _published, _received, _gapFilled;

    internal void Published() => (_published ??= _meter.CreateCounter<long>("chatportal.cluster.published", description: "Events sent to the other nodes through Redis")).Add(1);

    internal void Received() => (_received ??= _meter.CreateCounter<long>("chatportal.cluster.received", description: "Events received from the other nodes through Redis")).Add(1);

    internal void GapFilled(int n)
    {
        if (n > 0) (_gapFilled ??= _meter.CreateCounter<long>("chatportal.cluster.gap_filled", description: "Stored events delivered from the database after a Redis outage")).Add(n);
    }
}

/// <summary>Gauges read from live services when /metrics is scraped: queue depths, presence, Redis.</summary>
public sealed class ClusterGauges
{
    public ClusterGauges(IMeterFactory meters, MessageWriter writer, PresenceTracker presence, IServiceProvider services)
    {
        var meter = meters.Create(ChatMetrics.MeterName);
        meter.CreateObservableGauge("chatportal.writer.queue_depth", () => writer.QueueDepth,
            description: "Writes waiting for the single writer's next group commit");
        meter.CreateObservableGauge("chatportal.online.users", () => presence.OnlineUserCount(),
            description: "Distinct users online (all nodes)");
        if (services.GetService<SocketRegistry>() is { } sockets)
            meter.CreateObservableGauge("chatportal.ws.send_queue_depth", () => sockets.QueuedFrames,
                description: "Frames waiting in the open sockets' send queues (a socket whose queue fills is dropped)");
        var redis = services.GetService<RedisLink>();
        if (redis is not null)
        {
            meter.CreateObservableGauge("chatportal.cluster.redis_up", () => redis.IsUp ? 1 : 0,
                description: "1 while this node is connected to Redis");
            meter.CreateObservableGauge("chatportal.cluster.nodes", () => redis.Status.OtherNodes + 1,
                description: "Nodes this node sees (itself included)");
        }
    }
}
