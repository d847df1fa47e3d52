using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth.SelfService;

public enum PasswordChangeStatus
{
    Changed,
    WrongCurrentPassword,
    Invalid,
    NotFound,
}

public sealed record PasswordChangeOutcome(PasswordChangeStatus Status, string? Error = null, ChatUser? User = null);

/// <summary>A mute as the muted user is told it: until when and why.</summary>
public sealed record MuteInfo(DateTimeOffset Until, string? Reason);

/// <summary>
/// What a signed-in user changes about their own account (issue 21, item 7): the password (the
/// current one is required; every other session ends because the security stamp changes, API
/// tokens are revoked as on an admin's reset) and reading their own mute.
/// </summary>
public sealed class AccountSelfService(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, ChatSessions sessions, ApiTokens tokens, TimeProvider time,
    IPasswordHasher<ChatUser>? hasher = null, SignInSessions? signIns = null)
{
    private readonly IPasswordHasher<ChatUser> _hasher = hasher ?? new PasswordHasher<ChatUser>();

    /// <summary>True when the account has a password (an account made by OpenID Connect may not yet).</summary>
    public async Task<bool> HasPasswordAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Users.AnyAsync(u => u.Id == userId && u.PasswordHash != null, ct);
    }

    public async Task<PasswordChangeOutcome> ChangePasswordAsync(long userId, string? current, string? next, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(next) || next.Length < ChatAccounts.MinPasswordLength)
            return new(PasswordChangeStatus.Invalid, $"The password must be at least {ChatAccounts.MinPasswordLength} characters.");
        if (next.Length > ChatAccounts.MaxPasswordLength)
            return new(PasswordChangeStatus.Invalid, $"The password must be at most {ChatAccounts.MaxPasswordLength} characters.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null || user.Kind != UserKind.Member || user.BannedAt is not null) return new(PasswordChangeStatus.NotFound, "The account was not found.");
        if (user.PasswordHash is not null)
        {
            if (string.IsNullOrEmpty(current) || current.Length > ChatAccounts.MaxPasswordLength
                || _hasher.VerifyHashedPassword(user, user.PasswordHash, current) == PasswordVerificationResult.Failed)
                return new(PasswordChangeStatus.WrongCurrentPassword, "The current password is wrong.");
        }
        user.PasswordHash = _hasher.HashPassword(user, next);
        user.SecurityStamp = ChatAccounts.NewStamp();
        user.FailedSignIns = 0;
        user.LockedUntil = null;
        await db.SaveChangesAsync(ct);
        await tokens.RevokeAllAsync(user.Id, ct);
        // Ends every open page and socket of the user (their cookies and tickets carry the old stamp);
        // the page that asked gets a new cookie with the new stamp.
        await sessions.RevokeAsync(user.Id, "password_changed");
        // Every sign-in ends on the server too; the page that asked starts a new one.
        if (signIns is not null) await signIns.EndAllAsync(user.Id, "password_changed", publish: false, ct);
        return new(PasswordChangeStatus.Changed, User: user);
    }

    /// <summary>The user's mute now, or null when not muted.</summary>
    public async Task<MuteInfo?> MuteAsync(long userId, CancellationToken ct = default)
    {
        var state = await users.GetAsync(userId, ct);
        if (state is null || !state.IsMuted(time.GetUtcNow())) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var reason = await db.Users.Where(u => u.Id == userId).Select(u => u.MuteReason).FirstOrDefaultAsync(ct);
        return new MuteInfo(state.MutedUntil!.Value, reason);
    }

    /// <summary>Remembers the language the user reads (push and email texts are written in it).</summary>
    public async Task SetLocaleAsync(long userId, string? locale, CancellationToken ct = default)
    {
        var value = locale is { Length: > 0 and <= 16 } ? locale : null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Users.Where(u => u.Id == userId && u.Locale != value).ExecuteUpdateAsync(s => s.SetProperty(u => u.Locale, value), ct);
    }
}
