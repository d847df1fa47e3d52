using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

/// <summary>
/// The back office's Data page: retention (site default, per room, dry run, run now), the
/// account-deletion mode, room exports, account deletion and the Slack import. Each method is
/// guarded and audited like every admin action; the work is done by the core's governance
/// services (<c>Chat/Governance</c>).
/// </summary>
public sealed class AdminGovernance(IDbContextFactory<ChatDbContext> dbFactory, AdminGuard guard, AdminAudit audit,
    GovernanceSettings settings, Retention retention, AccountDeletion deletion, SlackImport slack, ChatRooms chat)
{
    public const string PolicyUpdate = "governance.update";
    public const string RoomRetention = "room.retention";
    public const string RoomExport = "room.export";

    public async Task<GovernancePolicy> GetPolicyAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await settings.GetAsync(ct);
    }

    public async Task<AdminResult> SavePolicyAsync(AdminCaller caller, GovernancePolicy policy, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (policy.DefaultRetentionDays is < 0 or > GovernanceSettings.MaxRetentionDays)
            return AdminResult.Fail("retention_days", $"Pick 0 (keep forever) to {GovernanceSettings.MaxRetentionDays} days.", GovernanceSettings.MaxRetentionDays);
        if (!Enum.IsDefined(policy.DeletionMode)) return AdminResult.Fail("deletion_mode", "Unknown account deletion mode.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await GovernanceSettings.StageAsync(db, policy, ct);
        audit.Add(db, actor, PolicyUpdate, "data governance",
            $"retention={(policy.DefaultRetentionDays == 0 ? "forever" : policy.DefaultRetentionDays + " d")}; account deletion={policy.DeletionMode}");
        await db.SaveChangesAsync(ct);
        return AdminResult.Success;
    }

    /// <summary>Rooms with their retention and the number of posts past it (nothing is deleted).</summary>
    public async Task<IReadOnlyList<RoomRetention>> DryRunAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await retention.DryRunAsync(ct: ct);
    }

    /// <summary>Sets a room's retention: null follows the site default, 0 keeps forever, N days.</summary>
    public async Task<AdminResult> SetRoomRetentionAsync(AdminCaller caller, long roomId, int? days, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (days is < 0 or > GovernanceSettings.MaxRetentionDays)
            return AdminResult.Fail("retention_days", $"Pick 0 (keep forever) to {GovernanceSettings.MaxRetentionDays} days.", GovernanceSettings.MaxRetentionDays);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.FirstOrDefaultAsync(r => r.Id == roomId, ct);
        if (room is null) return AdminResult.Fail("room_not_found", "The room was not found.");
        room.RetentionDays = days;
        audit.Add(db, actor, RoomRetention, $"/rooms/{room.Slug}", days switch { null => "site default", 0 => "keep forever", _ => $"{days} days" });
        await db.SaveChangesAsync(ct);
        return AdminResult.Success;
    }

    /// <summary>Deletes what is past retention now (the run writes its own audit entry).</summary>
    public async Task<RetentionReport> RunRetentionAsync(AdminCaller caller, long? roomId = null, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        return await retention.RunAsync(actor.Name, actor.Id, actor.RemoteIp, roomId, ct);
    }

    /// <summary>Deletes a chat account as the site's deletion mode says (the deletion writes its own audit entry).</summary>
    public async Task<AdminResult<AccountDeletionResult>> DeleteUserAsync(AdminCaller caller, long userId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var result = await deletion.DeleteAsync(userId, actor.Name, actor.Id, actor.RemoteIp, ct);
        return result is null ? AdminResult.Fail("user_not_found", "The chat user was not found (or is a bot, or already deleted).") : result;
    }

    /// <summary>Imports a Slack export ZIP at <paramref name="path"/> (the import writes its own audit entry).</summary>
    public async Task<AdminResult<SlackImportResult>> ImportSlackAsync(AdminCaller caller, string path, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        try
        {
            return await slack.ImportAsync(path, actor.Name, actor.Id, actor.RemoteIp, ct);
        }
        catch (SlackImportException ex)
        {
            return AdminResult.Fail("import_failed", ex.Message, ex.Message);
        }
    }

    /// <summary>Checks the admin and records the export; the room to export, or null.</summary>
    public async Task<RoomInfo?> BeginExportAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetAsync(roomId, ct);
        if (room is null) return null;
        await audit.WriteAsync(actor, RoomExport, $"/rooms/{room.Slug}", null, ct);
        return room;
    }

    /// <summary>GET /admin/export/rooms/{id}: the room as a ZIP, streamed to the response.</summary>
    public static IEndpointRouteBuilder MapAdminExports(IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/export/rooms/{id:long}", async (long id, HttpContext ctx, AdminGovernance admin, DataExport export) =>
        {
            RoomInfo? room;
            try
            {
                room = await admin.BeginExportAsync(new AdminCaller(ctx.User, ctx.Connection.RemoteIpAddress?.ToString()), id, ctx.RequestAborted);
            }
            catch (AdminAccessDeniedException)
            {
                return Results.Forbid();
            }
            if (room is null) return Results.NotFound();
            return new ZipDownload(DataExport.RoomFileName(room), (body, ct) => export.WriteRoomAsync(room.Id, body, ct));
        }).RequireAuthorization(Policies.Admin);
        return app;
    }
}

/// <summary>A ZIP written straight to the response body as it is made (no length known up front, nothing buffered).</summary>
public sealed class ZipDownload(string fileName, Func<Stream, CancellationToken, Task<bool>> write) : IResult
{
    public async Task ExecuteAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "application/zip";
        ctx.Response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.Headers.XContentTypeOptions = "nosniff";
        // Response buffering off: each chunk goes out as written.
        ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        await write(ctx.Response.Body, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }
}
