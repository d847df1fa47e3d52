using System.IO.Pipelines;
using ChatPortal.WebSockets;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// After a protocol error the server reads until the client's close frame before it ends the
/// connection (CloseLinger). The framework may leave part of the bad frame unread, so the linger
/// must find the close without being fooled by the leftover bytes in either direction: ending on
/// stray bytes closes the connection before the client has our close frame; missing the close keeps
/// the connection until the timeout and then resets it.
/// </summary>
public sealed class CloseLingerTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    private static byte[] ClientClose(int code) => RawWs.Frame(RawWs.Fin | RawWs.Close, [(byte)(code >> 8), (byte)code]);

    /// <summary>A close frame with a fixed mask key (no byte of it can look like the start of another close).</summary>
    private static byte[] FixedMaskClose(int code) =>
        [RawWs.Fin | RawWs.Close, 0x82, 0x11, 0x22, 0x33, 0x44, (byte)((code >> 8) ^ 0x11), (byte)(code ^ 0x22)];

    /// <summary>The rest of a 126-byte ping whose first bytes the framework read; the first stray byte reads as a close opcode.</summary>
    private static byte[] Leftover() => [0x28, 0x91, 0x07, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61];

    private static async Task<(Task Drain, PipeWriter Client)> StartAsync()
    {
        var pipe = new Pipe();
        var drain = CloseLinger.DrainUntilCloseAsync(pipe.Reader.AsStream(), CloseLinger.Budget, Long);
        await Task.Yield();
        return (drain, pipe.Writer);
    }

    [Fact]
    public async Task Frames_before_the_close_are_skipped_and_the_close_ends_the_linger()
    {
        var (drain, client) = await StartAsync();
        await client.WriteAsync(RawWs.Frame(RawWs.Fin | RawWs.Text, new byte[300]));
        await client.WriteAsync(RawWs.Frame(RawWs.Fin | RawWs.Ping, "p"u8));
        await Task.Delay(100);
        Assert.False(drain.IsCompleted, "the linger ended before the client's close");
        await client.WriteAsync(ClientClose(1002));
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Stray_bytes_left_from_the_bad_frame_do_not_end_the_linger_and_the_close_after_them_does()
    {
        var (drain, client) = await StartAsync();
        await client.WriteAsync(Leftover());
        await Task.Delay(100);
        Assert.False(drain.IsCompleted, "stray bytes were taken for the client's close");
        await client.WriteAsync(ClientClose(1002));
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Stray bytes whose first bytes read as a whole client close frame (FIN + close, masked, no payload),
    /// as random mask keys make them now and then: taken for the close, they ended the linger at once and
    /// the connection was reset before our close frame went out (RawFrameTests "oversized-ping", found by
    /// tcpdump: the client's bad frame, then the server's reset, no close frame).
    /// </summary>
    [Fact]
    public async Task Stray_bytes_that_start_like_a_close_frame_do_not_end_the_linger()
    {
        var (drain, client) = await StartAsync();
        await client.WriteAsync((byte[])[RawWs.Fin | RawWs.Close, 0x80, 0x5A, 0x17, 0xC3, 0x09, 0x61, 0x61, 0x61]);
        await Task.Delay(100);
        Assert.False(drain.IsCompleted, "stray bytes that start like a close frame were taken for the client's close");
        await client.WriteAsync(ClientClose(1002));
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_close_split_across_reads_after_stray_bytes_is_found()
    {
        var (drain, client) = await StartAsync();
        var close = ClientClose(1000);
        await client.WriteAsync((byte[])[.. Leftover(), .. close[..3]]);
        await Task.Delay(100);
        Assert.False(drain.IsCompleted, "half a close frame ended the linger");
        await client.WriteAsync(close[3..]);
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(1005)] // never on the wire
    [InlineData(999)]
    [InlineData(5000)]
    public void A_close_frame_with_a_code_no_client_sends_is_not_taken_for_the_close(int code)
    {
        Assert.False(CloseLinger.EndsWithClientClose([.. Leftover(), .. FixedMaskClose(code)]));
        Assert.True(CloseLinger.EndsWithClientClose([.. Leftover(), .. FixedMaskClose(1001)]));
    }

    [Fact]
    public void Only_a_close_at_the_end_of_what_arrived_counts()
    {
        Assert.False(CloseLinger.EndsWithClientClose([.. FixedMaskClose(1000), .. Leftover()]));
        Assert.True(CloseLinger.EndsWithClientClose([.. Leftover(), .. FixedMaskClose(1000)]));
        Assert.True(CloseLinger.EndsWithClientClose([.. Leftover(), RawWs.Fin | RawWs.Close, 0x80, 1, 2, 3, 4]));
    }

    [Fact]
    public async Task The_end_of_the_stream_ends_the_linger()
    {
        var (drain, client) = await StartAsync();
        await client.WriteAsync(Leftover());
        await client.CompleteAsync();
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
