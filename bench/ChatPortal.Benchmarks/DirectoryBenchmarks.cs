using BenchmarkDotNet.Attributes;
using ChatPortal.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Benchmarks;

/// <summary>
/// Issue 19: every join and leave updates the membership cache (<see cref="RoomDirectory.SetMember"/>, on every node),
/// and the cache checks its size on each update. With the memberships of a few thousand users cached, counting a
/// concurrent dictionary (all its locks, which grow with its table up to 1,024) was 1.6 % of a first-connect round's
/// server CPU. Here the memberships of 20,000 users of one room are cached and 50,000 users of another join and leave.
/// </summary>
[MemoryDiagnoser]
public class DirectoryBenchmarks
{
    private const int Changes = 1_000;
    private BenchCore _core = null!;
    private RoomDirectory _directory = null!;
    private long _next;

    private const int Cached = 20_000;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _core = await BenchCore.StartAsync(Path.Combine(Path.GetTempPath(), $"chatportal-bench-directory-{Guid.NewGuid():N}"));
        _directory = _core.Services.GetRequiredService<RoomDirectory>();
        for (var user = 1; user <= Cached; user++) _directory.SetMember(1, user, true);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _core.DisposeAsync();
        try { Directory.Delete(_core.DataDir, true); } catch (IOException) { }
    }

    [Benchmark(Description = "a join or leave noted in the membership cache", OperationsPerInvoke = Changes)]
    public void MembershipChanges()
    {
        // Joins and leaves of 50,000 users of another room, in turn: the cache stays below its limit (100,000).
        for (var i = 0; i < Changes; i++)
        {
            var n = _next++;
            _directory.SetMember(2, 1_000_000 + n % 50_000, n / 50_000 % 2 == 0);
        }
    }
}
