using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using ChatPortal.Chat.Safeguards;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>Chat account settings (section <c>Accounts</c>).</summary>
public sealed class AccountOptions
{
    public const string Section = "Accounts";

    /// <summary>Whether an unknown nickname on the sign-in form (or the token endpoint) creates the account. Off: only existing accounts sign in.</summary>
    public bool AutoRegister { get; set; } = true;

    /// <summary>Names nobody may register, nor anything that looks like them (confusable skeleton). Empty: the built-in list.</summary>
    public List<string> ReservedNames { get; set; } = [];

    /// <summary>Failed sign-ins for one account from one address (IPv6: its /64) before that address waits.</summary>
    public int FailuresPerAccountAndAddress { get; set; } = 5;

    /// <summary>How long that address waits (the failures are counted in windows of this length).</summary>
    public double FailureWindowMinutes { get; set; } = 15;

    /// <summary>Failures of an account (from any address) within the window that are answered at once; each one after that is answered later.</summary>
    public int FailuresBeforeDelay { get; set; } = 3;

    /// <summary>The first delay; it doubles with each further failure, up to <see cref="MaxFailureDelayMs"/>.</summary>
    public int FailureDelayMs { get; set; } = 250;

    public int MaxFailureDelayMs { get; set; } = 4000;

    internal static readonly string[] DefaultReserved =
        ["admin", "administrator", "root", "system", "moderator", "mod", "support", "staff", "official", "security",
         "chatportal", "guest", "游客", "管理员", "系统", "小爱", "小爱同学"];

    internal IReadOnlyList<string> Reserved => ReservedNames.Count > 0 ? ReservedNames : DefaultReserved;
}

/// <summary>
/// Password guessing without a lockout that an attacker can aim at the owner: failures are counted
/// per account AND client address, so five wrong guesses from one address make only that address
/// wait for that account (the owner elsewhere still signs in), and every failure of an account past
/// the first few is answered after a growing delay (guesses from many addresses are slowed, not the
/// owner's right password). The per-address budget across accounts (<see cref="Security.SignInThrottle"/>)
/// still applies. In memory per node.
/// </summary>
public sealed class SignInGuard : IDisposable
{
    private readonly AccountOptions _o;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<(long, string)> _perAddress;
    private readonly ConcurrentDictionary<long, (int Count, DateTimeOffset Since)> _perAccount = new();

    public SignInGuard(IOptions<AccountOptions> options, TimeProvider time)
    {
        _o = options.Value;
        _time = time;
        _perAddress = PartitionedRateLimiter.Create<(long, string), (long, string)>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ =>
            new FixedWindowRateLimiterOptions
            {
                PermitLimit = Math.Max(1, _o.FailuresPerAccountAndAddress),
                Window = Window,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    private TimeSpan Window => TimeSpan.FromMinutes(Math.Max(0.01, _o.FailureWindowMinutes));

    private static string KeyOf(string? address) => string.IsNullOrEmpty(address) ? "unknown" : AddressKey.Of(address);

    /// <summary>Whether this address must wait before trying this account again.</summary>
    public bool IsBlocked(long userId, string? address) =>
        _perAddress.GetStatistics((userId, KeyOf(address))) is { CurrentAvailablePermits: <= 0 };

    /// <summary>Counts a failure; true when this address must now wait for this account.</summary>
    public bool Failed(long userId, string? address)
    {
        using (_perAddress.AttemptAcquire((userId, KeyOf(address)))) { }
        var now = _time.GetUtcNow();
        _perAccount.AddOrUpdate(userId, _ => (1, now), (_, e) => now - e.Since > Window ? (1, now) : (e.Count + 1, e.Since));
        if (_perAccount.Count > 100_000)
        {
            foreach (var (id, e) in _perAccount)
                if (now - e.Since > Window) _perAccount.TryRemove(id, out _);
        }
        return IsBlocked(userId, address);
    }

    /// <summary>How long to hold the answer to a failed attempt on this account (0 for the first few in a window).</summary>
    public TimeSpan DelayFor(long userId)
    {
        if (!_perAccount.TryGetValue(userId, out var e) || _time.GetUtcNow() - e.Since > Window) return TimeSpan.Zero;
        return DelayAfter(e.Count, _o);
    }

    internal static TimeSpan DelayAfter(int failures, AccountOptions o)
    {
        var over = failures - Math.Max(0, o.FailuresBeforeDelay);
        if (over <= 0 || o.FailureDelayMs <= 0) return TimeSpan.Zero;
        var ms = Math.Min((double)Math.Max(o.FailureDelayMs, o.MaxFailureDelayMs), o.FailureDelayMs * Math.Pow(2, Math.Min(over - 1, 20)));
        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>A right password from this address: its count for the account starts again.</summary>
    public void Succeeded(long userId) => _perAccount.TryRemove(userId, out _);

    public void Dispose() => _perAddress.Dispose();
}
