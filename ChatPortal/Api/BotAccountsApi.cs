using ChatPortal.Admin;

namespace ChatPortal.Api;

public sealed record CreateBotRequest(string? Name);
public sealed record BotTokenRequest(string? Label);
public sealed record BotTokenView(long BotId, string Token, long TokenId);

/// <summary>Bot accounts over HTTP (admin scope): the same <see cref="AdminBotAccounts"/> calls as the back office's Bots page.</summary>
public static class BotAccountsApi
{
    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/bot-accounts", async (HttpContext ctx, AdminBotAccounts b) => TypedResults.Ok(await b.ListAsync(AdminApi.Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("Bot accounts made in the back office");
        admin.MapPost("/bot-accounts", async (HttpContext ctx, AdminBotAccounts b) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<CreateBotRequest>(ctx);
            if (body is null) return bad!;
            var r = await b.CreateAsync(AdminApi.Caller(ctx)!, body.Name, ctx.RequestAborted);
            return r.Ok ? TypedResults.Created($"/api/v1/users/{r.Value!.Bot.Id}", new BotTokenView(r.Value.Bot.Id, r.Value.Token, r.Value.TokenId))
                : ApiProblems.From(r.Status);
        }).WithSummary("Create a bot account and its first token (shown once)").Accepts<CreateBotRequest>("application/json").Produces<BotTokenView>(201);
        admin.MapPost("/bot-accounts/{id:long}/tokens", async (long id, HttpContext ctx, AdminBotAccounts b) =>
        {
            BotTokenRequest? body = null;
            if (ctx.Request.ContentLength > 0)
            {
                (body, var bad) = await ApiBody.ReadAsync<BotTokenRequest>(ctx);
                if (body is null) return bad!;
            }
            var r = await b.IssueTokenAsync(AdminApi.Caller(ctx)!, id, body?.Label, ctx.RequestAborted);
            return r.Ok ? TypedResults.Ok(new BotTokenView(id, r.Value.Token, r.Value.Id)) : ApiProblems.From(r.Status);
        }).WithSummary("Another token for a bot (shown once)").Produces<BotTokenView>();
        admin.MapDelete("/bot-accounts/{id:long}/tokens", async (long id, HttpContext ctx, AdminBotAccounts b) =>
            AdminApi.Done(await b.RevokeTokensAsync(AdminApi.Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Revoke all of a bot's tokens").Produces(204);
        admin.MapPost("/bot-accounts/{id:long}/disable", async (long id, HttpContext ctx, AdminBotAccounts b) =>
            AdminApi.Done(await b.SetDisabledAsync(AdminApi.Caller(ctx)!, id, true, ctx.RequestAborted))).WithSummary("Disable a bot (its tokens end)").Produces(204);
        admin.MapPost("/bot-accounts/{id:long}/enable", async (long id, HttpContext ctx, AdminBotAccounts b) =>
            AdminApi.Done(await b.SetDisabledAsync(AdminApi.Caller(ctx)!, id, false, ctx.RequestAborted))).WithSummary("Enable a bot again").Produces(204);
        admin.MapDelete("/bot-accounts/{id:long}", async (long id, HttpContext ctx, AdminBotAccounts b) =>
            AdminApi.Done(await b.DeleteAsync(AdminApi.Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Delete a bot account").Produces(204);
    }
}
