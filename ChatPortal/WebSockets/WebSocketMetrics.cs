using System.Diagnostics.Metrics;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>The kinds of socket the dashboard counts.</summary>
public enum SocketKind
{
    /// <summary>No subprotocol: the original chat room's clients (always guests).</summary>
    Plain,
    /// <summary>The <c>chatportal.v1</c> subprotocol.</summary>
    V1,
}

/// <summary>Open connections right now, by kind.</summary>
public readonly record struct SocketCounts(int Plain, int V1, int Guests)
{
    public int Total => Plain + V1;
}

/// <summary>
/// Instruments of the socket endpoint on the "ChatPortal" meter (exported by the metrics endpoint,
/// made through <see cref="IMeterFactory"/>); the open-connection counts are also read in process (dashboard).
/// </summary>
public sealed class WebSocketMetrics
{
    private int _plain;
    private int _v1;
    private int _guests;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _dropped;
    // Frames are counted per frame on the send and receive paths (a busy room's burst is a million a
    // second): a plain counter read when the metrics are collected, not a Counter<long>.Add per frame,
    // which goes through every listener's aggregation (OpenTelemetry's took 6.5 % of the fan-out's CPU).
    private long _framesOut;
    private long _framesIn;
    private long _writes;

    public WebSocketMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ChatMetrics.MeterName);
        _accepted = meter.CreateCounter<long>("chatportal.ws.accepted", description: "WebSocket connections accepted");
        _rejected = meter.CreateCounter<long>("chatportal.ws.rejected", description: "WebSocket upgrades refused (origin, protocol, per-address cap)");
        _dropped = meter.CreateCounter<long>("chatportal.ws.dropped", description: "Sockets dropped for not keeping up");
        meter.CreateObservableCounter("chatportal.ws.frames_out", () => Interlocked.Read(ref _framesOut), description: "Frames sent to sockets");
        meter.CreateObservableCounter("chatportal.ws.writes", () => Interlocked.Read(ref _writes),
            description: "Writes to socket connections (frames queued together, or a join and its catch-up, go out in one)");
        meter.CreateObservableCounter("chatportal.ws.frames_in", () => Interlocked.Read(ref _framesIn), description: "Messages received from sockets");
        meter.CreateObservableUpDownCounter("chatportal.ws.connections", () => new[]
        {
            new Measurement<int>(Volatile.Read(ref _plain), new KeyValuePair<string, object?>("kind", "plain")),
            new Measurement<int>(Volatile.Read(ref _v1), new KeyValuePair<string, object?>("kind", "v1")),
            new Measurement<int>(Volatile.Read(ref _guests), new KeyValuePair<string, object?>("kind", "guest")),
        }, description: "Open WebSocket connections (guest counts guests of either protocol)");
    }

    /// <summary>Open connections now (plain, v1; guests of either kind counted again under Guests).</summary>
    public SocketCounts Current => new(Volatile.Read(ref _plain), Volatile.Read(ref _v1), Volatile.Read(ref _guests));

    internal void Opened(SocketKind kind)
    {
        _accepted.Add(1, new KeyValuePair<string, object?>("kind", Name(kind)));
        Interlocked.Increment(ref kind == SocketKind.Plain ? ref _plain : ref _v1);
    }

    internal void Closed(SocketKind kind) => Interlocked.Decrement(ref kind == SocketKind.Plain ? ref _plain : ref _v1);

    internal void GuestIn() => Interlocked.Increment(ref _guests);

    internal void GuestOut() => Interlocked.Decrement(ref _guests);

    internal void Refused(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void SlowDropped() => _dropped.Add(1);

    internal void Sent() => Interlocked.Increment(ref _framesOut);

    internal void Received() => Interlocked.Increment(ref _framesIn);

    internal void Wrote() => Interlocked.Increment(ref _writes);

    private static string Name(SocketKind kind) => kind == SocketKind.Plain ? "plain" : "v1";
}
