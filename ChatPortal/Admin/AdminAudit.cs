using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

/// <summary>Names of audited actions (stable: they are stored and searched).</summary>
public static class AuditActions
{
    public const string SignIn = "admin.sign_in";
    public const string SignInFailed = "admin.sign_in_failed";
    public const string SignOut = "admin.sign_out";
    public const string AdminCreate = "admin.create";
    public const string AdminDisable = "admin.disable";
    public const string AdminEnable = "admin.enable";
    public const string RoomCreate = "room.create";
    public const string RoomUpdate = "room.update";
    public const string RoomArchive = "room.archive";
    public const string RoomUnarchive = "room.unarchive";
    public const string RoomDelete = "room.delete";
    public const string RoomInviteReset = "room.invite_reset";
    public const string MemberAdd = "room.member_add";
    public const string MemberRemove = "room.member_remove";
    public const string UserMute = "user.mute";
    public const string UserUnmute = "user.unmute";
    public const string UserBan = "user.ban";
    public const string UserUnban = "user.unban";
    public const string UserKick = "user.kick";
    public const string UserResetPassword = "user.reset_password";
    public const string MessageDelete = "message.delete";
    public const string WordFilterUpdate = "wordfilter.update";
    public const string BotSwitch = "bot.switch";
    public const string SiteAccessUpdate = "site.access";
}

public sealed record AuditList(IReadOnlyList<AuditEntry> Items, int Total);

/// <summary>
/// The audit log: one row per admin action (who, when, what, target, from where). Rows are
/// only ever added; nothing in the back office edits or deletes them.
/// </summary>
public sealed class AdminAudit(IDbContextFactory<ChatDbContext> dbFactory, AdminGuard guard, TimeProvider time)
{
    public const int MaxDetail = 500;

    /// <summary>Adds the entry to <paramref name="db"/>, to be saved in the same transaction as the change it records.</summary>
    public void Add(ChatDbContext db, AdminActor actor, string action, string? target, string? detail = null) =>
        db.AuditLog.Add(Entry(actor.Id, actor.Name, actor.RemoteIp, action, target, detail));

    public async Task WriteAsync(AdminActor actor, string action, string? target, string? detail = null, CancellationToken ct = default) =>
        await WriteAsync(actor.Id, actor.Name, actor.RemoteIp, action, target, detail, ct);

    /// <summary>For events without a confirmed admin (failed sign-in, the command line).</summary>
    public async Task WriteAsync(long? adminId, string adminName, string? ip, string action, string? target, string? detail = null,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.AuditLog.Add(Entry(adminId, adminName, ip, action, target, detail));
        await db.SaveChangesAsync(ct);
    }

    private AuditEntry Entry(long? adminId, string adminName, string? ip, string action, string? target, string? detail) => new()
    {
        At = time.GetUtcNow(),
        AdminId = adminId is > 0 ? adminId : null,
        AdminName = Clip(adminName, 64)!,
        Action = action,
        Target = Clip(target, 200),
        Detail = Clip(detail, MaxDetail),
        RemoteIp = Clip(ip, 64),
    };

    /// <summary>Newest first; <paramref name="search"/> matches admin, action, target, detail or IP.</summary>
    public async Task<AuditList> SearchAsync(AdminCaller caller, string? search, int page, int pageSize, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        pageSize = Math.Clamp(pageSize, 1, 200);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.AuditLog.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = $"%{EscapeLike(search.Trim())}%";
            q = q.Where(a => EF.Functions.Like(a.AdminName, s, "\\") || EF.Functions.Like(a.Action, s, "\\")
                || (a.Target != null && EF.Functions.Like(a.Target, s, "\\"))
                || (a.Detail != null && EF.Functions.Like(a.Detail, s, "\\"))
                || (a.RemoteIp != null && EF.Functions.Like(a.RemoteIp, s, "\\")));
        }
        var total = await q.CountAsync(ct);
        var items = await q.OrderByDescending(a => a.Id).Skip(Math.Max(0, page) * pageSize).Take(pageSize).ToListAsync(ct);
        return new AuditList(items, total);
    }

    internal static string EscapeLike(string s) => s.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");

    private static string? Clip(string? s, int max) => s is null || s.Length <= max ? s : s[..max];
}
