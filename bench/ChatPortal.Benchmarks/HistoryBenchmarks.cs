using BenchmarkDotNet.Attributes;
using ChatPortal.Chat;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ChatPortal.Benchmarks;

/// <summary>
/// Scenario 6: a room of 1,000,000 messages (plus the FTS5 trigram index the app keeps), read
/// through <see cref="ChatHistory.GetHistoryAsync"/> and <c>MessageSearch.SearchAsync</c>.
/// The seeded database is kept in /tmp and reused by later runs (seeding takes a minute or two).
/// </summary>
[MemoryDiagnoser]
public class HistoryBenchmarks
{
    public const int RoomSize = 1_000_000;
    private BenchCore _core = null!;
    private RoomInfo _room = null!;
    private UserRef _reader = null!;
    private long _olderBefore;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var dir = Environment.GetEnvironmentVariable("CHATPORTAL_BENCH_1M") ?? Path.Combine(Path.GetTempPath(), "chatportal-bench-1m");
        _core = await BenchCore.StartAsync(dir);
        _room = await _core.RoomAsync("big");
        _reader = await _core.UserAsync("reader");
        await using var db = await _core.DbFactory.CreateDbContextAsync();
        var have = await db.Messages.CountAsync(m => m.RoomId == _room.Id);
        if (have < RoomSize)
        {
            Console.WriteLine($"// seeding {RoomSize - have:N0} messages into {dir}");
            db.Database.SetCommandTimeout(TimeSpan.FromMinutes(20));
            // Times as EF stores them (its DateTimeOffset-to-binary converter); one second apart.
            var convert = new DateTimeOffsetToBinaryConverter();
            var t0 = DateTimeOffset.UtcNow.AddDays(-30);
            var start = (long)convert.ConvertToProvider(t0)!;
            var second = (long)convert.ConvertToProvider(t0.AddSeconds(1))! - start;
            // Numbers only (no user input): a raw statement is safe here.
            var seed = $"""
                WITH RECURSIVE n(i) AS (SELECT {have} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {RoomSize})
                INSERT INTO Messages (RoomId, SenderId, Kind, Text, CreatedAt)
                SELECT {_room.Id}, {_reader.Id}, 0,
                       '第' || i || '条 ' || substr('春眠不觉晓处处闻啼鸟夜来风雨声花落知多少白日依山尽黄河入海流欲穷千里目更上一层楼床前明月光疑是地上霜举头望明月低头思故乡', (i * 7) % 60 + 1, 8) || ' hello ' || (i % 9973),
                       {start} + i * {second}
                FROM n;
                -- Indexed for search at once, as the writer would (SearchDeferred migration).
                INSERT INTO MessageSearch(rowid, Text) SELECT Id, Text FROM Messages
                  WHERE Id > (SELECT LastId FROM SearchProgress WHERE Id = 1) AND Kind IN (0, 1) AND Text <> '';
                UPDATE SearchProgress SET LastId = (SELECT MAX(Id) FROM Messages) WHERE Id = 1;
                """;
            await db.Database.ExecuteSqlRawAsync(seed);
        }
        var ids = await db.Messages.Where(m => m.RoomId == _room.Id).OrderBy(m => m.Id).Select(m => m.Id).Skip(RoomSize / 2).FirstAsync();
        _olderBefore = ids;
        Console.WriteLine($"// room {_room.Id}: {await db.Messages.CountAsync(m => m.RoomId == _room.Id):N0} messages; older page before id {_olderBefore}");
    }

    [GlobalCleanup]
    public async Task CleanupAsync() => await _core.DisposeAsync();

    [Benchmark(Description = "history: latest page (50)")]
    public async Task<int> LatestPage() => (await _core.History.GetHistoryAsync(_room.Id, null, 50)).Count;

    [Benchmark(Description = "history: older page (50, middle of the room)")]
    public async Task<int> OlderPage() => (await _core.History.GetHistoryAsync(_room.Id, _olderBefore, 50)).Count;

    [Benchmark(Description = "search: Chinese substring 明月光疑")]
    public async Task<int> ChineseSearch() => (await _core.Search.SearchAsync(_reader, "明月光疑", _room.Id)).Count;
}
