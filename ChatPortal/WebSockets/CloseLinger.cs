using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace ChatPortal.WebSockets;

/// <summary>
/// Keeps hold of the raw upgraded stream of a socket request, so that after a protocol error
/// the server can still read (and discard) until the client's close frame arrives. Without that,
/// the connection ends with the client's bytes unread, the kernel answers with a TCP reset, and
/// the reset can destroy our close frame (1002/1007/1009) before the client reads it.
/// </summary>
internal sealed class LingeringUpgradeFeature(IHttpUpgradeFeature inner, WebSocketMetrics? metrics) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    /// <summary>The upgraded stream, once the WebSocket middleware has accepted.</summary>
    public Stream? Stream { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new KeepOpenStream(await inner.UpgradeAsync(), metrics);
        return Stream;
    }

    /// <summary>Wraps the upgrade feature of socket requests (before <c>UseWebSockets</c> captures it).</summary>
    public static IApplicationBuilder UseLingeringUpgrade(IApplicationBuilder app, PathString path)
    {
        var metrics = app.ApplicationServices.GetService<WebSocketMetrics>();
        return app.Use(next => ctx =>
        {
            if (ctx.Request.Path.Equals(path) && ctx.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } up)
                ctx.Features.Set<IHttpUpgradeFeature>(new LingeringUpgradeFeature(up, metrics));
            return next(ctx);
        });
    }
}

/// <summary>
/// Reads the client's frames after our close frame until its close frame, the end of the stream,
/// <paramref name="budget"/> bytes or <paramref name="timeout"/> — whichever comes first — so a
/// hostile client cannot hold the connection open.
/// </summary>
/// <remarks>
/// The framework stops reading somewhere inside the bad frame (an oversized ping's payload is partly
/// left in the stream, how much depends on its buffer), so we never know where a frame starts: the
/// bytes are searched for a client close frame instead of parsed as frames. A close counts only when
/// it is the last thing read so far — a client sends nothing after its close, while stray payload
/// bytes that happen to look like one are followed by more (or sit in the middle of what arrived).
/// Ending early on stray bytes lets the server end the connection before our close frame has gone
/// out, and the reset that follows destroys it.
/// </remarks>
internal static class CloseLinger
{
    /// <summary>Bytes we read (and discard) after our close frame at most.</summary>
    public const int Budget = 1024 * 1024;

    /// <summary>How long we wait for the client's close after a protocol error at most.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private const int CloseOpcode = 0x8;
    private const int MaxControlPayload = 125;
    /// <summary>A client close frame is 6 (no code) to 131 bytes: the tail we keep between reads.</summary>
    private const int MaxCloseFrame = 6 + MaxControlPayload;

    public static async Task DrainUntilCloseAsync(Stream stream, int budget, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var have = 0; // bytes kept from earlier reads: the start of a close frame may be among them
            var total = 0;
            while (total < budget)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(have), cts.Token);
                if (n == 0) return; // the client closed the connection
                total += n;
                have += n;
                if (EndsWithClientClose(buffer.AsSpan(0, have))) return; // it has our close frame: the connection may end
                var keep = Math.Min(have, MaxCloseFrame - 1);
                buffer.AsSpan(have - keep, keep).CopyTo(buffer);
                have = keep;
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

    /// <summary>
    /// Whether <paramref name="b"/> ends with a whole client close frame: FIN + close opcode, masked,
    /// no payload or a code a client may send (and at most 125 bytes of payload).
    /// </summary>
    internal static bool EndsWithClientClose(ReadOnlySpan<byte> b)
    {
        for (var len = 0; len <= MaxControlPayload && 6 + len <= b.Length; len++)
        {
            if (len == 1) continue;
            var at = b.Length - 6 - len;
            if (b[at] != (0x80 | CloseOpcode) || b[at + 1] != (0x80 | len)) continue;
            if (len == 0) return true;
            var code = ((b[at + 6] ^ b[at + 2]) << 8) | (b[at + 7] ^ b[at + 3]);
            if (ClientMaySend(code)) return true;
        }
        return false;
    }

    /// <summary>Close codes a client may put on the wire (RFC 6455 7.4; 1005, 1006 and 1015 never are).</summary>
    private static bool ClientMaySend(int code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
}
