using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Serialization;

namespace ChatPortal.LoadGen.Circuits;

public sealed record CircuitSummary(
    string Label, string Path, int Circuits, int Connected, int Open, int Probes, long Expected, long Seen, double Loss,
    double P50Ms, double P99Ms, double MaxMs,
    long ServerRssBeforeKiB, long ServerRssAfterKiB, double KibPerCircuit,
    double ServerCpuConnectSeconds, double ServerCpuProbeSeconds,
    double SignInSeconds, double ConnectSeconds, double BatchesPerCircuit, double BatchKibPerCircuit,
    Dictionary<string, int> JsCalls, Dictionary<string, int> Failures, string? Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CircuitSummary))]
internal sealed partial class CircuitSummaryJson : JsonSerializerContext;

/// <summary>
/// Web users without a browser (issue 19, item 3): N Blazor Server circuits on one page, each a
/// <see cref="BlazorCircuit"/>. With --signin (ChatPortal) every circuit is a user of its own,
/// signed in through the real login form; without it (the bare template) the page is anonymous.
/// Memory per circuit is the server's RSS growth while the circuits open (after a few warm-up
/// circuits), divided by their number; with --msgs=K a v1 socket in the room posts K probes and
/// the latency is from its send to the render batch that carries the probe, per circuit.
/// </summary>
public static class CircuitUsers
{
    public static async Task<CircuitSummary> RunAsync(LoadOptions o)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(o.TimeoutSeconds));
        var ct = timeout.Token;
        var server = new ServerSampler(o.Pid);
        var baseUri = new UriBuilder(o.Url) { Scheme = o.Url.Scheme is "wss" or "https" ? "https" : "http", Path = "/", Query = "" }.Uri;
        var run = Guid.NewGuid().ToString("N")[..6];
        var hooks = new CircuitHooks(o.Msgs > 0 ? Encoding.UTF8.GetBytes($"cprobe{run}x") : null);
        string? error = null;
        void Note(string e) { lock (hooks) error ??= e; }

        // 1. Users: one account per circuit (ChatPortal caps circuits per user), signed in up front.
        var watch = Stopwatch.StartNew();
        var cookies = new CookieContainer[o.Conns];
        using (var gate = new SemaphoreSlim(Math.Max(1, o.SignInConcurrency)))
        {
            await Task.WhenAll(Enumerable.Range(0, o.Conns).Select(async i =>
            {
                if (!o.SignIn) { cookies[i] = new CookieContainer(); return; }
                await gate.WaitAsync(ct);
                try { cookies[i] = await WebUsers.SignInAsync(baseUri, $"c{run}u{i}", ct); }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException) { Note($"sign-in {i}: {ex.Message}"); cookies[i] = new CookieContainer(); }
                finally { gate.Release(); }
            }));
        }
        var signInSeconds = watch.Elapsed.TotalSeconds;

        var circuits = new BlazorCircuit?[o.Conns];
        var startFailures = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failedToStart = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        // Why circuits are missing at the end: failures to start, and what ended the others (first 80 characters).
        Dictionary<string, int> Failures()
        {
            var all = new Dictionary<string, int>(startFailures);
            foreach (var c in circuits)
            {
                if (c?.Error is not { } e || failedToStart.ContainsKey(c.Index)) continue;
                var key = e.Length > 80 ? e[..80] : e;
                all[key] = all.GetValueOrDefault(key) + 1;
            }
            return all;
        }
        using var pinging = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pinger = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(10), pinging.Token);
                    foreach (var c in circuits) if (c is not null) await c.PingAsync(pinging.Token);
                }
            }
            catch (OperationCanceledException) { }
        }, CancellationToken.None);

        async Task OpenAsync(int from, int count)
        {
            using var gate = new SemaphoreSlim(Math.Max(1, o.ConcurrentConnects));
            await Task.WhenAll(Enumerable.Range(from, count).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    var c = new BlazorCircuit(i, baseUri, cookies[i], hooks);
                    circuits[i] = c;
                    await c.StartAsync(o.Path, ct);
                    await c.FirstBatch.WaitAsync(TimeSpan.FromSeconds(60), ct);
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or System.Net.WebSockets.WebSocketException or TimeoutException or OperationCanceledException)
                {
                    Note($"circuit {i}: {ex.Message}");
                    failedToStart[i] = true;
                    startFailures.AddOrUpdate($"start: {ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
                }
                finally { gate.Release(); }
            }));
        }

        // 2. Warm-up circuits (JIT, caches, first-render allocations), then the measured ones.
        var warm = Math.Min(10, Math.Max(1, o.Conns / 10));
        await OpenAsync(0, warm);
        await Task.Delay(1000, ct);
        var rssBefore = server.RssKiB();
        var cpuBefore = server.CpuSeconds();
        watch.Restart();
        await OpenAsync(warm, o.Conns - warm);
        var connectSeconds = watch.Elapsed.TotalSeconds;
        BlazorCircuit[] Live() => circuits.Where(c => c is { Open: true, FirstBatch.IsCompletedSuccessfully: true }).Cast<BlazorCircuit>().ToArray();
        var connected = Live().Length;

        // 3. Probes from a chatportal.v1 socket in the room.
        Client? sender = null;
        var probes = Math.Max(0, o.Msgs);
        var sentAt = new long[probes + 1];
        double cpuProbe = 0;
        long rssAfterConnect = 0;
        double cpuConnect = 0;
        var phase = "probe 0 (every circuit in the room)";
        try
        {
            if (probes > 0)
            {
                var wsUri = new UriBuilder(baseUri) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws", Path = "/ws" }.Uri;
                sender = new Client(-1, new V1Driver(), new LatencyHistogram());
                await sender.ConnectAsync(o with { Url = wsUri }, ct);
                sender.StartReceiving(ct);
                async Task Probe(int k)
                {
                    sentAt[k] = Stopwatch.GetTimestamp();
                    await sender.SendTextAsync($"{{\"type\":\"send\",\"id\":{k + 100},\"room\":\"{o.Room}\",\"text\":\"cprobe{run}x{k}y\"}}", ct);
                }
                // Probe 0 proves every circuit is subscribed to the room before memory is read.
                await Probe(0);
                await WaitSeenAsync(hooks, Live(), 0, TimeSpan.FromSeconds(60), ct);
                await Task.Delay(2000, ct);
                rssAfterConnect = server.RssKiB();
                var cpuAtProbe = server.CpuSeconds();
                cpuConnect = cpuAtProbe - cpuBefore;
                phase = "probes";
                for (var k = 1; k <= probes; k++)
                {
                    await Probe(k);
                    await Task.Delay(o.ProbeIntervalMs, ct);
                }
                await WaitSeenAsync(hooks, Live(), probes, TimeSpan.FromSeconds(30), ct);
                cpuProbe = server.CpuSeconds() - cpuAtProbe;
            }
            else
            {
                await Task.Delay(2000, ct);
                rssAfterConnect = server.RssKiB();
                cpuConnect = server.CpuSeconds() - cpuBefore;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // --timeout: still report what was measured, and where it stopped.
            Note($"--timeout reached during {phase}");
            if (rssAfterConnect == 0) { rssAfterConnect = server.RssKiB(); cpuConnect = server.CpuSeconds() - cpuBefore; }
        }
        return await FinishAsync(rssAfterConnect, cpuConnect);

        async Task<CircuitSummary> FinishAsync(long rssAfter, double cpuConnect)
        {
            if (o.Hold > 0 && !ct.IsCancellationRequested)
            {
                // --hold: circuits stay open (e.g. for a heap snapshot of the server); said on stderr.
                await Console.Error.WriteLineAsync($"holding {Live().Length} circuits for {o.Hold} s");
                await Task.Delay(TimeSpan.FromSeconds(o.Hold), CancellationToken.None);
            }
            var live = Live();
            var latencies = new List<double>();
            long seen = 0;
            foreach (var c in circuits.Where(c => c?.FirstBatch.IsCompletedSuccessfully == true))
            {
                for (var k = 1; k <= probes; k++)
                {
                    if (!hooks.Seen.TryGetValue((c!.Index, k), out var at)) continue;
                    seen++;
                    latencies.Add(Stopwatch.GetElapsedTime(sentAt[k], at).TotalMilliseconds);
                }
            }
            latencies.Sort();
            double Pct(double p) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
            var firstError = circuits.FirstOrDefault(c => c?.Error is not null)?.Error;
            if (firstError is not null) Note($"circuit: {firstError}");
            var expected = (long)connected * probes;
            var measured = Math.Max(1, connected - warm);
            var summary = new CircuitSummary(o.Label, o.Path, o.Conns, connected, live.Length, probes, expected, seen,
                expected == 0 ? 0 : Math.Round(1 - seen / (double)expected, 6),
                Math.Round(Pct(0.5), 1), Math.Round(Pct(0.99), 1), latencies.Count == 0 ? 0 : Math.Round(latencies[^1], 1),
                rssBefore, rssAfter, Math.Round((rssAfter - rssBefore) / (double)measured, 1),
                Math.Round(cpuConnect, 2), Math.Round(cpuProbe, 2),
                Math.Round(signInSeconds, 1), Math.Round(connectSeconds, 1),
                Math.Round(live.Sum(c => c.Batches) / (double)Math.Max(1, live.Length), 1),
                Math.Round(live.Sum(c => c.BatchBytes) / 1024.0 / Math.Max(1, live.Length), 1),
                hooks.JsCalls.OrderByDescending(p => p.Value).Take(12).ToDictionary(p => p.Key, p => p.Value),
                Failures(), error);
            await pinging.CancelAsync();
            await pinger;
            if (sender is not null) await sender.CloseAsync();
            foreach (var chunk in circuits.Where(c => c is not null).Chunk(100)) await Task.WhenAll(chunk.Select(c => c!.DisposeAsync().AsTask()));
            return summary;
        }
    }

    private static async Task WaitSeenAsync(CircuitHooks hooks, BlazorCircuit[] live, int k, TimeSpan limit, CancellationToken ct)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until && live.Any(c => c.Open && !hooks.Seen.ContainsKey((c.Index, k))))
            await Task.Delay(50, ct);
    }
}
