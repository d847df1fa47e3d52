using System.Diagnostics;
using System.Text.Json;
using ChatPortal.Tests.Cluster;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// The reconnect-storm driver of bench/storm.sh (bench/storm/storm.mjs: the real client kit,
/// wwwroot-assets/chatportal.js, in Node over the npm ws package) against a portal process that is
/// restarted mid-stream the way the script does it: graceful stop (1012), a new process on the same
/// data folder. Thirty kit clients must come back by themselves, each as the guest it was, and hold every
/// acknowledged message exactly once, in order, across the restart. Guards both the driver's verdict and the portal's
/// catch-up (no timings asserted; the kit's backoff is shortened through its own options).
/// </summary>
public sealed class StormDriverTests
{
    private const int Clients = 30;

    [Fact]
    public async Task Kit_clients_come_back_after_a_restart_with_every_message_once_and_in_order()
    {
        var driver = await StormDriver.PrepareAsync();
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
        });

        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            driver, $"--url={portal.BaseUri}", $"--clients={Clients}", "--cc=10", "--rate=20", "--warmup=1", "--after=1",
            "--settle=20", "--backoff-base=100", "--backoff-max=1000", "--timeout=100", $"--pid={portal.Pid}",
        }) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        var stderr = node.StandardError.ReadToEndAsync();
        try
        {
            var ready = await ReadEventAsync(node, "ready", TimeSpan.FromSeconds(60), stderr);
            Assert.Equal(Clients, ready.GetProperty("clients").GetInt32());

            await node.StandardInput.WriteLineAsync("stop");
            await node.StandardInput.FlushAsync();
            await portal.StopAsync();
            Assert.Equal(0, portal.ExitCode); // a graceful stop, not a kill after the grace period
            await node.StandardInput.WriteLineAsync("exited");
            await node.StandardInput.FlushAsync();
            await portal.StartAgainAsync();
            await node.StandardInput.WriteLineAsync($"started {portal.Pid}");
            await node.StandardInput.FlushAsync();

            var s = await ReadEventAsync(node, "summary", TimeSpan.FromSeconds(100), stderr);
            var report = s.GetRawText();
            Assert.True(s.GetProperty("reason").GetString() == "complete", report);
            Assert.Equal(Clients, s.GetProperty("clients").GetInt32());
            // Every client was dropped with 1012 and came back through the kit's own reconnect.
            Assert.Equal(Clients, s.GetProperty("dropCodes").GetProperty("1012").GetInt32());
            Assert.Equal(0, s.GetProperty("clientsNotCaughtUp").GetInt32());
            // Each came back as the guest it was (the kit sent the resume token of its last welcome).
            Assert.Equal(Clients, s.GetProperty("sameGuestAfterRestart").GetInt32());
            // The timeline (steps from the stop) counts every client's return once, and at least as many sockets opened.
            var timeline = s.GetProperty("timeline").EnumerateArray().ToList();
            Assert.Equal(Clients, timeline.Sum(b => b.GetProperty("welcomed").GetInt32()));
            Assert.Equal(Clients, timeline.Sum(b => b.GetProperty("caughtUp").GetInt32()));
            Assert.True(timeline.Sum(b => b.GetProperty("opened").GetInt32()) >= Clients, report);
            // Messages were posted before and after the stop, and every one was acknowledged.
            var posted = s.GetProperty("posted").GetInt32();
            Assert.True(s.GetProperty("postedBeforeStop").GetInt32() > 0, report);
            Assert.True(posted > s.GetProperty("postedBeforeStop").GetInt32(), report);
            Assert.Equal(posted, s.GetProperty("acked").GetInt32());
            Assert.Equal(0, s.GetProperty("sendErrors").GetArrayLength());
            // Every client holds each of them exactly once, in stored order, and nothing was stored twice.
            Assert.Equal(0, s.GetProperty("gaps").GetInt32());
            Assert.Equal(0, s.GetProperty("duplicates").GetInt32());
            Assert.Equal(0, s.GetProperty("outOfOrder").GetInt32());
            Assert.Equal(0, s.GetProperty("foreign").GetInt32());
            Assert.Equal(0, s.GetProperty("storedTwice").GetInt32());
            Assert.Equal(0, s.GetProperty("rawRepeats").GetInt32());
            Assert.True(s.GetProperty("ok").GetBoolean(), report);
        }
        finally
        {
            if (!node.HasExited) node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
        }
    }

    /// <summary>The next stdout line of the driver that is the given event (bounded).</summary>
    private static async Task<JsonElement> ReadEventAsync(Process node, string name, TimeSpan timeout, Task<string> stderr)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line;
            try { line = await node.StandardOutput.ReadLineAsync(cts.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"no \"{name}\" from the storm driver within {timeout}"); }
            if (line is null)
            {
                await node.WaitForExitAsync();
                throw new InvalidOperationException($"the storm driver ended before \"{name}\":\n{await stderr}");
            }
            if (!line.StartsWith('{')) continue;
            var e = JsonDocument.Parse(line).RootElement;
            if (e.GetProperty("event").GetString() == name) return e.Clone();
        }
    }
}

/// <summary>bench/storm: its npm dependency (ws, pinned in package-lock.json) is installed once with npm ci.</summary>
internal static class StormDriver
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static async Task<string> PrepareAsync()
    {
        var dir = Path.Combine(RepoPaths.Root, "bench", "storm");
        await Gate.WaitAsync();
        try
        {
            if (!File.Exists(Path.Combine(dir, "node_modules", "ws", "package.json")))
                await Run.ToEndAsync("npm", ["ci", "--prefix", dir, "--no-audit", "--no-fund"], timeoutSeconds: 180);
        }
        finally
        {
            Gate.Release();
        }
        return Path.Combine(dir, "storm.mjs");
    }
}
