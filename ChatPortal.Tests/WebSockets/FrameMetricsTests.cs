using System.Globalization;
using System.Text.RegularExpressions;

namespace ChatPortal.Tests.WebSockets;

/// <summary>The frame counters on /metrics (plain counters read at collection) move with the traffic.</summary>
public sealed class FrameMetricsTests
{
    private static async Task<(double Out, double In)> FramesAsync(PortalProcess portal)
    {
        using var http = portal.CreateClient();
        var text = await http.GetStringAsync("/metrics");
        static double Read(string text, string name) =>
            Regex.Matches(text, $@"^{name}(?:_total)?(?:\{{[^}}]*\}})? ([0-9.eE+-]+)", RegexOptions.Multiline)
                .Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return (Read(text, "chatportal_ws_frames_out"), Read(text, "chatportal_ws_frames_in"));
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
}
