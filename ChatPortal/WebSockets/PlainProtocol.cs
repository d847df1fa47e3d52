using System.Net.WebSockets;
using System.Text;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>
/// The original chat room's protocol (no subprotocol): the socket is a guest in one room (the
/// default, or <c>?room=slug</c>); every text frame is a message, every binary frame an image.
/// It receives <c>openSuccess</c>, others' messages, join/leave notices and images as binary.
/// </summary>
internal sealed class PlainProtocol(SocketConnection conn, string? roomSlug) : ISocketProtocol
{
    private const int MaxSendsInFlight = 64;
    private readonly SemaphoreSlim _inFlight = new(MaxSendsInFlight);
    private Task _results = Task.CompletedTask;
    private RoomInfo? _room;

    public SocketKind Kind => SocketKind.Plain;

    public IWireFormat<WireFrame> Format => conn.Services.Plain;

    public async Task OnOpenAsync(CancellationToken ct)
    {
        var s = conn.Services;
        var room = string.IsNullOrWhiteSpace(roomSlug) ? await s.Rooms.GetDefaultAsync(ct) : await s.Rooms.FindAsync(roomSlug, ct);
        if (room is null)
        {
            Error("not_found", "There is no such room.");
            conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, "room_not_found");
            return;
        }
        if (!RoomDirectory.IsGuestRoom(room) || !await s.Site.GuestsAllowedAsync(ct))
        {
            Error("guests_not_allowed", "This room does not allow guests. Sign in and use the chatportal.v1 protocol.");
            conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, "guests_not_allowed");
            return;
        }
        var guest = await s.Guests.CreateAsync(conn.RemoteIp, ct);
        if (guest is null) // this address made too many guests
        {
            Error(Auth.GuestAccounts.TooMany.Code, Auth.GuestAccounts.TooMany.Message);
            conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, Auth.GuestAccounts.TooMany.Code);
            return;
        }
        var joined = await conn.Authenticate(guest).JoinAsync(room, ct: ct);
        if (!joined.Ok)
        {
            Error(joined.Error!.Code, joined.Error.Message);
            conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, joined.Error.Code);
            return;
        }
        _room = room;
    }

    public async Task OnTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken ct)
    {
        if (_room is null || conn.User is null) return;
        // Checked and queued in frame order; the receive loop goes on while it commits, so one
        // socket's messages share group commits (up to MaxSendsInFlight at a time).
        await _inFlight.WaitAsync(ct);
        Task<ChatResult<ChatMessage>> stored;
        try
        {
            stored = await conn.Services.Commands.BeginPostAsync(conn.User, _room.Id, Encoding.UTF8.GetString(utf8.Span), ct: ct, address: conn.RemoteIp);
        }
        catch
        {
            _inFlight.Release();
            throw;
        }
        _results = ReportAsync(_results, stored);
    }

    private async Task ReportAsync(Task previous, Task<ChatResult<ChatMessage>> stored)
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
                conn.Services.Logs.CreateLogger<PlainProtocol>().LogError(ex, "Send of {User} failed", conn.User?.Name);
                conn.Send(ServerError());
                return;
            }
            if (!result.Ok) Error(result.Error!.Code, result.Error.Message);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    public async Task OnBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (_room is null || conn.User is null) return;
        var result = await conn.Services.Images.PostAsync(conn.User, _room.Id, data, null, ct: ct, address: conn.RemoteIp);
        if (!result.Ok) Error(result.Error!.Code, result.Error.Message);
    }

    public bool Wants(ChatEvent evt) => evt switch
    {
        MessagePosted p => p.Message.Sender.Id != conn.User?.Id && p.Message.InRoom, // thread-only replies stay in their thread
        PresenceChanged p => p.User.Id != conn.User?.Id,
        _ => false,
    };

    public WireFrame ServerError() =>
        PlainWireFormat.Json(new PlainError("server_error", "The server could not handle that; try again."), WireJson.Context.PlainError);

    /// <summary>The original's greeting: who this socket is and who is online.</summary>
    public WireFrame Joined(RoomJoin join) => PlainWireFormat.Json(
        new PlainOpenSuccess(PlainWireFormat.User(conn.User!), conn.Services.Plain.OnlineList(join.Room.Id, join.OnlineListed), join.OnlineCount),
        WireJson.Context.PlainOpenSuccess);

    public WireFrame? CaughtUp(RoomJoin join) => null;

    /// <summary>A plain socket lives in one room: losing it ends the socket.</summary>
    public void OnRoomLost(RoomInfo room, RoomLoss reason)
    {
        var (code, message) = reason switch
        {
            RoomLoss.Archived => ("archived", "This room was archived."),
            RoomLoss.Deleted => ("not_found", "This room was deleted."),
            _ => ("guests_not_allowed", "This room is no longer open to guests."),
        };
        Error(code == "guests_not_allowed" ? "forbidden" : code, message);
        conn.CloseAfterFlush(WebSocketCloseStatus.PolicyViolation, code);
    }

    public void OnClosed()
    {
    }

    private void Error(string code, string message) =>
        conn.Send(PlainWireFormat.Json(new PlainError(code, message), WireJson.Context.PlainError));
}
