using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatPortal.LoadGen;

public sealed record Summary(
    string Label, string Protocol, int Conns, int Connected, int Senders, int Msgs, double Rate,
    double ConnectSeconds, double ConnectsPerSecond,
    long Sent, long Acked, long ExpectedDeliveries, long Delivered, double Loss,
    double SendSeconds, double DeliveriesPerSecond, double AcksPerSecond,
    double LatencyP50Ms, double LatencyP99Ms, double LatencyMaxMs,
    long ServerRssBeforeKiB, long ServerRssPeakKiB, long ServerRssAfterKiB, double ServerCpuSeconds, double ServerCpuSendingSeconds,
    string? Error, double ServerCpuConnectSeconds = 0, double LoadGenCpuConnectSeconds = 0);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(Summary))]
internal sealed partial class SummaryJson : JsonSerializerContext;

public static class LoadRun
{
    public static async Task<Summary> RunAsync(LoadOptions o)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(o.TimeoutSeconds));
        var ct = timeout.Token;
        var driver = Drivers.For(o);
        await driver.PrepareAsync(o, ct); // not measured: before the server's CPU and memory are read
        var stats = new LatencyHistogram();
        string? warmError = null;
        if (o.WarmupConns > 0)
        {
            // Unmeasured: the same handshake over other connections (token runs: other users), closed again, then a
            // pause for tier-up. Each run is a fresh load-generator process; without this its handshake code is
            // jitted and re-jitted during the timed connects (a v1 token handshake: about a quarter of the load
            // generator's CPU then), which the peers' plain connects, with no handshake, hardly pay.
            (var warm, warmError) = await ConnectAllAsync(o, driver, stats, o.Conns, o.WarmupConns, ct);
            await Task.WhenAll(warm.Select(c => c.CloseAsync()));
            await Task.Delay(1000, ct);
        }
        var server = new ServerSampler(o.Pid);
        var rssBefore = server.RssKiB();
        var cpuBefore = server.CpuSeconds();
        using var sampling = server.SamplePeak(ct);

        // Connect in waves of --cc. The CPU of both sides during the connects (they share the machine's cores: the
        // connect rate is bounded by their sum; issue 19 compares rates measured this way).
        var ownCpuBefore = Environment.CpuUsage.TotalTime;
        var connectWatch = Stopwatch.StartNew();
        var (live, error) = await ConnectAllAsync(o, driver, stats, 0, o.Conns, ct);
        connectWatch.Stop();
        var serverCpuConnect = server.CpuSeconds() - cpuBefore;
        var ownCpuConnect = (Environment.CpuUsage.TotalTime - ownCpuBefore).TotalSeconds;
        error ??= warmError is null ? null : $"warm-up: {warmError}"; // a failed warm-up is reported, not hidden
        foreach (var c in live) c.StartReceiving(ct);
        // Let connection-time traffic settle before measuring (ChatPortal announces every join to the
        // room: about N²/2 notices while N plain sockets connect; the peers send none): wait until no
        // frame has arrived for 500 ms, at most 60 s.
        long Frames() => live.Sum(c => Interlocked.Read(ref c.Frames));
        var quiet = Stopwatch.StartNew();
        var settling = Stopwatch.StartNew();
        var framesSeen = Frames();
        while (quiet.ElapsedMilliseconds < 500 && settling.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50, ct);
            var now = Frames();
            if (now != framesSeen) { framesSeen = now; quiet.Restart(); }
        }

        // Send.
        var senders = live.Take(Math.Min(o.Senders, live.Length)).ToArray();
        var self = o.Self ?? driver.EchoesToSender;
        // Everyone in one room, or (--room=name-{i}) each connection alone in its own room.
        var audience = o.Room.Contains("{i}", StringComparison.Ordinal) ? 1 : live.Length;
        if (o.WarmupMsgs > 0 && senders.Length > 0)
        {
            // Unmeasured: the same sends (other client ids), all their deliveries awaited, then a pause for tier-up.
            var warmExpected = (long)senders.Length * o.WarmupMsgs * (self ? audience : audience - 1);
            try
            {
                await Task.WhenAll(senders.Select(s => s.SendAllAsync(o, ct, o.WarmupMsgs, seqBase: 1_000_000)));
                var warmWatch = Stopwatch.StartNew();
                while (live.Sum(c => Interlocked.Read(ref c.Delivered)) < warmExpected && warmWatch.Elapsed < TimeSpan.FromSeconds(60))
                    await Task.Delay(20, ct);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                error ??= $"warm-up: {ex.Message}";
            }
            await Task.Delay(1000, ct);
            foreach (var c in live)
            {
                Interlocked.Exchange(ref c.Delivered, 0);
                Interlocked.Exchange(ref c.Acked, 0);
            }
            stats.Clear();
        }
        var expected = (long)senders.Length * o.Msgs * (self ? audience : audience - 1);
        var sendWatch = Stopwatch.StartNew();
        var cpuAtSend = server.CpuSeconds();
        try
        {
            await Task.WhenAll(senders.Select(s => s.SendAllAsync(o, ct)));
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            error ??= $"send: {ex.Message}";
        }
        var sendSeconds = sendWatch.Elapsed.TotalSeconds;

        // Wait for deliveries: all expected, or --idle ms without progress, or the timeout.
        long Delivered() => live.Sum(c => Interlocked.Read(ref c.Delivered));
        var last = -1L;
        var lastChange = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            var d = Delivered();
            if (d >= expected) break;
            if (d != last) { last = d; lastChange.Restart(); }
            else if (lastChange.ElapsedMilliseconds > o.IdleMs) break;
            await Task.Delay(20, CancellationToken.None);
        }
        var deliverSeconds = Math.Max(0.001, sendWatch.Elapsed.TotalSeconds - (Delivered() >= expected ? 0 : lastChange.Elapsed.TotalSeconds));
        var delivered = Delivered();
        var acked = live.Sum(c => Interlocked.Read(ref c.Acked));
        var cpuSending = server.CpuSeconds() - cpuAtSend;

        if (o.Hold > 0) await Task.Delay(TimeSpan.FromSeconds(o.Hold), CancellationToken.None);
        var rssHeld = server.RssKiB();
        var cpu = server.CpuSeconds() - cpuBefore;
        await Task.WhenAll(live.Select(c => c.CloseAsync()));
        sampling.Dispose();

        return new Summary(o.Label, o.Protocol, o.Conns, live.Length, senders.Length, o.Msgs, o.Rate,
            Round(connectWatch.Elapsed.TotalSeconds), Round(live.Length / Math.Max(0.001, connectWatch.Elapsed.TotalSeconds)),
            senders.Length * (long)o.Msgs, acked, expected, delivered,
            expected == 0 ? 0 : Round(1 - delivered / (double)expected, 6),
            Round(sendSeconds), Round(delivered / deliverSeconds), Round(acked / Math.Max(0.001, sendSeconds)),
            Round(stats.Percentile(0.50)), Round(stats.Percentile(0.99)), Round(stats.Max),
            rssBefore, Math.Max(sampling.PeakKiB, rssHeld), rssHeld, Round(cpu), Round(cpuSending), error,
            Round(serverCpuConnect), Round(ownCpuConnect));
    }

    /// <summary>Connects clients <paramref name="first"/>… (--cc at a time) through the driver's handshake.</summary>
    private static async Task<(Client[] Live, string? Error)> ConnectAllAsync(LoadOptions o, IProtocolDriver driver, LatencyHistogram stats,
        int first, int count, CancellationToken ct)
    {
        var clients = new Client[count];
        string? error = null;
        using var gate = new SemaphoreSlim(o.ConcurrentConnects);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var c = new Client(first + i, driver, stats);
                await c.ConnectAsync(o, ct);
                clients[i] = c;
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or InvalidOperationException or HttpRequestException)
            {
                error ??= $"connect {first + i}: {ex.Message}";
            }
            finally
            {
                gate.Release();
            }
        }));
        return (clients.Where(c => c is not null).ToArray(), error);
    }

    private static double Round(double v, int digits = 3) => Math.Round(v, digits);
}

/// <summary>One connection: a receive loop counting deliveries and latency, and (for senders) a send loop.</summary>
internal sealed class Client(int index, IProtocolDriver driver, LatencyHistogram stats)
{
    private readonly ClientWebSocket _ws = new();
    /// <summary>
    /// One receive buffer for the handshake and the receive loop, grown when a frame needs more: a fresh 64 KiB
    /// array per handshake step was zeroed three times per v1 connect (a tenth of the load generator's CPU).
    /// </summary>
    private byte[] _buffer = new byte[4096];
    private Task? _receive;
    private SemaphoreSlim? _ackWindow;
    public long Delivered;
    public long Acked;
    /// <summary>Every frame received, of any kind.</summary>
    public long Frames;
    public int Index { get; } = index;
    public ClientWebSocket Socket => _ws;

    public async Task ConnectAsync(LoadOptions o, CancellationToken ct)
    {
        if (driver.SubProtocol is { } sp) _ws.Options.AddSubProtocol(sp);
        if (o.Origin.Length > 0) _ws.Options.SetRequestHeader("Origin", o.Origin);
        _ws.Options.KeepAliveInterval = TimeSpan.Zero;
        if (await driver.AuthorizationAsync(Index, o, ct) is { } authorization) _ws.Options.SetRequestHeader("Authorization", authorization);
        await _ws.ConnectAsync(driver.UrlFor(Index, o), ct);
        await driver.HandshakeAsync(this, o, ct);
    }

    /// <summary>Handshake helper: reads frames until one contains <paramref name="marker"/>; an error frame fails.</summary>
    public async Task ExpectAsync(byte[] marker, CancellationToken ct)
    {
        while (true)
        {
            (_buffer, var len, var type) = await ReceiveFrameAsync(_ws, _buffer, ct);
            var buffer = _buffer;
            if (type == WebSocketMessageType.Close) throw new InvalidOperationException($"closed during handshake: {_ws.CloseStatusDescription}");
            var frame = buffer.AsSpan(0, len);
            if (frame.IndexOf(marker) >= 0) return;
            if (frame.IndexOf("\"type\":\"error\""u8) >= 0) throw new InvalidOperationException(Encoding.UTF8.GetString(frame));
        }
    }

    /// <summary>One whole message (all its frames) into <paramref name="buffer"/>, grown when needed.</summary>
    public static async Task<(byte[] Buffer, int Length, WebSocketMessageType Type)> ReceiveFrameAsync(WebSocket ws, byte[] buffer,
        CancellationToken ct)
    {
        var len = 0;
        ValueWebSocketReceiveResult r;
        do
        {
            if (len == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            r = await ws.ReceiveAsync(buffer.AsMemory(len), ct);
            len += r.Count;
        } while (!r.EndOfMessage);
        return (buffer, len, r.MessageType);
    }

    public Task SendTextAsync(string text, CancellationToken ct) =>
        _ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct);

    public void StartReceiving(CancellationToken ct) => _receive = Task.Run(() => ReceiveLoopAsync(ct), ct);

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var buffer = _buffer;
        // The run's timeout aborts the socket once, instead of a cancellation registration per receive: all
        // connections share that token, and registering on it per frame made 1,000 receive loops contend for
        // its lock (12 % of the load generator's CPU during a fan-out burst, more when frames come in batches).
        await using var abort = ct.Register(static ws => ((WebSocket)ws!).Abort(), _ws);
        try
        {
            while (_ws.State == WebSocketState.Open)
            {
                (buffer, var len, var type) = await ReceiveFrameAsync(_ws, buffer, CancellationToken.None);
                if (type == WebSocketMessageType.Close) break;
                Interlocked.Increment(ref Frames);
                if (type != WebSocketMessageType.Text) continue;
                var frame = buffer.AsSpan(0, len);
                switch (driver.Classify(frame, out var sentTicks))
                {
                    case FrameKind.Delivery:
                        Interlocked.Increment(ref Delivered);
                        if (sentTicks > 0) stats.Record(Stopwatch.GetElapsedTime(sentTicks).TotalMilliseconds);
                        break;
                    case FrameKind.Ack:
                        Interlocked.Increment(ref Acked);
                        Volatile.Read(ref _ackWindow)?.Release();
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
    }

    public async Task SendAllAsync(LoadOptions o, CancellationToken ct, int? count = null, int seqBase = 0)
    {
        var msgs = count ?? o.Msgs;
        var window = driver.UsesAcks ? new SemaphoreSlim(o.Window) : null;
        Volatile.Write(ref _ackWindow, window);
        var interval = o.Rate > 0 && count is null ? TimeSpan.FromSeconds(1 / o.Rate) : TimeSpan.Zero; // a warm-up is not paced
        var start = Stopwatch.GetTimestamp();
        for (var seq = seqBase; seq < seqBase + msgs; seq++)
        {
            if (interval > TimeSpan.Zero)
            {
                var due = interval * (seq - seqBase) - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.Zero) await Task.Delay(due, ct);
            }
            if (window is not null) await window.WaitAsync(ct);
            var text = $"ts={Stopwatch.GetTimestamp()} s={Index} n={seq} hello world";
            await _ws.SendAsync(driver.Encode(text, Index, seq), WebSocketMessageType.Text, true, ct);
        }
        if (window is not null)
        {
            // Wait until every send is acknowledged (stored).
            for (var i = 0; i < o.Window; i++) await window.WaitAsync(ct);
        }
    }

    public async Task CloseAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (_ws.State == WebSocketState.Open)
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        _ws.Dispose();
    }
}

/// <summary>Latency in fixed buckets (default 0.05 ms up to 60 s; beyond: the last one): lock-free recording, exact enough percentiles.</summary>
internal sealed class LatencyHistogram(double maxMs = 60_000, double bucketMs = 0.05)
{
    private readonly long[] _counts = new long[(int)(maxMs / bucketMs) + 1];
    private long _maxMicros;

    public double Max => Interlocked.Read(ref _maxMicros) / 1000.0;
    public long Count => _counts.Sum();

    public void Clear()
    {
        Array.Clear(_counts);
        Interlocked.Exchange(ref _maxMicros, 0);
    }

    public void Record(double ms)
    {
        var i = (int)Math.Clamp(ms / bucketMs, 0, _counts.Length - 1);
        Interlocked.Increment(ref _counts[i]);
        var micros = (long)(ms * 1000);
        long seen;
        while (micros > (seen = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, micros, seen) != seen) { }
    }

    /// <summary>Adds another histogram of the same buckets (e.g. several intervals into one window).</summary>
    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += Interlocked.Read(ref other._counts[i]);
        var micros = Interlocked.Read(ref other._maxMicros);
        if (micros > _maxMicros) _maxMicros = micros;
    }

    public double Percentile(double p)
    {
        var total = Count;
        if (total == 0) return 0;
        var rank = (long)Math.Ceiling(p * total);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank) return (i + 0.5) * bucketMs;
        }
        return Max;
    }
}

/// <summary>Memory and CPU of the server process (and its children) from /proc.</summary>
internal sealed class ServerSampler(int pid)
{
    public long PeakKiB;

    public long RssKiB()
    {
        if (pid <= 0) return 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return 0;
    }

    public double CpuSeconds()
    {
        if (pid <= 0) return 0;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after the name.
            var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            return ticks / 100.0; // USER_HZ is 100 on Linux
        }
        catch (IOException) { return 0; }
    }

    public Sampling SamplePeak(CancellationToken ct) => new(this, ct);

    public sealed class Sampling : IDisposable
    {
        private readonly ServerSampler _owner;
        private readonly CancellationTokenSource _stop;
        public long PeakKiB => Volatile.Read(ref _owner.PeakKiB);

        public Sampling(ServerSampler owner, CancellationToken ct)
        {
            _owner = owner;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var rss = owner.RssKiB();
                    if (rss > Volatile.Read(ref owner.PeakKiB)) Volatile.Write(ref owner.PeakKiB, rss);
                    try { await Task.Delay(100, _stop.Token); } catch (OperationCanceledException) { }
                }
            });
        }

        public void Dispose() => _stop.Cancel();
    }
}
