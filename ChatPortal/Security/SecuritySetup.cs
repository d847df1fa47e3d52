using System.Collections.Concurrent;
using System.Security.Cryptography;
using ChatPortal.Auth;
using ChatPortal.Hosting;
using Microsoft.AspNetCore.SignalR;

namespace ChatPortal.Security;

/// <summary>Settings of the web hardening (section <c>Security</c>); docs/security.md explains each.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>
    /// Failed sign-in attempts (form POST and token endpoint together) one client address may make per
    /// window; after that every attempt from it gets 429 until the window ends. Successful sign-ins do not count.
    /// </summary>
    public int SignInFailuresPerAddress { get; set; } = 20;
    public double SignInWindowSeconds { get; set; } = 60;

    /// <summary>Blazor circuits (open tabs) one signed-in user may hold at once.</summary>
    public int MaxCircuitsPerUser { get; set; } = 20;

    /// <summary>Largest message a Blazor circuit may send to the server (SignalR <c>MaximumReceiveMessageSize</c>).</summary>
    public long MaxCircuitMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Whether to send the Content-Security-Policy header (off only to diagnose a broken deployment).</summary>
    public bool ContentSecurityPolicy { get; set; } = true;
}

public static class SecuritySetup
{
    public const string NonceKey = "chatportal.csp-nonce";

    public static WebApplicationBuilder AddChatPortalSecurity(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(SecurityOptions.Section);
        builder.Services.Configure<SecurityOptions>(section);
        var o = section.Get<SecurityOptions>() ?? new SecurityOptions();
        builder.Services.AddSingleton<CircuitCap>();
        builder.Services.AddSingleton<SignInThrottle>();
        // The circuits' hub only (Blazor's ComponentHub), not the global SignalR defaults.
        builder.Services.AddRazorComponents().AddInteractiveServerComponents().AddHubOptions(h =>
        {
            h.MaximumReceiveMessageSize = Math.Max(1024, o.MaxCircuitMessageBytes);
            h.AddFilter<CircuitCapFilter>();
        });
        return builder;
    }

    internal static bool IsSignInAttempt(HttpRequest r) =>
        HttpMethods.IsPost(r.Method) && (r.Path.Equals("/login", StringComparison.OrdinalIgnoreCase)
                                         || r.Path.Equals("/admin/login", StringComparison.OrdinalIgnoreCase)
                                         || r.Path.Equals("/api/auth/token", StringComparison.OrdinalIgnoreCase));

    /// <summary>Security headers on every response, then the sign-in limiter.</summary>
    public static IApplicationBuilder UseChatPortalSecurity(this WebApplication app)
    {
        var o = app.Configuration.GetSection(SecurityOptions.Section).Get<SecurityOptions>() ?? new SecurityOptions();
        var portal = app.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        var imageOrigin = Uri.TryCreate(portal.PublicImageBaseUrl, UriKind.Absolute, out var img) ? " " + img.GetLeftPart(UriPartial.Authority) : "";
        app.Use((ctx, next) =>
        {
            var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            ctx.Items[NonceKey] = nonce;
            ctx.Response.OnStarting(() =>
            {
                var h = ctx.Response.Headers;
                h.XContentTypeOptions = "nosniff";
                h.XFrameOptions = "DENY";
                h["Referrer-Policy"] = "same-origin";
                h["Cross-Origin-Opener-Policy"] = "same-origin";
                // The client kit's sample pages (/clients/) are static demos with inline scripts, not the app.
                if (o.ContentSecurityPolicy && !ctx.Request.Path.StartsWithSegments("/clients"))
                {
                    // Blazor Server needs its own scripts and the socket to itself; MudBlazor sets inline
                    // styles, hence 'unsafe-inline' for styles only. The import map is inline: it gets the nonce.
                    h.ContentSecurityPolicy =
                        $"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; " +
                        $"img-src 'self' data: blob:{imageOrigin}; connect-src 'self'; font-src 'self' data:; object-src 'none'; " +
                        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
                }
                return Task.CompletedTask;
            });
            return next(ctx);
        });
        app.UseMiddleware<SignInThrottleMiddleware>();
        return app;
    }

    /// <summary>The per-request nonce for an inline script (the import map).</summary>
    public static string? CspNonce(this HttpContext? ctx) => ctx?.Items[NonceKey] as string;
}

/// <summary>Open Blazor circuits per signed-in user.</summary>
internal sealed class CircuitCap
{
    private readonly ConcurrentDictionary<long, int> _open = new();

    public bool TryEnter(long userId, int max)
    {
        var now = _open.AddOrUpdate(userId, 1, (_, n) => n + 1);
        if (max <= 0 || now <= max) return true;
        Leave(userId);
        return false;
    }

    public void Leave(long userId)
    {
        while (_open.TryGetValue(userId, out var n))
        {
            if (n <= 1 ? _open.TryRemove(new KeyValuePair<long, int>(userId, n)) : _open.TryUpdate(userId, n - 1, n)) return;
        }
    }
}

/// <summary>
/// Refuses a circuit's hub connection beyond the per-user cap: one account cannot pin unbounded
/// server memory by opening tabs (each circuit holds a render tree).
/// </summary>
internal sealed class CircuitCapFilter(CircuitCap cap, Microsoft.Extensions.Options.IOptions<SecurityOptions> options, ILogger<CircuitCapFilter> log) : IHubFilter
{
    private const string CountedKey = "chatportal.circuit-counted";

    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        if (context.Context.User.ToChatUser() is { } user)
        {
            if (!cap.TryEnter(user.Id, options.Value.MaxCircuitsPerUser))
            {
                // Abort rather than throw: a throw here is logged by SignalR as a server error.
                log.LogWarning("User {UserId} has too many open circuits; refusing another", user.Id);
                context.Context.Abort();
                return;
            }
            context.Context.Items[CountedKey] = user.Id;
            try
            {
                await next(context);
            }
            catch
            {
                if (context.Context.Items.Remove(CountedKey)) cap.Leave(user.Id);
                throw;
            }
            return;
        }
        await next(context);
    }

    public async Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        try
        {
            await next(context, exception);
        }
        finally
        {
            if (context.Context.Items.Remove(CountedKey, out var id) && id is long userId) cap.Leave(userId);
        }
    }
}
