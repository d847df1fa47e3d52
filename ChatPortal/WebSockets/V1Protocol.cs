using System.Net.WebSockets;
using System.Text.Json;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>
/// The <c>chatportal.v1</c> protocol (docs/protocol.md): JSON frames with a <c>type</c>; requests
/// carry an <c>id</c> that the reply echoes as <c>reply_to</c>. Authenticate first (ticket, token
/// or guest) within the deadline; then every request type is one small handler in <see cref="Handlers"/>
/// that calls one core method. Errors are frames with stable codes; only protocol violations close the socket.
/// <paramref name="bearer"/>: the API token the upgrade request presented (<c>Authorization: Bearer</c>), already
/// checked; the socket is then authenticated from the start and its welcome follows the hello.
/// <paramref name="joins"/>: rooms named on the upgrade request (<c>?join=lobby:120</c>), joined as soon as the socket is
/// authenticated, so their replies and catch-up come with the welcome (Slack's and Mattermost's sockets are subscribed to
/// the user's channels on connect in the same way).
/// </summary>
internal sealed partial class V1Protocol(SocketConnection conn, Auth.ApiTokenGrant? bearer = null, IReadOnlyList<UpgradeJoin>? joins = null)
    : ISocketProtocol
{
    public const string Name = "chatportal.v1";
    private const int MaxClientIdLength = 64;

    private readonly SocketServices _s = conn.Services;
    private readonly CancellationTokenSource _deadline = new();
    private Task? _auth; // the auth request in progress, if any (the deadline waits for its answer)
    private const int MaxSendsInFlight = 64;
    private readonly SemaphoreSlim _inFlight = new(MaxSendsInFlight);
    private Task _replies = Task.CompletedTask;
    private PendingImage? _pendingImage;

    private sealed record PendingImage(JsonElement? ReplyTo, RoomInfo Room, string? ClientId, string? FileName = null, bool IsFile = false);

    /// <summary>One request of an authenticated socket.</summary>
    private readonly record struct Request(ClientFrame Frame, JsonElement? Id, ChatSession Session, CancellationToken Ct)
    {
        public UserRef Me => Session.User;
    }

    /// <summary>The request types of an authenticated socket (as Mattermost's wsapi): one core call each.</summary>
    private static readonly Dictionary<string, Func<V1Protocol, Request, Task>> Handlers = new(StringComparer.Ordinal)
    {
        ["join"] = (p, r) => p.JoinAsync(r),
        ["leave"] = (p, r) => p.LeaveAsync(r),
        ["send"] = (p, r) => p.SendAsync(r),
        ["image"] = (p, r) => p.AnnounceImageAsync(r),
        ["file"] = (p, r) => p.AnnounceImageAsync(r, asFile: true),
        ["edit"] = (p, r) => p.EditAsync(r),
        ["delete"] = (p, r) => p.DeleteAsync(r),
        ["typing"] = (p, r) => p.TypingAsync(r),
        ["history"] = (p, r) => p.HistoryAsync(r),
        ["online"] = (p, r) => p.OnlineAsync(r),
        ["rooms"] = (p, r) => p.RoomsAsync(r),
        // Conversations (V1Conversations.cs)
        ["react"] = (p, r) => p.ReactAsync(r, add: true),
        ["unreact"] = (p, r) => p.ReactAsync(r, add: false),
        ["pin"] = (p, r) => p.PinAsync(r, pin: true),
        ["unpin"] = (p, r) => p.PinAsync(r, pin: false),
        ["pins"] = (p, r) => p.PinsAsync(r),
        ["save"] = (p, r) => p.SaveAsync(r, save: true),
        ["unsave"] = (p, r) => p.SaveAsync(r, save: false),
        ["saved_messages"] = (p, r) => p.SavedListAsync(r),
        ["thread"] = (p, r) => p.ThreadAsync(r),
        ["follow"] = (p, r) => p.FollowAsync(r, follow: true),
        ["unfollow"] = (p, r) => p.FollowAsync(r, follow: false),
        ["threads"] = (p, r) => p.ThreadsAsync(r),
        ["thread_read"] = (p, r) => p.ThreadReadAsync(r),
        ["read"] = (p, r) => p.ReadAsync(r),
        ["receipts"] = (p, r) => p.ReceiptsAsync(r),
        ["read_receipts"] = (p, r) => p.ReceiptSettingAsync(r),
        // Slash commands (V1Commands.cs, issue 16)
        ["command"] = (p, r) => p.CommandAsync(r),
    };

    public SocketKind Kind => SocketKind.V1;

    public IWireFormat<WireFrame> Format => _s.V1;

    private static WireJsonContext J => WireJson.Context;

    public Task OnOpenAsync(CancellationToken ct)
    {
        if (bearer is not null) return OpenAuthenticatedAsync(bearer, ct);
        SendHello();
        _ = CloseUnlessAuthenticatedAsync();
        return Task.CompletedTask;
    }

    private void SendHello(bool authenticated = false)
    {
        var o = _s.Options;
        conn.Send(PlainWireFormat.Json(new HelloFrame(Name, "ChatPortal", (int)o.AuthTimeout.TotalMilliseconds,
            new WireLimits(o.MaxTextMessageBytes, o.MaxBinaryMessageBytes, _s.Commands.Options.MaxMessageLength, o.SendQueueCapacity))
        {
            Authenticated = authenticated ? true : null,
            Joins = joins is { Count: > 0 } ? joins.Select(j => j.Room).ToList() : null,
        }, J.HelloFrame));
    }

    /// <summary>
    /// A token presented on the upgrade: the drawer is read first, so that hello and welcome are queued together (one
    /// write); frames the client sent meanwhile (a join) wait in the receive loop, which starts after this.
    /// </summary>
    private async Task OpenAuthenticatedAsync(Auth.ApiTokenGrant grant, CancellationToken ct)
    {
        var lists = await ListAsync(grant.User, ct);
        SendHello(authenticated: true);
        conn.Authenticate(grant.User, grant.TokenId);
        Welcome(null, grant.User, lists);
        await JoinNamedOnUpgradeAsync(ct);
    }

    /// <summary>
    /// The rooms the upgrade request named (<see cref="UpgradeJoin"/>), right after the welcome: each answered as a
    /// <c>join</c> frame without an <c>id</c> would be (<c>joined</c>, the catch-up, <c>caught_up</c>), or with an
    /// error naming the room; the socket stays open either way.
    /// </summary>
    private async Task JoinNamedOnUpgradeAsync(CancellationToken ct)
    {
        if (joins is not { Count: > 0 } || conn.Session is not { } session) return;
        var max = _s.Options.MaxRoomsPerConnection;
        for (var i = 0; i < joins.Count; i++)
        {
            var j = joins[i];
            if (i >= max) // no lookup for rooms past the socket's limit
            {
                RoomError(j.Room, "too_many_rooms", $"{j.Room}: a connection may join at most {max} rooms.");
                continue;
            }
            if (await _s.Rooms.FindAsync(j.Room, ct) is not { } room)
            {
                RoomError(j.Room, "not_found", $"The room \"{j.Room}\" named on the upgrade was not found.");
                continue;
            }
            var joined = await session.JoinAsync(room, j.Since, tag: null, maxRooms: max, ct: ct);
            if (!joined.Ok) RoomError(j.Room, joined.Error!.Code, $"{j.Room}: {joined.Error.Message}");
        }
    }

    private void RoomError(string room, string code, string message) =>
        conn.Send(PlainWireFormat.Json(new ErrorFrame(null, code, message) { Room = room }, J.ErrorFrame));

    private async Task CloseUnlessAuthenticatedAsync()
    {
        // Every socket that authenticates cancels this wait: no exception for it (one per connect was ~2 % of the
        // server's CPU in a burst of token connects).
        await Task.Delay(_s.Options.AuthTimeout, _s.Time, _deadline.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_deadline.IsCancellationRequested) return;
        // The deadline is for sending a credential. One that arrived in time is answered however long the
        // server takes (a guest written behind thousands in a reconnect storm): closing it would make the
        // client come back and queue again, feeding the storm.
        if (Volatile.Read(ref _auth) is { } pending)
        {
            try { await pending; }
            catch (Exception) { /* the receive loop reports it */ }
        }
        if (conn.Session is null) await conn.CloseAsync(WebSocketCloseStatus.PolicyViolation, "auth_timeout");
    }

    public void OnRoomLost(RoomInfo room, RoomLoss reason) =>
        conn.Send(PlainWireFormat.Json(new LeftFrame(null, room.Id, Reason(reason)), J.LeftFrame));

    private static string Reason(RoomLoss reason) => reason switch
    {
        RoomLoss.Removed => "removed",
        RoomLoss.Archived => "archived",
        RoomLoss.Deleted => "deleted",
        _ => "closed",
    };

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

    // In a busy room presence comes as summaries, so the client could not keep a list current: it gets the count and asks
    // "online" when it shows the list (10,000 clients back after a restart each carried 100 names they could not use).
    public WireFrame Joined(RoomJoin join) => PlainWireFormat.Json(
        new JoinedFrame(join.Tag as JsonElement?, WireJson.Room(join.Room),
            join.PresenceSummarized ? null : _s.V1.OnlineList(join.Room.Id, join.OnlineListed), join.OnlineCount, join.LastId),
            J.JoinedFrame);

    public WireFrame? CaughtUp(RoomJoin join) =>
        PlainWireFormat.Json(new CaughtUpFrame(join.Room.Id, join.CaughtUpTo, join.CatchUpCount), J.CaughtUpFrame);

    public WireFrame ServerError() =>
        PlainWireFormat.Json(new ErrorFrame(null, "server_error", "The server could not handle that request; try again."), J.ErrorFrame);

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
        var session = conn.Session;
        if (f is null || f.Type != "send" || session is null) await _replies;
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
                var auth = AuthenticateAsync(f, id, ct);
                Volatile.Write(ref _auth, auth);
                await auth;
                return;
        }
        if (session is null)
        {
            Error(id, "not_authenticated", "Authenticate first: {\"type\":\"auth\",\"ticket\"|\"token\"|\"guest\":…}.");
            return;
        }
        if (Handlers.TryGetValue(f.Type, out var handler)) await handler(this, new Request(f, id, session, ct));
        else Error(id, "unknown_type", $"Unknown type \"{Truncate(f.Type, 40)}\".");
    }

    public async Task OnBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (conn.Session is not { } session)
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
        Ack(pending.ReplyTo, pending.ClientId, pending.IsFile
            ? await _s.Attachments.PostAsync(session.User, pending.Room.Id, data, pending.FileName, pending.ClientId, ct: ct, address: conn.RemoteIp)
            : await _s.Images.PostAsync(session.User, pending.Room.Id, data, pending.ClientId, ct: ct, address: conn.RemoteIp));
    }

    // ------------------------------------------------------------------ authentication

    private async Task AuthenticateAsync(ClientFrame f, JsonElement? id, CancellationToken ct)
    {
        if (conn.Session is not null)
        {
            Error(id, "already_authenticated", "This socket is already authenticated.");
            return;
        }
        UserRef? user = null;
        long? tokenId = null;
        string? signInSession = null;
        Auth.GuestSignIn? guest = null;
        string failCode, failMessage;
        if (!string.IsNullOrEmpty(f.Ticket))
        {
            if (await _s.Tickets.RedeemSessionAsync(f.Ticket, ct) is { } held) (user, signInSession) = (held.User, held.SessionId);
            (failCode, failMessage) = ("ticket_invalid", "The ticket is unknown, expired or already used. Get a new one from POST /api/ws/ticket.");
        }
        else if (!string.IsNullOrEmpty(f.Token))
        {
            var found = await _s.Tokens.AuthenticateAsync(f.Token, ct);
            // A socket reads and sends, so its token needs both scopes (issue 16); a read-only token is for the REST API.
            if (found is not null && !found.Scopes.HasFlag(Auth.ApiScopes.Read | Auth.ApiScopes.Write))
            {
                Error(id, "insufficient_scope", "chatportal.v1 needs a token with the 'read' and 'write' scopes.");
                conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, "insufficient_scope");
                return;
            }
            if (found is not null) (user, tokenId) = (found.User, found.TokenId);
            (failCode, failMessage) = ("token_invalid", "The token is unknown, revoked or expired (or its user is banned).");
        }
        else if (f.Guest == true)
        {
            var allowed = await _s.Site.GuestsAllowedAsync(ct); // a site setting: read each time, so a change applies at once on every node
            // With the resume token of an earlier welcome the same guest comes back (else, or when it is gone, a new one).
            guest = allowed ? await _s.Guests.SignInAsync(conn.RemoteIp, f.Resume, ct) : null;
            user = guest?.User;
            (failCode, failMessage) = !allowed ? ("guests_not_allowed", "Guests are not allowed on this server.")
                : (Auth.GuestAccounts.TooMany.Code, Auth.GuestAccounts.TooMany.Message); // per-address guest limit
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
        await _deadline.CancelAsync();
        conn.Authenticate(user, tokenId, signInSession, resumableGuest: guest?.Resume is not null);
        // Every guest, new or back, has the drawer a new guest has (kept, not read per guest): guests cannot leave a
        // room or belong to a private one, so nothing of theirs changes it.
        var lists = user.IsGuest
            ? ((await _s.Rooms.ListForNewGuestAsync(ct)).Select(WireJson.Room).ToList(), [])
            : await ListAsync(user, ct);
        Welcome(id, user, lists, guest);
        await JoinNamedOnUpgradeAsync(ct);
    }

    private void Welcome(JsonElement? id, UserRef user, (List<WireRoom> Rooms, List<WireDirect> Direct) lists, Auth.GuestSignIn? guest = null) =>
        conn.Send(PlainWireFormat.Json(new WelcomeFrame(id, _s.V1.User(user), lists.Rooms, lists.Direct)
        {
            Resume = guest?.Resume,
            Resumed = guest is null ? null : guest.Resumed,
        }, J.WelcomeFrame));

    // ------------------------------------------------------------------ handlers

    private async Task JoinAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is null)
        {
            Error(r.Id, error!);
            return;
        }
        // The session checks access, records membership, listens, and queues the reply and the catch-up in order.
        var joined = await r.Session.JoinAsync(room, r.Frame.Since is { } since ? Math.Max(0, since) : null, tag: r.Id,
            maxRooms: _s.Options.MaxRoomsPerConnection, ct: r.Ct);
        if (!joined.Ok) Error(r.Id, joined.Error!);
    }

    private Task LeaveAsync(Request r)
    {
        var roomId = JoinedRoomId(r.Session, r.Frame);
        if (roomId is null || !r.Session.Leave(roomId.Value)) Error(r.Id, "not_joined", "This socket has not joined that room.");
        else conn.Send(PlainWireFormat.Json(new LeftFrame(r.Id, roomId.Value), J.LeftFrame));
        return Task.CompletedTask;
    }

    private async Task SendAsync(Request r)
    {
        var f = r.Frame;
        if (f.ClientId is { Length: > MaxClientIdLength })
        {
            await _replies;
            Error(r.Id, "bad_client_id", $"client_id is longer than {MaxClientIdLength} characters.");
            return;
        }
        var (room, error) = await ResolveRoomAsync(r.Me, f, r.Ct);
        if (room is null)
        {
            await _replies;
            Error(r.Id, error!);
            return;
        }
        // Checked and queued here, in frame order (so stored in that order); acked when committed.
        // Up to MaxSendsInFlight of one socket share group commits instead of one commit per round trip.
        await _inFlight.WaitAsync(r.Ct);
        Task<ChatResult<ChatMessage>> stored;
        try
        {
            stored = await _s.Commands.BeginPostAsync(r.Me, room.Id, f.Text, f.ClientId, ct: r.Ct, address: conn.RemoteIp, links: Links(f));
        }
        catch
        {
            _inFlight.Release();
            throw;
        }
        _replies = AckInOrderAsync(_replies, stored, r.Id, f.ClientId);
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

    private async Task AnnounceImageAsync(Request r, bool asFile = false)
    {
        if (r.Frame.ClientId is { Length: > MaxClientIdLength })
        {
            Error(r.Id, "bad_client_id", $"client_id is longer than {MaxClientIdLength} characters.");
            return;
        }
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is not null) // nothing is written for a refused image or file
            error = asFile ? await _s.Attachments.CheckAsync(r.Me, room.Id, r.Ct) : await _s.Images.CheckAsync(r.Me, room.Id, r.Ct);
        if (error is not null)
        {
            Error(r.Id, error);
            return;
        }
        _pendingImage = new PendingImage(r.Id, room!, r.Frame.ClientId, r.Frame.Name, asFile);
    }

    private async Task EditAsync(Request r)
    {
        if (r.Frame.MessageId is not { } messageId)
        {
            Error(r.Id, "bad_request", "edit needs \"message_id\" and \"text\".");
            return;
        }
        var result = await _s.Commands.EditAsync(r.Me, messageId, r.Frame.Text, r.Ct);
        // The message_edited event (to every socket in the room) carries the edit's event id.
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new ChangeAckFrame("edited", r.Id, messageId, null), J.ChangeAckFrame));
    }

    private async Task DeleteAsync(Request r)
    {
        if (r.Frame.MessageId is not { } messageId)
        {
            Error(r.Id, "bad_request", "delete needs \"message_id\".");
            return;
        }
        var result = await _s.Commands.DeleteAsync(r.Me, messageId, ct: r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new ChangeAckFrame("deleted", r.Id, messageId, result.Value), J.ChangeAckFrame));
    }

    private Task TypingAsync(Request r)
    {
        // The core throttles it: a client that sends typing on every key press costs the room nothing extra.
        var roomId = JoinedRoomId(r.Session, r.Frame);
        if (roomId is null || r.Session.Typing(roomId.Value) is not null) Error(r.Id, "not_joined", "Join the room before typing in it.");
        return Task.CompletedTask;
    }

    private async Task HistoryAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is null)
        {
            Error(r.Id, error!);
            return;
        }
        var limit = Math.Clamp(r.Frame.Limit ?? _s.Commands.Options.HistoryPageSize, 1, 200);
        var page = await _s.History.HistoryAsync(r.Me, room.Id, r.Frame.Before, limit, r.Ct);
        if (!page.Ok) Error(r.Id, page.Error!);
        else conn.Send(PlainWireFormat.Json(new HistoryFrame(r.Id, room.Id, page.Value!.Select(_s.V1.Message).ToList(), page.Value!.Count >= limit), J.HistoryFrame));
    }

    private async Task OnlineAsync(Request r)
    {
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is not null && await _s.Rooms.Directory.CheckReadAsync(r.Me, room, r.Ct) is { } denied) (room, error) = (null, denied);
        if (room is null) Error(r.Id, error!);
        else conn.Send(PlainWireFormat.Json(new OnlineFrame(r.Id, room.Id, _s.Sessions.Online(room.Id).Select(_s.V1.User).ToList()), J.OnlineFrame));
    }

    private async Task RoomsAsync(Request r)
    {
        var (rooms, direct) = await ListAsync(r.Me, r.Ct);
        conn.Send(PlainWireFormat.Json(new RoomsFrame(r.Id, rooms, direct), J.RoomsFrame));
    }

    // ------------------------------------------------------------------ helpers

    private async Task<(List<WireRoom>, List<WireDirect>)> ListAsync(UserRef user, CancellationToken ct)
    {
        var drawer = await _s.Rooms.ListDrawerAsync(user, ct);
        return (drawer.Rooms.Select(WireJson.Room).ToList(), drawer.Direct.Select(d => new WireDirect(WireJson.Room(d.Room), _s.V1.User(d.Other))).ToList());
    }

    /// <summary>The room named by <c>room</c> (slug or id) or by <c>to</c> (a user: the direct conversation with them).</summary>
    private async Task<(RoomInfo? Room, ChatError? Error)> ResolveRoomAsync(UserRef me, ClientFrame f, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(f.To))
        {
            var direct = await _s.Rooms.OpenDirectAsync(me, f.To, ct);
            return direct.Ok ? (direct.Value!.Room, null) : (null, direct.Error);
        }
        if (f.Room is { ValueKind: not (JsonValueKind.String or JsonValueKind.Number) })
            return (null, new ChatError("bad_request", "\"room\" is a slug (string) or an id (number)."));
        RoomInfo? room = f.Room switch
        {
            { ValueKind: JsonValueKind.String } s when s.GetString() is { Length: > 0 and <= 80 } slug => await _s.Rooms.FindAsync(slug, ct),
            { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var roomId) => await _s.Rooms.GetAsync(roomId, ct),
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

    /// <summary>A joined room named by slug or id (no database needed: the session knows its rooms).</summary>
    private static long? JoinedRoomId(ChatSession session, ClientFrame f)
    {
        switch (f.Room)
        {
            case { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var roomId):
                return session.IsJoined(roomId) ? roomId : null;
            case { ValueKind: JsonValueKind.String } s:
                return session.JoinedRoomBySlug(s.GetString()?.Trim().ToLowerInvariant());
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
