using System.Security.Cryptography;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using ChatPortal.Chat.Safeguards;
using ChatPortal.WebSockets;

namespace ChatPortal.Auth;

public enum SignInStatus
{
    SignedIn,
    Registered,
    WrongPassword,
    /// <summary>This address failed too often for this account and must wait (the account itself is not locked).</summary>
    LockedOut,
    Banned,
    Invalid,
    /// <summary>The name is unknown and auto-registration is off.</summary>
    RegistrationClosed,
    /// <summary>This address registered too many accounts lately.</summary>
    RegistrationThrottled,
    /// <summary>The name is unknown and the person has not yet confirmed they want a new account (the sign-in form asks).</summary>
    ConfirmNewAccount,
}

/// <summary>
/// How a sign-in may register: <paramref name="Confirmed"/> — the person said "create a new account"
/// (the sign-in form asks first, so a typo'd nickname creates nothing); <paramref name="InviteCode"/> —
/// the site's invite link they came with (invite-only sites).
/// </summary>
public sealed record RegistrationRequest(bool Confirmed, string? InviteCode = null);

public sealed record SignInOutcome(SignInStatus Status, ChatUser? User = null, string? Error = null)
{
    public bool Succeeded => Status is SignInStatus.SignedIn or SignInStatus.Registered;
}

/// <summary>
/// The original's "auto register": a new nickname creates the account, a known one signs in.
/// Passwords use ASP.NET Core Identity's hasher. Guessing is slowed per account and address
/// (<see cref="SignInGuard"/>: no lockout of the owner), registration is limited per address
/// (<see cref="AddressLimits.TryRegister"/>) and can be switched off (<see cref="AccountOptions.AutoRegister"/>),
/// and a new name may not look like an existing or reserved one (<see cref="NameSkeletons"/>).
/// </summary>
/// <remarks>The hasher comes from DI when one is registered (tests count its work), else Identity's default.</remarks>
public sealed class ChatAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time,
    SignInGuard guard, AddressLimits limits, IOptions<AccountOptions> accountOptions, IOptions<WebSocketEndpointOptions> socketOptions,
    IPasswordHasher<ChatUser>? hasher = null, SiteAccess? site = null)
{
    public const int MinPasswordLength = 6;
    public const int MaxPasswordLength = 128;
    private const string TooManyFailures = "Too many failed attempts. Try again later.";
    private readonly IPasswordHasher<ChatUser> _hasher = hasher ?? new PasswordHasher<ChatUser>();
    // Verified against unknown names too, so both paths cost the same one verification.
    private readonly string _dummyHash = (hasher ?? new PasswordHasher<ChatUser>()).HashPassword(null!, "not-a-real-password");

    /// <param name="register">How an unknown name may register; null (the token endpoint): without asking, when the site is open.</param>
    public async Task<SignInOutcome> SignInOrRegisterAsync(string? name, string? password, string? remoteIp, CancellationToken ct = default,
        RegistrationRequest? register = null)
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
            var mode = site is null
                ? (accountOptions.Value.AutoRegister ? RegistrationMode.Open : RegistrationMode.Closed)
                : (await site.GetAsync(ct)).Registration;
            if (mode == RegistrationMode.Closed || (mode == RegistrationMode.InviteOnly && !(site is not null && await site.MayRegisterAsync(register?.InviteCode, ct))))
            {
                _hasher.VerifyHashedPassword(null!, _dummyHash, password);
                return new(SignInStatus.RegistrationClosed, Error: mode == RegistrationMode.InviteOnly
                    ? "New accounts need an invitation here. Open the invite link you were given, or sign in with an existing nickname."
                    : "New accounts cannot be created here. Sign in with an existing nickname.");
            }
            if (await LooksTakenAsync(db, trimmed, ct))
                return new(SignInStatus.Invalid, Error: "That nickname looks too much like an existing or reserved one; pick another.");
            if (register is { Confirmed: false })
            {
                // Same work as a real answer, so the question does not stand out by its speed.
                _hasher.VerifyHashedPassword(null!, _dummyHash, password);
                return new(SignInStatus.ConfirmNewAccount, Error: "There is no account with this nickname yet. Create a new account?");
            }
            if (!limits.TryRegister(remoteIp))
                return new(SignInStatus.RegistrationThrottled, Error: "Too many new accounts from your network. Try again later.");
            _hasher.VerifyHashedPassword(null!, _dummyHash, password);
            user = new ChatUser
            {
                Name = trimmed,
                NormalizedName = normalized,
                NameSkeleton = NameSkeletons.Of(trimmed),
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
        // Only this address waits: the account is not locked for its owner elsewhere.
        if (guard.IsBlocked(user.Id, remoteIp))
            return new(SignInStatus.LockedOut, Error: TooManyFailures);

        var verdict = _hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            var blocked = guard.Failed(user.Id, remoteIp);
            var delay = guard.DelayFor(user.Id);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, time, ct);
            return blocked
                ? new(SignInStatus.LockedOut, Error: TooManyFailures)
                : new(SignInStatus.WrongPassword, Error: "Wrong password for this nickname. (A new nickname creates a new account.)");
        }
        if (user.BannedAt is not null)
            return new(SignInStatus.Banned, Error: "This account is banned.");

        guard.Succeeded(user.Id);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            user.PasswordHash = _hasher.HashPassword(user, password);
        user.LastSeenAt = now;
        user.LastIp = remoteIp;
        user.NameSkeleton ??= NameSkeletons.Of(user.Name);
        await db.SaveChangesAsync(ct);
        users.Invalidate(user.Id);
        return new(SignInStatus.SignedIn, user);
    }

    /// <summary>
    /// Checks a signed-in user's password again before something irreversible (deleting the account),
    /// with the same throttle as a sign-in; never registers and changes nothing on success.
    /// </summary>
    public async Task<SignInOutcome> VerifyAsync(string? name, string? password, string? remoteIp = null, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password)) return new(SignInStatus.Invalid, Error: "Name and password are required.");
        var normalized = UserNames.Normalize(name.Trim());
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.NormalizedName == normalized, ct);
        if (user?.PasswordHash is null)
        {
            _hasher.VerifyHashedPassword(null!, _dummyHash, password);
            return new(SignInStatus.WrongPassword, Error: "Wrong password.");
        }
        if (guard.IsBlocked(user.Id, remoteIp)) return new(SignInStatus.LockedOut, Error: TooManyFailures);
        if (_hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed)
        {
            var blocked = guard.Failed(user.Id, remoteIp);
            return blocked ? new(SignInStatus.LockedOut, Error: TooManyFailures) : new(SignInStatus.WrongPassword, Error: "Wrong password.");
        }
        if (user.BannedAt is not null) return new(SignInStatus.Banned, Error: "This account is banned.");
        guard.Succeeded(user.Id);
        return new(SignInStatus.SignedIn, user);
    }

    /// <summary>
    /// Whether a new name looks like a reserved name, a guest name (prefix and digits) or an existing
    /// user's name: same confusable skeleton (<see cref="NameSkeletons"/>).
    /// </summary>
    internal async Task<bool> LooksTakenAsync(ChatDbContext db, string name, CancellationToken ct)
    {
        var keys = NameSkeletons.Keys(name);
        foreach (var reserved in accountOptions.Value.Reserved)
            if (NameSkeletons.Keys(reserved).Intersect(keys).Any()) return true;
        var prefix = socketOptions.Value.GuestNamePrefix.Trim();
        var folded = name.Normalize(System.Text.NormalizationForm.FormKC);
        if (prefix.Length > 0 && folded.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && folded.Length > prefix.Length && folded[prefix.Length..].All(char.IsAsciiDigit))
            return true;
        var list = keys.ToList();
        return await db.Users.AnyAsync(u => u.NameSkeleton != null && list.Contains(u.NameSkeleton), ct);
    }

    public static string NewStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
