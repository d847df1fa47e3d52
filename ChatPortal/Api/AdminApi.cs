using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Chat.Governance;

namespace ChatPortal.Api;

public sealed record AdminCreateRequest(string? Name, string? Password);
public sealed record MuteRequest(int? Minutes, string? Reason);
public sealed record BanRequest(string? Reason);
public sealed record ArchiveRequest(bool Archived = true);
public sealed record RetentionRequest(int? Days);
public sealed record RunRetentionRequest(long? RoomId);
public sealed record SlackImportRequest(string? Path);
public sealed record WordFilterRequest(WordFilterMode? Mode, IReadOnlyList<string>? Words);
public sealed record SiteAccessRequest(RegistrationMode? Registration, bool? GuestsAllowed, bool NewInvite = false);
public sealed record BotSwitchRequest(long? RoomId, bool? Enabled);
public sealed record AdminRoomRequest(string? Name, string? Slug, string? Topic, bool Private = false, bool AllowGuests = false, bool Archived = false);
public sealed record PasswordReset(string Password);
public sealed record AdminRoomView(ApiRoom Room, int Members, DateTimeOffset CreatedAt);
public sealed record AdminMemberView(ApiUser User, DateTimeOffset JoinedAt);
public sealed record RetentionRun(ApiRoom Room, int Days, PurgeResult Purged);
public sealed record RetentionPreview(ApiRoom Room, int? RoomDays, int EffectiveDays, int Expired);
public sealed record ModerationHit(ApiMessage Message, ApiRoom Room);

/// <summary>
/// The back office over HTTP (admin scope). Each handler calls the same <c>Admin*</c> service method as the back office's
/// page, with the token's granting admin as the caller: <see cref="AdminGuard"/> checks that admin in the database on
/// every call (enabled, same stamp) and the service writes its audit entry, exactly as for a click.
/// </summary>
public static class AdminApi
{
    public static void Map(RouteGroupBuilder api)
    {
        var admin = api.MapGroup("/admin").WithTags("Admin").Admin();

        admin.MapGet("/dashboard", async (HttpContext ctx, DashboardFeed feed) => TypedResults.Ok(await feed.GetAsync(Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("The dashboard's numbers");

        admin.MapGet("/admins", async (HttpContext ctx, AdminAccounts a) => TypedResults.Ok(await a.ListAsync(Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("Admin accounts");
        admin.MapPost("/admins", async (HttpContext ctx, AdminAccounts a) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<AdminCreateRequest>(ctx);
            return body is null ? bad! : Done(await a.CreateAsync(Caller(ctx)!, body.Name, body.Password, ctx.RequestAborted));
        }).WithSummary("Create an admin account").Accepts<AdminCreateRequest>("application/json").Produces(204).ProducesProblem(400);
        admin.MapPost("/admins/{id:long}/disable", async (long id, HttpContext ctx, AdminAccounts a) =>
            Done(await a.SetDisabledAsync(Caller(ctx)!, id, true, ctx.RequestAborted))).WithSummary("Disable an admin account").Produces(204);
        admin.MapPost("/admins/{id:long}/enable", async (long id, HttpContext ctx, AdminAccounts a) =>
            Done(await a.SetDisabledAsync(Caller(ctx)!, id, false, ctx.RequestAborted))).WithSummary("Enable an admin account").Produces(204);

        admin.MapGet("/audit", async (HttpContext ctx, AdminAudit a, string? search, int? page, int? pageSize) =>
            TypedResults.Ok(await a.SearchAsync(Caller(ctx)!, search, page ?? 0, Math.Clamp(pageSize ?? 50, 1, 200), ctx.RequestAborted)))
            .WithSummary("The audit log, newest first");

        MapUsers(admin);
        MapRooms(admin);
        MapModeration(admin);
        MapSettings(admin);
        BotAccountsApi.Map(admin);
    }

    private static void MapUsers(RouteGroupBuilder admin)
    {
        admin.MapGet("/users", async (HttpContext ctx, AdminChatUsers u, string? search, int? page, int? pageSize) =>
            TypedResults.Ok(await u.SearchAsync(Caller(ctx)!, search, page ?? 0, Math.Clamp(pageSize ?? 50, 1, 200), ctx.RequestAborted)))
            .WithSummary("Chat users");
        admin.MapGet("/users/{id:long}", async (long id, HttpContext ctx, AdminChatUsers u) =>
            await u.GetAsync(Caller(ctx)!, id, ctx.RequestAborted) is { } d ? TypedResults.Ok(d) : ApiProblems.NotFound("The user"))
            .WithSummary("A chat user's details").ProducesProblem(404);
        admin.MapPost("/users/{id:long}/mute", async (long id, HttpContext ctx, AdminChatUsers u) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<MuteRequest>(ctx);
            if (body is null) return bad!;
            if (body.Minutes is not > 0) return ApiProblems.BadRequest("Give the mute's length in 'minutes' (> 0).", "minutes_required");
            return Done(await u.MuteAsync(Caller(ctx)!, id, TimeSpan.FromMinutes(body.Minutes.Value), body.Reason, ctx.RequestAborted));
        }).WithSummary("Mute a user").Accepts<MuteRequest>("application/json").Produces(204);
        admin.MapPost("/users/{id:long}/unmute", async (long id, HttpContext ctx, AdminChatUsers u) =>
            Done(await u.UnmuteAsync(Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Unmute a user").Produces(204);
        admin.MapPost("/users/{id:long}/ban", async (long id, HttpContext ctx, AdminChatUsers u) =>
        {
            BanRequest? body = null;
            if (ctx.Request.ContentLength > 0)
            {
                (body, var bad) = await ApiBody.ReadAsync<BanRequest>(ctx);
                if (body is null) return bad!;
            }
            return Done(await u.BanAsync(Caller(ctx)!, id, body?.Reason, ctx.RequestAborted));
        }).WithSummary("Ban a user (their sessions and tokens end at once)").Accepts<BanRequest>("application/json").Produces(204);
        admin.MapPost("/users/{id:long}/unban", async (long id, HttpContext ctx, AdminChatUsers u) =>
            Done(await u.UnbanAsync(Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Lift a ban").Produces(204);
        admin.MapPost("/users/{id:long}/kick", async (long id, HttpContext ctx, AdminChatUsers u) =>
            Done(await u.KickAsync(Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Sign a user out everywhere").Produces(204);
        admin.MapPost("/users/{id:long}/reset-password", async (long id, HttpContext ctx, AdminChatUsers u) =>
        {
            var r = await u.ResetPasswordAsync(Caller(ctx)!, id, ctx.RequestAborted);
            ctx.Response.Headers.CacheControl = "no-store";
            return r.Ok ? TypedResults.Ok(new PasswordReset(r.Value!)) : ApiProblems.From(r.Status);
        }).WithSummary("Reset a user's password (the new one is in the answer, once)").Produces<PasswordReset>();
        admin.MapDelete("/users/{id:long}", async (long id, HttpContext ctx, AdminGovernance g) =>
        {
            var r = await g.DeleteUserAsync(Caller(ctx)!, id, ctx.RequestAborted);
            return r.Ok ? TypedResults.Ok(r.Value) : ApiProblems.From(r.Status);
        }).WithSummary("Delete a user's account by the site's deletion policy").Produces<AccountDeletionResult>();
    }

    private static void MapRooms(RouteGroupBuilder admin)
    {
        admin.MapGet("/rooms", async (HttpContext ctx, AdminRooms r, string? search) =>
            TypedResults.Ok((await r.ListAsync(Caller(ctx)!, search, ctx.RequestAborted))
                .Select(x => new AdminRoomView(ApiRoom.From(x.Room), x.Members, x.CreatedAt)).ToList()))
            .WithSummary("Every room (archived and private ones too)");
        admin.MapGet("/rooms/{id:long}", async (long id, HttpContext ctx, AdminRooms r) =>
            await r.GetAsync(Caller(ctx)!, id, ctx.RequestAborted) is { } room ? TypedResults.Ok(ApiRoom.From(room)) : ApiProblems.NotFound("The room"))
            .WithSummary("A room").ProducesProblem(404);
        admin.MapPost("/rooms", async (HttpContext ctx, AdminRooms r) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<AdminRoomRequest>(ctx);
            if (body is null) return bad!;
            var result = await r.CreateAsync(Caller(ctx)!, Input(body), ctx.RequestAborted);
            return result.Ok ? TypedResults.Created($"/api/v1/admin/rooms/{result.Value!.Id}", ApiRoom.From(result.Value)) : ApiProblems.From(result.Status);
        }).WithSummary("Create a room").Accepts<AdminRoomRequest>("application/json").Produces<ApiRoom>(201).ProducesProblem(400);
        admin.MapPut("/rooms/{id:long}", async (long id, HttpContext ctx, AdminRooms r) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<AdminRoomRequest>(ctx);
            if (body is null) return bad!;
            var result = await r.UpdateAsync(Caller(ctx)!, id, Input(body), ctx.RequestAborted);
            return result.Ok ? TypedResults.Ok(ApiRoom.From(result.Value!)) : ApiProblems.From(result.Status);
        }).WithSummary("Edit a room (name, slug, topic, private, guests, archived)").Accepts<AdminRoomRequest>("application/json").Produces<ApiRoom>();
        admin.MapPost("/rooms/{id:long}/archive", async (long id, HttpContext ctx, AdminRooms r) =>
            Done(await r.SetArchivedAsync(Caller(ctx)!, id, true, ctx.RequestAborted))).WithSummary("Archive a room (read-only)").Produces(204);
        admin.MapPost("/rooms/{id:long}/unarchive", async (long id, HttpContext ctx, AdminRooms r) =>
            Done(await r.SetArchivedAsync(Caller(ctx)!, id, false, ctx.RequestAborted))).WithSummary("Reopen an archived room").Produces(204);
        admin.MapDelete("/rooms/{id:long}", async (long id, HttpContext ctx, AdminRooms r) =>
            Done(await r.DeleteAsync(Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Delete a room and its messages").Produces(204);
        admin.MapPost("/rooms/{id:long}/invite/reset", async (long id, HttpContext ctx, AdminRooms r) =>
        {
            var result = await r.ResetInviteAsync(Caller(ctx)!, id, ctx.RequestAborted);
            return result.Ok ? TypedResults.Ok(new { invite_code = result.Value!.InviteCode }) : ApiProblems.From(result.Status);
        }).WithSummary("A new invite code for a room (the old one stops working)");
        admin.MapGet("/rooms/{id:long}/members", async (long id, HttpContext ctx, AdminRooms r, ApiViews views) =>
            TypedResults.Ok((await r.MembersAsync(Caller(ctx)!, id, ctx.RequestAborted)).Select(m => new AdminMemberView(views.User(m.User), m.JoinedAt)).ToList()))
            .WithSummary("A room's members with the time they joined");
        admin.MapPost("/rooms/{id:long}/members", async (long id, HttpContext ctx, AdminRooms r) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<AddMemberRequest>(ctx);
            return body is null ? bad! : Done(await r.AddMemberAsync(Caller(ctx)!, id, body.Name, ctx.RequestAborted));
        }).WithSummary("Add a member by name").Accepts<AddMemberRequest>("application/json").Produces(204);
        admin.MapDelete("/rooms/{id:long}/members/{userId:long}", async (long id, long userId, HttpContext ctx, AdminRooms r) =>
            Done(await r.RemoveMemberAsync(Caller(ctx)!, id, userId, ctx.RequestAborted))).WithSummary("Remove a member").Produces(204);
        admin.MapPut("/rooms/{id:long}/retention", async (long id, HttpContext ctx, AdminGovernance g) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<RetentionRequest>(ctx);
            return body is null ? bad! : Done(await g.SetRoomRetentionAsync(Caller(ctx)!, id, body.Days, ctx.RequestAborted));
        }).WithSummary("A room's own retention in days (null: the site default)").Accepts<RetentionRequest>("application/json").Produces(204);
        admin.MapGet("/rooms/{id:long}/export", async (long id, HttpContext ctx, AdminGovernance g, DataExport export) =>
            await g.BeginExportAsync(Caller(ctx)!, id, ctx.RequestAborted) is { } room
                ? new ZipDownload(DataExport.RoomFileName(room), (body, ct) => export.WriteRoomAsync(room.Id, body, ct))
                : ApiProblems.NotFound("The room"))
            .WithSummary("The room's history as a ZIP").Produces(200, contentType: "application/zip");
    }

    private static void MapModeration(RouteGroupBuilder admin)
    {
        admin.MapGet("/messages", async (HttpContext ctx, AdminModeration m, ApiViews views, long? room, string? text, string? sender, long? before) =>
            TypedResults.Ok((await m.FindAsync(Caller(ctx)!, new ModerationFilter(room, text, sender, before), ctx.RequestAborted))
                .Select(h => new ModerationHit(views.Message(h.Message), ApiRoom.From(h.Room))).ToList()))
            .WithSummary("Find messages for moderation");
        admin.MapDelete("/messages/{id:long}", async (long id, HttpContext ctx, AdminModeration m) =>
            Done(await m.DeleteMessageAsync(Caller(ctx)!, id, ctx.RequestAborted))).WithSummary("Delete any message").Produces(204);
        admin.MapGet("/word-filter", async (HttpContext ctx, AdminModeration m) => TypedResults.Ok(await m.GetWordFilterAsync(Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("The word filter");
        admin.MapPut("/word-filter", async (HttpContext ctx, AdminModeration m) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<WordFilterRequest>(ctx);
            if (body is null) return bad!;
            if (body.Mode is null) return ApiProblems.BadRequest("Give the filter's 'mode' (off, mask, reject).", "mode_required");
            return Done(await m.SaveWordFilterAsync(Caller(ctx)!, body.Mode.Value, string.Join('\n', body.Words ?? []), ctx.RequestAborted));
        }).WithSummary("Save the word filter").Accepts<WordFilterRequest>("application/json").Produces(204);
    }

    private static void MapSettings(RouteGroupBuilder admin)
    {
        admin.MapGet("/site", async (HttpContext ctx, AdminSite s) => TypedResults.Ok(await s.GetAsync(Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("Registration mode, guests, the site invite code");
        admin.MapPut("/site", async (HttpContext ctx, AdminSite s) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<SiteAccessRequest>(ctx);
            if (body is null) return bad!;
            if (body.Registration is null || body.GuestsAllowed is null)
                return ApiProblems.BadRequest("Give 'registration' and 'guests_allowed'.", "fields_required");
            var r = await s.SaveAsync(Caller(ctx)!, body.Registration.Value, body.GuestsAllowed.Value, body.NewInvite, ctx.RequestAborted);
            return r.Ok ? TypedResults.Ok(r.Value) : ApiProblems.From(r.Status);
        }).WithSummary("Save site access").Accepts<SiteAccessRequest>("application/json").Produces<SiteAccessSettings>();

        admin.MapGet("/bots", async (HttpContext ctx, AdminBots b, AdminRooms r) =>
        {
            var caller = Caller(ctx)!;
            var rooms = (await r.ListAsync(caller, null, ctx.RequestAborted)).Select(x => x.Room).ToList();
            return TypedResults.Ok(await b.ListAsync(caller, rooms, ctx.RequestAborted));
        }).WithSummary("The built-in bots' switches (site-wide and per room)");
        admin.MapPut("/bots/{bot}", async (string bot, HttpContext ctx, AdminBots b, AdminRooms r) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<BotSwitchRequest>(ctx);
            if (body is null) return bad!;
            var caller = Caller(ctx)!;
            RoomInfo? room = null;
            if (body.RoomId is { } roomId && (room = await r.GetAsync(caller, roomId, ctx.RequestAborted)) is null) return ApiProblems.NotFound("The room");
            return Done(await b.SetAsync(caller, bot, room, body.Enabled, ctx.RequestAborted));
        }).WithSummary("Switch a built-in bot on/off (enabled null: inherit)").Accepts<BotSwitchRequest>("application/json").Produces(204);

        admin.MapGet("/governance/policy", async (HttpContext ctx, AdminGovernance g) => TypedResults.Ok(await g.GetPolicyAsync(Caller(ctx)!, ctx.RequestAborted)))
            .WithSummary("Retention default and account deletion mode");
        admin.MapPut("/governance/policy", async (HttpContext ctx, AdminGovernance g) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<GovernancePolicy>(ctx);
            return body is null ? bad! : Done(await g.SavePolicyAsync(Caller(ctx)!, body, ctx.RequestAborted));
        }).WithSummary("Save the data policy").Accepts<GovernancePolicy>("application/json").Produces(204);
        admin.MapGet("/governance/retention", async (HttpContext ctx, AdminGovernance g) =>
            TypedResults.Ok((await g.DryRunAsync(Caller(ctx)!, ctx.RequestAborted))
                .Select(x => new RetentionPreview(ApiRoom.From(x.Room), x.RoomDays, x.EffectiveDays, x.Expired)).ToList()))
            .WithSummary("What retention would remove now (dry run)");
        admin.MapPost("/governance/retention/run", async (HttpContext ctx, AdminGovernance g) =>
        {
            RunRetentionRequest? body = null;
            if (ctx.Request.ContentLength > 0)
            {
                (body, var bad) = await ApiBody.ReadAsync<RunRetentionRequest>(ctx);
                if (body is null) return bad!;
            }
            var report = await g.RunRetentionAsync(Caller(ctx)!, body?.RoomId, ctx.RequestAborted);
            return TypedResults.Ok(report.Rooms.Select(x => new RetentionRun(ApiRoom.From(x.Room), x.Days, x.Purged)).ToList());
        }).WithSummary("Run retention now (one room or all)");
        admin.MapPost("/governance/import-slack", async (HttpContext ctx, AdminGovernance g) =>
        {
            var (body, bad) = await ApiBody.ReadAsync<SlackImportRequest>(ctx);
            if (body is null) return bad!;
            if (string.IsNullOrWhiteSpace(body.Path)) return ApiProblems.BadRequest("Give the export's 'path' on the server.", "path_required");
            var r = await g.ImportSlackAsync(Caller(ctx)!, body.Path, ctx.RequestAborted);
            return r.Ok ? TypedResults.Ok(r.Value) : ApiProblems.From(r.Status);
        }).WithSummary("Import a Slack export (a ZIP or folder on the server)").Accepts<SlackImportRequest>("application/json");
    }

    private static RoomInput Input(AdminRoomRequest b) => new()
    {
        Name = b.Name ?? "",
        Slug = b.Slug ?? "",
        Topic = b.Topic,
        IsPrivate = b.Private,
        AllowGuests = b.AllowGuests,
        IsArchived = b.Archived,
    };

    /// <summary>The admin the token was granted by, as the back office's services take it; null for a token without admin rights.</summary>
    public static AdminCaller? Caller(HttpContext ctx) =>
        ctx.User.AdminPrincipal() is { } p ? new AdminCaller(p, ctx.Connection.RemoteIpAddress?.ToString()) : null;

    public static IResult NotAdmin() => ApiProblems.Problem(StatusCodes.Status403Forbidden, "not_admin",
        "This token's admin account is disabled, was changed, or no longer exists; admin actions need an enabled admin.");

    internal static IResult Done(AdminResult result) => result.Ok ? TypedResults.NoContent() : ApiProblems.From(result);
}
