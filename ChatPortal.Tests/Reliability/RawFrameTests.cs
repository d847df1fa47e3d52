using System.Text;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// Hand-built frames over a TcpClient: every violation of RFC 6455 or of the size limits ends
/// that one socket with the right close code; nothing fails inside the server, no socket is
/// left behind, and a bystander keeps chatting.
/// </summary>
[Collection(RelyPortalCollection.Name)]
public sealed class RawFrameTests(RelyPortalFixture fx)
{
    private static byte[] Bytes(int n, byte b = (byte)'a') => Enumerable.Repeat(b, n).ToArray();

    public static TheoryData<string, int> Cases() => new()
    {
        { "unmasked", 1002 },
        { "reserved-bit", 1002 },
        { "unknown-opcode", 1002 },
        { "oversized-ping", 1002 },
        { "fragmented-ping", 1002 },
        { "orphan-continuation", 1002 },
        { "one-byte-close", 1002 },
        { "invalid-utf8", 1007 },
        { "invalid-utf8-across-fragments", 1007 },
        { "claims-2^62-bytes", 1009 },
        { "fragments-past-the-limit", 1009 },
        { "binary-claims-2^62-bytes", 1009 },
    };

    private static byte[][] Frames(string name) => name switch
    {
        "unmasked" => [RawWs.Frame(RawWs.Fin | RawWs.Text, "{\"type\":\"ping\"}"u8, mask: false)],
        "reserved-bit" => [RawWs.Frame(RawWs.Fin | 0x40 | RawWs.Text, "{\"type\":\"ping\"}"u8)],
        "unknown-opcode" => [RawWs.Frame(RawWs.Fin | 0x3, "x"u8)],
        "oversized-ping" => [RawWs.Frame(RawWs.Fin | RawWs.Ping, Bytes(126))],
        "fragmented-ping" => [RawWs.Frame(RawWs.Ping, "x"u8), RawWs.Frame(RawWs.Fin | RawWs.Continuation, "y"u8)],
        "orphan-continuation" => [RawWs.Frame(RawWs.Fin | RawWs.Continuation, "x"u8)],
        "one-byte-close" => [RawWs.Frame(RawWs.Fin | RawWs.Close, [0x03])],
        "invalid-utf8" => [RawWs.Frame(RawWs.Fin | RawWs.Text, [0x7B, 0xC0, 0xAF, 0x7D])],
        "invalid-utf8-across-fragments" => [RawWs.Frame(RawWs.Text, [0x22, 0xE4, 0xB8]), RawWs.Frame(RawWs.Fin | RawWs.Continuation, "A\""u8)],
        "claims-2^62-bytes" => [RawWs.Frame(RawWs.Fin | RawWs.Text, Bytes(RelyPortalFixture.MaxText * 5), claimedLength: 1UL << 62)],
        "binary-claims-2^62-bytes" => [RawWs.Frame(RawWs.Fin | RawWs.Binary, Bytes(1200 * 1024, 0), claimedLength: 1UL << 62)],
        "fragments-past-the-limit" =>
        [
            RawWs.Frame(RawWs.Text, Bytes(12 * 1024)),
            RawWs.Frame(RawWs.Continuation, Bytes(12 * 1024)),
            RawWs.Frame(RawWs.Continuation, Bytes(12 * 1024)),
            RawWs.Frame(RawWs.Fin | RawWs.Continuation, Bytes(10)),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_frame_closes_that_socket_with_the_right_code_and_nobody_else_notices(string name, int expected)
    {
        var portal = fx.Portal;
        var baseline = await portal.SettledOpenSocketsAsync();
        var errorsBefore = portal.ErrorLines().Count;
        await using var bystander = await portal.MemberSocketAsync(PortalHelpers.UniqueName("bys"));
        await using var peer = await portal.MemberSocketAsync(PortalHelpers.UniqueName("peer"));

        // Once, every time, on both protocols: the server sends its close frame and then reads (and
        // discards) until the client's close, so the close frame is not lost to a TCP reset. Several
        // rounds: the bytes the framework leaves unread differ (random masks), once they fooled the linger.
        foreach (var protocol in new[] { "chatportal.v1", null, "chatportal.v1", null, "chatportal.v1", null })
        {
            await using var raw = await RawWs.ConnectAsync(portal.BaseUri, protocol);
            Assert.True(raw.Upgraded, raw.ResponseHead);
            if (protocol is not null) await raw.ReadTextContainingAsync("\"hello\"");
            foreach (var frame in Frames(name)) await raw.SendRawAsync(frame);
            var code = await raw.ReadUntilCloseAsync();
            Assert.True(code == expected, $"{name} over {protocol ?? "plain"}: expected close {expected}, saw {code?.ToString() ?? raw.EndReason ?? "nothing"}\n" + string.Join("\n", portal.ReadLog().Split('\n').TakeLast(30)));
            await raw.SendRawAsync(RawWs.Frame(RawWs.Fin | RawWs.Close, [(byte)(expected >> 8), (byte)expected]));
            Assert.True(await raw.ServerHungUpAsync(TimeSpan.FromSeconds(15)), $"{name}: the server kept the connection open");
        }

        // The bystander still talks to the peer.
        var text = $"still here {name}";
        var ack = await bystander.RequestAsync("send", ("room", "lobby"), ("text", text));
        Assert.True(ack.Is("ack"), ack.ToString());
        await peer.WaitForAsync(f => f.Is("message") && f.Get("message.text") == text);

        await bystander.DisposeAsync();
        await peer.DisposeAsync();
        Assert.Equal(baseline, await portal.WaitForOpenSocketsAsync(baseline));
        Assert.Equal(errorsBefore, portal.ErrorLines().Count);
    }

    [Fact]
    public async Task A_peer_that_vanishes_mid_frame_leaves_no_socket_behind()
    {
        var portal = fx.Portal;
        var baseline = await portal.SettledOpenSocketsAsync();
        var errorsBefore = portal.ErrorLines().Count;
        for (var i = 0; i < 20; i++)
        {
            await using var raw = await RawWs.ConnectAsync(portal.BaseUri, i % 2 == 0 ? "chatportal.v1" : null);
            Assert.True(raw.Upgraded, raw.ResponseHead);
            // Half a header, or a header and half a payload, then the TCP connection is gone.
            var frame = RawWs.Frame(RawWs.Fin | RawWs.Text, Encoding.UTF8.GetBytes(new string('x', 300)));
            await raw.SendRawAsync(frame[..(i % 3 == 0 ? 1 : frame.Length / 2)]);
        }
        Assert.Equal(baseline, await portal.WaitForOpenSocketsAsync(baseline));
        Assert.Equal(errorsBefore, portal.ErrorLines().Count);
    }
}
