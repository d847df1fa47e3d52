namespace ChatPortal.Auth.Oidc;

/// <summary>
/// OpenID Connect sign-in (section <c>Oidc</c>), for any standard provider (Keycloak, Entra ID,
/// Google, Authentik…): authorization code flow with PKCE. Off unless <see cref="Authority"/> and
/// <see cref="ClientId"/> are set.
/// </summary>
public sealed class OidcOptions
{
    public const string Section = "Oidc";

    /// <summary>The provider's issuer URL (its discovery document is <c>{Authority}/.well-known/openid-configuration</c>).</summary>
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    /// <summary>The button's text: "Sign in with {DisplayName}".</summary>
    public string DisplayName { get; set; } = "single sign-on";
    public string[] Scopes { get; set; } = ["openid", "profile", "email"];
    /// <summary>Also read claims from the userinfo endpoint (where many providers put picture and groups).</summary>
    public bool UseUserInfo { get; set; } = true;
    /// <summary>Off only for a provider on loopback in tests.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
    /// <summary>The claim that lists the user's groups (Keycloak and Authentik: <c>groups</c>; Entra ID: <c>groups</c> or <c>roles</c>).</summary>
    public string GroupsClaim { get; set; } = "groups";
    /// <summary>Optional: group → room slug. A member of the group is made a member of the room at each sign-in.</summary>
    public Dictionary<string, string> RoomGroups { get; set; } = [];
    /// <summary>Admin sign-in through the provider, for members of this group only. Empty: admins sign in with their password only.</summary>
    public string? AdminGroup { get; set; }
    /// <summary>Use the provider's picture as the avatar when the user has none (fetched through the SSRF-safe client).</summary>
    public bool UsePicture { get; set; } = true;

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) && !string.IsNullOrWhiteSpace(ClientId);
    public bool AdminEnabled => Enabled && !string.IsNullOrWhiteSpace(AdminGroup);
}

/// <summary>Which sign-in methods are offered (section <c>Auth</c>).</summary>
public sealed class SignInMethodOptions
{
    public const string Section = "Auth";
    /// <summary>The nickname + password sign-in (form and token endpoint). Switch it off to use OpenID Connect only.</summary>
    public bool PasswordSignIn { get; set; } = true;
}

public static class SignInMethods
{
    public static bool PasswordAllowed(HttpContext ctx) =>
        ctx.RequestServices.GetService<Microsoft.Extensions.Options.IOptions<SignInMethodOptions>>()?.Value.PasswordSignIn ?? true;
}
