using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.WebSockets;

/// <summary>Bad input gets an error frame or the right close code, never a crash, and never disturbs anyone else.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class LimitsTests(WsPortalFixture fx)
{
    private const string V1 = "chatportal.v1";

    [Fact]
    public async Task A_thousand_malformed_frames_get_error_frames_while_bystanders_keep_chatting()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("flood").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var a = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("calm"), room);
        await using var b = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("quiet"), room);
        await using var attacker = await WsClient.ConnectAsync(fx.BaseUri, V1);
        await attacker.AuthAsync(guest: true);
        await attacker.JoinAsync(room);

        var garbage = new[]
        {
            "{", "}", "null", "[]", "\"just a string\"", "42", "{\"type\":123}", "{\"type\":null}", "{\"type\":\"\"}",
            "{\"type\":\"send\",\"room\":[1],\"text\":\"x\"}", "{\"type\":\"join\",\"since\":\"yesterday\"}",
            "{\"type\":\"send\",\"id\":1e309}", "{\"type\":\"join\",\"room\":99999999999999999999}",
            new string('[', 5000) + new string(']', 5000), "{\"a\":" + new string('{', 100) + new string('}', 101),
            "{\"type\":\"history\",\"limit\":-5,\"room\":\"nowhere\"}", "{\"type\":\"edit\",\"message_id\":-1,\"text\":\"x\"}",
            "\u0000\u0001\u0002", "{\"type\":\"delete\",\"message_id\":9223372036854775807}", "<html>", "{\"type\":\"\\ud800\"}",
        };
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < 1000; i++) await attacker.SendTextAsync(garbage[i % garbage.Length]);
        });
        var sent = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var text = $"bystander {i}";
            Assert.True((await a.RequestAsync("send", ("room", room), ("text", text))).Is("ack"));
            sent.Add(text);
        }
        await flood;

        var got = await b.WaitForCountAsync(f => f.Is("message") && f.Get("message.text")!.StartsWith("bystander", StringComparison.Ordinal), 50);
        Assert.Equal(sent, got.Select(f => f.Get("message.text")!).ToList());
        var errors = await attacker.WaitForCountAsync(f => f.Is("error"), 1000, TimeSpan.FromSeconds(60));
        Assert.All(errors, e => Assert.False(string.IsNullOrEmpty(e.Get("code"))));
        Assert.Equal(WebSocketState.Open, attacker.Socket.State);

        // The server is up and serving: a new socket works, and so does the web UI.
        await using var fresh = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("fresh"), room);
        using var http = fx.Portal.CreateClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/login")).StatusCode);
        Assert.DoesNotContain("Unhandled exception", fx.Portal.ReadLog());
    }

    [Fact]
    public async Task A_text_message_over_the_limit_closes_with_1009_and_one_at_the_limit_does_not()
    {
        await using var atLimit = await WsClient.ConnectAsync(fx.BaseUri, V1);
        await atLimit.AuthAsync(guest: true);
        await atLimit.SendTextAsync(new string('x', WsPortalFixture.MaxText));
        await atLimit.WaitForAsync(f => f.Is("error") && f.Get("code") == "bad_json");
        Assert.Equal(WebSocketState.Open, atLimit.Socket.State);

        await using var over = await WsClient.ConnectAsync(fx.BaseUri, V1);
        await over.AuthAsync(guest: true);
        await over.SendTextAsync(new string('x', WsPortalFixture.MaxText + 1));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await over.WaitClosedAsync());
    }

    [Fact]
    public async Task The_size_limit_counts_across_fragments()
    {
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri);
        await ws.WaitForAsync(f => f.Is("openSuccess"));
        var chunk = Encoding.UTF8.GetBytes(new string('y', 8 * 1024));
        try
        {
            for (var i = 0; i < 5; i++) await ws.SendBytesAsync(chunk, WebSocketMessageType.Text, endOfMessage: false); // 40 KB > 32 KB, no fragment over
        }
        catch (WebSocketException)
        {
            // The server may close before the last fragment goes out.
        }
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await ws.WaitClosedAsync());
    }

    [Fact]
    public async Task A_binary_message_over_the_image_limit_closes_with_1009()
    {
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri);
        await ws.WaitForAsync(f => f.Is("openSuccess"));
        var big = new byte[WsPortalFixture.MaxBinary + 10];
        PortalHelpers.TinyPng().CopyTo(big, 0);
        try { await ws.SendBytesAsync(big, WebSocketMessageType.Binary); }
        catch (WebSocketException) { /* closed while sending */ }
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await ws.WaitClosedAsync());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(V1)]
    public async Task Invalid_utf8_in_a_text_frame_closes_with_1007(string? protocol)
    {
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, protocol);
        await ws.WaitForAsync(f => f.Is("openSuccess") || f.Is("hello"));
        await ws.SendBytesAsync([0x68, 0x69, 0xC3, 0x28, 0xFF], WebSocketMessageType.Text);
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, await ws.WaitClosedAsync());
    }

    [Fact]
    public async Task Keep_alive_drops_a_peer_that_never_answers_pings_but_keeps_one_that_does()
    {
        await using var alive = await WsClient.ConnectAsync(fx.BaseUri);
        await alive.WaitForAsync(f => f.Is("openSuccess"));

        // A raw TCP peer: completes the upgrade, then reads but never answers a ping.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", fx.Portal.Port);
        var stream = tcp.GetStream();
        var request = $"GET /ws HTTP/1.1\r\nHost: {fx.BaseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ended = false;
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, bound.Token);
                if (n == 0) { ended = true; break; }
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            ended = true; // reset
        }
        Assert.True(ended, "the server should have dropped the silent peer");
        var bytes = received.ToArray();
        var head = Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 200));
        Assert.StartsWith("HTTP/1.1 101", head);
        Assert.Contains(ServerOpcodes(bytes), op => op == 0x9); // it was pinged

        // The peer that answers pings is still there, well past the keep-alive timeout.
        Assert.Equal(WebSocketState.Open, alive.Socket.State);
        await alive.SendTextAsync("still alive " + Guid.NewGuid());
        await using var probe = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("probe"));
        Assert.Equal(WebSocketState.Open, alive.Socket.State);
    }

    /// <summary>Opcodes of the (unmasked) server frames after the HTTP response head.</summary>
    private static List<int> ServerOpcodes(byte[] bytes)
    {
        var ops = new List<int>();
        var i = Encoding.ASCII.GetString(bytes).IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        while (i >= 4 && i + 2 <= bytes.Length)
        {
            ops.Add(bytes[i] & 0x0F);
            long len = bytes[i + 1] & 0x7F;
            var header = 2;
            if (len == 126) { len = (bytes[i + 2] << 8) | bytes[i + 3]; header = 4; }
            else if (len == 127) break;
            i += header + (int)len;
        }
        return ops;
    }
}

/// <summary>A portal with a tiny per-socket queue and big messages, so that "stops reading" bites within a bounded run.</summary>
public sealed class SlowPortalFixture : IAsyncLifetime
{
    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync() =>
        Portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
            ["Chat__MaxMessageLength"] = "60000",
            ["WebSockets__MaxTextMessageBytes"] = "262144",
            ["WebSockets__SendQueueCapacity"] = "16",
            ["WebSockets__KeepAliveIntervalSeconds"] = "0",
        });

    public async ValueTask DisposeAsync() => await Portal.DisposeAsync();
}

public sealed class SlowReaderTests(SlowPortalFixture fx) : IClassFixture<SlowPortalFixture>
{
    [Fact]
    public async Task A_client_that_sends_faster_than_it_reads_replies_is_slowed_down_not_dropped()
    {
        // The queue here holds 16 frames; 400 requests sent without waiting would overflow it many
        // times over if replies were not paced by reading the client's requests more slowly.
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("eager"));
        var burst = string.Concat(Enumerable.Range(0, 400).Select(i => $"{{\"type\":\"ping\",\"id\":{i}}}\n")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await Task.WhenAll(burst.Select(ws.SendTextAsync));
        await ws.SendTextAsync("not json");
        var pongs = await ws.WaitForCountAsync(f => f.Is("pong"), 400, TimeSpan.FromSeconds(60));
        Assert.Equal(400, pongs.Select(p => p.Get("reply_to")).Distinct().Count());
        await ws.WaitForAsync(f => f.Get("code") == "bad_json");
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
    }

    [Fact]
    public async Task A_client_that_never_reads_is_dropped_and_everyone_else_keeps_receiving()
    {
        var portal = fx.Portal;
        await using var bystander = await portal.MemberSocketAsync(PortalHelpers.UniqueName("bystander"));
        await using var sender = await portal.MemberSocketAsync(PortalHelpers.UniqueName("sender"));
        // A plain client (no request/response needed) that never reads, with a tiny receive buffer.
        await using var stuck = await WsClient.ConnectAsync(portal.BaseUri, read: false, receiveBufferBytes: 4096);
        var stuckUser = await bystander.WaitForAsync(f => f.Is("presence") && f.Get("user.kind") == "guest" && f.Get("online") == "true");
        var stuckId = stuckUser.Get("user.id");

        var payload = new string('z', 30_000);
        var sent = 0;
        var droppedAt = -1;
        const int maxMessages = 600, afterDrop = 30;
        while (sent < maxMessages && (droppedAt < 0 || sent < droppedAt + afterDrop))
        {
            var ack = await sender.RequestAsync("send", ("room", "lobby"), ("text", $"{sent:D4} {payload}"));
            Assert.True(ack.Is("ack"), ack.ToString());
            sent++;
            if (droppedAt < 0 && bystander.Where(f => f.Is("presence") && f.Get("user.id") == stuckId && f.Get("online") == "false").Count > 0)
                droppedAt = sent;
        }
        Assert.True(droppedAt > 0, $"the stuck client was not dropped after {sent} messages of 30 KB");

        // Everyone else got every message, in order, including those sent after the drop.
        var got = await bystander.WaitForCountAsync(f => f.Is("message") && f.Get("message.text")!.Length > 30_000, sent, TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(0, sent).Select(i => i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture)),
            got.Select(f => f.Get("message.text")![..4]));

        // The stuck client's connection is gone: reading now ends without everything having arrived.
        stuck.StartReading();
        await stuck.Closed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(stuck.Where(f => f.Is("message")).Count < sent);
    }
}
