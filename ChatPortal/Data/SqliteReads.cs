using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ChatPortal.Data;

/// <summary>
/// Reads on a socket's connect path, on SQLite, as prepared statements on a few long-lived connections kept for reading
/// (issue 19). A <c>chatportal.v1</c> token connect reads its token with the user's row and the user's drawer (rooms,
/// direct conversations); through EF Core each read rented a context, opened a pooled connection, compiled its SQL
/// anew and materialized entities — with the load generator on the same two cores, those three reads were more than
/// half of what the server spent on a connect. Here each statement is compiled once per connection and run with new
/// values; every read still goes to the database (a ban, a revoked token or a new membership written a moment ago, by
/// any node or by the command line, is seen by the next read), only the cost of asking changed.
/// </summary>
/// <remarks>
/// Each read runs in autocommit mode and its reader is closed before the connection goes back, so no read transaction
/// outlives the read (WAL checkpoints are never held back). A connection whose read failed is dropped, not reused.
/// Same file, pragmas and column encodings as the EF model (times via <see cref="DateTimeOffsetToBinaryConverter"/>);
/// the EF queries stay for PostgreSQL, and Speed/SqliteReadsTests checks that both give the same answers.
/// </remarks>
public sealed class SqliteReads(string connectionString, string pragmas, int commandTimeoutSeconds) : IDisposable
{
    /// <summary>One statement of this path: its SQL and its parameters' names, numbered once per process.</summary>
    public sealed class Statement
    {
        private static int _count;
        internal readonly int Index = Interlocked.Increment(ref _count) - 1;
        internal readonly string Sql;
        internal readonly string[] Parameters;

        public Statement(string sql, params string[] parameters) => (Sql, Parameters) = (sql, parameters);
    }

    /// <summary>A stored time (a number) back to the model's value, as EF Core's converter reads it.</summary>
    internal static readonly Func<long, DateTimeOffset> FromDb = new DateTimeOffsetToBinaryConverter().ConvertFromProviderExpression.Compile();

    /// <summary>A time as the EF model stores it (a number), for SQL written by hand (the post store, first joins).</summary>
    internal static readonly Func<DateTimeOffset, long> ToDb = new DateTimeOffsetToBinaryConverter().ConvertToProviderExpression.Compile();

    /// <summary>A time column as the EF model stores it (a number).</summary>
    public static DateTimeOffset? Time(SqliteDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : FromDb(r.GetInt64(ordinal));

    /// <summary>Idle connections beyond this many are closed when handed back (a burst of reads may open more for a moment).</summary>
    private static readonly int KeepIdle = Math.Max(2, Environment.ProcessorCount * 2);

    private sealed class Handle(SqliteConnection connection) : IDisposable
    {
        public readonly SqliteConnection Connection = connection;
        private SqliteCommand?[] _commands = [];

        public SqliteCommand For(Statement st, int timeoutSeconds)
        {
            if (st.Index >= _commands.Length) Array.Resize(ref _commands, st.Index + 8);
            if (_commands[st.Index] is { } ready) return ready;
            var cmd = Connection.CreateCommand();
            cmd.CommandText = st.Sql;
            cmd.CommandTimeout = timeoutSeconds;
            foreach (var p in st.Parameters) cmd.Parameters.Add(new SqliteParameter { ParameterName = p });
            // Values are bound before each run; preparing needs them present, so give each a placeholder first.
            foreach (SqliteParameter p in cmd.Parameters) p.Value = DBNull.Value;
            cmd.Prepare();
            return _commands[st.Index] = cmd;
        }

        public void Dispose()
        {
            foreach (var c in _commands) c?.Dispose();
            Connection.Dispose();
        }
    }

    private readonly ConcurrentBag<Handle> _idle = [];
    private int _idleCount;
    private volatile bool _disposed;

    /// <summary>Connections opened so far (a test sees them reused).</summary>
    internal long Opened => Interlocked.Read(ref _opened);
    private long _opened;

    /// <summary>Runs <paramref name="statement"/> with <paramref name="args"/> (in the order of its parameters) and reads its rows with <paramref name="read"/>.</summary>
    public T Read<T>(Statement statement, ReadOnlySpan<object?> args, Func<SqliteDataReader, T> read)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var handle = Rent();
        try
        {
            var cmd = handle.For(statement, commandTimeoutSeconds);
            for (var i = 0; i < args.Length; i++) cmd.Parameters[i].Value = args[i] ?? DBNull.Value;
            T result;
            using (var reader = cmd.ExecuteReader()) result = read(reader);
            Return(handle);
            return result;
        }
        catch
        {
            handle.Dispose(); // whatever state it was left in, it is not reused
            throw;
        }
    }

    private Handle Rent()
    {
        if (_idle.TryTake(out var idle))
        {
            Interlocked.Decrement(ref _idleCount);
            return idle;
        }
        var connection = new SqliteConnection(connectionString) { DefaultTimeout = commandTimeoutSeconds };
        try
        {
            connection.Open();
            using var setup = connection.CreateCommand();
            setup.CommandText = pragmas;
            setup.ExecuteNonQuery();
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        Interlocked.Increment(ref _opened);
        return new Handle(connection);
    }

    private void Return(Handle handle)
    {
        if (_disposed || Interlocked.Increment(ref _idleCount) > KeepIdle)
        {
            if (!_disposed) Interlocked.Decrement(ref _idleCount);
            handle.Dispose();
            return;
        }
        _idle.Add(handle);
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var h)) h.Dispose();
    }
}
