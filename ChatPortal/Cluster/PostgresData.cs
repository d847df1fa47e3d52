using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace ChatPortal.Cluster;

/// <summary>
/// The same model as <see cref="ChatDbContext"/> on PostgreSQL. It exists only so that EF Core
/// keeps a second set of migrations (Data/Migrations/Postgres) next to the SQLite ones; the
/// app still hands out <see cref="ChatDbContext"/> everywhere.
/// </summary>
public sealed class PostgresChatDbContext(DbContextOptions<PostgresChatDbContext> options) : ChatDbContext(options);

/// <summary>For <c>dotnet ef migrations add X -c PostgresChatDbContext -o Data/Migrations/Postgres</c>: no server needed.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresChatDbContext>
{
    public PostgresChatDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresChatDbContext>().UseNpgsql("Host=127.0.0.1;Database=chatportal_design").Options);
}

/// <summary>
/// For <c>dotnet ef ... -c ChatDbContext</c>: without it the tool would build a ChatDbContext with
/// the PostgreSQL factory above (the subclass fits the base type) and write PostgreSQL migrations
/// into the SQLite folder.
/// </summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<ChatDbContext>
{
    public ChatDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<ChatDbContext>().UseSqlite("Data Source=chatportal-design.db").Options);
}

public static class PostgresData
{
    public const string ProviderName = "Postgres";

    public static bool IsPostgres(string? provider) =>
        string.Equals(provider, ProviderName, StringComparison.OrdinalIgnoreCase)
        || string.Equals(provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
        || string.Equals(provider, "Npgsql", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Held around migrations so that nodes starting together migrate one after the other. EF Core's
    /// own PostgreSQL migration lock lasts one migration's transaction: with two or more pending
    /// migrations a second node could read the history between them and apply the next one again
    /// ("column already exists"). A session advisory lock on a connection of its own spans them all.
    /// </summary>
    public static async Task<IAsyncDisposable> MigrationLockAsync(IServiceProvider services, CancellationToken ct = default)
    {
        var connection = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        try
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(7268356814201803)", connection); // "ChatPortal migrations"
            cmd.CommandTimeout = 300;
            await cmd.ExecuteNonQueryAsync(ct);
            return new MigrationLock(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private sealed class MigrationLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(7268356814201803)", connection);
                await cmd.ExecuteNonQueryAsync();
            }
            finally
            {
                await connection.DisposeAsync(); // a lost connection releases the lock anyway
            }
        }
    }

    /// <summary>PostgreSQL behind the usual <see cref="IDbContextFactory{ChatDbContext}"/>, plus the cross-node room gate.</summary>
    public static IServiceCollection AddPostgresChatData(this IServiceCollection services, string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "ChatPortal";
        var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        services.AddSingleton(dataSource);
        services.AddPooledDbContextFactory<PostgresChatDbContext>(o => o.UseNpgsql(dataSource, npgsql => npgsql.CommandTimeout(30)));
        services.AddSingleton<IDbContextFactory<ChatDbContext>, ChatContextFromPostgres>();
        services.AddSingleton<IRoomWriteGate, PostgresRoomGate>();
        return services;
    }

    private sealed class ChatContextFromPostgres(IDbContextFactory<PostgresChatDbContext> inner) : IDbContextFactory<ChatDbContext>
    {
        public ChatDbContext CreateDbContext() => inner.CreateDbContext();

        public async Task<ChatDbContext> CreateDbContextAsync(CancellationToken ct = default) =>
            await inner.CreateDbContextAsync(ct).ConfigureAwait(false);
    }
}

/// <summary>
/// Orders writes per room across nodes with PostgreSQL advisory locks.
/// <para>
/// Why: identity values are handed out when a row is inserted, not when it commits. With two
/// writers (two nodes) on one room, node A can take id 100, node B id 101, and B commit first; a
/// client catching up "after id 99" in between gets 101, remembers 101, and never sees 100.
/// Holding a per-room lock from before the insert until after the commit makes every room's ids
/// commit in increasing order, so "after id N" is exact on every node.
/// </para>
/// <para>
/// Why session locks on a connection of their own rather than <c>pg_advisory_xact_lock</c>: the
/// writer keeps the lock past the commit until its events have reached Redis
/// (<see cref="IChatBackplane.FlushAsync"/>), so the other nodes also receive each room's live
/// events in id order. Locks are taken one statement at a time in key order, so two nodes
/// locking overlapping sets of rooms cannot deadlock; if a node dies its connection closes and
/// PostgreSQL releases its locks.
/// </para>
/// </summary>
internal sealed class PostgresRoomGate(NpgsqlDataSource dataSource) : IRoomWriteGate
{
    /// <summary>First half of the two-int advisory key: keeps our keys apart from anyone else's in the database.</summary>
    internal const int LockSpace = 0x43484154; // "CHAT"

    public async ValueTask<IAsyncDisposable> EnterAsync(IReadOnlyList<long> sortedRoomIds, CancellationToken ct = default)
    {
        var keys = sortedRoomIds.Select(KeyOf).Distinct().Order().ToList();
        var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await using var batch = new NpgsqlBatch(conn) { Timeout = 60 };
            foreach (var key in keys)
            {
                var cmd = new NpgsqlBatchCommand("SELECT pg_advisory_lock($1, $2)");
                cmd.Parameters.Add(new NpgsqlParameter { Value = LockSpace });
                cmd.Parameters.Add(new NpgsqlParameter { Value = key });
                batch.BatchCommands.Add(cmd);
            }
            await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return new Held(conn);
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Room ids beyond int range share keys: that only costs concurrency, never order.</summary>
    internal static int KeyOf(long roomId) => unchecked((int)(roomId ^ (roomId >> 32)));

    private sealed class Held(NpgsqlConnection conn) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", conn);
                await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            finally
            {
                await conn.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
