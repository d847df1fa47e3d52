using System.Security.Cryptography;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

public enum SignInStatus
{
    SignedIn,
    Registered,
    WrongPassword,
    LockedOut,
    Banned,
    Invalid,
}

public sealed record SignInOutcome(SignInStatus Status, ChatUser? User = null, string? Error = null, DateTimeOffset? LockedUntil = null)
{
    public bool Succeeded => Status is SignInStatus.SignedIn or SignInStatus.Registered;
}

/// <summary>
/// The original's "auto register": a new nickname creates the account, a known one signs in.
/// Passwords use ASP.NET Core Identity's hasher; repeated failures lock the account for a while.
/// </summary>
/// <remarks>The hasher comes from DI when one is registered (tests count its work), else Identity's default.</remarks>
public sealed class ChatAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time, IPasswordHasher<ChatUser>? hasher = null)
{
    public const int MinPasswordLength = 6;
    public const int MaxPasswordLength = 128;
    public const int MaxFailures = 5;
    public static readonly TimeSpan LockoutTime = TimeSpan.FromMinutes(5);
    private readonly IPasswordHasher<ChatUser> _hasher = hasher ?? new PasswordHasher<ChatUser>();
    // Verified against unknown names too, so both paths cost the same one verification.
    private readonly string _dummyHash = (hasher ?? new PasswordHasher<ChatUser>()).HashPassword(null!, "not-a-real-password");

    public async Task<SignInOutcome> SignInOrRegisterAsync(string? name, string? password, string? remoteIp, CancellationToken ct = default)
    {
        var nameError = UserNames.Validate(name);
        if (nameError is not null) return new(SignInStatus.Invalid, Error: nameError);
        if (string.IsNullOrEmpty(password) || password.Length < MinPasswordLength)
            return new(SignInStatus.Invalid, Error: $"The password must be at least {MinPasswordLength} characters.");
        if (password.Length > MaxPasswordLength)
            return new(SignInStatus.Invalid, Error: $"The password must be at most {MaxPasswordLength} characters.");

        var trimmed = name!.Trim();
        var normalized = UserNames.Normalize(trimmed);
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedName == normalized, ct);
        if (user is null)
        {
            _hasher.VerifyHashedPassword(null!, _dummyHash, password);
            user = new ChatUser
            {
                Name = trimmed,
                NormalizedName = normalized,
                Kind = UserKind.Member,
                CreatedAt = now,
                LastSeenAt = now,
                LastIp = remoteIp,
                SecurityStamp = NewStamp(),
            };
            user.PasswordHash = _hasher.HashPassword(user, password);
            db.Users.Add(user);
            try
            {
                await db.SaveChangesAsync(ct);
                return new(SignInStatus.Registered, user);
            }
            catch (DbUpdateException)
            {
                // Someone registered the same name a moment ago: sign in against that account.
                db.ChangeTracker.Clear();
                user = await db.Users.FirstAsync(u => u.NormalizedName == normalized, ct);
            }
        }

        if (user.Kind != UserKind.Member || user.PasswordHash is null)
            return new(SignInStatus.Invalid, Error: "That nickname is reserved.");
        if (user.LockedUntil is { } locked && locked > now)
            return new(SignInStatus.LockedOut, Error: "Too many failed attempts. Try again later.", LockedUntil: locked);

        var verdict = _hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            user.FailedSignIns++;
            if (user.FailedSignIns >= MaxFailures)
            {
                user.LockedUntil = now + LockoutTime;
                user.FailedSignIns = 0;
            }
            await db.SaveChangesAsync(ct);
            return user.LockedUntil > now
                ? new(SignInStatus.LockedOut, Error: "Too many failed attempts. Try again later.", LockedUntil: user.LockedUntil)
                : new(SignInStatus.WrongPassword, Error: "Wrong password for this nickname. (A new nickname creates a new account.)");
        }
        if (user.BannedAt is not null)
            return new(SignInStatus.Banned, Error: "This account is banned.");

        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            user.PasswordHash = _hasher.HashPassword(user, password);
        user.FailedSignIns = 0;
        user.LockedUntil = null;
        user.LastSeenAt = now;
        user.LastIp = remoteIp;
        await db.SaveChangesAsync(ct);
        users.Invalidate(user.Id);
        return new(SignInStatus.SignedIn, user);
    }

    /// <summary>Checks a password without signing in (API tokens).</summary>
    public async Task<SignInOutcome> VerifyAsync(string? name, string? password, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password)) return new(SignInStatus.Invalid, Error: "Name and password are required.");
        var normalized = UserNames.Normalize(name);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedName == normalized, ct);
        if (user?.PasswordHash is null)
        {
            _hasher.VerifyHashedPassword(null!, _dummyHash, password);
            return new(SignInStatus.WrongPassword, Error: "Unknown name or wrong password.");
        }
        var now = time.GetUtcNow();
        if (user.LockedUntil is { } locked && locked > now) return new(SignInStatus.LockedOut, Error: "Too many failed attempts. Try again later.");
        if (_hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed)
        {
            user.FailedSignIns++;
            if (user.FailedSignIns >= MaxFailures)
            {
                user.LockedUntil = now + LockoutTime;
                user.FailedSignIns = 0;
            }
            await db.SaveChangesAsync(ct);
            return new(SignInStatus.WrongPassword, Error: "Unknown name or wrong password.");
        }
        if (user.BannedAt is not null) return new(SignInStatus.Banned, Error: "This account is banned.");
        return new(SignInStatus.SignedIn, user);
    }

    public static string NewStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
