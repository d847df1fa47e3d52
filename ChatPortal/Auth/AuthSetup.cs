using System.Security.Claims;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

public static class AuthSetup
{
    public static WebApplicationBuilder AddChatPortalAuth(this WebApplicationBuilder builder)
    {
        var portal = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        var keys = Path.Combine(portal.ResolveDataPath(builder.Environment.ContentRootPath), "keys");
        // Keys in the data folder: cookies ("remember me") survive a restart, and nodes sharing the folder agree.
        builder.Services.AddDataProtection().SetApplicationName("ChatPortal").PersistKeysToFileSystem(new DirectoryInfo(keys));

        builder.Services.AddAuthentication(PortalClaims.ChatScheme)
            .AddCookie(PortalClaims.ChatScheme, o =>
            {
                o.Cookie.Name = ".ChatPortal.User";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.LoginPath = "/login";
                o.AccessDeniedPath = "/login";
                o.ExpireTimeSpan = TimeSpan.FromDays(30);
                o.SlidingExpiration = true;
                o.Events.OnValidatePrincipal = ValidateChatUserAsync;
                o.Events.OnRedirectToLogin = ApiAware(o.Events.OnRedirectToLogin, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ApiAware(o.Events.OnRedirectToAccessDenied, StatusCodes.Status403Forbidden);
            })
            .AddCookie(PortalClaims.AdminScheme, o =>
            {
                o.Cookie.Name = ".ChatPortal.Admin";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.LoginPath = "/admin/login";
                o.AccessDeniedPath = "/admin/login";
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnValidatePrincipal = ValidateAdminAsync;
                o.Events.OnRedirectToLogin = ApiAware(o.Events.OnRedirectToLogin, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ApiAware(o.Events.OnRedirectToAccessDenied, StatusCodes.Status403Forbidden);
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.ChatUser, p => p
                .AddAuthenticationSchemes(PortalClaims.ChatScheme)
                .RequireAssertion(c => c.User.ChatIdentity() is not null))
            .AddPolicy(Policies.Admin, p => p
                .AddAuthenticationSchemes(PortalClaims.AdminScheme)
                .RequireAssertion(c => c.User.AdminIdentity() is not null));

        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, PortalAuthenticationStateProvider>();
        builder.Services.Configure<AccountOptions>(builder.Configuration.GetSection(AccountOptions.Section));
        builder.Services.AddSingleton<SignInGuard>();
        builder.Services.AddSingleton<SiteAccess>();
        builder.Services.AddSingleton<ChatAccounts>();
        builder.Services.AddHostedService<NameSkeletonBackfill>();
        return builder;
    }

    /// <summary>
    /// Adds the admin identity (if any) next to the chat identity, so one principal carries
    /// both and each policy looks only at its own identity type. A chat user's cookie never
    /// makes anyone an admin.
    /// </summary>
    public static IApplicationBuilder UseAdminIdentity(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var admin = await ctx.AuthenticateAsync(PortalClaims.AdminScheme);
        if (admin.Succeeded && admin.Principal.AdminIdentity() is { } id && ctx.User.AdminIdentity() is null)
        {
            // The primary identity must be a signed-in one: Blazor's revalidating provider only
            // re-checks a circuit whose primary identity is authenticated (an admin without a chat cookie).
            if (ctx.User.Identities.Any(i => i.IsAuthenticated)) ctx.User.AddIdentity(id);
            else ctx.User = new ClaimsPrincipal(id);
        }
        await next();
    });

    public static IEndpointRouteBuilder MapChatPortalAuth(this IEndpointRouteBuilder app)
    {
        // Sign-out is a POST with antiforgery (the form carries the token). The token is checked
        // here, not by the middleware: a bad token must get a 400 with a message, whereas the
        // middleware's bodiless 400 is re-executed by the status-code pages, which read the
        // unvalidated form again and end in a 500.
        app.MapPost("/logout", async (HttpContext ctx, IAntiforgery antiforgery) =>
        {
            if (!ctx.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(ctx))
                return Results.Text("The sign-out form has expired. Reload the page and sign out again.", statusCode: StatusCodes.Status400BadRequest);
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            // End the session on the server too: a copy of the cookie (another tab, a stolen one)
            // stops working, and the session's tabs and ticket sockets close. "everywhere" ends all.
            if (ctx.User.ToChatUser() is { } user)
            {
                var sessions = ctx.RequestServices.GetRequiredService<SignInSessions>();
                if (form["everywhere"] == "true") await sessions.EndAllAsync(user.Id, ct: ctx.RequestAborted);
                else if (ctx.User.ChatSessionId() is { } sid) await sessions.EndAsync(user.Id, sid, ct: ctx.RequestAborted);
            }
            await ctx.SignOutAsync(PortalClaims.ChatScheme);
            return Results.LocalRedirect(SafeReturnUrl.Resolve(form["returnUrl"], "/login"));
        }).DisableAntiforgery();
        return app;
    }

    private static Func<RedirectContext<CookieAuthenticationOptions>, Task> ApiAware(
        Func<RedirectContext<CookieAuthenticationOptions>, Task> browser, int status) => ctx =>
    {
        if (ctx.Request.Path.StartsWithSegments("/api") || ctx.Request.Path.StartsWithSegments("/ws"))
        {
            ctx.Response.StatusCode = status;
            return Task.CompletedTask;
        }
        return browser(ctx);
    };

    private static async Task ValidateChatUserAsync(CookieValidatePrincipalContext ctx)
    {
        var users = ctx.HttpContext.RequestServices.GetRequiredService<UserDirectory>();
        var sessions = ctx.HttpContext.RequestServices.GetRequiredService<SignInSessions>();
        if (!await IsChatUserValidAsync(users, sessions, ctx.Principal))
        {
            ctx.RejectPrincipal();
            await ctx.HttpContext.SignOutAsync(PortalClaims.ChatScheme);
        }
    }

    private static async Task ValidateAdminAsync(CookieValidatePrincipalContext ctx)
    {
        var db = ctx.HttpContext.RequestServices.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        if (!await IsAdminValidAsync(db, ctx.Principal))
        {
            ctx.RejectPrincipal();
            await ctx.HttpContext.SignOutAsync(PortalClaims.AdminScheme);
        }
    }

    /// <summary>
    /// A chat cookie is valid while the account exists, is not banned, its stamp matches and its
    /// sign-in session lives (a cookie without one, from before sessions existed, is not valid: sign in again).
    /// </summary>
    internal static async Task<bool> IsChatUserValidAsync(UserDirectory users, SignInSessions sessions, ClaimsPrincipal? principal)
    {
        var id = principal.ChatIdentity();
        var user = principal.ToChatUser();
        if (id is null || user is null) return true; // nothing to validate
        var state = await users.GetAsync(user.Id);
        if (state is null || state.Banned || state.SecurityStamp != id.FindFirst(PortalClaims.Stamp)?.Value) return false;
        return await sessions.IsLiveAsync(principal.ChatSessionId(), user.Id);
    }

    internal static async Task<bool> IsAdminValidAsync(IDbContextFactory<ChatDbContext> dbFactory, ClaimsPrincipal? principal)
    {
        var id = principal.AdminIdentity();
        var admin = principal.ToAdmin();
        if (id is null || admin is null) return true;
        await using var db = await dbFactory.CreateDbContextAsync();
        var stamp = id.FindFirst(PortalClaims.Stamp)?.Value;
        return await db.Admins.AnyAsync(a => a.Id == admin.Id && !a.Disabled && a.SecurityStamp == stamp);
    }
}

/// <summary>
/// Re-checks the circuit's user every few seconds: a banned user or a disabled admin loses
/// an open page within seconds, not at the next full page load.
/// </summary>
internal sealed class PortalAuthenticationStateProvider(ILoggerFactory loggerFactory, IServiceScopeFactory scopes)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(5);

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserDirectory>();
        var sessions = scope.ServiceProvider.GetRequiredService<SignInSessions>();
        var db = scope.ServiceProvider.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        return await AuthSetup.IsChatUserValidAsync(users, sessions, state.User) && await AuthSetup.IsAdminValidAsync(db, state.User);
    }
}
