using ChatPortal.Admin;
using ChatPortal.Chat.Governance;

namespace ChatPortal.Auth;

public static class AccountDataEndpoints
{
    /// <summary>GET /account/export: the signed-in chat user's own data as a ZIP, streamed (see <see cref="DataExport.WriteUserAsync"/>).</summary>
    public static IEndpointRouteBuilder MapAccountData(this IEndpointRouteBuilder app)
    {
        app.MapGet("/account/export", (HttpContext ctx, DataExport export) =>
        {
            var user = ctx.User.ToChatUser();
            if (user is null || user.IsGuest) return Results.Forbid();
            return new ZipDownload($"chatportal-{user.Id}-{DateTime.UtcNow:yyyyMMdd}.zip", (body, ct) => export.WriteUserAsync(user.Id, body, ct));
        }).RequireAuthorization(Policies.ChatUser);
        return app;
    }
}
