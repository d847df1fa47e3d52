using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.WebSockets;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>
/// Short-lived, single-use tickets that let a signed-in web page open an authenticated socket
/// without the socket relying on the cookie (which a foreign page could ride on). A ticket is
/// sealed with the portal's DataProtection keys (so any node sharing the key folder can check
/// it) and remembered once redeemed until it would have expired (<see cref="ITicketReplayGuard"/>:
/// in memory, and in Redis when the portal runs as a cluster).
/// </summary>
/// <remarks>
/// A ticket names the sign-in session it was issued for: it is redeemed only while that session
/// lives, and the socket it opens closes when that session is signed out (<see cref="SignInSessions"/>).
/// </remarks>
public sealed class SocketTickets(IDataProtectionProvider protection, UserDirectory users, TimeProvider time,
    IOptions<WebSocketEndpointOptions> options, ITicketReplayGuard replay, SignInSessions sessions)
{
    private readonly IDataProtector _protector = protection.CreateProtector("ChatPortal.WebSocketTicket.v1");

    public TimeSpan Lifetime => options.Value.TicketLifetime;

    public string Issue(UserRef user, string securityStamp, string sessionId)
    {
        var expires = time.GetUtcNow() + Lifetime;
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var payload = string.Join('|', user.Id.ToString(CultureInfo.InvariantCulture), securityStamp, nonce,
            expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), sessionId);
        return Base64Url.EncodeToString(_protector.Protect(Encoding.UTF8.GetBytes(payload)));
    }

    /// <summary>The user the ticket was issued to, or null: forged, expired, already used, the user is banned, or its session was signed out.</summary>
    public async Task<UserRef?> RedeemAsync(string? ticket, CancellationToken ct = default) =>
        (await RedeemSessionAsync(ticket, ct))?.User;

    /// <summary>As <see cref="RedeemAsync"/>, with the sign-in session the ticket belongs to.</summary>
    public async Task<(UserRef User, string SessionId)?> RedeemSessionAsync(string? ticket, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(ticket) || ticket.Length > 2048) return null;
        string payload;
        try
        {
            payload = Encoding.UTF8.GetString(_protector.Unprotect(Base64Url.DecodeFromChars(ticket)));
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return null;
        }
        var parts = payload.Split('|');
        if (parts.Length != 5
            || !long.TryParse(parts[0], CultureInfo.InvariantCulture, out var userId)
            || !long.TryParse(parts[3], CultureInfo.InvariantCulture, out var expiresMs))
            return null;
        var now = time.GetUtcNow();
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(expiresMs);
        if (expires <= now) return null;
        if (!await replay.TryClaimAsync(parts[2], expires, ct)) return null; // single use
        var state = await users.GetFreshAsync(userId, ct); // the database decides a ban or sign-out, not the cache
        if (state is null || state.Banned || state.SecurityStamp != parts[1]) return null;
        if (!await sessions.IsLiveFreshAsync(parts[4], userId, ct)) return null; // signed out since
        return (state.User, parts[4]);
    }
}
