using System.Security.Cryptography;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

public sealed record ChatUserRow(long Id, string Name, UserKind Kind, DateTimeOffset CreatedAt, DateTimeOffset? LastSeenAt,
    DateTimeOffset? MutedUntil, bool Banned, bool Online);

public sealed record ChatUserList(IReadOnlyList<ChatUserRow> Items, int Total);

public sealed record ChatUserDetails(ChatUserRow User, string? LastIp, string? BanReason, DateTimeOffset? BannedAt,
    DateTimeOffset? LockedUntil, IReadOnlyList<RoomInfo> Rooms, IReadOnlyList<RoomInfo> OnlineIn, DateTimeOffset? DeletedAt = null);

/// <summary>
/// Chat users in the back office: search, details, and moderation. Every change goes to the
/// user's row, then <see cref="UserDirectory.Invalidate"/> (the core's hot-path cache) so a mute
/// or ban holds for every adapter at once; ban, kick and password reset also change the
/// security stamp (cookies and tokens stop working) and call <see cref="ChatSessions.Revoke"/>
/// (open pages and sockets close now).
/// </summary>
public sealed class AdminChatUsers(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms, ChatSessions sessions, UserDirectory users,
    AdminGuard guard, AdminAudit audit, ApiTokens tokens, TimeProvider time, SignInSessions? signIns = null)
{
    public static readonly TimeSpan MaxMute = TimeSpan.FromDays(3650);
    private static readonly PasswordHasher<ChatUser> Hasher = new();

    public async Task<ChatUserList> SearchAsync(AdminCaller caller, string? search, int page, int pageSize, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        pageSize = Math.Clamp(pageSize, 1, 200);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = $"%{AdminAudit.EscapeLike(search.Trim())}%";
            q = q.Where(u => EF.Functions.Like(u.Name, s, "\\") || (u.LastIp != null && EF.Functions.Like(u.LastIp, s, "\\")));
        }
        var total = await q.CountAsync(ct);
        var rows = await q.OrderByDescending(u => u.Id).Skip(Math.Max(0, page) * pageSize).Take(pageSize).ToListAsync(ct);
        var online = OnlineIds();
        return new ChatUserList(rows.Select(u => Row(u, online)).ToList(), total);
    }

    public async Task<ChatUserDetails?> GetAsync(AdminCaller caller, long userId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await db.Users.AsNoTracking().FirstOrDefaultAsync(x => x.Id == userId, ct);
        if (u is null) return null;
        var memberOf = await rooms.RoomsOfAsync(userId, ct);
        var presentIn = new List<RoomInfo>();
        foreach (var id in sessions.Presence.RoomsOf(userId))
        {
            if (await rooms.GetAsync(id, ct) is { IsDirect: false } room) presentIn.Add(room);
        }
        return new ChatUserDetails(Row(u, OnlineIds()), u.LastIp, u.BanReason, u.BannedAt, u.LockedUntil, memberOf, presentIn, u.DeletedAt);
    }

    /// <summary>Mutes the user until now + duration; the reason (optional) is shown to them with the end time.</summary>
    public async Task<AdminResult> MuteAsync(AdminCaller caller, long userId, TimeSpan duration, string? reason = null, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (duration <= TimeSpan.Zero || duration > MaxMute) return AdminResult.Fail("mute_duration", "Pick a mute time between one minute and ten years.");
        var until = time.GetUtcNow() + duration;
        var why = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim()[..Math.Min(reason.Trim().Length, 300)];
        return await ChangeAsync(actor, userId, AuditActions.UserMute, $"until {until:u} ({Human(duration)}){(why is null ? "" : ": " + why)}", u =>
        {
            u.MutedUntil = until;
            u.MuteReason = why;
        }, revoke: null, ct);
    }

    public async Task<AdminResult> UnmuteAsync(AdminCaller caller, long userId, CancellationToken ct = default) =>
        await ChangeAsync(await guard.RequireAsync(caller, ct), userId, AuditActions.UserUnmute, null, u =>
        {
            u.MutedUntil = null;
            u.MuteReason = null;
        }, revoke: null, ct);

    public async Task<AdminResult> BanAsync(AdminCaller caller, long userId, string? reason, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var why = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim()[..Math.Min(reason.Trim().Length, 300)];
        return await ChangeAsync(actor, userId, AuditActions.UserBan, why, u =>
        {
            u.BannedAt = time.GetUtcNow();
            u.BanReason = why;
            u.SecurityStamp = ChatAccounts.NewStamp();
        }, revoke: "banned", ct);
    }

    public async Task<AdminResult> UnbanAsync(AdminCaller caller, long userId, CancellationToken ct = default) =>
        await ChangeAsync(await guard.RequireAsync(caller, ct), userId, AuditActions.UserUnban, null, u =>
        {
            u.BannedAt = null;
            u.BanReason = null;
        }, revoke: null, ct);

    /// <summary>Ends every session of the user now; they may sign in again.</summary>
    public async Task<AdminResult> KickAsync(AdminCaller caller, long userId, CancellationToken ct = default) =>
        await ChangeAsync(await guard.RequireAsync(caller, ct), userId, AuditActions.UserKick, null,
            u => u.SecurityStamp = ChatAccounts.NewStamp(), revoke: "kicked", ct);

    /// <summary>Sets a new random password, shown once to the admin; the user's sessions end.</summary>
    public async Task<AdminResult<string>> ResetPasswordAsync(AdminCaller caller, long userId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var password = NewPassword();
        var result = await ChangeAsync(actor, userId, AuditActions.UserResetPassword, null, u =>
        {
            // Imported members have no password until an admin sets one; deleted accounts never get one again.
            if (u.Kind != UserKind.Member || u.DeletedAt is not null) throw new NoPasswordException();
            u.PasswordHash = Hasher.HashPassword(u, password);
            u.SecurityStamp = ChatAccounts.NewStamp();
            u.FailedSignIns = 0;
            u.LockedUntil = null;
        }, revoke: "password_reset", ct);
        return result.Ok ? password : result;
    }

    private async Task<AdminResult> ChangeAsync(AdminActor actor, long userId, string action, string? detail, Action<ChatUser> change,
        string? revoke, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null) return AdminResult.Fail("user_not_found", "The chat user was not found.");
        try
        {
            change(user);
        }
        catch (NoPasswordException)
        {
            return AdminResult.Fail("no_password", "Guests and bots have no password.");
        }
        audit.Add(db, actor, action, $"user #{user.Id} {user.Name}", detail);
        await db.SaveChangesAsync(ct);
        // A ban, a kick or a new password also ends API tokens and sign-in sessions: a leaked token or
        // cookie must not outlive any of them (a kicked bot signs in again for a new token).
        if (revoke is not null)
        {
            await tokens.RevokeAllAsync(user.Id, ct);
            if (signIns is not null) await signIns.EndAllAsync(user.Id, revoke, publish: false, ct);
        }
        if (revoke is null) users.Invalidate(user.Id);
        else await sessions.RevokeAsync(user.Id, revoke); // also invalidates the directory entry, on every node
        return AdminResult.Success;
    }

    private IReadOnlySet<long> OnlineIds() => sessions.Presence.OnlineUserIds();

    private static ChatUserRow Row(ChatUser u, IReadOnlySet<long> online) =>
        new(u.Id, u.Name, u.Kind, u.CreatedAt, u.LastSeenAt, u.MutedUntil, u.BannedAt is not null, online.Contains(u.Id));

    internal static string NewPassword()
    {
        const string alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        return string.Create(12, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    private static string Human(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{t.TotalDays:0.#} d" : t.TotalHours >= 1 ? $"{t.TotalHours:0.#} h" : $"{t.TotalMinutes:0} min";

    private sealed class NoPasswordException : Exception;
}
