using ChatPortal.Admin;
using ChatPortal.Chat;

namespace ChatPortal.Api;

/// <summary>
/// Every API error is problem+json (RFC 9457) with a stable <c>type</c> (<c>urn:chatportal:problem:{code}</c>), the same
/// <c>code</c> as an extension (the codes the core and the socket protocol already use) and a readable <c>detail</c>.
/// </summary>
public static class ApiProblems
{
    public const string TypePrefix = "urn:chatportal:problem:";

    public static IResult Problem(int status, string code, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: Title(status), type: TypePrefix + code,
            extensions: new Dictionary<string, object?> { ["code"] = code });

    /// <summary>A core error with the status that fits its code.</summary>
    public static IResult From(ChatError error) => Problem(StatusOf(error.Code), error.Code, error.Message);

    public static IResult From(AdminResult result) =>
        Problem(StatusOf(result.ErrorCode ?? "invalid"), result.ErrorCode ?? "invalid", result.Message ?? "The request was refused.");

    public static IResult NotFound(string what) => Problem(StatusCodes.Status404NotFound, "not_found", $"{what} was not found.");

    public static IResult BadRequest(string detail, string code = "bad_request") => Problem(StatusCodes.Status400BadRequest, code, detail);

    public static int StatusOf(string code) => code switch
    {
        "not_found" or "no_such_user" or "user_not_found" or "room_not_found" or "admin_not_found" => StatusCodes.Status404NotFound,
        "forbidden" or "banned" or "muted" or "not_public" or "guest" or "insufficient_scope" or "not_admin" => StatusCodes.Status403Forbidden,
        "archived" or "default_room" or "not_editable" or "slug_taken" or "name_taken" or "conflict" => StatusCodes.Status409Conflict,
        "rate_limited" => StatusCodes.Status429TooManyRequests,
        "filtered" => StatusCodes.Status422UnprocessableEntity,
        "storage_failed" or "unavailable" => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    private static string Title(int status) => status switch
    {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        422 => "Unprocessable content",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Error",
    };
}
