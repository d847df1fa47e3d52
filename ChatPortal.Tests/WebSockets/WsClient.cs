using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ChatPortal.Tests.WebSockets;

/// <summary>One received WebSocket message.</summary>
public sealed record WsFrame(bool Binary, byte[] Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes);
    public JsonElement Json => JsonDocument.Parse(Bytes).RootElement;
    public string? Type => Binary ? null : TryJson(out var j) && j.ValueKind == JsonValueKind.Object && j.TryGetProperty("type", out var t) ? t.GetString() : null;

    public bool TryJson(out JsonElement json)
    {
        try
        {
            json = Json;
            return true;
        }
        catch (JsonException)
        {
            json = default;
            return false;
        }
    }

    public bool Is(string type) => Type == type;

    /// <summary>For v1 frames: the value at a dotted path ("message.text"), as string; null when absent.</summary>
    public string? Get(string path)
    {
        if (!TryJson(out var j)) return null;
        foreach (var part in path.Split('.'))
        {
            if (j.ValueKind != JsonValueKind.Object || !j.TryGetProperty(part, out j)) return null;
        }
        return j.ValueKind switch
        {
            JsonValueKind.String => j.GetString(),
            JsonValueKind.Null => null,
            _ => j.GetRawText(),
        };
    }

    public long GetLong(string path) => long.Parse(Get(path) ?? throw new InvalidOperationException($"{path} missing in {Text}"),
        System.Globalization.CultureInfo.InvariantCulture);

    public override string ToString() => Binary ? $"<binary {Bytes.Length} bytes>" : Text;
}

/// <summary>
/// A real ClientWebSocket with a background reader that records every frame and the close
/// status, so tests can wait for what they expect (with a timeout) and look at everything.
/// </summary>
public sealed class WsClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);
    private readonly List<WsFrame> _frames = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private Task? _reader;
    private int _nextId;

    private WsClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }
    public WebSocketCloseStatus? CloseStatus { get; private set; }
    public string? CloseReason { get; private set; }
    /// <summary>True when the connection ended without a close frame (reset/abort).</summary>
    public bool Aborted { get; private set; }
    public Task Closed => _closed.Task;

    public IReadOnlyList<WsFrame> Frames
    {
        get { lock (_frames) return _frames.ToList(); }
    }

    public static Uri SocketUri(Uri baseUri, string? query = null) =>
        new($"ws://{baseUri.Authority}/ws{(query is null ? "" : "?" + query)}");

    /// <summary>Connects; <paramref name="read"/> false leaves the socket unread (a client that stops reading).</summary>
    public static async Task<WsClient> ConnectAsync(Uri baseUri, string? protocol = null, string? query = null, string? origin = null,
        bool read = true, CookieContainer? cookies = null, int? receiveBufferBytes = null, string? authorization = null)
    {
        var ws = new ClientWebSocket();
        if (protocol is not null) ws.Options.AddSubProtocol(protocol);
        if (origin is not null) ws.Options.SetRequestHeader("Origin", origin);
        if (authorization is not null) ws.Options.SetRequestHeader("Authorization", authorization);
        if (cookies is not null) ws.Options.Cookies = cookies;
        ws.Options.KeepAliveInterval = TimeSpan.Zero; // the server's pings are answered while we read
        ws.Options.CollectHttpResponseDetails = true;
        using var cts = new CancellationTokenSource(DefaultWait);
        if (receiveBufferBytes is { } size)
        {
            // A tiny kernel receive buffer makes "stops reading" bite quickly.
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (ctx, ct) =>
                {
                    var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = size, NoDelay = true };
                    await s.ConnectAsync(ctx.DnsEndPoint, ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            };
            await ws.ConnectAsync(SocketUri(baseUri, query), new HttpMessageInvoker(handler), cts.Token);
        }
        else
        {
            await ws.ConnectAsync(SocketUri(baseUri, query), cts.Token);
        }
        var client = new WsClient(ws);
        if (read) client._reader = Task.Run(client.ReadLoopAsync);
        return client;
    }

    /// <summary>Tries to connect and returns the HTTP status the server answered the upgrade with.</summary>
    public static async Task<HttpStatusCode> UpgradeStatusAsync(Uri baseUri, string? protocol = null, string? origin = null,
        string? authorization = null, string? query = null)
    {
        using var ws = new ClientWebSocket();
        if (protocol is not null) ws.Options.AddSubProtocol(protocol);
        if (origin is not null) ws.Options.SetRequestHeader("Origin", origin);
        if (authorization is not null) ws.Options.SetRequestHeader("Authorization", authorization);
        ws.Options.CollectHttpResponseDetails = true;
        try
        {
            using var cts = new CancellationTokenSource(DefaultWait);
            await ws.ConnectAsync(SocketUri(baseUri, query), cts.Token);
            ws.Abort();
            return ws.HttpStatusCode;
        }
        catch (WebSocketException)
        {
            return ws.HttpStatusCode;
        }
    }

    public void StartReading() => _reader ??= Task.Run(ReadLoopAsync);

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await Socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        CloseStatus = r.CloseStatus;
                        CloseReason = r.CloseStatusDescription;
                        try { await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); }
                        catch (Exception) { /* the server may have gone already */ }
                        return;
                    }
                    message.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                lock (_frames) _frames.Add(new WsFrame(r.MessageType == WebSocketMessageType.Binary, message.ToArray()));
                _signal.Release();
            }
        }
        catch (Exception)
        {
            Aborted = CloseStatus is null;
        }
        finally
        {
            _closed.TrySetResult();
            _signal.Release();
        }
    }

    // ------------------------------------------------------------------ sending

    public async Task SendTextAsync(string text)
    {
        await _sendLock.WaitAsync();
        try { await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None); }
        finally { _sendLock.Release(); }
    }

    public async Task SendBytesAsync(byte[] bytes, WebSocketMessageType type, bool endOfMessage = true)
    {
        await _sendLock.WaitAsync();
        try { await Socket.SendAsync(bytes, type, endOfMessage, CancellationToken.None); }
        finally { _sendLock.Release(); }
    }

    public Task SendJsonAsync(object frame) => SendTextAsync(JsonSerializer.Serialize(frame));

    /// <summary>Sends a v1 request with a fresh numeric id and waits for the frame that replies to it.</summary>
    public async Task<WsFrame> RequestAsync(Dictionary<string, object?> frame, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId) + 1000;
        frame["id"] = id;
        await SendJsonAsync(frame);
        return await WaitForAsync(f => f.Get("reply_to") == id.ToString(System.Globalization.CultureInfo.InvariantCulture), timeout);
    }

    public Task<WsFrame> RequestAsync(string type, params (string Key, object? Value)[] fields)
    {
        var d = new Dictionary<string, object?> { ["type"] = type };
        foreach (var (k, v) in fields) d[k] = v;
        return RequestAsync(d);
    }

    /// <summary>v1: authenticate (one of ticket/token/guest, a guest perhaps with a resume token) and return the welcome (or error) frame.</summary>
    public Task<WsFrame> AuthAsync(string? ticket = null, string? token = null, bool guest = false, string? resume = null)
    {
        var d = new Dictionary<string, object?> { ["type"] = "auth" };
        if (ticket is not null) d["ticket"] = ticket;
        if (token is not null) d["token"] = token;
        if (guest) d["guest"] = true;
        if (resume is not null) d["resume"] = resume;
        return RequestAsync(d);
    }

    /// <summary>v1: join a room and wait for its caught_up frame; returns the joined reply.</summary>
    public async Task<WsFrame> JoinAsync(string room, long? since = null)
    {
        var d = new Dictionary<string, object?> { ["type"] = "join", ["room"] = room };
        if (since is not null) d["since"] = since;
        var joined = await RequestAsync(d);
        if (!joined.Is("joined")) throw new InvalidOperationException($"join {room} failed: {joined}");
        var roomId = joined.Get("room.id");
        await WaitForAsync(f => f.Is("caught_up") && f.Get("room_id") == roomId);
        return joined;
    }

    // ------------------------------------------------------------------ waiting

    /// <summary>The first frame (of everything received so far or later) that matches.</summary>
    public async Task<WsFrame> WaitForAsync(Func<WsFrame, bool> match, TimeSpan? timeout = null)
    {
        var found = await WaitForCountAsync(match, 1, timeout);
        return found[0];
    }

    public async Task<IReadOnlyList<WsFrame>> WaitForCountAsync(Func<WsFrame, bool> match, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (true)
        {
            var got = Frames.Where(match).ToList();
            if (got.Count >= count) return got;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || (_closed.Task.IsCompleted && Frames.Where(match).Count() < count))
                throw new TimeoutException($"Expected {count} matching frames, got {got.Count}. Closed: {CloseStatus?.ToString() ?? (Aborted ? "aborted" : "no")}. Last frames:\n" +
                                           string.Join("\n", Frames.TakeLast(8)));
            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(250) ? left : TimeSpan.FromMilliseconds(250));
        }
    }

    public IReadOnlyList<WsFrame> Where(Func<WsFrame, bool> match) => Frames.Where(match).ToList();

    /// <summary>Waits until the server ends the connection; returns the close status (null: no close frame).</summary>
    public async Task<WebSocketCloseStatus?> WaitClosedAsync(TimeSpan? timeout = null)
    {
        StartReading();
        await _closed.Task.WaitAsync(timeout ?? DefaultWait);
        return CloseStatus;
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
                if (_reader is not null) await _closed.Task.WaitAsync(TimeSpan.FromSeconds(3));
            }
            catch (Exception) { /* closing anyway */ }
        }
        Socket.Abort();
        Socket.Dispose();
    }
}
