using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatPortal.LoadGen;

/// <summary>
/// Soak mode (<c>--mode=soak</c>, run by <c>bench/soak.sh</c>): --conns chatportal.v1 sockets all in
/// one room, --senders sending --rate messages per second each for --duration seconds. Every
/// --sample seconds it prints one line (server RSS, open fds, sends, acks, deliveries, that
/// interval's latency p50/p99), then one JSON verdict:
/// <list type="bullet">
/// <item>loss: every acknowledged message reached every connected socket (0 lost), every send
/// was acknowledged, and no socket was dropped;</item>
/// <item>memory and handles: the mean server RSS and the mean count of /proc/&lt;pid&gt;/fd over the
/// last --window seconds are within ±--tolerance (10%) of their means over the first --window
/// seconds after the --warmup;</item>
/// <item>latency: the p99 over the last window is at most 2 × the p99 over the first window
/// (with a 5 ms floor on the first, so sub-millisecond noise cannot fail it).</item>
/// </list>
/// </summary>
public static class Soak
{
    private sealed record SoakOptions(double Duration, double Warmup, double Sample, double Window, double Tolerance, double P99Factor, double P99FloorMs);

    public static async Task<int> MainAsync(string[] args)
    {
        // Soak-only options first; the rest are the usual load options (--url, --conns, --senders, --rate, --pid, ...).
        var so = new SoakOptions(600, 60, 10, 60, 0.10, 2, 5);
        var rest = new List<string>();
        foreach (var a in args)
        {
            var eq = a.IndexOf('=');
            var (k, v) = eq > 2 ? (a[2..eq], a[(eq + 1)..]) : ("", "");
            double D() => double.Parse(v, CultureInfo.InvariantCulture);
            switch (k)
            {
                case "duration": so = so with { Duration = D() }; break;
                case "warmup": so = so with { Warmup = D() }; break;
                case "sample": so = so with { Sample = D() }; break;
                case "window": so = so with { Window = D() }; break;
                case "tolerance": so = so with { Tolerance = D() }; break;
                case "mode": break;
                default: rest.Add(a); break;
            }
        }
        var o = LoadOptions.Parse([.. rest]) with { Protocol = "v1" };
        if (so.Duration < so.Warmup + 2 * so.Sample) throw new ArgumentException("--duration must leave at least two samples after --warmup");
        var verdict = await RunAsync(o, so);
        Console.WriteLine(JsonSerializer.Serialize(verdict, SoakJson.Default.SoakVerdict));
        return verdict.Pass ? 0 : 1;
    }

    private static async Task<SoakVerdict> RunAsync(LoadOptions o, SoakOptions so)
    {
        // The whole run is bounded: connect + duration + drain, then everything is cancelled.
        using var hard = new CancellationTokenSource(TimeSpan.FromSeconds(so.Duration + o.TimeoutSeconds + 60));
        var ct = hard.Token;
        var driver = new V1Driver();
        var failures = new List<string>();

        // Connect (in waves of --cc): hello → guest auth → join → caught_up.
        var clients = new SoakClient?[o.Conns];
        var unused = NewHistogram(); // a Client wants one; SoakClient records latency per interval instead
        var connectWatch = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(o.ConcurrentConnects))
        {
            await Task.WhenAll(Enumerable.Range(0, o.Conns).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    var c = new Client(i, driver, unused);
                    await c.ConnectAsync(o, ct);
                    clients[i] = new SoakClient(c, driver);
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or InvalidOperationException or HttpRequestException)
                {
                    lock (failures) if (failures.Count < 5) failures.Add($"connect {i}: {ex.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        var live = clients.OfType<SoakClient>().ToArray();
        Console.WriteLine($"connected {live.Length}/{o.Conns} in {connectWatch.Elapsed.TotalSeconds:F1} s; sending {o.Senders} x {o.Rate}/s for {so.Duration} s");
        var intervals = new List<Interval>();
        var current = new Interval(0);
        intervals.Add(current);
        foreach (var c in live) c.Start(() => Volatile.Read(ref current), ct);
        await Task.Delay(500, ct); // join and presence traffic settles

        // Steady load: each sender at --rate on its own schedule (no catching up in bursts after a stall).
        var senders = live.Take(Math.Min(o.Senders, live.Length)).ToArray();
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sendTasks = senders.Select(s => s.SendSteadyAsync(o.Rate, stopSending.Token)).ToArray();

        var sampler = new ServerSampler(o.Pid);
        var samples = new List<(double T, long Rss, int Fds)>();
        var watch = Stopwatch.StartNew();
        for (var k = 1; watch.Elapsed.TotalSeconds < so.Duration - 0.001; k++)
        {
            var due = TimeSpan.FromSeconds(Math.Min(k * so.Sample, so.Duration)) - watch.Elapsed;
            if (due > TimeSpan.Zero) await Task.Delay(due, ct);
            var done = current;
            current = new Interval(k);
            intervals.Add(current);
            var t = watch.Elapsed.TotalSeconds;
            var rss = sampler.RssKiB();
            var fds = CountFds(o.Pid);
            samples.Add((t, rss, fds));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"t={t,6:F0}s rss={rss / 1024.0,7:F1}MiB fds={fds,5} sent={senders.Sum(s => Interlocked.Read(ref s.Sent)),8} acked={live.Sum(c => Interlocked.Read(ref c.Acked)),8} delivered={live.Sum(c => Interlocked.Read(ref c.Delivered)),10} p50={done.Latency.Percentile(0.5),7:F2}ms p99={done.Latency.Percentile(0.99),7:F2}ms n={done.Latency.Count}"));
        }
        await stopSending.CancelAsync();
        await Task.WhenAll(sendTasks);
        var sendSeconds = watch.Elapsed.TotalSeconds;

        // Drain: every send acknowledged and every acknowledged message delivered to every socket, or 15 s without progress.
        long Sent() => senders.Sum(s => Interlocked.Read(ref s.Sent));
        long Acked() => live.Sum(c => Interlocked.Read(ref c.Acked));
        long Delivered() => live.Sum(c => Interlocked.Read(ref c.Delivered));
        var last = -1L;
        var still = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested && (Acked() < Sent() || Delivered() < Acked() * live.Length))
        {
            var progress = Acked() + Delivered();
            if (progress != last) { last = progress; still.Restart(); }
            else if (still.Elapsed > TimeSpan.FromSeconds(15)) break;
            await Task.Delay(50, CancellationToken.None);
        }
        var dropped = live.Count(c => c.Socket.State != WebSocketState.Open);
        await Task.WhenAll(live.Select(c => c.CloseAsync()));

        // Verdict.
        var sent = Sent();
        var acked = Acked();
        var delivered = Delivered();
        var expected = acked * live.Length;
        var lost = Math.Max(0, expected - delivered);
        if (live.Length < o.Conns) failures.Add($"only {live.Length} of {o.Conns} sockets connected");
        if (acked != sent) failures.Add($"{sent - acked} sends never acknowledged");
        if (lost > 0) failures.Add($"{lost} deliveries lost");
        if (dropped > 0) failures.Add($"{dropped} sockets dropped by the server");

        var window = Math.Min(so.Window, (so.Duration - so.Warmup) / 2);
        var first = samples.Where(s => s.T > so.Warmup && s.T <= so.Warmup + window + 0.5).ToList();
        var lastW = samples.Where(s => s.T > so.Duration - window - 0.5).ToList();
        double Mean(IEnumerable<double> xs) => xs.DefaultIfEmpty(0).Average();
        var rssFirst = Mean(first.Select(s => (double)s.Rss));
        var rssLast = Mean(lastW.Select(s => (double)s.Rss));
        var fdsFirst = Mean(first.Select(s => (double)s.Fds));
        var fdsLast = Mean(lastW.Select(s => (double)s.Fds));
        double Change(double a, double b) => a <= 0 ? 0 : b / a - 1;
        if (o.Pid > 0 && Math.Abs(Change(rssFirst, rssLast)) > so.Tolerance)
            failures.Add($"RSS moved {Change(rssFirst, rssLast):P1} (first window {rssFirst / 1024:F1} MiB, last {rssLast / 1024:F1} MiB)");
        if (o.Pid > 0 && Math.Abs(Change(fdsFirst, fdsLast)) > so.Tolerance)
            failures.Add($"open fds moved {Change(fdsFirst, fdsLast):P1} (first window {fdsFirst:F0}, last {fdsLast:F0})");

        // Interval k covers ((k)·sample, (k+1)·sample]; the last one (after the final sample) is the drain and not counted.
        var measured = intervals.Take(samples.Count).ToList();
        var firstLat = NewHistogram();
        var lastLat = NewHistogram();
        foreach (var iv in measured)
        {
            var end = (iv.Index + 1) * so.Sample;
            if (end > so.Warmup + 0.001 && end <= so.Warmup + window + 0.001) firstLat.Add(iv.Latency);
            if (end > so.Duration - window + 0.001) lastLat.Add(iv.Latency);
        }
        var p99First = firstLat.Percentile(0.99);
        var p99Last = lastLat.Percentile(0.99);
        var p99Limit = so.P99Factor * Math.Max(p99First, so.P99FloorMs);
        if (p99Last > p99Limit) failures.Add($"p99 rose from {p99First:F2} ms to {p99Last:F2} ms (limit {p99Limit:F2} ms)");

        return new SoakVerdict("soak", o.Label, o.Conns, live.Length, senders.Length, o.Rate, so.Duration, so.Warmup, so.Sample, window,
            sent, acked, expected, delivered, lost, dropped, R(sent / Math.Max(0.001, sendSeconds)), R(delivered / Math.Max(0.001, sendSeconds)),
            (long)rssFirst, (long)rssLast, R(Change(rssFirst, rssLast), 4), R(fdsFirst, 1), R(fdsLast, 1), R(Change(fdsFirst, fdsLast), 4),
            R(p99First), R(p99Last), R(p99Limit),
            measured.Select(i => R(i.Latency.Percentile(0.99))).ToList(),
            samples.Select(s => s.Rss).ToList(), samples.Select(s => s.Fds).ToList(),
            failures.Count == 0, failures);
    }

    private static double R(double v, int digits = 3) => Math.Round(v, digits);

    private static int CountFds(int pid)
    {
        if (pid <= 0) return 0;
        try { return Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return 0; }
    }

    /// <summary>0.1 ms buckets up to 10 s (800 KB each): one per sampling interval.</summary>
    private static LatencyHistogram NewHistogram() => new(maxMs: 10_000, bucketMs: 0.1);

    /// <summary>One sampling interval's latencies.</summary>
    private sealed class Interval(int index)
    {
        public int Index { get; } = index;
        public LatencyHistogram Latency { get; } = NewHistogram();
    }

    /// <summary>A connected v1 socket: counts acks and deliveries (latency into the current interval); senders send steadily.</summary>
    private sealed class SoakClient(Client client, V1Driver driver)
    {
        public long Sent;
        public long Acked;
        public long Delivered;
        private Task? _receive;
        public ClientWebSocket Socket => client.Socket;

        public void Start(Func<Interval> interval, CancellationToken ct) => _receive = Task.Run(() => ReceiveAsync(interval, ct), ct);

        private async Task ReceiveAsync(Func<Interval> interval, CancellationToken ct)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (Socket.State == WebSocketState.Open)
                {
                    (buffer, var len, var type) = await Client.ReceiveFrameAsync(Socket, buffer, ct);
                    if (type == WebSocketMessageType.Close) break;
                    switch (driver.Classify(buffer.AsSpan(0, len), out var ticks))
                    {
                        case FrameKind.Ack:
                            Interlocked.Increment(ref Acked);
                            break;
                        case FrameKind.Delivery:
                            Interlocked.Increment(ref Delivered);
                            if (ticks > 0) interval().Latency.Record(Stopwatch.GetElapsedTime(ticks).TotalMilliseconds);
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        }

        public async Task SendSteadyAsync(double rate, CancellationToken ct)
        {
            var every = TimeSpan.FromSeconds(1 / Math.Max(0.01, rate));
            var start = Stopwatch.GetTimestamp();
            try
            {
                for (var seq = 0; ; seq++)
                {
                    var due = every * seq - Stopwatch.GetElapsedTime(start);
                    if (due > TimeSpan.Zero) await Task.Delay(due, ct);
                    var text = $"ts={Stopwatch.GetTimestamp()} s={client.Index} n={seq} soak";
                    await Socket.SendAsync(driver.Encode(text, client.Index, seq), WebSocketMessageType.Text, true, ct);
                    Interlocked.Increment(ref Sent);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        }

        public Task CloseAsync() => client.CloseAsync();
    }
}

public sealed record SoakVerdict(
    string Mode, string Label, int Conns, int Connected, int Senders, double RatePerSender,
    double DurationSeconds, double WarmupSeconds, double SampleSeconds, double WindowSeconds,
    long Sent, long Acked, long ExpectedDeliveries, long Delivered, long Lost, int Dropped,
    double SendsPerSecond, double DeliveriesPerSecond,
    long RssFirstKiB, long RssLastKiB, double RssChange, double FdsFirst, double FdsLast, double FdsChange,
    double P99FirstMs, double P99LastMs, double P99LimitMs,
    List<double> P99PerIntervalMs, List<long> RssKiBPerSample, List<int> FdsPerSample,
    bool Pass, List<string> Failures);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(SoakVerdict))]
internal sealed partial class SoakJson : JsonSerializerContext;
