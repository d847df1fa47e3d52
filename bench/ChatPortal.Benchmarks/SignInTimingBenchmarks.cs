using BenchmarkDotNet.Attributes;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Benchmarks;

/// <summary>
/// Issue 8, "same timing for known and unknown names": the time of a failed sign-in for a known
/// name (wrong password) against an unknown name, through the real account services on a real
/// SQLite file. The back office must not tell them apart (<see cref="AdminUnknownName"/> vs
/// <see cref="AdminKnownNameWrongPassword"/>); the chat side registers an unknown name by design
/// (nicknames are public), so <see cref="ChatUnknownName"/> is the cost of a registration.
/// Run: <c>dotnet run -c Release --project bench/ChatPortal.Benchmarks -- --signin</c>.
/// </summary>
[MedianColumn]
public class SignInTimingBenchmarks
{
    private const string KnownChat = "timing-known";
    private const string KnownAdmin = "timing-boss";
    private BenchCore _core = null!;
    private ChatAccounts _chat = null!;
    private AdminAccounts _admin = null!;
    private int _n;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _core = await BenchCore.StartAsync(Path.Combine(Path.GetTempPath(), $"chatportal-bench-signin-{Guid.NewGuid():N}"));
        var time = new LeapingTime();
        var db = _core.DbFactory;
        // No failure delay here: this measures the hashing work of the two answers, not the throttle.
        var accounts = Microsoft.Extensions.Options.Options.Create(new AccountOptions { FailureDelayMs = 0 });
        _chat = new ChatAccounts(db, _core.Services.GetRequiredService<UserDirectory>(), time, new SignInGuard(accounts, time),
            _core.Services.GetRequiredService<ChatPortal.Chat.Safeguards.AddressLimits>(), accounts,
            Microsoft.Extensions.Options.Options.Create(new ChatPortal.WebSockets.WebSocketEndpointOptions()));
        var guard = new AdminGuard(db);
        _admin = new AdminAccounts(db, guard, new AdminAudit(db, guard, time), time);
        if (!(await _chat.SignInOrRegisterAsync(KnownChat, "right-password-1", "127.0.0.1")).Succeeded) throw new InvalidOperationException("chat user");
        if (!(await _admin.CreateAsync(KnownAdmin, "right-admin-password", new AdminActor(0, "bench", "local"))).Ok) throw new InvalidOperationException("admin");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _admin.Dispose();
        await _core.DisposeAsync();
    }

    // A fresh address per attempt: the per-address throttle (20 per 5 min) is not what is measured.
    private string Ip() => $"10.{(_n >> 16) & 255}.{(_n >> 8) & 255}.{_n & 255}";

    [Benchmark]
    public async Task<bool> ChatKnownNameWrongPassword()
    {
        Interlocked.Increment(ref _n);
        return (await _chat.SignInOrRegisterAsync(KnownChat, "wrong-password", Ip())).Status == SignInStatus.WrongPassword;
    }

    [Benchmark]
    public async Task<bool> ChatUnknownName()
    {
        var n = Interlocked.Increment(ref _n);
        return (await _chat.SignInOrRegisterAsync($"timing-new-{n}", "any-password-1", Ip())).Status == SignInStatus.Registered;
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> AdminKnownNameWrongPassword()
    {
        Interlocked.Increment(ref _n);
        return (await _admin.SignInAsync(KnownAdmin, "wrong-admin-password", Ip())).Status == AdminSignInStatus.Failed;
    }

    [Benchmark]
    public async Task<bool> AdminUnknownName()
    {
        var n = Interlocked.Increment(ref _n);
        return (await _admin.SignInAsync($"nobody-{n}", "wrong-admin-password", Ip())).Status == AdminSignInStatus.Failed;
    }

    /// <summary>An hour passes between calls, so a lockout from the previous failures is always over (every attempt hashes).</summary>
    private sealed class LeapingTime : TimeProvider
    {
        private long _hours;
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddHours(Interlocked.Increment(ref _hours));
    }
}
