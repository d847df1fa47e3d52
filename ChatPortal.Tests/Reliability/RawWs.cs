using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// A WebSocket client written by hand over a TcpClient: it sends frames exactly as built (bad
/// masks, reserved bits, lying lengths) and reads the server's frames raw, to see the close code.
/// </summary>
public sealed class RawWs : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly System.Threading.Channels.Channel<ServerFrame> _frames = System.Threading.Channels.Channel.CreateUnbounded<ServerFrame>();

    private RawWs(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawWs> ConnectAsync(Uri baseUri, string? protocol = "chatportal.v1", string? origin = null, string? cookie = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(baseUri.Host, baseUri.Port);
        var ws = new RawWs(tcp);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var req = new StringBuilder()
            .Append("GET /ws HTTP/1.1\r\n")
            .Append($"Host: {baseUri.Authority}\r\n")
            .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        if (protocol is not null) req.Append($"Sec-WebSocket-Protocol: {protocol}\r\n");
        if (origin is not null) req.Append($"Origin: {origin}\r\n");
        if (cookie is not null) req.Append($"Cookie: {cookie}\r\n");
        req.Append("\r\n");
        await ws._stream.WriteAsync(Encoding.ASCII.GetBytes(req.ToString()));
        ws.ResponseHead = await ws.ReadHeadAsync();
        // Read like a real client, from the first byte: a server that resets the connection after its
        // close frame must not destroy frames we have not looked at yet.
        if (ws.Upgraded) _ = Task.Run(ws.PumpAsync);
        else ws._frames.Writer.TryComplete();
        return ws;
    }

    private long _received;

    /// <summary>How the server's side of the connection ended, when it did (for failure messages).</summary>
    public string? EndReason { get; private set; }

    /// <summary>The HTTP answer to the upgrade (status line and headers).</summary>
    public string ResponseHead { get; private set; } = "";
    public bool Upgraded => ResponseHead.StartsWith("HTTP/1.1 101", StringComparison.Ordinal);

    private async Task<string> ReadHeadAsync()
    {
        var head = new List<byte>();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await _stream.ReadAsync(one, cts.Token) == 0) break;
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }

    /// <summary>Builds one frame: first byte as given (FIN, RSV, opcode), masked unless told not to.</summary>
    public static byte[] Frame(byte first, ReadOnlySpan<byte> payload, bool mask = true, ulong? claimedLength = null)
    {
        var len = claimedLength ?? (ulong)payload.Length;
        var head = new List<byte> { first };
        var m = mask ? (byte)0x80 : (byte)0;
        if (len < 126) head.Add((byte)(m | (byte)len));
        else if (len <= ushort.MaxValue)
        {
            head.Add((byte)(m | 126));
            head.Add((byte)(len >> 8));
            head.Add((byte)len);
        }
        else
        {
            head.Add((byte)(m | 127));
            var b = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, len);
            head.AddRange(b);
        }
        var key = mask ? RandomNumberGenerator.GetBytes(4) : [];
        head.AddRange(key);
        var body = payload.ToArray();
        if (mask)
            for (var i = 0; i < body.Length; i++) body[i] ^= key[i % 4];
        return [.. head, .. body];
    }

    public const byte Fin = 0x80;
    public const byte Text = 0x1, Binary = 0x2, Continuation = 0x0, Close = 0x8, Ping = 0x9;

    public async Task SendRawAsync(byte[] bytes)
    {
        try { await _stream.WriteAsync(bytes); }
        catch (IOException) { /* the server may already have closed: the close code says why */ }
    }

    public Task SendTextAsync(string text) => SendRawAsync(Frame(Fin | Text, Encoding.UTF8.GetBytes(text)));

    /// <summary>One frame from the server (unmasked by the protocol).</summary>
    public sealed record ServerFrame(byte Opcode, byte[] Payload)
    {
        public int? CloseCode => Opcode == Close && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : null;
        public string Text => Encoding.UTF8.GetString(Opcode == Close && Payload.Length >= 2 ? Payload[2..] : Payload);
    }

    private async Task PumpAsync()
    {
        try
        {
            while (await ReadRawFrameAsync(CancellationToken.None) is { } f) _frames.Writer.TryWrite(f);
        }
        catch (Exception ex) { EndReason ??= $"{ex.GetType().Name}: {ex.Message}"; /* the connection ended */ }
        finally { _frames.Writer.TryComplete(); }
    }

    /// <summary>Next frame, or null when the connection ends.</summary>
    public async Task<ServerFrame?> ReadFrameAsync(CancellationToken ct)
    {
        try
        {
            return await _frames.Reader.ReadAsync(ct);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return null;
        }
    }

    private async Task<ServerFrame?> ReadRawFrameAsync(CancellationToken ct)
    {
        var h = new byte[2];
        if (!await FillAsync(h, ct)) return null;
        var len = (ulong)(h[1] & 0x7F);
        if (len == 126)
        {
            var b = new byte[2];
            if (!await FillAsync(b, ct)) return null;
            len = BinaryPrimitives.ReadUInt16BigEndian(b);
        }
        else if (len == 127)
        {
            var b = new byte[8];
            if (!await FillAsync(b, ct)) return null;
            len = BinaryPrimitives.ReadUInt64BigEndian(b);
        }
        var payload = new byte[len];
        if (!await FillAsync(payload, ct)) return null;
        return new ServerFrame((byte)(h[0] & 0x0F), payload);
    }

    private async Task<bool> FillAsync(byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            int n;
            try { n = await _stream.ReadAsync(buffer.AsMemory(read), ct); }
            catch (IOException ex)
            {
                EndReason ??= $"reset ({ex.InnerException?.Message ?? ex.Message}) after {_received} bytes";
                return false;
            }
            if (n == 0)
            {
                EndReason ??= $"end of stream after {_received} bytes";
                return false;
            }
            _received += n;
            read += n;
        }
        return true;
    }

    /// <summary>Reads until the server's close frame (returns its code) or the end of the connection (null).</summary>
    public async Task<int?> ReadUntilCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (await ReadFrameAsync(cts.Token) is { } f)
        {
            if (f.Opcode == Close) return f.CloseCode;
        }
        return null;
    }

    /// <summary>Reads text frames until one contains <paramref name="needle"/>.</summary>
    public async Task<string> ReadTextContainingAsync(string needle, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (await ReadFrameAsync(cts.Token) is { } f)
        {
            if (f.Opcode == Close) throw new InvalidOperationException($"closed with {f.CloseCode} {f.Text} while waiting for {needle}");
            if (f.Opcode == Text && f.Text.Contains(needle, StringComparison.Ordinal)) return f.Text;
        }
        throw new InvalidOperationException($"connection ended while waiting for {needle}");
    }

    /// <summary>True once the server has closed the TCP connection.</summary>
    public async Task<bool> ServerHungUpAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await ReadFrameAsync(cts.Token) is not null) { }
            return true;
        }
        catch (OperationCanceledException) { return false; }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
