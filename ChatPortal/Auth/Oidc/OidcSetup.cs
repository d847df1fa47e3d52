using System.Security.Claims;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth.Oidc;

/// <summary>
/// OpenID Connect sign-in next to the nickname/password one. The provider's answer is handled in
/// <c>OnTicketReceived</c>: the identity is mapped to a chat account (or, for <c>/admin/login/oidc</c>,
/// an admin account) and the usual chat or admin cookie is issued, so everything after sign-in
/// (security stamp, revalidation, bans, tickets) is the same as for a password sign-in.
/// </summary>
public static class OidcSetup
{
    public const string Scheme = "oidc";
    private const string TargetKey = "chatportal.target";
    private const string ReturnKey = "chatportal.return";

    public static WebApplicationBuilder AddChatPortalOidc(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(OidcOptions.Section);
        builder.Services.Configure<OidcOptions>(section);
        builder.Services.Configure<SignInMethodOptions>(builder.Configuration.GetSection(SignInMethodOptions.Section));
        builder.Services.AddSingleton<OidcAccounts>();
        builder.Services.AddSingleton<BanNotice>();
        var o = section.Get<OidcOptions>() ?? new OidcOptions();
        if (!o.Enabled) return builder;

        builder.Services.AddAuthentication().AddOpenIdConnect(Scheme, h =>
        {
            h.Authority = o.Authority;
            h.ClientId = o.ClientId;
            h.ClientSecret = string.IsNullOrEmpty(o.ClientSecret) ? null : o.ClientSecret;
            h.ResponseType = "code";
            h.ResponseMode = "query";
            h.UsePkce = true;
            h.RequireHttpsMetadata = o.RequireHttpsMetadata;
            h.CallbackPath = "/signin-oidc";
            h.Scope.Clear();
            foreach (var s in o.Scopes.Append("openid").Distinct(StringComparer.Ordinal)) h.Scope.Add(s);
            h.MapInboundClaims = false;
            h.SaveTokens = false;
            h.GetClaimsFromUserInfoEndpoint = o.UseUserInfo;
            h.ClaimActions.MapUniqueJsonKey("preferred_username", "preferred_username");
            h.ClaimActions.MapUniqueJsonKey("email_verified", "email_verified");
            h.ClaimActions.MapUniqueJsonKey("picture", "picture");
            h.ClaimActions.MapJsonKey(o.GroupsClaim, o.GroupsClaim);
            // Never used for a sign-in: OnTicketReceived issues our own cookie and ends the request.
            h.SignInScheme = PortalClaims.ChatScheme;
            // The answer comes back as a top-level GET from the provider (response_mode=query), which
            // carries Lax cookies: no SameSite=None (and so no need for HTTPS on a loopback test).
            h.CorrelationCookie.SameSite = SameSiteMode.Lax;
            h.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            h.NonceCookie.SameSite = SameSiteMode.Lax;
            h.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            h.Events.OnTicketReceived = OnTicketReceivedAsync;
            h.Events.OnRemoteFailure = ctx =>
            {
                ctx.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("ChatPortal.Oidc")
                    .LogWarning(ctx.Failure, "OpenID Connect sign-in failed");
                var admin = ctx.Properties?.Items.TryGetValue(TargetKey, out var t) == true && t == "admin";
                ctx.Response.Redirect(admin ? "/admin/login?oidc=failed" : "/login?oidc=failed");
                ctx.HandleResponse();
                return Task.CompletedTask;
            };
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalOidc(this IEndpointRouteBuilder app)
    {
        // A link (GET), not a form: the redirect to the provider would break CSP form-action 'self'.
        app.MapGet("/login/oidc", async (HttpContext ctx, string? returnUrl, IOptions<OidcOptions> options) =>
        {
            if (!options.Value.Enabled) return Results.NotFound();
            var props = new AuthenticationProperties { RedirectUri = "/" };
            props.Items[TargetKey] = "chat";
            props.Items[ReturnKey] = SafeReturnUrl.Resolve(returnUrl);
            return await ChallengeAsync(ctx, props, "/login?oidc=unavailable");
        }).AllowAnonymous();
        app.MapGet("/admin/login/oidc", async (HttpContext ctx, IOptions<OidcOptions> options) =>
        {
            if (!options.Value.AdminEnabled) return Results.NotFound();
            var props = new AuthenticationProperties { RedirectUri = "/admin" };
            props.Items[TargetKey] = "admin";
            return await ChallengeAsync(ctx, props, "/admin/login?oidc=unavailable");
        }).AllowAnonymous();
        return app;
    }

    /// <summary>Redirects to the provider; a provider that cannot be reached (discovery fails) gets a message, not a 500.</summary>
    private static async Task<IResult> ChallengeAsync(HttpContext ctx, AuthenticationProperties props, string onFailure)
    {
        try
        {
            await ctx.ChallengeAsync(Scheme, props);
            return Results.Empty;
        }
        catch (InvalidOperationException ex)
        {
            ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("ChatPortal.Oidc")
                .LogWarning(ex, "The OpenID Connect provider could not be reached");
            return Results.Redirect(onFailure);
        }
    }

    private static async Task OnTicketReceivedAsync(TicketReceivedContext ctx)
    {
        var services = ctx.HttpContext.RequestServices;
        var o = services.GetRequiredService<IOptions<OidcOptions>>().Value;
        var accounts = services.GetRequiredService<OidcAccounts>();
        var admin = ctx.Properties?.Items.TryGetValue(TargetKey, out var t) == true && t == "admin";
        var returnUrl = ctx.Properties?.Items.TryGetValue(ReturnKey, out var r) == true ? SafeReturnUrl.Resolve(r) : "/";
        ctx.HandleResponse();
        var id = ctx.Principal is null ? null : OidcIdentity.From(ctx.Principal, o.Authority!.TrimEnd('/'), o.GroupsClaim);
        if (id is null)
        {
            ctx.Response.Redirect(admin ? "/admin/login?oidc=failed" : "/login?oidc=failed");
            return;
        }
        var ct = ctx.HttpContext.RequestAborted;
        if (admin)
        {
            var outcome = await accounts.SignInAdminAsync(id, ct);
            if (!outcome.Succeeded)
            {
                ctx.Response.Redirect("/admin/login?oidc=" + (outcome.Result == OidcResult.NotAdmin ? "not_admin" : "refused"));
                return;
            }
            await ctx.HttpContext.SignInAsync(PortalClaims.AdminScheme, PortalClaims.ForAdmin(outcome.Admin!),
                new AuthenticationProperties { IsPersistent = false, AllowRefresh = true });
            // The admin cookie is SameSite=Strict: a redirect chain that began at the provider would not
            // carry it, so the browser continues with a navigation of our own page.
            await ContinueAsync(ctx.HttpContext, "/admin");
            return;
        }

        var chat = await accounts.SignInChatAsync(id, ctx.HttpContext.Connection.RemoteIpAddress?.ToString(), ct);
        if (!chat.Succeeded)
        {
            var query = chat.Result switch
            {
                OidcResult.EmailUnverified => "email_unverified",
                OidcResult.Banned => "banned&b=" + Uri.EscapeDataString(services.GetRequiredService<BanNotice>().Token(chat.User!.Id)),
                _ => "refused",
            };
            ctx.Response.Redirect("/login?oidc=" + query);
            return;
        }
        await SignInChatCookieAsync(ctx.HttpContext, chat.User!);
        ctx.Response.Redirect(returnUrl);
    }

    /// <summary>The chat cookie, as the password sign-in issues it ("remember me" on: the provider already asked).</summary>
    internal static async Task SignInChatCookieAsync(HttpContext http, ChatUser user)
    {
        // A server-side sign-in session, as for a password sign-in: signing out ends it (issue 20).
        var session = await http.RequestServices.GetRequiredService<SignInSessions>().StartAsync(user.Id,
            http.Connection.RemoteIpAddress?.ToString(), http.Request.Headers.UserAgent.ToString(), http.RequestAborted);
        await http.SignInAsync(PortalClaims.ChatScheme, PortalClaims.ForChatUser(user, session),
            new AuthenticationProperties { IsPersistent = true, AllowRefresh = true });
    }

    private static async Task ContinueAsync(HttpContext http, string url)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        var u = System.Net.WebUtility.HtmlEncode(url);
        await http.Response.WriteAsync(
            $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={u}\"><title>ChatPortal</title></head>" +
            $"<body><p><a id=\"continue\" href=\"{u}\">Continue · 继续</a></p></body></html>");
    }
}

/// <summary>
/// Lets the sign-in page name the reason of a ban to the one who proved to own the account (a
/// signed, 10-minute token in the redirect; the reason itself never travels in the URL).
/// </summary>
public sealed class BanNotice(IDataProtectionProvider protection, Microsoft.EntityFrameworkCore.IDbContextFactory<ChatDbContext> dbFactory)
{
    private readonly ITimeLimitedDataProtector _protector = protection.CreateProtector("ChatPortal.BanNotice.v1").ToTimeLimitedDataProtector();

    public string Token(long userId) => _protector.Protect(userId.ToString(System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));

    public async Task<(string? Reason, DateTimeOffset? Since)?> ReadAsync(string? token, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 1000) return null;
        long id;
        try
        {
            if (!long.TryParse(_protector.Unprotect(token), out id)) return null;
        }
        catch (System.Security.Cryptography.CryptographicException) { return null; }
        return await ForUserAsync(id, ct);
    }

    /// <summary>The ban of a user (after they proved to own the account), or null when not banned.</summary>
    public async Task<(string? Reason, DateTimeOffset? Since)?> ForUserAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.FirstOrDefaultAsync(db.Users, x => x.Id == userId, ct);
        return u?.BannedAt is null ? null : (u.BanReason, u.BannedAt);
    }

    /// <summary>The ban of the account with this nickname; only for a sign-in whose password was right.</summary>
    public async Task<(string? Reason, DateTimeOffset? Since)?> ForNameAsync(string name, CancellationToken ct = default)
    {
        var normalized = UserNames.Normalize(name);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.FirstOrDefaultAsync(db.Users, x => x.NormalizedName == normalized, ct);
        return u?.BannedAt is null ? null : (u.BanReason, u.BannedAt);
    }
}
