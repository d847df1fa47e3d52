using System.Text;
using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace ChatPortal.Integrations;

/// <summary>
/// <c>POST /hooks/{secret}</c>: an incoming webhook (docs/webhooks.md). Accepts a JSON body, or a form with the JSON in
/// <c>payload</c> (Slack's and Mattermost's two forms). Replies <c>200 ok</c> once stored; <c>400</c> with the reason for
/// a bad payload, <c>404</c> for an unknown secret, <c>403</c> for a room the hook may not post to, <c>429</c> over its rate.
/// Plain text replies, as Slack's; no cookies are read and no antiforgery applies (the secret in the URL is the credential).
/// </summary>
internal static class HookEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/hooks/{token}", IncomingAsync).DisableAntiforgery();
        app.MapPost("/hooks/respond/{token}", RespondAsync).DisableAntiforgery();
    }

    private static async Task<IResult> IncomingAsync(string token, HttpContext ctx, IncomingHooks hooks, IOptions<IntegrationOptions> options)
    {
        var max = options.Value.IncomingMaxBytes;
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = max;
        if (ctx.Request.ContentLength > max) return Results.Text($"The body is larger than {max} bytes.", statusCode: 413);
        ChatResult<IncomingPost> parsed;
        try
        {
            parsed = await ReadAsync(ctx.Request, max, ctx.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413)
        {
            return Results.Text($"The body is larger than {max} bytes.", statusCode: 413);
        }
        catch (InvalidDataException)
        {
            return Results.Text("The form could not be read.", statusCode: 400);
        }
        if (!parsed.Ok) return Results.Text(parsed.Error!.Message, statusCode: 400);
        var posted = await hooks.PostAsync(token, parsed.Value!, ctx.RequestAborted);
        if (posted.Ok) return Results.Text("ok");
        var e = posted.Error!;
        var status = e.Code switch
        {
            "not_found" => 404,
            "rate_limited" => 429,
            "channel_refused" or "forbidden" or "archived" or "muted" or "banned" => 403,
            "storage_failed" or "unavailable" => 503,
            _ => 400, // too_long, filtered, empty: the payload's fault
        };
        return Results.Text(e.Message, statusCode: status);
    }

    /// <summary>A custom command's late reply (<c>response_url</c>): JSON <c>{"response_type","text"}</c>, at most 5 per invocation, for 30 minutes.</summary>
    private static async Task<IResult> RespondAsync(string token, HttpContext ctx, CustomCommands custom, IOptions<IntegrationOptions> options)
    {
        var max = options.Value.IncomingMaxBytes;
        if (ctx.Request.ContentLength > max) return Results.Text($"The body is larger than {max} bytes.", statusCode: 413);
        string body;
        if (ctx.Request.HasFormContentType)
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            body = form.TryGetValue("payload", out var p) ? p.ToString() : "";
        }
        else
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(ctx.RequestAborted);
        }
        if (body.Length > max) return Results.Text($"The body is larger than {max} bytes.", statusCode: 413);
        var done = await custom.RespondAsync(token, body, ctx.RequestAborted);
        if (done.Ok) return Results.Text("ok");
        return Results.Text(done.Error!.Message, statusCode: done.Error.Code switch
        {
            "not_found" => 404,
            "used_up" => 410,
            "bad_payload" or "too_long" or "filtered" or "empty" => 400,
            _ => 403,
        });
    }

    private static async Task<ChatResult<IncomingPost>> ReadAsync(HttpRequest request, int max, CancellationToken ct)
    {
        var type = request.ContentType ?? "";
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            if (form.TryGetValue("payload", out var payload)) return SlackPayload.Parse(payload.ToString());
            return new ChatError("bad_payload", "A form post needs the JSON in the \"payload\" field.");
        }
        if (type.Length > 0 && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
            return new ChatError("bad_payload", "Send JSON (Content-Type: application/json) or a form with a \"payload\" field.");
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(ct);
        if (body.Length > max) return new ChatError("bad_payload", $"The body is larger than {max} bytes.");
        return SlackPayload.Parse(body);
    }
}
