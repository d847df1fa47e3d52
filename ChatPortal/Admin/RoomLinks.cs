using ChatPortal.Chat;
using ChatPortal.Hosting;

namespace ChatPortal.Admin;

/// <summary>The three addresses of a room, as people outside reach the portal.</summary>
public sealed record RoomLinkSet(string Web, string WebSocket, string Invite);

/// <summary>
/// Builds room links from <c>Portal:PublicBaseUrl</c> / <c>Portal:PublicWebSocketUrl</c> when
/// set, else from the address the admin's browser used (behind a proxy, set the options).
/// </summary>
public static class RoomLinks
{
    public static RoomLinkSet For(RoomInfo room, PortalOptions options, string requestBaseUri)
    {
        var baseUrl = (string.IsNullOrWhiteSpace(options.PublicBaseUrl) ? requestBaseUri : options.PublicBaseUrl).TrimEnd('/');
        var ws = string.IsNullOrWhiteSpace(options.PublicWebSocketUrl)
            ? WebSocketFor(baseUrl) + "/ws"
            : options.PublicWebSocketUrl.TrimEnd('/');
        var slug = Uri.EscapeDataString(room.Slug);
        return new RoomLinkSet(
            $"{baseUrl}/rooms/{slug}",
            $"{ws}{(ws.Contains('?', StringComparison.Ordinal) ? '&' : '?')}room={slug}",
            $"{baseUrl}/invite/{Uri.EscapeDataString(room.InviteCode)}");
    }

    private static string WebSocketFor(string httpUrl) =>
        httpUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "wss://" + httpUrl[8..]
        : httpUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? "ws://" + httpUrl[7..]
        : httpUrl;
}
