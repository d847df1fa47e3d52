using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.Extensions.Options;

namespace ChatPortal.Bots;

/// <summary>The bot API refused the bot's credential (token revoked or invalid, account disabled).</summary>
internal sealed class BotCredentialRefusedException(string code) : Exception($"The portal refused the bot's token ({code}).")
{
    public string Code { get; } = code;
}

/// <summary>The bot API answered a request with an error frame.</summary>
internal sealed class BotApiErrorException(string code, string message) : Exception($"{code}: {message}")
{
    public string Code { get; } = code;
}

/// <summary>
/// One built-in bot as a client of the public bot API, exactly like a third-party bot: its own bot account and personal
/// access token (read + write; issued at start and kept only in this process's memory — the database has its hash), one
/// <c>chatportal.v1</c> socket to the portal's own loopback address that joins the rooms the bot is switched on in,
/// receives their messages, and sends the replies (<c>send</c> with <c>client_id</c> "bot-{message id}", so a retry never
/// posts twice); room numbers come from REST (<c>GET /api/v1/rooms/{id}/stats</c>). Switched off everywhere, it holds no
/// connection and issues no token. Failures are logged and retried with a bounded backoff; a refused token (revoked, the
/// account disabled) stops it until its switch changes or the process restarts.
/// </summary>
public sealed class BotClient
{
    public const string TokenLabel = "built-in";

    private readonly IChatBot _bot;
    private readonly BotRunner _runner;
    private readonly BotSwitches _switches;
    private readonly ApiTokens _tokens;
    private readonly UserDirectory _users;
    private readonly BotOptions _options;
    private readonly ILogger _log;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<(BotRoom Room, ChatMessage Message)> _work;
    private readonly ConcurrentDictionary<long, long> _lastSeen = new();
    private string? _token;
    private volatile bool _refused;
    private volatile Connection? _current;
    private long _dropped;

    internal BotClient(IChatBot bot, UserRef user, BotRunner runner, BotSwitches switches, ApiTokens tokens, UserDirectory users,
        IOptions<BotOptions> options, ILogger log)
    {
        _bot = bot;
        User = user;
        _runner = runner;
        _switches = switches;
        _tokens = tokens;
        _users = users;
        _options = options.Value;
        _log = log;
        _work = Channel.CreateBounded<(BotRoom, ChatMessage)>(new BoundedChannelOptions(Math.Max(1, _options.QueueCapacity))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string Name => _bot.Name;
    public UserRef User { get; }

    /// <summary>Connected and authenticated right now.</summary>
    public bool IsConnected => _current is { IsOpen: true };

    /// <summary>Rooms the socket has joined right now.</summary>
    public IReadOnlyCollection<long> JoinedRooms => _current?.Joined.Keys.ToList() ?? [];

    /// <summary>The token was refused (revoked, account disabled): silent until its switch changes or a restart.</summary>
    public bool IsRefused => _refused;

    /// <summary>A switch of this bot changed: look again (connect, join, leave, or go away). A refused token is replaced.</summary>
    internal void Wake()
    {
        _refused = false;
        // A pulse: whoever took the current signal before looking at the state wakes; the next look takes a fresh one.
        Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private Task WakeSignal => Volatile.Read(ref _wake).Task;

    internal async Task RunAsync(Uri server, SemaphoreSlim slots, CancellationToken stopping)
    {
        var dispatch = DispatchAsync(slots, stopping);
        var backoff = _options.ReconnectMinDelay;
        while (!stopping.IsCancellationRequested)
        {
            var signal = WakeSignal; // taken before looking, so a change made meanwhile is not missed
            try
            {
                if (_refused || !await _switches.AnyEnabledAsync(Name, stopping))
                {
                    await WaitAsync(signal, Timeout.InfiniteTimeSpan, stopping); // off: no token, no socket, no polling
                    continue;
                }
                _token ??= await IssueTokenAsync(stopping);
                if (_token is null)
                {
                    _refused = true;
                    continue;
                }
                await using var conn = await Connection.OpenAsync(this, server, _token, stopping);
                _current = conn;
                backoff = _options.ReconnectMinDelay;
                _log.LogInformation("Bot {Bot} connected to {Server}", Name, server);
                await RunConnectionAsync(conn, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
            catch (BotCredentialRefusedException refused)
            {
                // Never issue ourselves a new token right after a revoke: the admin meant it. A switch change or a restart does.
                _token = null;
                _refused = true;
                _log.LogWarning("Bot {Bot} stopped: the portal refused its token ({Code}). Turn its switch off and on (or restart) to give it a new one.",
                    Name, refused.Code);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or HttpRequestException or TimeoutException or BotApiErrorException)
            {
                // The expected failures (the portal restarting, a network error): one line, no stack.
                _log.LogWarning("Bot {Bot}: the bot API failed ({Error}); retrying in {Delay}", Name, ex.Message, backoff);
                try { await WaitAsync(signal, backoff, stopping); }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
            catch (Exception ex)
            {
                _log.LogWarning(ex, "Bot {Bot}: the bot API failed; retrying in {Delay}", Name, backoff);
                try { await WaitAsync(signal, backoff, stopping); }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
            finally
            {
                _current = null;
            }
        }
        _work.Writer.TryComplete();
        await dispatch;
    }

    /// <summary>A fresh token for this process (the previous process's built-in tokens are revoked): never stored in clear.</summary>
    private async Task<string?> IssueTokenAsync(CancellationToken ct)
    {
        var state = await _users.GetFreshAsync(User.Id, ct);
        if (state is null || state.Banned)
        {
            _log.LogWarning("Bot {Bot} stays offline: its account is disabled in the back office", Name);
            return null;
        }
        foreach (var old in await _tokens.ListAsync(User.Id, ct))
            if (old.RevokedAt is null && old.Label == TokenLabel) await _tokens.RevokeAsync(User.Id, old.Id, ct);
        var (token, _) = await _tokens.IssueAsync(User.Id, new ApiTokenRequest(TokenLabel, ApiScopes.Read | ApiScopes.Write), ct);
        return token;
    }

    private static async Task WaitAsync(Task signal, TimeSpan timeout, CancellationToken ct)
    {
        try { await signal.WaitAsync(timeout, ct); }
        catch (TimeoutException) { }
    }

    /// <summary>Joins the rooms the bot is on in, then keeps them in step with the switches and the room list until the socket ends.</summary>
    private async Task RunConnectionAsync(Connection conn, CancellationToken stopping)
    {
        var signal = WakeSignal;
        await SyncRoomsAsync(conn, conn.WelcomeRooms, stopping);
        while (true)
        {
            var wake = WaitAsync(signal, _options.RoomRefreshInterval, stopping);
            var ended = await Task.WhenAny(wake, conn.Receiving);
            if (ended == conn.Receiving)
            {
                await conn.Receiving; // a refused credential or a failure surfaces here
                throw new WebSocketException("The portal closed the bot's socket.");
            }
            await wake;
            signal = WakeSignal;
            if (!await _switches.AnyEnabledAsync(Name, stopping))
            {
                _log.LogInformation("Bot {Bot} is switched off everywhere: disconnecting", Name);
                return;
            }
            var rooms = await conn.RequestAsync(new { type = "rooms" }, stopping);
            await SyncRoomsAsync(conn, rooms.GetProperty("rooms"), stopping);
        }
    }

    private async Task SyncRoomsAsync(Connection conn, JsonElement rooms, CancellationToken ct)
    {
        var listed = new HashSet<long>();
        foreach (var r in rooms.EnumerateArray())
        {
            var id = r.GetProperty("id").GetInt64();
            listed.Add(id);
            if (r.GetProperty("direct").GetBoolean() || r.GetProperty("archived").GetBoolean()) continue; // never a DM: it would become a group
            var on = await _switches.IsEnabledAsync(Name, id, ct);
            var joined = conn.Joined.ContainsKey(id);
            try
            {
                if (on && !joined)
                {
                    object join = _lastSeen.TryGetValue(id, out var since) ? new { type = "join", room = id, since } : new { type = "join", room = id };
                    await conn.RequestAsync(join, ct);
                }
                else if (!on && joined)
                {
                    await conn.RequestAsync(new { type = "leave", room = id }, ct);
                    conn.Joined.TryRemove(id, out _);
                }
            }
            catch (BotApiErrorException e)
            {
                _log.LogInformation("Bot {Bot} could not {What} room {Room}: {Code}", Name, on ? "join" : "leave", id, e.Code);
            }
        }
        foreach (var gone in conn.Joined.Keys.Where(k => !listed.Contains(k)).ToList()) conn.Joined.TryRemove(gone, out _);
    }

    /// <summary>A room message from the socket: queued when the bot wants it (a full queue drops it; chat never waits on a bot).</summary>
    private void OnMessage(Connection conn, JsonElement frame)
    {
        var roomId = frame.GetProperty("room_id").GetInt64();
        if (frame.TryGetProperty("event_id", out var ev)) _lastSeen[roomId] = ev.GetInt64();
        if (!conn.Joined.TryGetValue(roomId, out var room)) return;
        var m = frame.GetProperty("message");
        var user = m.GetProperty("user");
        if (user.GetProperty("kind").GetString() == "bot") return; // bots never answer bots (no loops)
        if (m.TryGetProperty("deleted", out var deleted) && deleted.ValueKind == JsonValueKind.True) return;
        var text = m.GetProperty("text").GetString() ?? "";
        if (text.Length == 0) return;
        var message = new ChatMessage(m.GetProperty("id").GetInt64(), roomId,
            new UserRef(user.GetProperty("id").GetInt64(), user.GetProperty("name").GetString() ?? "", KindOf(user.GetProperty("kind").GetString())),
            MessageKind.Text, text,
            m.GetProperty("created_at").GetDateTimeOffset());
        bool wants;
        try { wants = _bot.Wants(message); }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Bot {Bot} failed in Wants()", Name);
            return;
        }
        if (wants && !_work.Writer.TryWrite((room, message)) && Interlocked.Increment(ref _dropped) % 100 == 1)
            _log.LogWarning("Bot {Bot}: queue full, dropped work ({Dropped} so far)", Name, Interlocked.Read(ref _dropped));
    }

    private async Task DispatchAsync(SemaphoreSlim slots, CancellationToken stopping)
    {
        try
        {
            await foreach (var (room, message) in _work.Reader.ReadAllAsync(stopping))
            {
                await slots.WaitAsync(stopping);
                _ = Task.Run(async () =>
                {
                    try { await AnswerAsync(room, message, stopping); }
                    finally { slots.Release(); }
                }, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task AnswerAsync(BotRoom room, ChatMessage message, CancellationToken stopping)
    {
        try
        {
            if (!await _switches.IsEnabledAsync(Name, room.Id, stopping)) return;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(_options.ReplyTimeout);
            string? reply;
            try
            {
                // WaitAsync: a bot that ignores its token is abandoned, not waited for.
                reply = await _bot.ReplyAsync(new BotContext(message, room, new RoomApi(this, room)), timeout.Token).WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                _runner.CountTimedOut();
                _log.LogWarning("Bot {Bot} did not answer message {Id} within {Timeout}", Name, message.Id, _options.ReplyTimeout);
                return;
            }
            if (string.IsNullOrWhiteSpace(reply)) return;
            if (await SendReplyAsync(room, reply, message.Id, stopping)) _runner.CountReplied();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _runner.CountFailed();
            _log.LogError(ex, "Bot {Bot} failed on message {Id}", Name, message.Id);
        }
        finally
        {
            _runner.CountHandled();
        }
    }

    private static readonly HashSet<string> Transient = ["rate_limited", "storage_failed", "unavailable"];

    /// <summary>Sends the reply over the socket; transient failures (a reconnect, rate limit, storage) are retried with backoff.</summary>
    private async Task<bool> SendReplyAsync(BotRoom room, string reply, long answering, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var conn = _current ?? throw new WebSocketException("not connected");
                var text = reply.Length > conn.MaxMessageChars ? reply[..conn.MaxMessageChars] : reply;
                await conn.RequestAsync(new { type = "send", room = room.Id, text, client_id = $"bot-{answering}" }, ct);
                return true;
            }
            catch (BotApiErrorException e) when (!Transient.Contains(e.Code))
            {
                _log.LogInformation("Bot {Bot} could not reply in room {Room}: {Code}", Name, room.Id, e.Code);
                return false;
            }
            catch (Exception e) when (e is BotApiErrorException or WebSocketException or IOException or TimeoutException && attempt < _options.ReplyAttempts)
            {
                _log.LogInformation("Bot {Bot}: reply to {Id} failed ({Error}); retrying in {Delay}", Name, answering, e.Message, delay);
                await Task.Delay(delay, ct);
                delay *= 2;
            }
        }
    }

    /// <summary>What the bot may ask while answering, through the API (never the core).</summary>
    private sealed class RoomApi(BotClient client, BotRoom room) : IBotRoomApi
    {
        public async Task<IReadOnlyList<UserRef>> OnlineAsync(CancellationToken ct)
        {
            var conn = client._current ?? throw new WebSocketException("not connected");
            var reply = await conn.RequestAsync(new { type = "online", room = room.Id }, ct);
            return reply.GetProperty("users").EnumerateArray()
                .Select(u => new UserRef(u.GetProperty("id").GetInt64(), u.GetProperty("name").GetString() ?? "", KindOf(u.GetProperty("kind").GetString())))
                .Where(u => u.Id != client.User.Id).ToList();
        }


        public async Task<RoomStats> StatsAsync(CancellationToken ct)
        {
            var conn = client._current ?? throw new WebSocketException("not connected");
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/rooms/{room.Id.ToString(CultureInfo.InvariantCulture)}/stats");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", conn.Token);
            using var response = await conn.Http.SendAsync(request, ct);
            response.EnsureSuccessStatusCode();
            using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            var s = doc.RootElement;
            return new RoomStats(s.GetProperty("messages").GetInt32(), s.GetProperty("images").GetInt32(), s.GetProperty("senders").GetInt32(),
                s.GetProperty("members").GetInt32(),
                s.TryGetProperty("first_message_at", out var f) && f.ValueKind == JsonValueKind.String ? f.GetDateTimeOffset() : null);
        }
    }

    private static UserKind KindOf(string? kind) => kind switch { "bot" => UserKind.Bot, "guest" => UserKind.Guest, _ => UserKind.Member };

    /// <summary>One authenticated socket: requests with ids and their replies, the rooms joined, one receive loop.</summary>
    private sealed class Connection : IAsyncDisposable
    {
        private const int MaxFrameBytes = 4 << 20;
        private readonly BotClient _client;
        private readonly ClientWebSocket _ws = new();
        private readonly SemaphoreSlim _sending = new(1, 1);
        private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
        private readonly CancellationTokenSource _closed = new();
        private long _nextId;

        private Connection(BotClient client, Uri server, string token)
        {
            _client = client;
            Token = token;
            Http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
        }

        public string Token { get; }
        public HttpClient Http { get; }
        public ConcurrentDictionary<long, BotRoom> Joined { get; } = new();
        public JsonElement WelcomeRooms { get; private set; }
        public int MaxMessageChars { get; private set; } = 4000;
        public Task Receiving { get; private set; } = Task.CompletedTask;
        public bool IsOpen => _ws.State == WebSocketState.Open && !Receiving.IsCompleted;

        public static async Task<Connection> OpenAsync(BotClient client, Uri server, string token, CancellationToken ct)
        {
            var conn = new Connection(client, server, token);
            try
            {
                conn._ws.Options.AddSubProtocol("chatportal.v1");
                var ws = new UriBuilder(server) { Scheme = server.Scheme == "https" ? "wss" : "ws", Path = "/ws" }.Uri;
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(15));
                await conn._ws.ConnectAsync(ws, connectTimeout.Token);
                var hello = await conn.ReceiveFrameAsync(connectTimeout.Token) ?? throw new WebSocketException("closed before hello");
                if (hello.RootElement.TryGetProperty("limits", out var limits) && limits.TryGetProperty("max_message_chars", out var max))
                    conn.MaxMessageChars = max.GetInt32();
                await conn.SendAsync(new { type = "auth", id = 0, token }, connectTimeout.Token);
                using var welcome = await conn.ReceiveFrameAsync(connectTimeout.Token);
                if (welcome is null) throw new BotCredentialRefusedException(conn.CloseReason ?? "closed");
                var type = welcome.RootElement.GetProperty("type").GetString();
                if (type == "error")
                {
                    var code = welcome.RootElement.GetProperty("code").GetString() ?? "error";
                    if (code is "token_invalid" or "insufficient_scope" or "banned") throw new BotCredentialRefusedException(code);
                    throw new BotApiErrorException(code, welcome.RootElement.GetProperty("message").GetString() ?? "");
                }
                conn.WelcomeRooms = welcome.RootElement.GetProperty("rooms").Clone();
                conn.Receiving = conn.ReceiveLoopAsync();
                return conn;
            }
            catch
            {
                await conn.DisposeAsync();
                throw;
            }
        }

        private string? CloseReason => _ws.CloseStatusDescription is { Length: > 0 } d ? d : null;

        public async Task<JsonElement> RequestAsync(object frame, CancellationToken ct)
        {
            var id = Interlocked.Increment(ref _nextId);
            var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = reply;
            try
            {
                // The frame with its id: serialized as an object, then the id added (anonymous types cannot be extended).
                var node = JsonSerializer.SerializeToNode(frame)!.AsObject();
                node["id"] = id;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(15));
                await SendAsync(node, timeout.Token);
                try
                {
                    return await reply.Task.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw _closed.IsCancellationRequested ? new WebSocketException("The bot's socket closed.") : new TimeoutException("No reply from the portal.");
                }
            }
            finally
            {
                _pending.TryRemove(id, out _);
            }
        }

        private async Task SendAsync(object frame, CancellationToken ct)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(frame);
            await _sending.WaitAsync(ct);
            try { await _ws.SendAsync(bytes, WebSocketMessageType.Text, true, ct); }
            finally { _sending.Release(); }
        }

        // One receive at a time (the hello and welcome, then the receive loop): one buffer for the connection's life
        // instead of 16 KB allocated (and zeroed) for every frame.
        private readonly byte[] _receiveBuffer = new byte[16 * 1024];

        private async Task<JsonDocument?> ReceiveFrameAsync(CancellationToken ct)
        {
            var r = await _ws.ReceiveAsync(_receiveBuffer, ct);
            if (r.MessageType == WebSocketMessageType.Close) return null;
            // The document keeps the bytes it parsed: it gets a copy, never the reused buffer.
            if (r.EndOfMessage) return JsonDocument.Parse(_receiveBuffer.AsSpan(0, r.Count).ToArray());
            using var frame = new MemoryStream();
            frame.Write(_receiveBuffer, 0, r.Count);
            while (!r.EndOfMessage)
            {
                r = await _ws.ReceiveAsync(_receiveBuffer, ct);
                if (r.MessageType == WebSocketMessageType.Close) return null;
                frame.Write(_receiveBuffer, 0, r.Count);
                if (frame.Length > MaxFrameBytes) throw new WebSocketException("A frame from the portal is too large.");
            }
            return JsonDocument.Parse(frame.ToArray());
        }

        private async Task ReceiveLoopAsync()
        {
            try
            {
                while (true)
                {
                    using var doc = await ReceiveFrameAsync(_closed.Token);
                    if (doc is null)
                    {
                        if (CloseReason is "token_revoked" or "token_invalid" or "banned") throw new BotCredentialRefusedException(CloseReason);
                        return;
                    }
                    var frame = doc.RootElement;
                    var type = frame.GetProperty("type").GetString();
                    if (type == "joined" && frame.TryGetProperty("room", out var room))
                    {
                        var id = room.GetProperty("id").GetInt64();
                        Joined[id] = new BotRoom(id, room.GetProperty("slug").GetString() ?? "", room.GetProperty("name").GetString() ?? "");
                    }
                    if (frame.TryGetProperty("reply_to", out var replyTo) && replyTo.ValueKind == JsonValueKind.Number
                        && _pending.TryGetValue(replyTo.GetInt64(), out var waiting))
                    {
                        if (type == "error")
                            waiting.TrySetException(new BotApiErrorException(frame.GetProperty("code").GetString() ?? "error", frame.GetProperty("message").GetString() ?? ""));
                        else waiting.TrySetResult(frame.Clone());
                        continue;
                    }
                    switch (type)
                    {
                        case "message":
                            _client.OnMessage(this, frame);
                            break;
                        case "left": // no reply_to: access to the room was lost (removed, archived, deleted)
                            Joined.TryRemove(frame.GetProperty("room_id").GetInt64(), out _);
                            break;
                    }
                }
            }
            finally
            {
                await _closed.CancelAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_ws.State == WebSocketState.Open)
            {
                // Say goodbye, give the portal a moment to answer the close (the receive loop sees it), then cut.
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", quick.Token);
                    await Receiving.WaitAsync(quick.Token);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or TimeoutException
                    or BotCredentialRefusedException or JsonException)
                { }
            }
            await _closed.CancelAsync();
            try { await Receiving; }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or BotCredentialRefusedException or JsonException) { }
            _ws.Dispose();
            Http.Dispose();
        }
    }
}
