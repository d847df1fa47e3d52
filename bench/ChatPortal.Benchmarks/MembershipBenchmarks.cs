using BenchmarkDotNet.Attributes;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Benchmarks;

/// <summary>
/// Issue 19, an account's first connect: its first join writes its membership (<see cref="MemberWrites"/>), alone or
/// with the other first joins of the moment. The SQLite path (two statements per room) against the EF Core path
/// (PostgreSQL's), same database, same run; each figure is per membership. Every operation joins users to a room id
/// of its own (memberships have no foreign key), so each join is a first one.
/// </summary>
[MemoryDiagnoser]
public class MembershipBenchmarks
{
    private const int Users = 100;
    private BenchCore _core = null!;
    private MemberWrites _writes = null!;
    private UserRef[] _users = [];
    private long _room = 1_000_000;
    private long _joins, _measuredJoins;
    private TimeSpan _cpu;
    private const int Unmeasured = 2_000; // the first joins of a case compile its path

    [Params(false, true)] public bool EfCore { get; set; }

    [Params(1, Users)] public int Batch { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"chatportal-bench-members-{Guid.NewGuid():N}");
        _core = await BenchCore.StartAsync(dir);
        _users = new UserRef[Users];
        for (var i = 0; i < Users; i++) _users[i] = await _core.UserAsync($"member{i}");
        _writes = new MemberWrites(_core.DbFactory, _core.Services.GetRequiredService<RoomDirectory>(), TimeProvider.System,
            _ => Task.CompletedTask, efOnly: EfCore);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        // The table's time is wall time (a commit waits for its fsync); this is the process's CPU per membership during
        // the invocations after the first Unmeasured joins.
        Console.WriteLine($"// MembershipBenchmarks EfCore={EfCore} Batch={Batch}: {_measuredJoins:N0} first joins measured, " +
            $"process CPU {_cpu.TotalMicroseconds / Math.Max(1, _measuredJoins):F1} µs per join");
        _writes.Dispose();
        await _core.DisposeAsync();
        try { Directory.Delete(_core.DataDir, true); } catch (IOException) { }
    }

    [Benchmark(Description = "first joins: MemberWrites.AddAsync, all at once", OperationsPerInvoke = Users)]
    public async Task FirstJoins()
    {
        // Users first joins per invocation, in groups of Batch at once (1: one after another).
        var cpuBefore = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        for (var start = 0; start < Users; start += Batch)
        {
            var room = Interlocked.Increment(ref _room);
            var joins = new Task<bool>[Batch];
            for (var i = 0; i < Batch; i++) joins[i] = _writes.AddAsync(room, _users[start + i], default);
            foreach (var made in await Task.WhenAll(joins))
                if (!made) throw new InvalidOperationException("a first join was not new");
            _joins += Batch;
        }
        if (_joins <= Unmeasured) return;
        _cpu += System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        _measuredJoins += Users;
    }
}
