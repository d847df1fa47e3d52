using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

/// <summary>A bot account in the back office's list; <paramref name="BuiltIn"/>: a built-in bot's account (e.g. 小爱同学), never deleted here.</summary>
public sealed record BotAccountRow(long Id, string Name, DateTimeOffset CreatedAt, bool Disabled, int ActiveTokens, DateTimeOffset? LastUsedAt,
    bool BuiltIn = false);

public sealed record BotAccountCreated(BotAccountRow Bot, string Token, long TokenId);

/// <summary>
/// Bot accounts made in the back office (issue 16): a chat user of kind <see cref="UserKind.Bot"/> with no password, owned
/// by the admin who made it, acting only through its tokens (REST API, <c>chatportal.v1</c>). Disabling is the ban (sessions
/// and tokens end at once, through <see cref="AdminChatUsers"/>); deleting also takes it out of every room. Every action
/// starts with <see cref="AdminGuard"/> and writes an audit entry, like the other back-office screens. The built-in bots'
/// accounts (<see cref="Bots.BotDirectory"/>) are listed too: tokens, revoke and disable work on them as on any bot; they
/// cannot be deleted (they would come back at the next start).
/// </summary>
public sealed class AdminBotAccounts(IDbContextFactory<ChatDbContext> dbFactory, AdminGuard guard, AdminAudit audit, ApiTokens tokens,
    AdminChatUsers chatUsers, ChatRooms rooms, ChatSessions sessions, UserDirectory users, ChatAccounts accounts, TimeProvider time,
    Bots.BotDirectory? builtIns = null)
{
    private List<long> BuiltInIds => builtIns?.Users.Select(u => u.Id).ToList() ?? [];

    public const string Create = "bot.create";
    public const string TokenIssue = "bot.token";
    public const string Delete = "bot.delete";

    public async Task<IReadOnlyList<BotAccountRow>> ListAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = time.GetUtcNow();
        var builtIn = BuiltInIds;
        var bots = await db.Users.AsNoTracking().Where(u => (u.BotOwnerId != null || builtIn.Contains(u.Id)) && u.DeletedAt == null).OrderBy(u => u.Name)
            .Select(u => new { u.Id, u.Name, u.CreatedAt, u.BannedAt }).ToListAsync(ct);
        var ids = bots.Select(b => b.Id).ToList();
        await tokens.WriteUsedAsync(ct); // "last used" is written a second after the use
        var tokenRows = await db.ApiTokens.AsNoTracking().Where(t => ids.Contains(t.UserId))
            .Select(t => new { t.UserId, t.RevokedAt, t.ExpiresAt, t.LastUsedAt }).ToListAsync(ct);
        return bots.Select(b =>
        {
            var mine = tokenRows.Where(t => t.UserId == b.Id).ToList();
            return new BotAccountRow(b.Id, b.Name, b.CreatedAt, b.BannedAt is not null,
                mine.Count(t => t.RevokedAt is null && (t.ExpiresAt is not { } e || e > now)), mine.Max(t => t.LastUsedAt), builtIn.Contains(b.Id));
        }).ToList();
    }

    /// <summary>Creates the bot user and its first token (read + write), shown once.</summary>
    public async Task<AdminResult<BotAccountCreated>> CreateAsync(AdminCaller caller, string? name, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var trimmed = name?.Trim() ?? "";
        if (UserNames.Validate(trimmed) is { } invalid) return AdminResult.Fail("bot_name_invalid", invalid, invalid);
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var normalized = UserNames.Normalize(trimmed);
        if (await db.Users.AnyAsync(u => u.NormalizedName == normalized, ct) || await accounts.LooksTakenAsync(db, trimmed, ct))
            return AdminResult.Fail("name_taken", "That name is taken or looks too much like an existing one.");
        var user = new ChatUser
        {
            Name = trimmed,
            NormalizedName = normalized,
            NameSkeleton = NameSkeletons.Of(trimmed),
            Kind = UserKind.Bot,
            CreatedAt = now,
            SecurityStamp = ChatAccounts.NewStamp(),
            BotOwnerId = actor.Id,
        };
        db.Users.Add(user);
        audit.Add(db, actor, Create, trimmed);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return AdminResult.Fail("name_taken", "That name is taken or looks too much like an existing one.");
        }
        var (token, tokenId) = await tokens.IssueAsync(user.Id, new ApiTokenRequest("bot", ApiScopes.Read | ApiScopes.Write), ct);
        return new BotAccountCreated(new BotAccountRow(user.Id, user.Name, now, false, 1, null), token, tokenId);
    }

    /// <summary>Another token for a bot (read + write), shown once; its other tokens stay valid until revoked.</summary>
    public async Task<AdminResult<(string Token, long Id)>> IssueTokenAsync(AdminCaller caller, long botId, string? label, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (await FindAsync(botId, ct) is not { } bot) return NotABot;
        if (bot.BannedAt is not null) return AdminResult.Fail("bot_disabled", "Enable the bot before giving it a token.");
        var issued = await tokens.IssueAsync(botId, new ApiTokenRequest(string.IsNullOrWhiteSpace(label) ? "bot" : label, ApiScopes.Read | ApiScopes.Write), ct);
        await audit.WriteAsync(actor, TokenIssue, bot.Name, $"token #{issued.Id}", ct);
        return issued;
    }

    /// <summary>Revokes every token of the bot (its open sockets close).</summary>
    public async Task<AdminResult> RevokeTokensAsync(AdminCaller caller, long botId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (await FindAsync(botId, ct) is not { } bot) return NotABot;
        var n = await tokens.RevokeAllAsync(botId, ct);
        await audit.WriteAsync(actor, TokenIssue, bot.Name, $"revoked {n} token(s)", ct);
        return AdminResult.Success;
    }

    /// <summary>Disabling is the ban: the same rule and revocation as for people (tokens end; a new one is needed after enabling).</summary>
    public async Task<AdminResult> SetDisabledAsync(AdminCaller caller, long botId, bool disabled, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        if (await FindAsync(botId, ct) is null) return NotABot;
        return disabled ? await chatUsers.BanAsync(caller, botId, "bot disabled", ct) : await chatUsers.UnbanAsync(caller, botId, ct);
    }

    /// <summary>Deletes the bot account: tokens revoked, sessions ended, out of every room; its messages stay, under its name.</summary>
    public async Task<AdminResult> DeleteAsync(AdminCaller caller, long botId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (await FindAsync(botId, ct) is not { } bot) return NotABot;
        if (BuiltInIds.Contains(botId)) return AdminResult.Fail("bot_builtin", "A built-in bot cannot be deleted; switch it off or disable it.");
        var now = time.GetUtcNow();
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            await db.Users.Where(u => u.Id == botId).ExecuteUpdateAsync(s => s
                .SetProperty(u => u.DeletedAt, now).SetProperty(u => u.BannedAt, now).SetProperty(u => u.SecurityStamp, ChatAccounts.NewStamp()), ct);
            audit.Add(db, actor, Delete, bot.Name);
            await db.SaveChangesAsync(ct);
        }
        users.Invalidate(botId);
        await tokens.RevokeAllAsync(botId, ct);
        await sessions.RevokeAsync(botId, "deleted");
        await rooms.RemoveFromAllRoomsAsync(botId, ct);
        return AdminResult.Success;
    }

    private static readonly AdminResult NotABot = AdminResult.Fail("bot_account_not_found", "No such bot account.");

    private async Task<ChatUser?> FindAsync(long botId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var builtIn = BuiltInIds;
        return await db.Users.AsNoTracking()
            .FirstOrDefaultAsync(u => u.Id == botId && (u.BotOwnerId != null || builtIn.Contains(u.Id)) && u.DeletedAt == null, ct);
    }
}
