using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Images;
using Microsoft.Extensions.Options;

namespace ChatPortal.WebSockets;

/// <summary>What every socket needs, in one singleton (a socket itself is not a DI service).</summary>
public sealed class SocketServices(ChatService chat, ImageStore images, SocketTickets tickets, ApiTokens tokens, GuestAccounts guests,
    PlainWireFormat plain, V1WireFormat v1, IOptions<WebSocketEndpointOptions> options, TimeProvider time, ILoggerFactory logs,
    Chat.Safeguards.ImageRetention retention)
{
    public Chat.Safeguards.ImageRetention Retention { get; } = retention;
    public ChatService Chat { get; } = chat;
    public ImageStore Images { get; } = images;
    public SocketTickets Tickets { get; } = tickets;
    public ApiTokens Tokens { get; } = tokens;
    public GuestAccounts Guests { get; } = guests;
    public PlainWireFormat Plain { get; } = plain;
    public V1WireFormat V1 { get; } = v1;
    public WebSocketEndpointOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    public ILoggerFactory Logs { get; } = logs;

    /// <summary>
    /// Checks that the user could post in the room before an image is written to disk (the core
    /// checks again when the message is stored).
    /// </summary>
    public async Task<ChatError?> CheckCanPostImageAsync(UserRef user, RoomInfo room, CancellationToken ct)
    {
        var state = await Chat.Users.GetAsync(user.Id, ct);
        if (state is null) return ChatError.NotFound("The user");
        if (state.Banned) return ChatError.Banned;
        if (state.IsMuted(Time.GetUtcNow())) return ChatError.Muted;
        if (room.IsArchived) return ChatError.Archived;
        return await Chat.CanReadAsync(user, room, ct) ? null : ChatError.Forbidden;
    }

    /// <summary>Stores the image (validated by content) and posts it; the result is the stored message.</summary>
    public async Task<ChatResult<ChatMessage>> PostImageAsync(UserRef user, RoomInfo room, ReadOnlyMemory<byte> bytes, string? clientId,
        CancellationToken ct, string? address = null)
    {
        if (await CheckCanPostImageAsync(user, room, ct) is { } denied) return denied;
        var saved = await Images.SaveAsync(bytes, user.Id, null, ct, address);
        if (!saved.Ok) return saved.Error!;
        var posted = await Chat.PostAsync(user, room.Id, null, clientId, saved.Value!.Id, ct, address);
        // Refused (rate limit, mute...): the upload would be an orphan; remove it now rather than at the sweep.
        if (!posted.Ok) await Retention.DeleteImagesAsync([saved.Value.Id], CancellationToken.None);
        return posted;
    }

    internal static bool IsGuestRoom(RoomInfo room) => room.AllowGuests && !room.IsPrivate && !room.IsDirect;
}
