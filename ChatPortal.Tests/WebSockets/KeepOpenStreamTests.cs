using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using ChatPortal.WebSockets;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// The send loop holds a burst's frames in the upgraded stream and releases them as one write
/// (issue 14's fan-out cost). Held frames must reach the client whole and in order, with what the
/// WebSocket writes on its own (a pong, a close) in its place, and nothing may stay held.
/// </summary>
public sealed class KeepOpenStreamTests
{
    /// <summary>The connection under the stream: counts writes and flushes, passes the bytes to a client.</summary>
    private sealed class Wire(PipeWriter toClient) : Stream
    {
        public int Writes;
        public int Flushes;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new NotSupportedException();
        public override async Task FlushAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref Flushes);
            await toClient.FlushAsync(ct);
        }
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Writes);
            // In two parts with a pause between, as a write to a busy connection completes later: a second
            // writer that does not wait its turn lands its bytes in the middle.
            var half = buffer.Length / 2;
            await toClient.WriteAsync(buffer[..half], ct);
            await Task.Yield();
            await toClient.WriteAsync(buffer[half..], ct);
        }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static (WebSocket Server, WebSocket Client, KeepOpenStream Stream, Wire Wire) Connect(TimeSpan serverKeepAlive = default)
    {
        var down = new Pipe();
        var up = new Pipe();
        var wire = new Wire(down.Writer);
        var stream = new KeepOpenStream(new DuplexStream(up.Reader.AsStream(), wire));
        var server = WebSocket.CreateFromStream(stream, isServer: true, subProtocol: null, keepAliveInterval: serverKeepAlive);
        var client = WebSocket.CreateFromStream(new DuplexStream(down.Reader.AsStream(), up.Writer.AsStream()),
            isServer: false, subProtocol: null, keepAliveInterval: TimeSpan.Zero);
        return (server, client, stream, wire);
    }

    private static async Task<string> ReceiveTextAsync(WebSocket ws)
    {
        var buffer = new byte[64 * 1024];
        var count = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer.AsMemory(count), cts.Token);
            Assert.Equal(WebSocketMessageType.Text, r.MessageType);
            count += r.Count;
            if (r.EndOfMessage) return Encoding.UTF8.GetString(buffer, 0, count);
        }
    }

    private static ValueTask SendTextAsync(WebSocket ws, string text) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(text).AsMemory(), WebSocketMessageType.Text, true, CancellationToken.None);

    [Fact]
    public async Task Held_frames_go_out_as_one_write_and_arrive_whole_and_in_order()
    {
        var (server, client, stream, wire) = Connect();
        stream.Hold();
        for (var i = 0; i < 20; i++) await SendTextAsync(server, $"message {i} 消息");
        Assert.Equal(0, wire.Writes);
        Assert.Equal(0, wire.Flushes);

        await stream.ReleaseAsync();
        Assert.Equal(1, wire.Writes);
        Assert.Equal(1, wire.Flushes);
        for (var i = 0; i < 20; i++) Assert.Equal($"message {i} 消息", await ReceiveTextAsync(client));

        // Not holding: each frame goes straight through.
        await SendTextAsync(server, "after");
        Assert.Equal(2, wire.Writes);
        Assert.Equal("after", await ReceiveTextAsync(client));
    }

    [Fact]
    public async Task A_big_burst_is_written_out_once_it_passes_the_limit_while_still_holding()
    {
        var (server, client, stream, wire) = Connect();
        var text = new string('x', 1000);
        stream.Hold();
        for (var i = 0; i < 40; i++) await SendTextAsync(server, text + i);
        // 40 frames of ~1 KB: the held bytes passed 16 KiB at least twice.
        Assert.InRange(wire.Writes, 2, 3);
        await stream.ReleaseAsync();
        for (var i = 0; i < 40; i++) Assert.Equal(text + i, await ReceiveTextAsync(client));
        await stream.ReleaseAsync(); // nothing held: nothing written
        Assert.InRange(wire.Writes, 3, 4);
    }

    [Fact]
    public async Task A_close_written_while_holding_follows_the_held_frames()
    {
        var (server, client, stream, _) = Connect();
        stream.Hold();
        await SendTextAsync(server, "last words");
        await server.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "restart", CancellationToken.None);
        await stream.ReleaseAsync();

        Assert.Equal("last words", await ReceiveTextAsync(client));
        var r = await client.ReceiveAsync(new byte[64], CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, r.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
    }

    [Fact]
    public async Task The_websockets_own_frames_and_a_release_never_interleave_their_bytes()
    {
        // The server's keep-alive writes a pong every millisecond from its timer, outside the send
        // loop, while bursts are held and released: every byte on the wire must still parse as whole
        // frames in order (a torn frame fails the client's receive).
        var (server, client, stream, wire) = Connect(TimeSpan.FromMilliseconds(1));
        const int bursts = 300, each = 10;
        var receiving = Task.Run(async () =>
        {
            var got = new List<string>();
            while (got.Count < bursts * each) got.Add(await ReceiveTextAsync(client));
            return got;
        });
        for (var burst = 0; burst < bursts; burst++)
        {
            stream.Hold();
            for (var i = 0; i < each; i++) await SendTextAsync(server, $"{burst}.{i}");
            await stream.ReleaseAsync();
            if (burst % 30 == 0) await Task.Delay(2);
        }
        var all = await receiving;
        Assert.Equal(Enumerable.Range(0, bursts * each).Select(n => $"{n / each}.{n % each}"), all);
        Assert.True(wire.Writes > bursts, $"the keep-alive wrote nothing of its own ({wire.Writes} writes)");
        server.Abort();
    }

    [Fact]
    public async Task Frames_written_by_the_send_loop_itself_read_as_whole_messages_of_every_length_among_the_websockets_own()
    {
        var (server, client, stream, _) = Connect();
        // 125, 126 and 65,535 / 65,536 bytes are where the header grows (2, 4, 10 bytes).
        int[] lengths = [0, 1, 125, 126, 127, 65535, 65536, 200_000];
        var receiving = Task.Run(async () =>
        {
            var got = new List<(string Text, WebSocketMessageType Type)>();
            var buffer = new byte[256 * 1024];
            while (got.Count < lengths.Length * 2 + 2)
            {
                var count = 0;
                ValueWebSocketReceiveResult r;
                do
                {
                    r = await client.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += r.Count;
                } while (!r.EndOfMessage);
                got.Add((Encoding.UTF8.GetString(buffer, 0, count), r.MessageType));
            }
            return got;
        });
        var expected = new List<(string, WebSocketMessageType)>();
        foreach (var hold in new[] { false, true })
        {
            if (hold) stream.Hold();
            foreach (var n in lengths)
            {
                var text = new string('字', n / 3) + new string('a', n % 3); // n bytes of UTF-8
                await stream.WriteFrameAsync(Encoding.UTF8.GetBytes(text), binary: n % 2 == 1);
                expected.Add((text, n % 2 == 1 ? WebSocketMessageType.Binary : WebSocketMessageType.Text));
            }
            await SendTextAsync(server, $"own {hold}"); // the WebSocket's own frame between ours
            expected.Add(($"own {hold}", WebSocketMessageType.Text));
            if (hold) await stream.ReleaseAsync();
        }
        Assert.Equal(expected, await receiving);
    }

    /// <summary>Reads from one stream, writes to another.</summary>
    private sealed class DuplexStream(Stream read, Stream write) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => write.Flush();
        public override Task FlushAsync(CancellationToken ct) => write.FlushAsync(ct);
        public override int Read(byte[] buffer, int offset, int count) => read.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => read.ReadAsync(buffer, ct);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => read.ReadAsync(buffer, offset, count, ct);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => write.WriteAsync(buffer, ct);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => write.WriteAsync(buffer, offset, count, ct);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => write.Write(buffer, offset, count);
    }
}
