using ChatPortal.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Every connection of the portal writes with full fsync, waits on a lock instead of failing, and checks foreign keys.
/// Those are settings of the SQLite handle, which the pool keeps open between uses: they are set once per handle, and
/// still hold on every later use of it, and on handles the pool opens later.
/// </summary>
public sealed class SqlitePragmaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cp-pragmas-").FullName;

    [Fact]
    public async Task The_pragmas_hold_on_every_use_of_a_pooled_handle_and_run_once_per_handle()
    {
        var pragmas = new SqlitePragmas(busyTimeoutMs: 4321);
        var connectionString = $"Data Source={Path.Combine(_dir, "p.db")};Pooling=True";
        var options = new DbContextOptionsBuilder<ChatDbContext>().UseSqlite(connectionString).AddInterceptors(pragmas).Options;
        var factory = new PooledDbContextFactory<ChatDbContext>(options);
        var handles = new HashSet<object>(ReferenceEqualityComparer.Instance);

        async Task<(long Sync, long Busy, long Fk)> UseAsync(Func<Task>? whileOpen = null)
        {
            await using var db = await factory.CreateDbContextAsync();
            await db.Database.OpenConnectionAsync();
            try
            {
                var conn = (SqliteConnection)db.Database.GetDbConnection();
                lock (handles) handles.Add(conn.Handle!);
                if (whileOpen is not null) await whileOpen(); // keeps this handle busy so that others are opened side by side
                return (await ScalarAsync(conn, "PRAGMA synchronous"), await ScalarAsync(conn, "PRAGMA busy_timeout"),
                    await ScalarAsync(conn, "PRAGMA foreign_keys"));
            }
            finally
            {
                await db.Database.CloseConnectionAsync();
            }
        }

        // One after the other (the same pooled handle again and again), then side by side (more handles).
        var seen = new List<(long, long, long)>();
        for (var i = 0; i < 20; i++) seen.Add(await UseAsync());
        Assert.Equal(1, pragmas.Runs);
        // Four at once, each holding its connection open until all four are open: four handles.
        var open = 0;
        var allOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task WaitForAll()
        {
            if (Interlocked.Increment(ref open) == 4) allOpen.TrySetResult();
            await allOpen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        seen.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => UseAsync(WaitForAll)))));
        for (var i = 0; i < 20; i++) seen.Add(await UseAsync());

        Assert.All(seen, s => Assert.Equal((2L, 4321L, 1L), s)); // synchronous=FULL (2), the busy timeout, foreign keys on
        Assert.Equal(4, handles.Count);
        Assert.Equal(4, pragmas.Runs);

        // Handles the pool closed and opened again are new handles: they get the pragmas too.
        var before = handles.Count;
        SqliteConnection.ClearPool(new SqliteConnection(connectionString));
        Assert.Equal((2L, 4321L, 1L), await UseAsync());
        Assert.Equal(before + 1, handles.Count);
        Assert.Equal(handles.Count, pragmas.Runs);
    }

    private static async Task<long> ScalarAsync(SqliteConnection conn, string sql)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public void Dispose()
    {
        SqliteConnection.ClearPool(new SqliteConnection($"Data Source={Path.Combine(_dir, "p.db")};Pooling=True"));
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
