using System.Collections.Concurrent;
using System.Net.WebSockets;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace ChatPortal.WebSockets;

public static class WebSocketSetup
{
    public static WebApplicationBuilder AddChatPortalWebSockets(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<WebSocketEndpointOptions>(builder.Configuration.GetSection(WebSocketEndpointOptions.Section));
        s.AddSocketAuth();
        s.AddSingleton<PlainWireFormat>();
        s.AddSingleton<V1WireFormat>();
        s.AddSingleton<WebSocketMetrics>();
        s.AddSingleton<SocketServices>();
        s.AddSingleton<SocketRegistry>();
        return builder;
    }

    /// <summary>The socket endpoint (plain and <c>chatportal.v1</c>) on the web UI's port, plus ticket and token endpoints.</summary>
    public static WebApplication MapChatPortalWebSockets(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<WebSocketEndpointOptions>>().Value;
        // Upgrade requests took the early branch (UseChatPortalSocketEndpoint); anything else sent to
        // the socket path gets its explanation here, with the usual security headers.
        app.Map(options.Path, (HttpContext ctx) => WebSocketEndpoint.HandleAsync(ctx, ctx.RequestServices.GetRequiredService<SocketServices>(),
            ctx.RequestServices.GetRequiredService<SocketRegistry>(), ctx.RequestServices.GetRequiredService<IOptions<PortalOptions>>().Value)).AllowAnonymous().WithDisplayName("ChatPortal WebSocket");
        app.MapSocketAuth();
        return app;
    }

    /// <summary>
    /// Upgrade requests to the socket path branch off the pipeline early, before localization, authentication,
    /// antiforgery, status pages and the security headers: sockets authenticate in the protocol
    /// (ticket, token or guest), not by cookie, and every middleware still on the stack of an open
    /// socket stays in memory as long as the socket lives (about 3 KiB each for 10,000 idle sockets).
    /// </summary>
    public static IApplicationBuilder UseChatPortalSocketEndpoint(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<WebSocketEndpointOptions>>().Value;
        app.Services.GetRequiredService<WebSocketMetrics>(); // creates the gauges now, so /metrics shows 0 before the first socket
        var path = new PathString(options.Path);
        app.MapWhen(ctx => ctx.Request.Path.Equals(path, StringComparison.OrdinalIgnoreCase)
            && ctx.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true, branch =>
        {
            LingeringUpgradeFeature.UseLingeringUpgrade(branch, path);
            branch.UseWebSockets();
            // The singletons are taken here, not from RequestServices: that would make a request scope
            // that lives as long as the socket.
            var services = app.Services.GetRequiredService<SocketServices>();
            var registry = app.Services.GetRequiredService<SocketRegistry>();
            var portal = app.Services.GetRequiredService<IOptions<PortalOptions>>().Value;
            branch.Run(ctx => WebSocketEndpoint.HandleAsync(ctx, services, registry, portal));
        });
        return app;
    }
}

/// <summary>The upgrade: origin check, subprotocol choice, per-address cap, then one <see cref="SocketConnection"/>.</summary>
internal static class WebSocketEndpoint
{
    public static async Task HandleAsync(HttpContext ctx, SocketServices services, SocketRegistry registry, PortalOptions portal)
    {
        var o = services.Options;

        if (!ctx.WebSockets.IsWebSocketRequest)
        {
            await RefuseAsync(ctx, services, StatusCodes.Status400BadRequest, "not_websocket",
                "This is ChatPortal's WebSocket endpoint: connect with a WebSocket client (see /clients/demo.html and docs/protocol.md).");
            return;
        }
        if (!OriginAllowed(ctx.Request, o, portal))
        {
            await RefuseAsync(ctx, services, StatusCodes.Status403Forbidden, "origin", "This page's origin may not open sockets here.");
            return;
        }
        var requested = ctx.WebSockets.WebSocketRequestedProtocols;
        string? subprotocol = null;
        if (requested.Count > 0)
        {
            if (!requested.Contains(V1Protocol.Name, StringComparer.Ordinal))
            {
                await RefuseAsync(ctx, services, StatusCodes.Status400BadRequest, "subprotocol",
                    $"Unsupported subprotocol. Use \"{V1Protocol.Name}\", or none for the plain protocol.");
                return;
            }
            subprotocol = V1Protocol.Name;
        }
        var ip = ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (!registry.TryReserve(ip))
        {
            await RefuseAsync(ctx, services, StatusCodes.Status429TooManyRequests, "per_ip_cap", "Too many open sockets from this address.");
            return;
        }
        try
        {
            // Rooms to join once authenticated (v1): checked before the upgrade, so a malformed list gets an HTTP answer.
            IReadOnlyList<UpgradeJoin>? joins = null;
            if (ctx.Request.Query.TryGetValue("join", out var joinValues))
            {
                if (subprotocol is null)
                {
                    await RefuseAsync(ctx, services, StatusCodes.Status400BadRequest, "join_plain",
                        "\"join\" is for the " + V1Protocol.Name + " subprotocol; the plain protocol joins the room named by \"room\".");
                    return;
                }
                if (!UpgradeJoin.TryParse(joinValues, out joins, out var joinError))
                {
                    await RefuseAsync(ctx, services, StatusCodes.Status400BadRequest, "join", joinError);
                    return;
                }
            }
            // A bot may present its API token on the upgrade (Authorization: Bearer cpt_…, as Mattermost's bots do):
            // decided before the socket exists, so a bad token gets an HTTP answer, and a good one its welcome right
            // after hello. Browsers cannot set this header on a WebSocket, so the cookie still opens nothing.
            ApiTokenGrant? bearer = null;
            if (BearerToken(ctx.Request) is { } token)
            {
                if (subprotocol is null)
                {
                    await RefuseAsync(ctx, services, StatusCodes.Status400BadRequest, "bearer_plain",
                        $"A token on the upgrade needs the \"{V1Protocol.Name}\" subprotocol; the plain protocol is for guests.");
                    return;
                }
                bearer = await services.Tokens.AuthenticateAsync(token, ctx.RequestAborted);
                if (bearer is null)
                {
                    ctx.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                    await RefuseAsync(ctx, services, StatusCodes.Status401Unauthorized, "token_invalid",
                        "The token is unknown, revoked or expired (or its user is banned).");
                    return;
                }
                if (!bearer.Scopes.HasFlag(ApiScopes.Read | ApiScopes.Write))
                {
                    ctx.Response.Headers.WWWAuthenticate = "Bearer error=\"insufficient_scope\"";
                    await RefuseAsync(ctx, services, StatusCodes.Status403Forbidden, "insufficient_scope",
                        $"{V1Protocol.Name} needs a token with the 'read' and 'write' scopes.");
                    return;
                }
            }
            using var ws = await ctx.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = subprotocol,
                KeepAliveInterval = o.KeepAliveInterval,
                KeepAliveTimeout = o.KeepAliveTimeout,
            });
            string? room = ctx.Request.Query["room"];
            var conn = new SocketConnection(ws, services, ip, c => subprotocol is null ? new PlainProtocol(c, room) : new V1Protocol(c, bearer, joins),
                (ctx.Features.Get<IHttpUpgradeFeature>() as LingeringUpgradeFeature)?.Stream as KeepOpenStream);
            var kind = conn.Protocol.Kind;
            services.Metrics.Opened(kind);
            registry.Add(conn);
            try
            {
                await conn.RunAsync();
            }
            finally
            {
                registry.Remove(conn);
                services.Metrics.Closed(kind);
            }
            // Unless the closing handshake completed, a close frame of ours (the framework's after a protocol
            // error, or one whose answer never came) may still be on its way: read until the client's close
            // (bounded), or the reset of ending now could destroy that frame before the client reads it.
            // A client that is already gone ends the linger at once (end of stream).
            // Not at a stop: the 1012 went out and had its wait (the client's answer arriving later meets a closed
            // connection, after the client read the close).
            if ((conn.ClosedOnProtocolError || ws.State != WebSocketState.Closed) && !conn.ClosedForShutdown
                && ctx.Features.Get<IHttpUpgradeFeature>() is LingeringUpgradeFeature { Stream: { } raw })
                await CloseLinger.DrainUntilCloseAsync(raw, CloseLinger.Budget, CloseLinger.Timeout);
        }
        finally
        {
            registry.Release(ip);
        }
    }

    /// <summary>
    /// Browsers always send Origin; a page from another site must not ride on a visitor's session
    /// (cross-site WebSocket hijacking). Same origin passes, so do the configured ones; clients
    /// without an Origin are not browsers and still have to authenticate.
    /// </summary>
    internal static bool OriginAllowed(HttpRequest request, WebSocketEndpointOptions o, PortalOptions portal)
    {
        var origin = request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin)) return true;
        if (o.AllowedOrigins.Contains("*")) return true;
        if (Same(origin, $"{request.Scheme}://{request.Host}")) return true;
        if (!string.IsNullOrWhiteSpace(portal.PublicBaseUrl) && Uri.TryCreate(portal.PublicBaseUrl, UriKind.Absolute, out var pub)
            && Same(origin, pub.GetLeftPart(UriPartial.Authority)))
            return true;
        return o.AllowedOrigins.Any(a => Same(origin, a.Trim().TrimEnd('/')));
    }

    /// <summary>
    /// An API token of ours in the Authorization header (<c>Bearer cpt_…</c>), else null: other schemes and other
    /// bearer tokens (a proxy's basic auth, an identity proxy's JWT) are not credentials of this endpoint.
    /// </summary>
    internal static string? BearerToken(HttpRequest request)
    {
        foreach (var value in request.Headers.Authorization)
        {
            if (value is null || !value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) continue;
            var token = value.AsSpan(7).Trim();
            if (token.StartsWith(ApiTokens.Prefix, StringComparison.Ordinal)) return token.ToString();
        }
        return null;
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static async Task RefuseAsync(HttpContext ctx, SocketServices services, int status, string reason, string message)
    {
        services.Metrics.Refused(reason);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        ctx.Response.Headers.XContentTypeOptions = "nosniff"; // this path skips the security-header middleware
        await ctx.Response.WriteAsync(message);
    }
}

/// <summary>
/// Open sockets of this node: the per-address cap, a revoked API token's sockets ended on every node (through the
/// core's sessions), and a clean 1012 (service restart) for everyone when the server stops, so clients come back at once.
/// </summary>
internal sealed class SocketRegistry
{
    private readonly ConcurrentDictionary<SocketConnection, byte> _open = new();
    private readonly ConcurrentDictionary<string, int> _perIp = new();
    private readonly WebSocketEndpointOptions _options;

    public SocketRegistry(IOptions<WebSocketEndpointOptions> options, ApiTokens tokens, ChatSessions sessions, IHostApplicationLifetime lifetime)
    {
        _options = options.Value;
        // Every node's sessions of that token end (SessionRevoked through the backplane); each closes its socket with 1008 token_revoked.
        tokens.Revoked += sessions.RevokeToken;
        lifetime.ApplicationStopping.Register(() =>
        {
            foreach (var c in _open.Keys) _ = Task.Run(c.CloseForShutdownAsync);
        });
    }

    /// <summary>1012: the server is restarting (RFC 6455 registry); clients reconnect without waiting for a backoff step.</summary>
    public const WebSocketCloseStatus ServiceRestart = (WebSocketCloseStatus)1012;

    public int Count => _open.Count;

    /// <summary>Frames waiting in all open sockets' send queues.</summary>
    public long QueuedFrames => _open.Keys.Sum(c => (long)c.QueuedFrames);

    public bool TryReserve(string ip)
    {
        var max = _options.MaxConnectionsPerIp;
        var now = _perIp.AddOrUpdate(ip, 1, (_, n) => n + 1);
        if (max <= 0 || now <= max) return true;
        Release(ip);
        return false;
    }

    public void Release(string ip)
    {
        while (_perIp.TryGetValue(ip, out var n))
        {
            if (n <= 1 ? _perIp.TryRemove(new KeyValuePair<string, int>(ip, n)) : _perIp.TryUpdate(ip, n - 1, n)) return;
        }
    }

    public void Add(SocketConnection c) => _open.TryAdd(c, 0);

    public void Remove(SocketConnection c) => _open.TryRemove(c, out _);
}

/// <summary>
/// A room named on a <c>chatportal.v1</c> upgrade request (<c>GET /ws?join=lobby:120&amp;join=dev</c>, or
/// <c>?join=lobby:120,dev</c>): its slug and, after a colon, the last event id the client has (the catch-up starts
/// after it, as a <c>join</c> frame's <c>since</c>). The socket joins these rooms as soon as it is authenticated.
/// </summary>
internal sealed record UpgradeJoin(string Room, long? Since)
{
    public const int MaxSlugLength = 80;
    /// <summary>
    /// A bound on the list itself; rooms past the socket's limit (<c>WebSockets:MaxRoomsPerConnection</c>) are not
    /// refused here but answered <c>too_many_rooms</c> once the socket is open, as join frames past it would be (a client
    /// cannot know the limit before it connects).
    /// </summary>
    public const int MaxRooms = 1000;

    /// <summary>Every value, comma-separated items each <c>slug</c> or <c>slug:since</c>; none twice.</summary>
    public static bool TryParse(IEnumerable<string?> values, out IReadOnlyList<UpgradeJoin>? joins, out string error)
    {
        var list = new List<UpgradeJoin>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        joins = null;
        foreach (var value in values)
        {
            foreach (var raw in (value ?? "").Split(',', StringSplitOptions.TrimEntries))
            {
                if (raw.Length == 0) continue;
                var colon = raw.IndexOf(':');
                var slug = colon < 0 ? raw : raw[..colon];
                long? since = null;
                if (colon >= 0)
                {
                    if (!long.TryParse(raw.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
                    {
                        error = $"\"join\": \"{Shorten(raw)}\" — after the colon comes the last event id you have (a number).";
                        return false;
                    }
                    since = n;
                }
                if (!ValidSlug(slug))
                {
                    error = $"\"join\": \"{Shorten(slug)}\" is not a room's slug (lowercase letters, digits and dashes).";
                    return false;
                }
                if (!named.Add(slug))
                {
                    error = $"\"join\": the room \"{slug}\" is named twice.";
                    return false;
                }
                list.Add(new UpgradeJoin(slug, since));
                if (list.Count > MaxRooms)
                {
                    error = $"\"join\": at most {MaxRooms} rooms.";
                    return false;
                }
            }
        }
        if (list.Count == 0)
        {
            error = "\"join\" names no room: ?join=lobby or ?join=lobby:120 (the last event id you have).";
            return false;
        }
        (joins, error) = (list, "");
        return true;
    }

    private static bool ValidSlug(string s)
    {
        if (s.Length is 0 or > MaxSlugLength) return false;
        foreach (var c in s)
            if (c is not (>= 'a' and <= 'z' or >= '0' and <= '9' or '-')) return false;
        return true;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
