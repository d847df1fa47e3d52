using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ChatPortal.Api;

/// <summary>
/// Bearer tokens for <c>/api/v1</c>: a personal access token (<see cref="ApiTokens"/>) becomes a principal of its
/// own identity type, so nothing that reads the chat or admin cookie identity mistakes it for one. The API accepts
/// only this scheme — a browser's cookie opens nothing here, so another site cannot ride on it (no CSRF).
/// </summary>
public sealed class ApiTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiTokens tokens) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "api-token";
    public const string TokenIdClaim = "chatportal:token";
    public const string ScopeClaim = "chatportal:scope";
    public const string AdminIdClaim = "chatportal:admin";
    public const string AdminStampClaim = "chatportal:admin_stamp";
    private const string FailureKey = "chatportal:api_auth_failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7) return AuthenticateResult.NoResult();
        var grant = await tokens.AuthenticateAsync(header[7..].Trim(), Context.RequestAborted);
        if (grant is null)
        {
            Context.Items[FailureKey] = true;
            return AuthenticateResult.Fail("Unknown, revoked or expired token.");
        }
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, grant.User.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, grant.User.Name),
            new(PortalClaims.Kind, grant.User.Kind.ToString()),
            new(TokenIdClaim, grant.TokenId.ToString(CultureInfo.InvariantCulture)),
        };
        foreach (var scope in ApiScopeNames.Format(grant.Scopes).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            claims.Add(new Claim(ScopeClaim, scope));
        if (grant.Scopes.HasFlag(ApiScopes.Admin) && grant.AdminId is { } adminId && grant.AdminStamp is { } stamp)
        {
            claims.Add(new Claim(AdminIdClaim, adminId.ToString(CultureInfo.InvariantCulture)));
            claims.Add(new Claim(AdminStampClaim, stamp));
        }
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, ClaimTypes.Name, ClaimTypes.Role));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var invalid = Context.Items.ContainsKey(FailureKey);
        await ApiProblems.Problem(StatusCodes.Status401Unauthorized, invalid ? "token_invalid" : "token_required",
            invalid ? "The token is unknown, revoked or expired." : "Send a personal access token as 'Authorization: Bearer <token>'.")
            .ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var scope = Context.GetEndpoint()?.Metadata.GetMetadata<ApiScopeRequirement>()?.Scope ?? "?";
        await ApiProblems.Problem(StatusCodes.Status403Forbidden, "insufficient_scope",
            $"This token lacks the '{scope}' scope this endpoint needs.").ExecuteAsync(Context);
    }
}

/// <summary>Endpoint metadata: the scope an endpoint needs (the 403 names it, the OpenAPI document lists it).</summary>
public sealed record ApiScopeRequirement(string Scope);

public static class ApiPrincipal
{
    /// <summary>The token's user as the core knows users.</summary>
    public static UserRef ApiUser(this ClaimsPrincipal p)
    {
        var id = long.Parse(p.FindFirst(ClaimTypes.NameIdentifier)!.Value, CultureInfo.InvariantCulture);
        var kind = Enum.TryParse<UserKind>(p.FindFirst(PortalClaims.Kind)?.Value, out var k) ? k : UserKind.Member;
        return new UserRef(id, p.Identity?.Name ?? "?", kind);
    }

    public static string? ApiTokenId(this ClaimsPrincipal p) =>
        p.Identities.FirstOrDefault(i => i.AuthenticationType == ApiTokenHandler.SchemeName)?.FindFirst(ApiTokenHandler.TokenIdClaim)?.Value;

    /// <summary>
    /// The principal the back office's <c>AdminGuard</c> checks: the admin account that granted the token and its
    /// stamp at that time, so a disabled admin or a changed admin password ends the token's admin rights at once.
    /// </summary>
    public static ClaimsPrincipal? AdminPrincipal(this ClaimsPrincipal p)
    {
        var id = p.FindFirst(ApiTokenHandler.AdminIdClaim)?.Value;
        var stamp = p.FindFirst(ApiTokenHandler.AdminStampClaim)?.Value;
        if (id is null || stamp is null) return null;
        return new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, id),
            new Claim(ClaimTypes.Name, "token"),
            new Claim(ClaimTypes.Role, "admin"),
            new Claim(PortalClaims.Stamp, stamp),
        ], PortalClaims.AdminScheme, ClaimTypes.Name, ClaimTypes.Role));
    }
}
