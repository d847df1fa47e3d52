using System.Net.WebSockets;
using System.Text.Json;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>
/// The <c>chatportal.v1</c> protocol (docs/protocol.md): JSON frames with a <c>type</c>; requests
/// carry an <c>id</c> that the reply echoes as <c>reply_to</c>. Authenticate first (ticket, token
/// or guest) within the deadline; then join rooms (with catch-up), send, edit, delete, type, page
/// history. Errors are frames with stable codes; only protocol violations close the socket.
/// </summary>
internal sealed class V1Protocol(SocketConnection conn) : ISocketProtocol
{
    public const string Name = "chatportal.v1";
    private const int MaxClientIdLength = 64;

    private readonly SocketServices _s = conn.Services;
    private readonly CancellationTokenSource _deadline = new();
    private Dictionary<long, long>? _lastTyping; // made on the first typing notice
    private const int MaxSendsInFlight = 64;
    private readonly SemaphoreSlim _inFlight = new(MaxSendsInFlight);
    private Task _replies = Task.CompletedTask;
    private PendingImage? _pendingImage;
    private bool _authed;

    private sealed record PendingImage(JsonElement? ReplyTo, RoomInfo Room, string? ClientId);

    public SocketKind Kind => SocketKind.V1;

    public IWireFormat<WireFrame> Format => _s.V1;

    private static WireJsonContext J => WireJson.Context;

    public Task OnOpenAsync(CancellationToken ct)
    {
        var o = _s.Options;
        conn.Send(PlainWireFormat.Json(new HelloFrame(Name, "ChatPortal", (int)o.AuthTimeout.TotalMilliseconds,
            new WireLimits(o.MaxTextMessageBytes, o.MaxBinaryMessageBytes, _s.Chat.Options.MaxMessageLength, o.SendQueueCapacity)), J.HelloFrame));
        _ = CloseUnlessAuthenticatedAsync();
        return Task.CompletedTask;
    }

    private async Task CloseUnlessAuthenticatedAsync()
    {
        try
        {
            await Task.Delay(_s.Options.AuthTimeout, _s.Time, _deadline.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (!_authed) await conn.CloseAsync(WebSocketCloseStatus.PolicyViolation, "auth_timeout");
    }

    public void OnRoomLost(RoomInfo room) =>
        conn.Send(PlainWireFormat.Json(new LeftFrame(null, room.Id), J.LeftFrame));

    public void OnClosed()
    {
        _deadline.Cancel();
        _deadline.Dispose();
    }

    public bool Wants(ChatEvent evt) => evt switch
    {
        UserTyping t => t.User.Id != conn.User?.Id,
        DirectActivity d => d.Recipient.Id == conn.User?.Id,
        _ => true,
    };

    public WireFrame ServerError() =>
        PlainWireFormat.Json(new ErrorFrame(null, "server_error", "The server could not handle that request; try again."), J.ErrorFrame);

    public WireFrame? CaughtUp(long roomId, long lastId, int count) =>
        PlainWireFormat.Json(new CaughtUpFrame(roomId, lastId, count), J.CaughtUpFrame);

    // ------------------------------------------------------------------ incoming

    public async Task OnTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken ct)
    {
        ClientFrame? f;
        try
        {
            f = JsonSerializer.Deserialize(utf8.Span, J.ClientFrame);
        }
        catch (JsonException)
        {
            await _replies;
            Error(null, "bad_json", "The frame is not a JSON object of this protocol (or a field has the wrong type).");
            return;
        }
        // Sends are pipelined (acked in order as they commit); any other request waits for
        // their acks first, so replies still come in the order of the requests.
        if (f is null || f.Type != "send" || !_authed) await _replies;
        if (f is null)
        {
            Error(null, "bad_json", "The frame is not a JSON object.");
            return;
        }
        var id = f.Id is { ValueKind: JsonValueKind.Number or JsonValueKind.String } ok ? ok : (JsonElement?)null;
        if (f.Id is not null && id is null)
        {
            Error(null, "bad_request", "\"id\" must be a number or a string.");
            return;
        }
        if (string.IsNullOrEmpty(f.Type))
        {
            Error(id, "bad_request", "Every frame needs a \"type\".");
            return;
        }

        switch (f.Type)
        {
            case "ping":
                conn.Send(PlainWireFormat.Json(new PongFrame(id, _s.Time.GetUtcNow().UtcDateTime), J.PongFrame));
                return;
            case "auth":
                await AuthenticateAsync(f, id, ct);
                return;
        }
        if (!_authed || conn.User is not { } me)
        {
            Error(id, "not_authenticated", "Authenticate first: {\"type\":\"auth\",\"ticket\"|\"token\"|\"guest\":…}.");
            return;
        }
        switch (f.Type)
        {
            case "join": await JoinAsync(me, f, id, ct); break;
            case "leave": Leave(f, id); break;
            case "send": await SendAsync(me, f, id, ct); break;
            case "image": await AnnounceImageAsync(me, f, id, ct); break;
            case "edit": await EditAsync(me, f, id, ct); break;
            case "delete": await DeleteAsync(me, f, id, ct); break;
            case "typing": Typing(me, f, id); break;
            case "history": await HistoryAsync(me, f, id, ct); break;
            case "online": await OnlineAsync(me, f, id, ct); break;
            case "rooms": await RoomsAsync(me, id, ct); break;
            default:
                Error(id, "unknown_type", $"Unknown type \"{Truncate(f.Type, 40)}\".");
                break;
        }
    }

    public async Task OnBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (!_authed || conn.User is not { } me)
        {
            Error(null, "not_authenticated", "Authenticate first.");
            return;
        }
        if (_pendingImage is not { } pending)
        {
            Error(null, "image_unannounced", "Send {\"type\":\"image\",\"room\":…} before the binary frame.");
            return;
        }
        _pendingImage = null;
        var result = await _s.PostImageAsync(me, pending.Room, data, pending.ClientId, ct);
        Ack(pending.ReplyTo, pending.ClientId, result);
    }

    // ------------------------------------------------------------------ commands

    private async Task AuthenticateAsync(ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (_authed)
        {
            Error(id, "already_authenticated", "This socket is already authenticated.");
            return;
        }
        UserRef? user = null;
        long? tokenId = null;
        string failCode, failMessage;
        if (!string.IsNullOrEmpty(f.Ticket))
        {
            user = await _s.Tickets.RedeemAsync(f.Ticket, ct);
            (failCode, failMessage) = ("ticket_invalid", "The ticket is unknown, expired or already used. Get a new one from POST /api/ws/ticket.");
        }
        else if (!string.IsNullOrEmpty(f.Token))
        {
            if (await _s.Tokens.ValidateAsync(f.Token, ct) is { } found)
                (user, tokenId) = (found.User, found.TokenId);
            (failCode, failMessage) = ("token_invalid", "The token is unknown or revoked (or its user is banned).");
        }
        else if (f.Guest == true)
        {
            if (_s.Options.AllowGuests) user = await _s.Guests.CreateAsync(conn.RemoteIp, ct);
            (failCode, failMessage) = ("guests_not_allowed", "Guests are not allowed on this server.");
        }
        else
        {
            Error(id, "bad_request", "auth needs \"ticket\", \"token\" or \"guest\": true.");
            return;
        }

        if (user is null)
        {
            Error(id, failCode, failMessage);
            conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, failCode);
            return;
        }
        _authed = true;
        await _deadline.CancelAsync();
        conn.Authenticate(user, tokenId);
        var (rooms, direct) = await ListAsync(user, ct);
        conn.Send(PlainWireFormat.Json(new WelcomeFrame(id, _s.V1.User(user), rooms, direct), J.WelcomeFrame));
    }

    private async Task JoinAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        var (room, error) = await ResolveRoomAsync(me, f, ct);
        if (room is null)
        {
            Error(id, error!);
            return;
        }
        var opened = await _s.Chat.OpenRoomAsync(me, room.Slug, ct); // checks access, records membership
        if (!opened.Ok)
        {
            Error(id, opened.Error!);
            return;
        }
        room = opened.Value!;
        var joinError = await conn.JoinAsync(room, f.Since, (online, lastId) => PlainWireFormat.Json(
            new JoinedFrame(id, WireJson.Room(room), online.Select(_s.V1.User).ToList(), lastId), J.JoinedFrame), ct);
        if (joinError is not null) Error(id, joinError);
    }

    private void Leave(ClientFrame f, JsonElement? id)
    {
        var roomId = JoinedRoomId(f);
        if (roomId is null || !conn.Leave(roomId.Value))
        {
            Error(id, "not_joined", "This socket has not joined that room.");
            return;
        }
        conn.Send(PlainWireFormat.Json(new LeftFrame(id, roomId.Value), J.LeftFrame));
    }

    private async Task SendAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (f.ClientId is { Length: > MaxClientIdLength })
        {
            await _replies;
            Error(id, "bad_client_id", $"client_id is longer than {MaxClientIdLength} characters.");
            return;
        }
        var (room, error) = await ResolveRoomAsync(me, f, ct);
        if (room is null)
        {
            await _replies;
            Error(id, error!);
            return;
        }
        // Checked and queued here, in frame order (so stored in that order); acked when committed.
        // Up to MaxSendsInFlight of one socket share group commits instead of one commit per round trip.
        await _inFlight.WaitAsync(ct);
        Task<ChatResult<ChatMessage>> stored;
        try
        {
            stored = await _s.Chat.BeginPostAsync(me, room.Id, f.Text, f.ClientId, ct: ct);
        }
        catch
        {
            _inFlight.Release();
            throw;
        }
        _replies = AckInOrderAsync(_replies, stored, id, f.ClientId);
    }

    private async Task AckInOrderAsync(Task previous, Task<ChatResult<ChatMessage>> stored, JsonElement? id, string? clientId)
    {
        try
        {
            await previous;
            ChatResult<ChatMessage> result;
            try
            {
                result = await stored;
            }
            catch (OperationCanceledException)
            {
                return; // the socket is closing
            }
            catch (Exception ex)
            {
                _s.Logs.CreateLogger<V1Protocol>().LogError(ex, "Send of {User} failed", conn.User?.Name);
                conn.Send(ServerError());
                return;
            }
            Ack(id, clientId, result);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private async Task AnnounceImageAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (f.ClientId is { Length: > MaxClientIdLength })
        {
            Error(id, "bad_client_id", $"client_id is longer than {MaxClientIdLength} characters.");
            return;
        }
        var (room, error) = await ResolveRoomAsync(me, f, ct);
        if (room is null)
        {
            Error(id, error!);
            return;
        }
        if (await _s.CheckCanPostImageAsync(me, room, ct) is { } denied)
        {
            Error(id, denied);
            return;
        }
        _pendingImage = new PendingImage(id, room, f.ClientId);
    }

    private async Task EditAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (f.MessageId is not { } messageId)
        {
            Error(id, "bad_request", "edit needs \"message_id\" and \"text\".");
            return;
        }
        var result = await _s.Chat.EditAsync(me, messageId, f.Text, ct);
        if (!result.Ok)
        {
            Error(id, result.Error!);
            return;
        }
        // The message_edited event (to every socket in the room) carries the edit's event id.
        conn.Send(PlainWireFormat.Json(new ChangeAckFrame("edited", id, messageId, null), J.ChangeAckFrame));
    }

    private async Task DeleteAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (f.MessageId is not { } messageId)
        {
            Error(id, "bad_request", "delete needs \"message_id\".");
            return;
        }
        var result = await _s.Chat.DeleteAsync(me, messageId, ct: ct);
        if (!result.Ok)
        {
            Error(id, result.Error!);
            return;
        }
        conn.Send(PlainWireFormat.Json(new ChangeAckFrame("deleted", id, messageId, result.Value), J.ChangeAckFrame));
    }

    private void Typing(UserRef me, ClientFrame f, JsonElement? id)
    {
        var roomId = JoinedRoomId(f);
        if (roomId is null)
        {
            Error(id, "not_joined", "Join the room before typing in it.");
            return;
        }
        // Throttled per room: a client that sends typing on every key press costs the room nothing extra.
        var now = _s.Time.GetTimestamp();
        _lastTyping ??= [];
        if (_lastTyping.TryGetValue(roomId.Value, out var last) && _s.Time.GetElapsedTime(last, now).TotalSeconds < _s.Options.TypingIntervalSeconds)
            return;
        _lastTyping[roomId.Value] = now;
        _s.Chat.Typing(me, roomId.Value);
    }

    private async Task HistoryAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        var (room, error) = await ResolveReadableAsync(me, f, ct);
        if (room is null)
        {
            Error(id, error!);
            return;
        }
        var limit = Math.Clamp(f.Limit ?? _s.Chat.Options.HistoryPageSize, 1, 200);
        var page = await _s.Chat.GetHistoryAsync(room.Id, f.Before, limit, ct);
        conn.Send(PlainWireFormat.Json(new HistoryFrame(id, room.Id, page.Select(_s.V1.Message).ToList(), page.Count >= limit), J.HistoryFrame));
    }

    private async Task OnlineAsync(UserRef me, ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        var (room, error) = await ResolveReadableAsync(me, f, ct);
        if (room is null)
        {
            Error(id, error!);
            return;
        }
        conn.Send(PlainWireFormat.Json(new OnlineFrame(id, room.Id, _s.Chat.Online(room.Id).Select(_s.V1.User).ToList()), J.OnlineFrame));
    }

    private async Task RoomsAsync(UserRef me, JsonElement? id, CancellationToken ct)
    {
        var (rooms, direct) = await ListAsync(me, ct);
        conn.Send(PlainWireFormat.Json(new RoomsFrame(id, rooms, direct), J.RoomsFrame));
    }

    // ------------------------------------------------------------------ helpers

    private async Task<(List<WireRoom>, List<WireDirect>)> ListAsync(UserRef user, CancellationToken ct)
    {
        var rooms = (await _s.Chat.ListRoomsAsync(user, ct)).Select(WireJson.Room).ToList();
        var direct = user.IsGuest
            ? []
            : (await _s.Chat.ListDirectAsync(user, ct)).Select(d => new WireDirect(WireJson.Room(d.Room), _s.V1.User(d.Other))).ToList();
        return (rooms, direct);
    }

    /// <summary>The room named by <c>room</c> (slug or id) or by <c>to</c> (a user: the direct conversation with them).</summary>
    private async Task<(RoomInfo? Room, ChatError? Error)> ResolveRoomAsync(UserRef me, ClientFrame f, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(f.To))
        {
            var direct = await _s.Chat.OpenDirectAsync(me, f.To, ct);
            return direct.Ok ? (direct.Value!.Room, null) : (null, direct.Error);
        }
        if (f.Room is { ValueKind: not (JsonValueKind.String or JsonValueKind.Number) })
            return (null, new ChatError("bad_request", "\"room\" is a slug (string) or an id (number)."));
        RoomInfo? room = f.Room switch
        {
            { ValueKind: JsonValueKind.String } s when s.GetString() is { Length: > 0 and <= 80 } slug => await _s.Chat.FindRoomAsync(slug, ct),
            { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var roomId) => await _s.Chat.GetRoomAsync(roomId, ct),
            null => null,
            _ => null,
        };
        if (room is null)
        {
            return f.Room is null
                ? (null, new ChatError("bad_request", "Name the room: \"room\" (slug or id) or \"to\" (a user name)."))
                : (null, ChatError.NotFound("The room"));
        }
        return (room, null);
    }

    private async Task<(RoomInfo? Room, ChatError? Error)> ResolveReadableAsync(UserRef me, ClientFrame f, CancellationToken ct)
    {
        var (room, error) = await ResolveRoomAsync(me, f, ct);
        if (room is null) return (null, error);
        return await _s.Chat.CanReadAsync(me, room, ct) ? (room, null) : (null, ChatError.Forbidden);
    }

    /// <summary>A joined room named by slug or id (no database needed: the socket knows its rooms).</summary>
    private long? JoinedRoomId(ClientFrame f)
    {
        switch (f.Room)
        {
            case { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var roomId):
                return conn.IsJoined(roomId) ? roomId : null;
            case { ValueKind: JsonValueKind.String } s:
                var slug = s.GetString()?.Trim().ToLowerInvariant();
                return conn.JoinedRoomBySlug(slug);
            default:
                return null;
        }
    }

    private void Ack(JsonElement? id, string? clientId, ChatResult<ChatMessage> result)
    {
        if (!result.Ok)
        {
            Error(id, result.Error!);
            return;
        }
        var m = result.Value!;
        conn.Send(PlainWireFormat.Json(new AckFrame(id, clientId, m.RoomId, m.Id, m.Id, WireJson.Utc(m.CreatedAt)), J.AckFrame));
    }

    private void Error(JsonElement? id, ChatError error) => Error(id, error.Code, error.Message);

    private void Error(JsonElement? id, string code, string message) =>
        conn.Send(PlainWireFormat.Json(new ErrorFrame(id, code, message), J.ErrorFrame));

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}
