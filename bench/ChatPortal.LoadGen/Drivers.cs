using System.Buffers.Text;
using System.Text;

namespace ChatPortal.LoadGen;

internal enum FrameKind { Other, Delivery, Ack }

/// <summary>What differs between protocols: handshake, how a message is sent, what a frame means.</summary>
internal interface IProtocolDriver
{
    string? SubProtocol { get; }
    bool UsesAcks { get; }
    bool EchoesToSender { get; }
    Task HandshakeAsync(Client client, LoadOptions o, CancellationToken ct);
    ReadOnlyMemory<byte> Encode(string text, int sender, int seq);
    FrameKind Classify(ReadOnlySpan<byte> frame, out long sentTicks);
}

internal static class Drivers
{
    public static IProtocolDriver For(LoadOptions o) => o.Protocol switch
    {
        "plain" => new PlainDriver(),
        _ => throw new ArgumentException($"unknown protocol {o.Protocol}"),
    };

    /// <summary>Reads the sender's timestamp out of "ts=NNN" in the frame.</summary>
    public static long Timestamp(ReadOnlySpan<byte> frame)
    {
        var at = frame.IndexOf("ts="u8);
        return at >= 0 && Utf8Parser.TryParse(frame[(at + 3)..], out long ticks, out _) ? ticks : 0;
    }
}

/// <summary>
/// The original chat room's protocol (also spoken by the peers): raw text frames in, and
/// <c>{"type":"message","message":...}</c> out to everyone but the sender.
/// </summary>
internal sealed class PlainDriver : IProtocolDriver
{
    public string? SubProtocol => null;
    public bool UsesAcks => false;
    public bool EchoesToSender => false;

    public Task HandshakeAsync(Client client, LoadOptions o, CancellationToken ct) => Task.CompletedTask;

    public ReadOnlyMemory<byte> Encode(string text, int sender, int seq) => Encoding.UTF8.GetBytes(text);

    public FrameKind Classify(ReadOnlySpan<byte> frame, out long sentTicks)
    {
        sentTicks = 0;
        if (frame.IndexOf("\"type\":\"message\""u8) < 0) return FrameKind.Other;
        sentTicks = Drivers.Timestamp(frame);
        return FrameKind.Delivery;
    }
}
