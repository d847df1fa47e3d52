using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ChatPortal.Api;

/// <summary>
/// Reads a JSON body itself instead of letting the framework bind it: a bad body must get a problem+json with a clear
/// detail (the framework's bodiless 400 would be re-executed into the HTML not-found page), and nothing is done.
/// </summary>
public static class ApiBody
{
    public const int MaxBytes = 64 * 1024;

    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpContext ctx) where T : class
    {
        if (!ctx.Request.HasJsonContentType())
            return (null, ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json."));
        if (ctx.Request.ContentLength > MaxBytes)
            return (null, ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, "too_large", $"The body is larger than {MaxBytes} bytes."));
        var options = ctx.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(ctx.Request.Body, options, ctx.RequestAborted);
            return value is null ? (null, ApiProblems.BadRequest("The body is empty; send a JSON object.", "bad_json")) : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiProblems.BadRequest($"The body is not valid JSON for this request: {ex.Message}", "bad_json"));
        }
    }
}
