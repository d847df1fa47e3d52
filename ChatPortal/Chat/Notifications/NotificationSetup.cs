using System.Text.Json.Serialization;
using ChatPortal.Auth;
using ChatPortal.Email;

namespace ChatPortal.Chat.Notifications;

internal sealed record PushKeyResponse(string PublicKey);

internal sealed record PushSubscribeRequest(string? Endpoint, PushSubscribeKeys? Keys);

internal sealed record PushSubscribeKeys(string? P256dh, string? Auth);

internal sealed record PushProblem(string Error, string Message);

[JsonSerializable(typeof(PushKeyResponse))]
[JsonSerializable(typeof(PushSubscribeRequest))]
[JsonSerializable(typeof(PushProblem))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class PushJson : JsonSerializerContext;

public static class NotificationSetup
{
    /// <summary>Notification settings, Web Push (VAPID keys, subscriptions, sender) and the email digest.</summary>
    public static WebApplicationBuilder AddChatPortalNotifications(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<NotificationOptions>(builder.Configuration.GetSection(NotificationOptions.Section));
        s.AddChatPortalEmail(builder.Configuration);
        s.AddSingleton<NotificationSettings>();
        s.AddSingleton<VapidKeys>();
        s.AddSingleton<PushSubscriptions>();
        s.AddSingleton<PushSender>();
        s.AddSingleton<NotificationInbox>();
        s.AddSingleton<IStoredEventObserver>(sp => sp.GetRequiredService<NotificationInbox>());
        s.AddSingleton<NotificationDispatcher>();
        s.AddHostedService(sp => sp.GetRequiredService<NotificationDispatcher>());
        s.AddSingleton<EmailDigest>();
        s.AddHostedService(sp => sp.GetRequiredService<EmailDigest>());
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalNotifications(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/push/key", (VapidKeys keys) => TypedResults.Json(new PushKeyResponse(keys.PublicKey), PushJson.Default.PushKeyResponse));
        // Called by our own pages' script (fetch with the cookie): same origin and a custom header
        // (which a cross-site form cannot send and a cross-site fetch cannot send without a CORS
        // preflight we never grant) stand in for the antiforgery token.
        app.MapPost("/api/push/subscriptions", async (HttpContext ctx, PushSubscriptions subscriptions) =>
        {
            if (Refuse(ctx) is { } refused) return refused;
            var body = await ReadAsync(ctx);
            if (body is null) return Problem(400, "bad_request", "Send the browser's PushSubscription as JSON.");
            var error = await subscriptions.AddAsync(ctx.User.ToChatUser()!.Id, body.Endpoint, body.Keys?.P256dh, body.Keys?.Auth, ctx.RequestAborted);
            return error is null ? Results.NoContent() : Problem(400, "invalid_subscription", error);
        }).DisableAntiforgery();
        app.MapPost("/api/push/subscriptions/delete", async (HttpContext ctx, PushSubscriptions subscriptions) =>
        {
            if (Refuse(ctx) is { } refused) return refused;
            var body = await ReadAsync(ctx);
            await subscriptions.RemoveAsync(ctx.User.ToChatUser()!.Id, body?.Endpoint, ctx.RequestAborted);
            return Results.NoContent();
        }).DisableAntiforgery();
        // RFC 8058 one-click unsubscribe: a POST from the mail client, authorised by the signed token alone.
        app.MapPost("/email/unsubscribe/one-click", async (string? t, EmailLinks links, NotificationSettings settings, CancellationToken ct) =>
        {
            if (links.ReadUnsubscribeToken(t) is not { } userId) return Results.BadRequest();
            await settings.UnsubscribeDigestAsync(userId, ct);
            return Results.Text("Unsubscribed. · 已退订。");
        }).DisableAntiforgery();
        return app;
    }

    private static IResult? Refuse(HttpContext ctx)
    {
        if (!SameOrigin(ctx.Request) || ctx.Request.Headers["X-ChatPortal"] != "1")
            return Problem(403, "origin", "Only the portal's own pages may manage push subscriptions.");
        if (ctx.User.ToChatUser() is not { IsGuest: false }) return Problem(401, "unauthorized", "Sign in first.");
        return null;
    }

    internal static bool SameOrigin(HttpRequest r)
    {
        var origin = r.Headers.Origin.ToString();
        return origin.Length > 0 && string.Equals(origin.TrimEnd('/'), $"{r.Scheme}://{r.Host}", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<PushSubscribeRequest?> ReadAsync(HttpContext ctx)
    {
        if (ctx.Request.ContentLength is > 8192) return null;
        try { return await ctx.Request.ReadFromJsonAsync(PushJson.Default.PushSubscribeRequest, ctx.RequestAborted); }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException) { return null; }
    }

    private static IResult Problem(int status, string code, string message) =>
        TypedResults.Json(new PushProblem(code, message), PushJson.Default.PushProblem, statusCode: status);
}
