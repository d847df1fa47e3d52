using System.Text.Json;
using System.Text.Json.Serialization;
using ChatPortal.Chat;
using ChatPortal.Hosting;
using ChatPortal.WebSockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>
/// How sockets authenticate: <c>POST /api/ws/ticket</c> (signed-in web page → single-use ticket),
/// <c>POST /api/auth/token</c> (nickname + password → API token for bots and mini-programs) and
/// token revocation. Responses are never cached; tokens and passwords are never logged.
/// </summary>
public static class SocketAuthEndpoints
{
    public static IServiceCollection AddSocketAuth(this IServiceCollection services)
    {
        services.AddSingleton<SocketTickets>();
        services.TryAddSingleton<ITicketReplayGuard, LocalTicketReplayGuard>(); // the cluster puts Redis's in first
        services.AddSingleton<ApiTokens>();
        services.AddSingleton<GuestAccounts>();
        services.AddSingleton<GuestResumeTokens>();
        services.AddSingleton<SignInSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<SignInSessions>());
        return services;
    }

    public static IEndpointRouteBuilder MapSocketAuth(this IEndpointRouteBuilder app)
    {
        // Checked in the handler (the cookie is already authenticated and revalidated by then) so the
        // 401 carries a JSON body instead of being re-executed into the HTML not-found page.
        app.MapPost("/api/ws/ticket", IssueTicket).AllowAnonymous();
        app.MapPost("/api/auth/token", IssueTokenAsync).AllowAnonymous();
        app.MapDelete("/api/auth/token", RevokePresentedAsync).AllowAnonymous();
        app.MapGet("/api/auth/tokens", ListAsync).AllowAnonymous();
        app.MapDelete("/api/auth/tokens/{id:long}", RevokeByIdAsync).AllowAnonymous();
        return app;
    }

    private static IResult IssueTicket(HttpContext ctx, SocketTickets tickets, IOptions<PortalOptions> portal,
        IOptions<WebSocketEndpointOptions> socket)
    {
        // A page of another site riding on the visitor's cookie gets no ticket (the socket checks Origin too).
        if (!WebSockets.WebSocketEndpoint.OriginAllowed(ctx.Request, socket.Value, portal.Value))
            return Problem(403, "origin", "This page's origin may not ask for tickets here.");
        var user = ctx.User.ToChatUser();
        var stamp = ctx.User.ChatIdentity()?.FindFirst(PortalClaims.Stamp)?.Value;
        // The cookie was validated against its live sign-in session by the cookie handler already.
        var session = ctx.User.ChatSessionId();
        if (user is null || stamp is null || session is null)
            return Problem(401, "unauthorized", "Sign in to the web chat first; tickets are for signed-in pages.");
        NoStore(ctx);
        var ticket = tickets.Issue(user, stamp, session);
        return TypedResults.Json(new TicketResponse(ticket, (int)Math.Ceiling(tickets.Lifetime.TotalSeconds),
            SocketUrl(ctx.Request, portal.Value, socket.Value)), AuthJson.Default.TicketResponse);
    }

    private static async Task<IResult> IssueTokenAsync(HttpContext ctx, ChatAccounts accounts, ApiTokens tokens)
    {
        if (!Oidc.SignInMethods.PasswordAllowed(ctx)) return Problem(403, "password_sign_in_off", "Password sign-in is switched off here.");
        var request = await ReadTokenRequestAsync(ctx);
        if (request is null) return Problem(400, "bad_request", "Send JSON {\"name\":…,\"password\":…} or a form with name and password.");
        var outcome = await accounts.SignInOrRegisterAsync(request.Name, request.Password, ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted);
        if (!outcome.Succeeded)
        {
            return outcome.Status switch
            {
                SignInStatus.WrongPassword => Problem(401, "wrong_password", outcome.Error!),
                SignInStatus.LockedOut => Problem(429, "locked_out", outcome.Error!),
                SignInStatus.RegistrationThrottled => Problem(429, "registration_throttled", outcome.Error!),
                SignInStatus.RegistrationClosed => Problem(403, "registration_closed", outcome.Error!),
                SignInStatus.Banned => Problem(403, "banned", outcome.Error!),
                _ => Problem(400, "invalid", outcome.Error ?? "Invalid name or password."),
            };
        }
        var user = outcome.User!;
        var (token, id) = await tokens.IssueAsync(user.Id, request.Label, ctx.RequestAborted);
        NoStore(ctx);
        return TypedResults.Json(new TokenResponse(token, id, new TokenUser(user.Id, user.Name), outcome.Status == SignInStatus.Registered),
            AuthJson.Default.TokenResponse);
    }

    /// <summary>DELETE /api/auth/token with <c>Authorization: Bearer …</c>: the token revokes itself.</summary>
    private static async Task<IResult> RevokePresentedAsync(HttpContext ctx, ApiTokens tokens)
    {
        var token = BearerToken(ctx);
        if (token is null) return Problem(401, "token_required", "Send the token as 'Authorization: Bearer <token>'.");
        return await tokens.RevokeAsync(token, ctx.RequestAborted)
            ? Results.NoContent()
            : Problem(401, "token_invalid", "Unknown or already revoked token.");
    }

    private static async Task<IResult> ListAsync(HttpContext ctx, ApiTokens tokens)
    {
        var user = await CallerAsync(ctx, tokens);
        if (user is null) return Problem(401, "unauthorized", "Sign in, or send a token as 'Authorization: Bearer <token>'.");
        NoStore(ctx);
        var list = await tokens.ListAsync(user.Id, ctx.RequestAborted);
        return TypedResults.Json(list.Select(t => new TokenListItem(t.Id, t.Label, t.CreatedAt.UtcDateTime, t.LastUsedAt?.UtcDateTime,
            t.RevokedAt?.UtcDateTime)).ToList(), AuthJson.Default.ListTokenListItem);
    }

    private static async Task<IResult> RevokeByIdAsync(long id, HttpContext ctx, ApiTokens tokens)
    {
        var user = await CallerAsync(ctx, tokens);
        if (user is null) return Problem(401, "unauthorized", "Sign in, or send a token as 'Authorization: Bearer <token>'.");
        return await tokens.RevokeAsync(user.Id, id, ctx.RequestAborted)
            ? Results.NoContent()
            : Problem(404, "not_found", "No such active token of yours.");
    }

    /// <summary>The caller by bearer token, else by the chat cookie.</summary>
    private static async Task<UserRef?> CallerAsync(HttpContext ctx, ApiTokens tokens)
    {
        if (BearerToken(ctx) is { } token)
            return (await tokens.ValidateAsync(token, ctx.RequestAborted))?.User;
        return ctx.User.ToChatUser();
    }

    private static string? BearerToken(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    private static async Task<TokenRequest?> ReadTokenRequestAsync(HttpContext ctx)
    {
        try
        {
            if (ctx.Request.HasJsonContentType())
                return await JsonSerializer.DeserializeAsync(ctx.Request.Body, AuthJson.Default.TokenRequest, ctx.RequestAborted);
            if (ctx.Request.HasFormContentType)
            {
                var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
                return new TokenRequest(form["name"], form["password"], form["label"]);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or BadHttpRequestException)
        {
        }
        return null;
    }

    /// <summary>The WebSocket URL clients should use: configured, else derived from this request.</summary>
    public static string SocketUrl(HttpRequest request, PortalOptions portal, WebSocketEndpointOptions socket)
    {
        if (!string.IsNullOrWhiteSpace(portal.PublicWebSocketUrl)) return portal.PublicWebSocketUrl;
        var baseUrl = string.IsNullOrWhiteSpace(portal.PublicBaseUrl) ? $"{request.Scheme}://{request.Host}" : portal.PublicBaseUrl.TrimEnd('/');
        return baseUrl.Replace("https://", "wss://", StringComparison.OrdinalIgnoreCase)
            .Replace("http://", "ws://", StringComparison.OrdinalIgnoreCase) + socket.Path;
    }

    private static void NoStore(HttpContext ctx) => ctx.Response.Headers.CacheControl = "no-store";

    private static IResult Problem(int status, string code, string message) =>
        TypedResults.Json(new AuthError(code, message), AuthJson.Default.AuthError, statusCode: status);
}

internal sealed record TicketResponse(string Ticket, int ExpiresIn, string Url);

internal sealed record TokenRequest(string? Name, string? Password, string? Label);

internal sealed record TokenUser(long Id, string Name);

internal sealed record TokenResponse(string Token, long TokenId, TokenUser User, bool Registered);

internal sealed record TokenListItem(long Id, string? Label, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? RevokedAt);

internal sealed record AuthError(string Error, string Message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TicketResponse))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(List<TokenListItem>))]
[JsonSerializable(typeof(AuthError))]
internal sealed partial class AuthJson : JsonSerializerContext;
