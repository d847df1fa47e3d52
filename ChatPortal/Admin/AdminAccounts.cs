using System.Threading.RateLimiting;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

public enum AdminSignInStatus
{
    SignedIn,
    Failed,
    LockedOut,
    Throttled,
    Invalid,
}

public sealed record AdminSignInOutcome(AdminSignInStatus Status, AdminUser? Admin = null)
{
    public bool Succeeded => Status == AdminSignInStatus.SignedIn;
}

/// <summary>An admin as the back office lists it.</summary>
public sealed record AdminInfo(long Id, string Name, DateTimeOffset CreatedAt, bool Disabled, DateTimeOffset? LockedUntil);

/// <summary>
/// Admin accounts: their own table, their own password hashes, their own lockout. There is no
/// default account; the first one is made on the command line (<see cref="AdminCli"/>).
/// </summary>
public sealed class AdminAccounts : IDisposable
{
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 128;
    public const int MaxFailures = 5;
    public static readonly TimeSpan LockoutTime = TimeSpan.FromMinutes(15);
    /// <summary>Attempts per address in <see cref="ThrottleWindow"/>: spraying many names from one place is slowed too.</summary>
    public const int AttemptsPerWindow = 20;
    public static readonly TimeSpan ThrottleWindow = TimeSpan.FromMinutes(5);

    private readonly IPasswordHasher<AdminUser> _hasher;
    private readonly string _dummyHash;

    private readonly IDbContextFactory<ChatDbContext> _dbFactory;
    private readonly AdminGuard _guard;
    private readonly AdminAudit _audit;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<string> _throttle;

    /// <remarks>The hasher comes from DI when one is registered (tests count its work), else Identity's default.</remarks>
    public AdminAccounts(IDbContextFactory<ChatDbContext> dbFactory, AdminGuard guard, AdminAudit audit, TimeProvider time, IPasswordHasher<AdminUser>? hasher = null)
    {
        _hasher = hasher ?? new PasswordHasher<AdminUser>();
        _dummyHash = _hasher.HashPassword(null!, "not-a-real-admin-password"); // verified for unknown names: same cost
        _dbFactory = dbFactory;
        _guard = guard;
        _audit = audit;
        _time = time;
        _throttle = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetSlidingWindowLimiter(ip,
            _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = AttemptsPerWindow,
                Window = ThrottleWindow,
                SegmentsPerWindow = 5,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public static string? ValidatePassword(string? password) =>
        string.IsNullOrEmpty(password) || password.Length < MinPasswordLength ? $"The password must be at least {MinPasswordLength} characters."
        : password.Length > MaxPasswordLength ? $"The password must be at most {MaxPasswordLength} characters."
        : null;

    // ------------------------------------------------------------ sign-in

    public async Task<AdminSignInOutcome> SignInAsync(string? name, string? password, string? remoteIp, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password) || password.Length > MaxPasswordLength || name.Length > 64)
            return new(AdminSignInStatus.Invalid);
        using (var lease = _throttle.AttemptAcquire(remoteIp ?? "?"))
        {
            if (!lease.IsAcquired) return new(AdminSignInStatus.Throttled);
        }

        var now = _time.GetUtcNow();
        var normalized = UserNames.Normalize(name);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.NormalizedName == normalized, ct);
        if (admin is null)
        {
            _hasher.VerifyHashedPassword(null!, _dummyHash, password); // same cost as a known name
            await _audit.WriteAsync(null, name.Trim(), remoteIp, AuditActions.SignInFailed, name.Trim(), "unknown name", ct);
            return new(AdminSignInStatus.Failed);
        }
        if (admin.LockedUntil is { } locked && locked > now)
            return new(AdminSignInStatus.LockedOut);

        var verdict = _hasher.VerifyHashedPassword(admin, admin.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed || admin.Disabled)
        {
            if (verdict == PasswordVerificationResult.Failed && ++admin.FailedSignIns >= MaxFailures)
            {
                admin.LockedUntil = now + LockoutTime;
                admin.FailedSignIns = 0;
            }
            _audit.Add(db, new AdminActor(admin.Id, admin.Name, remoteIp), AuditActions.SignInFailed, admin.Name,
                admin.Disabled ? "disabled" : admin.LockedUntil > now ? "wrong password; locked" : "wrong password");
            await db.SaveChangesAsync(ct);
            return new(admin.LockedUntil > now ? AdminSignInStatus.LockedOut : AdminSignInStatus.Failed);
        }

        if (verdict == PasswordVerificationResult.SuccessRehashNeeded) admin.PasswordHash = _hasher.HashPassword(admin, password);
        admin.FailedSignIns = 0;
        admin.LockedUntil = null;
        _audit.Add(db, new AdminActor(admin.Id, admin.Name, remoteIp), AuditActions.SignIn, admin.Name);
        await db.SaveChangesAsync(ct);
        return new(AdminSignInStatus.SignedIn, admin);
    }

    // ------------------------------------------------------------ command line (the operator has the database)

    /// <summary>Creates an admin; <paramref name="by"/> names who did it in the audit log.</summary>
    public async Task<AdminResult> CreateAsync(string? name, string? password, AdminActor by, CancellationToken ct = default)
    {
        var nameError = UserNames.Validate(name);
        if (nameError is not null) return AdminResult.Fail("name_invalid", nameError);
        var passwordError = ValidatePassword(password);
        if (passwordError is not null) return AdminResult.Fail("password_invalid", passwordError, MinPasswordLength);
        var trimmed = name!.Trim();
        var normalized = UserNames.Normalize(trimmed);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        if (await db.Admins.AnyAsync(a => a.NormalizedName == normalized, ct))
            return AdminResult.Fail("name_taken", $"An admin named \"{trimmed}\" exists already.");
        var admin = new AdminUser
        {
            Name = trimmed,
            NormalizedName = normalized,
            PasswordHash = "",
            CreatedAt = _time.GetUtcNow(),
            SecurityStamp = ChatAccounts.NewStamp(),
        };
        admin.PasswordHash = _hasher.HashPassword(admin, password!);
        db.Admins.Add(admin);
        _audit.Add(db, by, AuditActions.AdminCreate, trimmed);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return AdminResult.Fail("name_taken", $"An admin named \"{trimmed}\" exists already.");
        }
        return AdminResult.Success;
    }

    /// <summary>Disables or enables an admin by name. Disabling also changes the stamp, so old cookies never come back.</summary>
    public async Task<AdminResult> SetDisabledAsync(string name, bool disabled, AdminActor by, CancellationToken ct = default)
    {
        var normalized = UserNames.Normalize(name);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.NormalizedName == normalized, ct);
        if (admin is null) return AdminResult.Fail("not_found", $"No admin is named \"{name}\".");
        return await SetDisabledAsync(db, admin, disabled, by, ct);
    }

    private async Task<AdminResult> SetDisabledAsync(ChatDbContext db, AdminUser admin, bool disabled, AdminActor by, CancellationToken ct)
    {
        if (admin.Disabled == disabled) return AdminResult.Success;
        admin.Disabled = disabled;
        if (disabled) admin.SecurityStamp = ChatAccounts.NewStamp();
        else
        {
            admin.LockedUntil = null;
            admin.FailedSignIns = 0;
        }
        _audit.Add(db, by, disabled ? AuditActions.AdminDisable : AuditActions.AdminEnable, admin.Name);
        await db.SaveChangesAsync(ct);
        return AdminResult.Success;
    }

    public async Task<IReadOnlyList<AdminInfo>> ListAllAsync(CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Admins.AsNoTracking().OrderBy(a => a.Id).ToListAsync(ct);
        return rows.Select(a => new AdminInfo(a.Id, a.Name, a.CreatedAt, a.Disabled, a.LockedUntil)).ToList();
    }

    // ------------------------------------------------------------ back office (checked against the caller)

    public async Task<IReadOnlyList<AdminInfo>> ListAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await _guard.RequireAsync(caller, ct);
        return await ListAllAsync(ct);
    }

    public async Task<AdminResult> CreateAsync(AdminCaller caller, string? name, string? password, CancellationToken ct = default) =>
        await CreateAsync(name, password, await _guard.RequireAsync(caller, ct), ct);

    public async Task<AdminResult> SetDisabledAsync(AdminCaller caller, long adminId, bool disabled, CancellationToken ct = default)
    {
        var actor = await _guard.RequireAsync(caller, ct);
        if (adminId == actor.Id && disabled) return AdminResult.Fail("self", "You cannot disable yourself.");
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.Id == adminId, ct);
        if (admin is null) return AdminResult.Fail("not_found", "No such admin.");
        return await SetDisabledAsync(db, admin, disabled, actor, ct);
    }

    public void Dispose() => _throttle.Dispose();
}
