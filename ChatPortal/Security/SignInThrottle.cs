using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace ChatPortal.Security;

/// <summary>
/// Failed sign-ins per client address (the address after forwarded headers, so only configured
/// proxies can name another). Complements the per-account lockout: one address guessing many
/// accounts, a few passwords each, is stopped too. Counting failures, not attempts, keeps a
/// shared address (an office behind NAT) able to sign in.
/// </summary>
internal sealed class SignInThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;

    public SignInThrottle(IOptions<SecurityOptions> options)
    {
        var o = options.Value;
        _failures = PartitionedRateLimiter.Create<string, string>(ip => RateLimitPartition.GetFixedWindowLimiter(ip, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, o.SignInFailuresPerAddress),
            Window = TimeSpan.FromSeconds(Math.Max(1, o.SignInWindowSeconds)),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>True while this address still has failures left in the current window.</summary>
    public bool Allowed(string ip) => _failures.GetStatistics(ip) is not { CurrentAvailablePermits: <= 0 };

    public void Failed(string ip)
    {
        using var lease = _failures.AttemptAcquire(ip);
    }

    public void Dispose() => _failures.Dispose();
}

internal sealed class SignInThrottleMiddleware(RequestDelegate next, SignInThrottle throttle, ILogger<SignInThrottleMiddleware> log)
{
    public async Task InvokeAsync(HttpContext ctx)
    {
        if (!SecuritySetup.IsSignInAttempt(ctx.Request))
        {
            await next(ctx);
            return;
        }
        var ip = ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (!throttle.Allowed(ip))
        {
            log.LogWarning("Sign-in attempt from {Address} refused: too many failures", ip);
            ctx.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            ctx.Response.Headers.RetryAfter = "60";
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            await ctx.Response.WriteAsync("Too many failed sign-in attempts from this address. Try again in a minute.");
            return;
        }
        await next(ctx);
        // 400 (wrong password, bad form), 401 (token endpoint) and 429 (locked account) are failures.
        if (ctx.Response.StatusCode is >= 400 and < 500) throttle.Failed(ip);
    }
}
