using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Reliability;

namespace ChatPortal.Tests.WebSockets;

/// <summary>The frame counters on /metrics (plain counters read at collection) move with the traffic.</summary>
public sealed class FrameMetricsTests
{
    private static async Task<(double Out, double In, double Writes)> FramesAsync(PortalProcess portal)
    {
        using var http = portal.CreateClient();
        var text = await http.GetStringAsync("/metrics");
        static double Read(string text, string name) =>
            Regex.Matches(text, $@"^{name}(?:_total)?(?:\{{[^}}]*\}})? ([0-9.eE+-]+)", RegexOptions.Multiline)
                .Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return (Read(text, "chatportal_ws_frames_out"), Read(text, "chatportal_ws_frames_in"), Read(text, "chatportal_ws_writes"));
    }

    /// <summary>The counters once <paramref name="frames"/> frames are counted as sent (or after 5 s).</summary>
    private static async Task<(double Out, double In, double Writes)> FramesOutAsync(PortalProcess portal, double frames)
    {
        var now = await FramesAsync(portal);
        for (var t = 0; t < 50 && now.Out < frames; t++)
        {
            await Task.Delay(100);
            now = await FramesAsync(portal);
        }
        return now;
    }

    [Fact]
    public async Task Frames_sent_and_received_are_counted()
    {
        await using var portal = await PortalProcess.StartAsync();
        var before = await FramesAsync(portal);
        await using var a = await WsClient.ConnectAsync(portal.BaseUri);
        await using var b = await WsClient.ConnectAsync(portal.BaseUri);
        await a.WaitForAsync(f => f.Is("openSuccess"));
        await b.WaitForAsync(f => f.Is("openSuccess"));
        for (var i = 0; i < 3; i++) await a.SendTextAsync($"frame {i}");
        for (var i = 0; i < 3; i++) await b.WaitForAsync(f => f.Is("message") && f.Get("message") == $"frame {i}");

        // Collected metrics may lag a moment behind: poll briefly.
        var after = before;
        for (var t = 0; t < 50 && (after.In < before.In + 3 || after.Out < before.Out + 5); t++)
        {
            await Task.Delay(100);
            after = await FramesAsync(portal);
        }
        Assert.True(after.In >= before.In + 3, $"frames in: {before.In} → {after.In}");
        Assert.True(after.Out >= before.Out + 5, $"frames out: {before.Out} → {after.Out}"); // 2 openSuccess + 3 messages at least
    }

    [Fact]
    public async Task A_rejoin_gets_its_reply_catch_up_and_caught_up_in_a_few_writes_not_one_per_frame()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "1000" });
        long since;
        await using (var poster = await portal.MemberSocketAsync("poster"))
        {
            since = (await poster.RequestAsync("send", ("room", "lobby"), ("text", "before"), ("client_id", "c0"))).GetLong("event_id");
            for (var i = 1; i <= 40; i++)
            {
                var ack = await poster.RequestAsync("send", ("room", "lobby"), ("text", $"missed {i} 错过"), ("client_id", $"c{i}"));
                Assert.True(ack.Is("ack"), ack.ToString());
            }
        }
        var token = await portal.TokenAsync("reader");
        await using var reader = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        Assert.True((await reader.AuthAsync(token: token)).Is("welcome"));
        await Task.Delay(300); // the poster's socket has closed and its presence gone out
        var before = await FramesAsync(portal);

        await reader.JoinAsync("lobby", since); // joined, 40 messages, caught_up

        var texts = reader.Frames.Where(f => f.Is("message")).Select(f => f.Get("message.text")).ToList();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"missed {i} 错过"), texts);
        var after = before;
        for (var t = 0; t < 50 && after.Out < before.Out + 42; t++)
        {
            await Task.Delay(100);
            after = await FramesAsync(portal);
        }
        Assert.True(after.Out >= before.Out + 42, $"frames out: {before.Out} → {after.Out}");
        // One write for the lot (two or three if a keep-alive or presence frame came between): not 42.
        Assert.True(after.Writes - before.Writes is >= 1 and <= 4, $"writes: {before.Writes} → {after.Writes} for {after.Out - before.Out} frames");
    }

    /// <summary>
    /// A client that sends auth and its join without waiting (the kit does) gets welcome, joined, caught_up and its own
    /// presence in one write: the socket handles the requests it has already read before it sends what they queued, and
    /// what the join caused (the user's membership of the lobby, the presence) waits for the join's catch-up instead of
    /// hurrying that write. The hello goes before them, or with them when the requests were already there. Both frames go
    /// in one TCP write here, so that the server has both when it reads (two sends may arrive apart on a busy machine, and
    /// then two writes are right).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Auth_and_join_sent_together_are_answered_in_one_write(bool afterTheHello)
    {
        await using var portal = await PortalProcess.StartAsync();
        var token = await portal.TokenAsync("eager");
        var before = await FramesAsync(portal);
        await using var ws = await RawWs.ConnectAsync(portal.BaseUri);
        Assert.True(ws.Upgraded, ws.ResponseHead);
        var types = new List<string?>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        async Task ReadUntilAsync(string type)
        {
            while (types.LastOrDefault() != type && await ws.ReadFrameAsync(cts.Token) is { Opcode: not RawWs.Close } f)
            {
                if (f.Opcode == RawWs.Text) types.Add(JsonDocument.Parse(f.Text).RootElement.GetProperty("type").GetString());
            }
        }
        if (afterTheHello) await ReadUntilAsync("hello"); // the hello then went alone, and the rest must take one write
        await ws.SendRawAsync([
            .. RawWs.Frame(RawWs.Fin | RawWs.Text, Encoding.UTF8.GetBytes($$$"""{"type":"auth","id":1,"token":"{{{token}}}"}""")),
            .. RawWs.Frame(RawWs.Fin | RawWs.Text, Encoding.UTF8.GetBytes("""{"type":"join","id":2,"room":"lobby"}""")),
        ]);
        await ReadUntilAsync("presence");
        // Before, the welcome was a write of its own: hello, welcome, then joined, caught_up and the presence (3 writes).
        AssertSetUpInAtMostTwoWrites(types, before, await FramesOutAsync(portal, before.Out + 5));
    }

    [Fact]
    public async Task A_token_and_a_room_on_the_upgrade_are_answered_without_a_request_in_at_most_two_writes()
    {
        // The whole setup of a bot in one round trip: no frame from the client; hello, welcome, joined, caught_up and the
        // presence in one write (at most two).
        await using var portal = await PortalProcess.StartAsync();
        var token = await portal.TokenAsync("upgrader");
        var before = await FramesAsync(portal);
        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1", query: "join=lobby", authorization: "Bearer " + token);
        await ws.WaitForAsync(f => f.Is("presence"));
        AssertSetUpInAtMostTwoWrites(ws.Frames.Select(f => f.Type).ToList(), before, await FramesOutAsync(portal, before.Out + 5));
    }

    /// <summary>
    /// hello, welcome, joined, caught_up and the socket's own presence (an event of the room after the join) arrived,
    /// in that order, and the server counted those 5 frames in one or two writes between <paramref name="before"/> and
    /// <paramref name="after"/>.
    /// </summary>
    private static void AssertSetUpInAtMostTwoWrites(IReadOnlyList<string?> types, (double Out, double In, double Writes) before,
        (double Out, double In, double Writes) after)
    {
        Assert.Equal(["hello", "welcome", "joined", "caught_up", "presence"], types);
        Assert.Equal(before.Out + 5, after.Out);
        Assert.True(after.Writes - before.Writes is >= 1 and <= 2, $"writes: {before.Writes} → {after.Writes} for {after.Out - before.Out} frames");
    }

    /// <summary>
    /// The replies wait for requests already read, not for a big message still arriving: a history page goes out
    /// while the client is still sending the next (binary) message. (A history reply, because a send's ack would go
    /// with the room's event of the same message, which takes the drain at once anyway.)
    /// </summary>
    [Fact]
    public async Task A_reply_does_not_wait_for_the_rest_of_a_message_still_arriving()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var ws = await portal.MemberSocketAsync("uploader");
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "before the upload"), ("client_id", "u1"))).Is("ack"));
        await ws.SendTextAsync("""{"type":"history","id":"h7","room":"lobby","limit":10}""");
        await ws.SendBytesAsync(new byte[1000], System.Net.WebSockets.WebSocketMessageType.Binary, endOfMessage: false);
        var page = await ws.WaitForAsync(f => f.Get("reply_to") == "h7", TimeSpan.FromSeconds(10));
        Assert.True(page.Is("history"), page.ToString());

        // The rest of the message: unannounced, so refused with an error, and the socket goes on.
        await ws.SendBytesAsync(new byte[10], System.Net.WebSockets.WebSocketMessageType.Binary);
        Assert.Equal("image_unannounced", (await ws.WaitForAsync(f => f.Is("error"))).Get("code"));
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "after"), ("client_id", "u2"))).Is("ack"));
    }
}
