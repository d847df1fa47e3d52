using System.Security.Claims;
using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.Auth;

/// <summary>The two kinds of signed-in principal and how to read them from claims.</summary>
public static class PortalClaims
{
    /// <summary>Cookie scheme and identity type of chat users.</summary>
    public const string ChatScheme = "chat";
    /// <summary>Cookie scheme and identity type of admins: separate accounts, separate cookie.</summary>
    public const string AdminScheme = "admin";
    public const string Stamp = "chatportal:stamp";
    public const string Kind = "chatportal:kind";
    /// <summary>The server-side sign-in session (<see cref="SignInSessions"/>) a chat cookie belongs to.</summary>
    public const string Session = "chatportal:sid";

    public static ClaimsPrincipal ForChatUser(ChatUser u, string? sessionId = null) => new(new ClaimsIdentity(
    [
        new Claim(ClaimTypes.NameIdentifier, u.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new Claim(ClaimTypes.Name, u.Name),
        new Claim(Kind, u.Kind.ToString()),
        new Claim(Stamp, u.SecurityStamp),
        .. sessionId is null ? Array.Empty<Claim>() : [new Claim(Session, sessionId)],
    ], ChatScheme, ClaimTypes.Name, ClaimTypes.Role));

    /// <summary>The sign-in session id of the chat cookie, or null.</summary>
    public static string? ChatSessionId(this ClaimsPrincipal? p) => p.ChatIdentity()?.FindFirst(Session)?.Value;

    public static ClaimsPrincipal ForAdmin(AdminUser a) => new(new ClaimsIdentity(
    [
        new Claim(ClaimTypes.NameIdentifier, a.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new Claim(ClaimTypes.Name, a.Name),
        new Claim(ClaimTypes.Role, "admin"),
        new Claim(Stamp, a.SecurityStamp),
    ], AdminScheme, ClaimTypes.Name, ClaimTypes.Role));

    public static ClaimsIdentity? ChatIdentity(this ClaimsPrincipal? p) =>
        p?.Identities.FirstOrDefault(i => i.IsAuthenticated && i.AuthenticationType == ChatScheme);

    public static ClaimsIdentity? AdminIdentity(this ClaimsPrincipal? p) =>
        p?.Identities.FirstOrDefault(i => i.IsAuthenticated && i.AuthenticationType == AdminScheme);

    /// <summary>The signed-in chat user, or null (anonymous, or only an admin).</summary>
    public static UserRef? ToChatUser(this ClaimsPrincipal? p) => ToRef(p.ChatIdentity());

    public static UserRef? ToAdmin(this ClaimsPrincipal? p) => ToRef(p.AdminIdentity());

    private static UserRef? ToRef(ClaimsIdentity? id)
    {
        if (id is null) return null;
        if (!long.TryParse(id.FindFirst(ClaimTypes.NameIdentifier)?.Value, out var userId)) return null;
        var kind = Enum.TryParse<UserKind>(id.FindFirst(Kind)?.Value, out var k) ? k : UserKind.Member;
        return new UserRef(userId, id.Name ?? "?", kind);
    }
}

public static class Policies
{
    public const string ChatUser = "ChatUser";
    public const string Admin = "Admin";
}
