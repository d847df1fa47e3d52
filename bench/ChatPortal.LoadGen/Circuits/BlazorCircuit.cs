using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ChatPortal.LoadGen.Circuits;

/// <summary>
/// One Blazor Server circuit driven without a browser, the way blazor.web.js drives it:
/// GET the page (prerendered, with <c>&lt;!--Blazor:{...}--&gt;</c> markers and the protected
/// application state), negotiate <c>/_blazor</c>, open its WebSocket with the "blazorpack"
/// (SignalR MessagePack) hub protocol, <c>StartCircuit</c> with no initial components, then
/// <c>UpdateRootComponents</c> with an "add" per marker. Every <c>JS.RenderBatch</c> is
/// acknowledged (<c>OnRenderCompleted(batchId, null)</c>) and every <c>JS.BeginInvokeJS</c>
/// answered with a plausible default, so the components run as with a browser. The render batch
/// is not applied to a DOM: its bytes are searched for the probe token (new strings travel in
/// the batch's string table as UTF-8).
/// </summary>
internal sealed partial class BlazorCircuit(int index, Uri baseUri, CookieContainer cookies, CircuitHooks hooks) : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1e;
    private readonly ClientWebSocket _ws = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource<string?> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstBatch = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _receive;
    private long _nextJsObjectId = 1;
    public int Index { get; } = index;
    public long Batches;
    public long BatchBytes;
    public long JsCalls;
    public string? Error { get; private set; }
    public bool Open => _ws.State == WebSocketState.Open && Error is null;
    public Task FirstBatch => _firstBatch.Task;

    public async Task StartAsync(string path, CancellationToken ct)
    {
        var page = new Uri(baseUri, path);
        string html, token;
        using (var handler = new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false })
        using (var http = new HttpClient(handler))
        {
            using (var r = await http.GetAsync(page, ct))
            {
                if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"GET {path}: {(int)r.StatusCode} {r.Headers.Location}");
                html = await r.Content.ReadAsStringAsync(ct);
            }
            using var neg = await http.PostAsync(new Uri(baseUri, "_blazor/negotiate?negotiateVersion=1"), null, ct);
            var body = await neg.Content.ReadAsStringAsync(ct);
            if (!neg.IsSuccessStatusCode) throw new InvalidOperationException($"negotiate: {(int)neg.StatusCode} {body}");
            using var doc = JsonDocument.Parse(body);
            token = doc.RootElement.GetProperty("connectionToken").GetString()!;
        }

        var (operations, state) = RootComponents(html);
        if (operations is null) throw new InvalidOperationException($"GET {path}: no interactive server components in the page");

        _ws.Options.Cookies = cookies;
        _ws.Options.KeepAliveInterval = TimeSpan.Zero;
        _ws.Options.SetRequestHeader("Origin", baseUri.GetLeftPart(UriPartial.Authority));
        var wsUri = new UriBuilder(baseUri) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws", Path = "/_blazor", Query = "id=" + Uri.EscapeDataString(token) }.Uri;
        await _ws.ConnectAsync(wsUri, ct);
        await _ws.SendAsync("{\"protocol\":\"blazorpack\",\"version\":1}\u001e"u8.ToArray(), WebSocketMessageType.Text, true, ct);
        _receive = Task.Run(() => ReceiveLoopAsync(ct), CancellationToken.None);

        // As blazor.web.js: the circuit starts empty; the page's components are added by the first update (with the state).
        await InvokeAsync("StartCircuit", "1", ct, baseUri.ToString(), page.ToString(), "[]", "");
        var circuitId = await _started.Task.WaitAsync(ct);
        if (string.IsNullOrEmpty(circuitId)) throw new InvalidOperationException($"StartCircuit refused: {Error}");
        await InvokeAsync("UpdateRootComponents", null, ct, operations, state ?? "");
    }

    /// <summary>The "add" operations for every server marker of the page, and its persisted state (if any).</summary>
    internal static (string? Operations, string? State) RootComponents(string html)
    {
        var ops = new JsonArray();
        var unique = 0;
        foreach (Match m in MarkerPattern().Matches(html))
        {
            if (JsonNode.Parse(m.Groups[1].Value) is not JsonObject marker) continue;
            if ((string?)marker["type"] != "server" || marker["descriptor"] is null) continue; // end markers carry only prerenderId
            marker["uniqueId"] = unique++;
            ops.Add(new JsonObject { ["type"] = "add", ["ssrComponentId"] = unique, ["marker"] = marker });
        }
        var state = StatePattern().Match(html) is { Success: true } s ? s.Groups[1].Value : null;
        return ops.Count == 0 ? (null, state) : (new JsonObject { ["batchId"] = 1, ["operations"] = ops }.ToJsonString(), state);
    }

    private async Task InvokeAsync(string target, string? invocationId, CancellationToken ct, params object?[] args)
    {
        var body = new ArrayBufferWriter<byte>(256);
        MsgPack.Array(body, 6);
        MsgPack.Int(body, 1); // Invocation
        MsgPack.EmptyMap(body);
        MsgPack.Str(body, invocationId);
        MsgPack.Str(body, target);
        MsgPack.Array(body, args.Length);
        foreach (var a in args)
        {
            switch (a)
            {
                case null: MsgPack.Nil(body); break;
                case string s: MsgPack.Str(body, s); break;
                case bool b: MsgPack.Bool(body, b); break;
                case long l: MsgPack.Int(body, l); break;
                case int i: MsgPack.Int(body, i); break;
                default: throw new ArgumentException($"unsupported argument {a.GetType()}");
            }
        }
        MsgPack.Array(body, 0); // stream ids
        await SendFramedAsync(body.WrittenMemory, ct);
    }

    private static readonly byte[] PingFrame = [0x02, 0x91, 0x06]; // length 2, [6]

    /// <summary>SignalR drops a client that is silent for 30 s (ClientTimeoutInterval): the browser pings every 15 s.</summary>
    public async Task PingAsync(CancellationToken ct)
    {
        // A send in progress is traffic enough; a ping never queues behind it (one slow socket must not hold up the rest).
        if (!Open || !await _sendLock.WaitAsync(0, ct)) return;
        try { await _ws.SendAsync(PingFrame, WebSocketMessageType.Binary, true, ct); }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException) { }
        finally { _sendLock.Release(); }
    }

    private async Task SendFramedAsync(ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var message = body.Span;
        // Binary messages are prefixed with their length as a 7-bit varint.
        var frame = new byte[message.Length + 5];
        var n = 0;
        var len = (uint)message.Length;
        do
        {
            var b = (byte)(len & 0x7f);
            len >>= 7;
            frame[n++] = len > 0 ? (byte)(b | 0x80) : b;
        } while (len > 0);
        message.CopyTo(frame.AsSpan(n));
        var total = n + message.Length;
        await _sendLock.WaitAsync(ct);
        try { await _ws.SendAsync(frame.AsMemory(0, total), WebSocketMessageType.Binary, true, ct); }
        finally { _sendLock.Release(); }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        var handshakeDone = false;
        try
        {
            while (_ws.State == WebSocketState.Open)
            {
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                var r = await _ws.ReceiveAsync(buffer.AsMemory(filled), ct);
                if (r.MessageType == WebSocketMessageType.Close) { Fail($"closed by the server: {_ws.CloseStatus} {_ws.CloseStatusDescription}"); break; }
                filled += r.Count;
                var at = 0;
                if (!handshakeDone)
                {
                    var end = buffer.AsSpan(0, filled).IndexOf(RecordSeparator);
                    if (end < 0) continue;
                    var hs = Encoding.UTF8.GetString(buffer, 0, end);
                    if (hs.Contains("\"error\"", StringComparison.Ordinal)) { Fail("handshake: " + hs); break; }
                    handshakeDone = true;
                    at = end + 1;
                }
                // Whole length-prefixed messages; a partial one waits for more bytes.
                while (at < filled)
                {
                    if (!TryReadLength(buffer.AsSpan(at, filled - at), out var length, out var prefix)) break;
                    if (filled - at - prefix < length) break;
                    await HandleAsync(buffer.AsMemory(at + prefix, length), ct);
                    at += prefix + length;
                }
                if (at > 0)
                {
                    Buffer.BlockCopy(buffer, at, buffer, 0, filled - at);
                    filled -= at;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            if (!ct.IsCancellationRequested) Fail($"receive: {ex.GetType().Name}: {ex.Message}");
        }
        _started.TrySetResult(null);
    }

    private static bool TryReadLength(ReadOnlySpan<byte> data, out int length, out int prefix)
    {
        length = 0;
        for (prefix = 0; prefix < Math.Min(5, data.Length); prefix++)
        {
            length |= (data[prefix] & 0x7f) << (7 * prefix);
            if ((data[prefix] & 0x80) == 0) { prefix++; return true; }
        }
        return false;
    }

    private async ValueTask HandleAsync(ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        var reply = Dispatch(message.Span, out var replyTarget);
        if (replyTarget is not null) await InvokeAsync(replyTarget, null, ct, reply!);
    }

    /// <summary>Handles one hub message; returns the arguments of the reply to send, if any.</summary>
    private object?[]? Dispatch(ReadOnlySpan<byte> message, out string? replyTarget)
    {
        replyTarget = null;
        var r = new MsgPackReader(message);
        var fields = r.ReadArrayHeader();
        var type = r.ReadInt();
        switch (type)
        {
            case 1: // Invocation: [1, headers, invocationId, target, args, streamIds?]
            {
                r.Skip();
                r.Skip();
                var target = r.ReadString();
                var argc = r.ReadArrayHeader();
                switch (target)
                {
                    case "JS.RenderBatch":
                    {
                        var batchId = r.ReadInt();
                        var data = r.ReadBinary();
                        Interlocked.Increment(ref Batches);
                        Interlocked.Add(ref BatchBytes, data.Length);
                        hooks.OnBatch(this, data);
                        _firstBatch.TrySetResult();
                        replyTarget = "OnRenderCompleted";
                        return [batchId, null];
                    }
                    case "JS.BeginInvokeJS":
                    {
                        var handle = r.ReadInt();
                        var identifier = r.ReadString() ?? "";
                        r.Skip(); // argsJson
                        var resultType = argc > 3 ? (int)r.ReadInt() : 0;
                        Interlocked.Increment(ref JsCalls);
                        hooks.OnJsCall(identifier);
                        if (handle == 0) return null; // no result wanted
                        replyTarget = "EndInvokeJSFromDotNet";
                        return [handle, true, $"[{handle},true,{JsResult(identifier, resultType)}]"];
                    }
                    case "JS.Error":
                        Fail("JS.Error: " + (argc > 0 ? r.ReadString() : ""));
                        return null;
                    default: // JS.AttachComponent, JS.EndInvokeDotNet, JS.EndUpdateRootComponents, ...: nothing to answer
                        return null;
                }
            }
            case 3: // Completion: [3, headers, invocationId, resultKind, result?]
            {
                r.Skip();
                var id = r.ReadString();
                var kind = r.ReadInt();
                string? result = null;
                if (kind == 1) Fail("invocation failed: " + r.ReadString());
                else if (kind == 3) result = r.ReadString();
                if (id == "1") _started.TrySetResult(result);
                return null;
            }
            case 7: // Close: [7, error, allowReconnect?]
                Fail("hub closed: " + (fields > 1 ? r.ReadString() : ""));
                return null;
            default: // 6 = ping
                return null;
        }
    }

    /// <summary>
    /// What a browser would answer. Object references (result type 1) get a fresh id; the chat's
    /// own functions that return values get the value a visible, attentive tab returns; anything
    /// else null (void functions, MudBlazor's optional lookups).
    /// </summary>
    private string JsResult(string identifier, int resultType) => resultType switch
    {
        1 => $"{{\"__jsObjectId\":{Interlocked.Increment(ref _nextJsObjectId)}}}",
        3 => "null",
        _ => identifier switch
        {
            "chatPortal.watchAttention" or "chatPortal.scrollToMessage" => "true",
            "chatPortal.notifyEnabled" or "chatPortal.setNotify" or "chatPortal.alertMention" => "false",
            "chatPortal.caret" => "0",
            "chatPortal.timeZone" => "\"UTC\"",
            "mudpopoverHelper.countProviders" => "1",
            "window.hasOwnProperty" => "true",
            "mudResizeListener.getBrowserWindowSize" => "{\"height\":900,\"width\":1600}",
            _ => "null",
        },
    };

    private void Fail(string why)
    {
        Error ??= why;
        _started.TrySetResult(null);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (_ws.State == WebSocketState.Open) await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        if (_receive is not null) await Task.WhenAny(_receive, Task.Delay(2000));
        _ws.Dispose();
        _sendLock.Dispose();
    }

    [GeneratedRegex("<!--Blazor:(\\{.*?\\})-->", RegexOptions.Singleline)]
    private static partial Regex MarkerPattern();

    [GeneratedRegex("<!--Blazor-Server-Component-State:(.*?)-->", RegexOptions.Singleline)]
    private static partial Regex StatePattern();
}

/// <summary>What the run wants to know of every circuit's traffic.</summary>
internal sealed class CircuitHooks(byte[]? probePrefix)
{
    public readonly ConcurrentDictionary<string, int> JsCalls = new();
    /// <summary>(circuit, probe) → Stopwatch timestamp of the first batch that carried the probe.</summary>
    public readonly ConcurrentDictionary<(int Circuit, int Probe), long> Seen = new();

    public void OnJsCall(string identifier) => JsCalls.AddOrUpdate(identifier, 1, (_, n) => n + 1);

    public void OnBatch(BlazorCircuit circuit, ReadOnlySpan<byte> batch)
    {
        if (probePrefix is null) return;
        var now = Stopwatch.GetTimestamp();
        var rest = batch;
        int at;
        while ((at = rest.IndexOf(probePrefix)) >= 0)
        {
            rest = rest[(at + probePrefix.Length)..];
            var k = 0;
            var digits = 0;
            while (digits < rest.Length && rest[digits] is >= (byte)'0' and <= (byte)'9') k = k * 10 + (rest[digits++] - '0');
            if (digits > 0 && digits < rest.Length && rest[digits] == (byte)'y') Seen.TryAdd((circuit.Index, k), now);
        }
    }
}
