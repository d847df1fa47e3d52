using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using ChatPortal.Chat;
using ChatPortal.Cluster;
using ChatPortal.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace ChatPortal.Data;

public static class DataSetup
{
    /// <summary>Registers the database (SQLite in the data folder by default) through a context factory.</summary>
    public static IHostApplicationBuilder AddChatPortalData(this IHostApplicationBuilder builder)
    {
        var portal = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        var dataPath = portal.ResolveDataPath(builder.Environment.ContentRootPath);
        Directory.CreateDirectory(dataPath);
        if (Cluster.PostgresData.IsPostgres(portal.DatabaseProvider))
        {
            if (portal.ConnectionString is not { Length: > 0 } pg)
                throw new InvalidOperationException("Portal:DatabaseProvider is Postgres but Portal:ConnectionString is empty (e.g. Host=127.0.0.1;Port=5432;Database=chatportal;Username=chatportal;Password=...).");
            builder.Services.AddPostgresChatData(pg);
            return builder;
        }
        var connection = portal.ConnectionString is { Length: > 0 } cs
            ? cs
            : $"Data Source={Path.Combine(dataPath, "chatportal.db")};Pooling=True";

        var commandTimeout = (int)Math.Ceiling(Math.Max(1, portal.SqliteCommandTimeoutSeconds));
        var pragmas = new SqlitePragmas((int)Math.Max(0, portal.SqliteBusyTimeoutSeconds * 1000));
        // Pooled: every request, join and query makes a short-lived context; reusing them saves the setup of
        // each (a tenth of a guest connect's CPU before, issue 19). ChatDbContext keeps no state of its own.
        builder.Services.AddPooledDbContextFactory<ChatDbContext>(o =>
        {
            o.UseSqlite(connection, sql => sql.CommandTimeout(commandTimeout));
            if (CompiledSqliteModel is { } model) o.UseModel(model);
            o.AddInterceptors(pragmas);
        });
        // The single writer's prepared-statement path for new posts (MessageWriter uses it when present).
        builder.Services.AddSingleton(_ => new SqlitePostStore(connection, pragmas.Sql, commandTimeout));
        // The connect path's reads (a token with its user, a user's drawer) as prepared statements (ApiTokens, ChatRooms use it when present).
        builder.Services.AddSingleton(_ => new SqliteReads(connection, pragmas.Sql, commandTimeout));
        return builder;
    }

    /// <summary>
    /// The SQLite model as generated code (Data/CompiledModel, <c>dotnet ef dbcontext optimize</c>): building it from
    /// OnModelCreating was ~0.2 s of every start (1.69 → 1.51 s), which a restart under a reconnect storm waits for (issue 19).
    /// Looked up by name, so that when the model changes the folder can be deleted and generated again (a stale copy may
    /// not compile); Speed/CompiledModelTests fails while the committed copy differs from the model, and prints the command.
    /// The tool's assembly attribute is not kept: only SQLite's options get this model, never a PostgreSQL context.
    /// </summary>
    private static readonly Microsoft.EntityFrameworkCore.Metadata.IModel? CompiledSqliteModel =
        typeof(DataSetup).Assembly.GetType("ChatPortal.Data.CompiledModel.ChatDbContextModel")?.GetProperty("Instance")?.GetValue(null)
            as Microsoft.EntityFrameworkCore.Metadata.IModel;

    /// <summary>Applies migrations and creates what a first run needs: the lobby.</summary>
    public static async Task InitializeDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        await using var db = await factory.CreateDbContextAsync(ct);
        if (db.Database.IsSqlite())
        {
            // WAL lets readers work while the writer commits; it is a property of the file.
            await db.Database.OpenConnectionAsync(ct);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }
        await using (db.Database.IsNpgsql() ? await PostgresData.MigrationLockAsync(services, ct) : null)
        {
            // Migrate also compares the model with the last migration's snapshot, about 150 ms of every start (a restart
            // under a reconnect storm waits for it, issue 19); with nothing to apply only the history is read. A new
            // file has everything pending. (Tests assert that the model has no changes without a migration; PostgreSQL
            // keeps Migrate, which also creates a missing database.)
            if (!db.Database.IsSqlite() || (await db.Database.GetPendingMigrationsAsync(ct)).Any())
                await db.Database.MigrateAsync(ct);
        }
        await services.GetRequiredService<ChatRooms>().EnsureDefaultRoomAsync("Everyone's room · 大家的聊天室", ct);
    }
}

/// <summary>
/// Durable and patient SQLite connections: full fsync on commit, wait instead of failing on a lock. The pragmas are
/// settings of the SQLite handle, and the pool keeps handles open between uses: they run once per handle, not on every
/// open (each query opens its context's connection; parsing three pragmas each time was a share of every read, issue 19).
/// </summary>
internal sealed class SqlitePragmas(int busyTimeoutMs = 5000) : DbConnectionInterceptor
{
    private readonly string _pragmas = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={busyTimeoutMs}; PRAGMA foreign_keys=ON;";
    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> _set = new();
    private static readonly object Set = new();
    private long _runs;

    /// <summary>The statements every connection runs first.</summary>
    public string Sql => _pragmas;

    /// <summary>How many times the pragmas ran (once per SQLite handle the pool opened).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (AlreadySet(connection)) return;
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = _pragmas;
            cmd.ExecuteNonQuery();
        }
        Remember(connection);
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData,
        CancellationToken cancellationToken = default)
    {
        if (AlreadySet(connection)) return;
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = _pragmas;
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        Remember(connection);
    }

    // A handle is used by one open connection at a time, so checking and remembering need no lock of their own.
    private bool AlreadySet(DbConnection connection) =>
        connection is SqliteConnection { Handle: { } handle } && _set.TryGetValue(handle, out _);

    private void Remember(DbConnection connection)
    {
        Interlocked.Increment(ref _runs);
        if (connection is SqliteConnection { Handle: { } handle }) _set.AddOrUpdate(handle, Set);
    }
}
