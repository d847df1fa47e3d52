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
/// Counters of the socket endpoint, readable in process (admin dashboard) and exported through
/// the "ChatPortal" meter (metrics endpoint).
/// </summary>
public static class WebSocketMetrics
{
    private static readonly Meter Meter = new(ChatMetrics.MeterName);
    private static int _plain;
    private static int _v1;
    private static int _guests;
    private static long _accepted;
    private static long _rejected;
    private static long _dropped;

    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("chatportal.ws.accepted", description: "WebSocket connections accepted");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("chatportal.ws.rejected", description: "WebSocket upgrades refused (origin, protocol, per-address cap)");
    private static readonly Counter<long> Dropped = Meter.CreateCounter<long>("chatportal.ws.dropped", description: "Sockets dropped for not keeping up");
    private static readonly Counter<long> FramesOut = Meter.CreateCounter<long>("chatportal.ws.frames_out", description: "Frames sent to sockets");
    private static readonly Counter<long> FramesIn = Meter.CreateCounter<long>("chatportal.ws.frames_in", description: "Messages received from sockets");

    static WebSocketMetrics()
    {
        Meter.CreateObservableUpDownCounter("chatportal.ws.connections", () => new[]
        {
            new Measurement<int>(Volatile.Read(ref _plain), new KeyValuePair<string, object?>("kind", "plain")),
            new Measurement<int>(Volatile.Read(ref _v1), new KeyValuePair<string, object?>("kind", "v1")),
            new Measurement<int>(Volatile.Read(ref _guests), new KeyValuePair<string, object?>("kind", "guest")),
        }, description: "Open WebSocket connections (guest counts guests of either protocol)");
    }

    /// <summary>Open connections now (plain, v1; guests of either kind counted again under Guests).</summary>
    public static SocketCounts Current => new(Volatile.Read(ref _plain), Volatile.Read(ref _v1), Volatile.Read(ref _guests));

    public static long AcceptedTotal => Interlocked.Read(ref _accepted);
    public static long RejectedTotal => Interlocked.Read(ref _rejected);
    public static long DroppedTotal => Interlocked.Read(ref _dropped);

    internal static void Opened(SocketKind kind)
    {
        Interlocked.Increment(ref _accepted);
        Accepted.Add(1, new KeyValuePair<string, object?>("kind", Name(kind)));
        Interlocked.Increment(ref kind == SocketKind.Plain ? ref _plain : ref _v1);
    }

    internal static void Closed(SocketKind kind) => Interlocked.Decrement(ref kind == SocketKind.Plain ? ref _plain : ref _v1);

    internal static void GuestIn() => Interlocked.Increment(ref _guests);

    internal static void GuestOut() => Interlocked.Decrement(ref _guests);

    internal static void Refused(string reason)
    {
        Interlocked.Increment(ref _rejected);
        Rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    internal static void SlowDropped()
    {
        Interlocked.Increment(ref _dropped);
        Dropped.Add(1);
    }

    internal static void Sent() => FramesOut.Add(1);

    internal static void Received() => FramesIn.Add(1);

    private static string Name(SocketKind kind) => kind == SocketKind.Plain ? "plain" : "v1";
}
