using System.Buffers;
using System.Buffers.Binary;
using Microsoft.AspNetCore.Http.Features;

namespace ChatPortal.WebSockets;

/// <summary>
/// Keeps hold of the raw upgraded stream of a socket request, so that after a protocol error
/// the server can still read (and discard) until the client's close frame arrives. Without that,
/// the connection ends with the client's bytes unread, the kernel answers with a TCP reset, and
/// the reset can destroy our close frame (1002/1007/1009) before the client reads it.
/// </summary>
internal sealed class LingeringUpgradeFeature(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    /// <summary>The upgraded stream, once the WebSocket middleware has accepted.</summary>
    public Stream? Stream { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new KeepOpenStream(await inner.UpgradeAsync());
        return Stream;
    }

    /// <summary>Wraps the upgrade feature of socket requests (before <c>UseWebSockets</c> captures it).</summary>
    public static IApplicationBuilder UseLingeringUpgrade(IApplicationBuilder app, PathString path) =>
        app.Use(next => ctx =>
        {
            if (ctx.Request.Path.Equals(path) && ctx.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } up)
                ctx.Features.Set<IHttpUpgradeFeature>(new LingeringUpgradeFeature(up));
            return next(ctx);
        });
}

/// <summary>
/// Reads the client's frames after our close frame until its close frame, the end of the stream,
/// <paramref name="budget"/> bytes or <paramref name="timeout"/> — whichever comes first — so a
/// hostile client cannot hold the connection open.
/// </summary>
/// <remarks>
/// The framework may stop reading in the middle of the bad frame (an oversized ping's payload is
/// partly left in the stream), so the first bytes need not start a frame. A header that no client may
/// send (unmasked, reserved bits, unknown opcode, a long or fragmented control frame) means we are
/// out of step: from there on we look for a client close frame byte by byte, and accept one only if
/// its code is one a client may send. Ending early on stray bytes would close the connection before
/// the client has our close frame, and the reset that follows can destroy it.
/// </remarks>
internal static class CloseLinger
{
    /// <summary>Bytes we read (and discard) after our close frame at most.</summary>
    public const int Budget = 1024 * 1024;

    /// <summary>How long we wait for the client's close after a protocol error at most.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private const int CloseOpcode = 0x8;
    private const int MaxControlPayload = 125;

    public static async Task DrainUntilCloseAsync(Stream stream, int budget, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var have = 0;        // unparsed bytes at the start of buffer
            long skip = 0;       // payload bytes of the current frame still to discard
            var inStep = true;   // the next byte starts a frame
            var total = 0;
            while (total < budget)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(have), cts.Token);
                if (n == 0) return; // the client closed the connection
                total += n;
                have += n;
                var pos = 0;
                while (pos < have)
                {
                    if (skip > 0)
                    {
                        var take = (int)Math.Min(skip, have - pos);
                        skip -= take;
                        pos += take;
                        continue;
                    }
                    if (!inStep)
                    {
                        var found = FindClientClose(buffer.AsSpan(pos, have - pos), out var consumed);
                        if (found) return;
                        pos += consumed;
                        break; // what is left may be the start of a close frame: wait for more
                    }
                    var header = ParseHeader(buffer.AsSpan(pos, have - pos), out var opcode, out var headerLength, out var payloadLength);
                    if (header == Header.Incomplete) break;
                    if (header == Header.Impossible)
                    {
                        inStep = false;
                        continue;
                    }
                    if (opcode == CloseOpcode) return; // the client's close: it has our close frame, the connection may end
                    pos += headerLength;
                    skip = payloadLength;
                }
                buffer.AsSpan(pos, have - pos).CopyTo(buffer);
                have -= pos;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Out of time, or the connection is already gone: either way we are done with it.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal enum Header { Complete, Incomplete, Impossible }

    /// <summary>An RFC 6455 client frame header: opcode, header length (with mask key) and payload length.</summary>
    internal static Header ParseHeader(ReadOnlySpan<byte> b, out int opcode, out int headerLength, out long payloadLength)
    {
        opcode = headerLength = 0;
        payloadLength = 0;
        if (b.Length < 2) return Header.Incomplete;
        var fin = (b[0] & 0x80) != 0;
        opcode = b[0] & 0x0F;
        var masked = (b[1] & 0x80) != 0;
        var len = b[1] & 0x7F;
        var control = opcode >= CloseOpcode;
        // Clients mask every frame; we negotiate no extension, so no reserved bit; only six opcodes exist.
        if ((b[0] & 0x70) != 0 || !masked || opcode is not (0x0 or 0x1 or 0x2 or 0x8 or 0x9 or 0xA)
            || (control && (!fin || len > MaxControlPayload)))
            return Header.Impossible;
        var at = 2;
        if (len == 126)
        {
            if (b.Length < 4) return Header.Incomplete;
            payloadLength = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
            at = 4;
        }
        else if (len == 127)
        {
            if (b.Length < 10) return Header.Incomplete;
            payloadLength = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(b[2..]), long.MaxValue);
            at = 10;
        }
        else payloadLength = len;
        headerLength = at + 4;
        return b.Length >= headerLength ? Header.Complete : Header.Incomplete;
    }

    /// <summary>
    /// Looks for a whole client close frame anywhere in <paramref name="b"/>: FIN + close opcode, masked,
    /// no payload or a code a client may send. <paramref name="consumed"/> is how many bytes cannot start
    /// one (the rest may be a close frame still arriving).
    /// </summary>
    internal static bool FindClientClose(ReadOnlySpan<byte> b, out int consumed)
    {
        for (var i = 0; i < b.Length; i++)
        {
            if (b[i] != (0x80 | CloseOpcode)) continue;
            if (i + 1 >= b.Length) { consumed = i; return false; }
            var len = b[i + 1] & 0x7F;
            if ((b[i + 1] & 0x80) == 0 || len == 1 || len > MaxControlPayload) continue;
            if (len == 0)
            {
                if (i + 6 > b.Length) { consumed = i; return false; }
                consumed = i + 6;
                return true;
            }
            if (i + 6 + 2 > b.Length) { consumed = i; return false; }
            var code = ((b[i + 6] ^ b[i + 2]) << 8) | (b[i + 7] ^ b[i + 3]);
            if (!ClientMaySend(code)) continue;
            consumed = Math.Min(b.Length, i + 6 + len);
            return true;
        }
        consumed = b.Length;
        return false;
    }

    /// <summary>Close codes a client may put on the wire (RFC 6455 7.4; 1005, 1006 and 1015 never are).</summary>
    private static bool ClientMaySend(int code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
}

/// <summary>
/// The upgraded stream as the WebSocket sees it, except that disposing it leaves the connection
/// alone: the server (not the WebSocket) ends it, after <see cref="CloseLinger"/> when needed.
/// </summary>
internal sealed class KeepOpenStream(Stream inner) : Stream
{
    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
