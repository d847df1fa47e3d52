using System.Text.Json;
using ChatPortal.Tests.Cluster;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// The client kit's reconnect schedule around a server restart (wwwroot-assets/chatportal.js, run in
/// Node by bench/storm/kit-restart.mjs against a stand-in server that goes away and comes back on the
/// same port). Issue 19, item 2: the kit doubled its window with every try refused while the server
/// restarted, so the median client of a 1,000-client storm needed four tries and the last came back
/// 14 s after the server listened again. After a 1012 a refused try no longer grows the window; after a
/// crash (no 1012) it still does.
/// </summary>
public sealed class KitRestartTests
{
    [Fact]
    public async Task Refused_tries_after_a_1012_keep_the_first_window_and_a_crash_still_backs_off()
    {
        var driver = await StormDriver.PrepareAsync();
        var script = Path.Combine(Path.GetDirectoryName(driver)!, "kit-restart.mjs");
        var kit = Path.Combine(RepoPaths.Root, "wwwroot-assets", "chatportal.js");
        var output = await Run.ToEndAsync("node", [script, kit], timeoutSeconds: 60);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        var restart = doc.RootElement.GetProperty("restart");
        var crash = doc.RootElement.GetProperty("crash");

        // Restart: many refused tries in 1.5 s, each within the first window (50 ms), the attempt count not growing.
        var down = restart.GetProperty("whileDown").EnumerateArray().ToList();
        Assert.True(down.Count >= 10, line);
        Assert.All(down, e => Assert.True(e.GetProperty("delay").GetInt32() < 50, line));
        Assert.All(down, e => Assert.Equal(1, e.GetProperty("attempt").GetInt32()));
        Assert.True(restart.GetProperty("backAgain").GetBoolean(), line);

        // Crash: the window doubles with every refused try (attempt 1, 2, 3, …), so far fewer tries.
        var crashed = crash.GetProperty("whileDown").EnumerateArray().Select(e => e.GetProperty("attempt").GetInt32()).ToList();
        Assert.True(crashed.Count >= 2, line);
        Assert.Equal(Enumerable.Range(1, crashed.Count), crashed);
        Assert.True(crashed.Count < down.Count, line);
        Assert.True(crash.GetProperty("backAgain").GetBoolean(), line);
    }
}
