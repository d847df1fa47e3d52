using System.Text.Json;
using ChatPortal.Tests.Cluster;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// The client kit's liveness rule (wwwroot-assets/chatportal.js, run in Node by
/// bench/storm/kit-liveness.mjs against a stand-in server): any frame proves the link, not only the
/// pong. A server busy sending catch-up answers a ping late; the kit used to drop such a link and come
/// back to queue the same work again (15,014 "no pong" closes in the 10,000-client reconnect storm).
/// A link that goes silent must still be given up.
/// </summary>
public sealed class KitLivenessTests
{
    [Fact]
    public async Task Frames_keep_the_link_alive_without_pongs_and_silence_ends_it()
    {
        var driver = await StormDriver.PrepareAsync();
        var script = Path.Combine(Path.GetDirectoryName(driver)!, "kit-liveness.mjs");
        var kit = Path.Combine(RepoPaths.Root, "wwwroot-assets", "chatportal.js");
        var output = await Run.ToEndAsync("node", [script, kit], timeoutSeconds: 60);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("readyFirst").GetBoolean(), line);
        var chatty = r.GetProperty("whileChatty");
        Assert.True(chatty.GetProperty("pingsSeen").GetInt32() >= 3, line); // pings went unanswered…
        Assert.True(chatty.GetProperty("connections").GetInt32() == 1, line); // …and the kit kept the link
        Assert.True(r.GetProperty("afterSilence").GetProperty("connections").GetInt32() >= 2, line); // silence: it reconnected
    }
}
