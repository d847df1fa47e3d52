using Microsoft.Data.Sqlite;

namespace ChatPortal.Data;

/// <summary>
/// The writer's hot path on SQLite: new posts go in through one long-lived connection and two
/// prepared statements (look up a client id, insert a row), inside one transaction per batch.
/// EF Core's SaveChanges costs tens of microseconds per row in change tracking and SQL generation,
/// and its <c>IN</c> lists of varying length compile new queries; this keeps a group commit of
/// hundreds of rows to a few milliseconds plus the fsync. Same file, same pragmas
/// (<c>synchronous=FULL</c>) and same column encodings as the EF model, so EF reads these rows
/// unchanged. Only the single writer uses it (never concurrently); edits, deletes and PostgreSQL
/// stay on EF Core.
/// </summary>
public sealed class SqlitePostStore(string connectionString, string pragmas, int commandTimeoutSeconds) : IDisposable
{
    private static readonly Func<DateTimeOffset, long> ToDb = SqliteReads.ToDb;
    private static Func<long, DateTimeOffset> FromDb => SqliteReads.FromDb;

    private const string Columns = "Id, RoomId, SenderId, Kind, Text, ClientMsgId, TargetId, ImageId, CreatedAt, EditedAt, DeletedAt, DeletedBy, QuoteId, ThreadId, AlsoInRoom, IsAction, AsName, AsIcon, PostedVia";

    private SqliteConnection? _connection;
    private SqliteCommand? _find;
    private SqliteCommand? _insert;
    private SqliteCommand? _deliver;

    /// <summary>Starts the batch's transaction (BEGIN IMMEDIATE: the write lock is taken now, waiting up to the busy timeout).</summary>
    public Batch Begin()
    {
        var connection = Open();
        try
        {
            return new Batch(this, connection.BeginTransaction(deferred: false));
        }
        catch
        {
            Reset();
            throw;
        }
    }

    private SqliteConnection Open()
    {
        if (_connection is not null) return _connection;
        // DefaultTimeout bounds BEGIN IMMEDIATE's lock retries as CommandTimeout bounds the statements'.
        var connection = new SqliteConnection(connectionString) { DefaultTimeout = commandTimeoutSeconds };
        try
        {
            connection.Open();
            using (var setup = connection.CreateCommand())
            {
                setup.CommandText = pragmas;
                setup.ExecuteNonQuery();
            }
            _find = connection.CreateCommand();
            _find.CommandText = $"SELECT {Columns} FROM Messages WHERE SenderId = $sender AND ClientMsgId = $client LIMIT 1";
            _find.Parameters.Add("$sender", SqliteType.Integer);
            _find.Parameters.Add("$client", SqliteType.Text);
            _insert = connection.CreateCommand();
            _insert.CommandText = """
                INSERT INTO Messages (RoomId, SenderId, Kind, Text, ClientMsgId, TargetId, ImageId, CreatedAt, EditedAt, DeletedAt, DeletedBy, QuoteId, ThreadId, AlsoInRoom, IsAction, AsName, AsIcon, PostedVia)
                VALUES ($room, $sender, $kind, $text, $client, $target, $image, $created, $edited, $deleted, $deletedBy, $quote, $thread, $also, $action, $asName, $asIcon, $via)
                RETURNING Id
                """;
            foreach (var (name, type) in new[]
                     {
                         ("$room", SqliteType.Integer), ("$sender", SqliteType.Integer), ("$kind", SqliteType.Integer),
                         ("$text", SqliteType.Text), ("$client", SqliteType.Text), ("$target", SqliteType.Integer),
                         ("$image", SqliteType.Text), ("$created", SqliteType.Integer), ("$edited", SqliteType.Integer),
                         ("$deleted", SqliteType.Integer), ("$deletedBy", SqliteType.Integer),
                         ("$quote", SqliteType.Integer), ("$thread", SqliteType.Integer), ("$also", SqliteType.Integer),
                         ("$action", SqliteType.Integer), ("$asName", SqliteType.Text), ("$asIcon", SqliteType.Text), ("$via", SqliteType.Text),
                     })
                _insert.Parameters.Add(name, type);
            // An outgoing webhook's outbox row, in the post's transaction (Chat.IPostOutbox).
            _deliver = connection.CreateCommand();
            _deliver.CommandText = """
                INSERT INTO WebhookDelivery (HookId, MessageId, RoomId, Body, State, Attempts, NextAttemptAt, CreatedAt, DoneAt)
                VALUES ($hook, $message, $room, $body, $state, $attempts, $next, $created, NULL)
                RETURNING Id
                """;
            foreach (var (name, type) in new[]
                     {
                         ("$hook", SqliteType.Integer), ("$message", SqliteType.Integer), ("$room", SqliteType.Integer), ("$body", SqliteType.Text),
                         ("$state", SqliteType.Integer), ("$attempts", SqliteType.Integer), ("$next", SqliteType.Integer), ("$created", SqliteType.Integer),
                     })
                _deliver.Parameters.Add(name, type);
            _find.CommandTimeout = _insert.CommandTimeout = _deliver.CommandTimeout = commandTimeoutSeconds;
            _connection = connection;
            return connection;
        }
        catch
        {
            connection.Dispose();
            _find = _insert = _deliver = null;
            throw;
        }
    }

    /// <summary>
    /// Adds up to <paramref name="max"/> stored rows past the watermark to the search index, in a
    /// transaction of its own (see the SearchDeferred migration). It commits with
    /// synchronous=NORMAL: a crash may lose the step, and the watermark goes back with it, so those
    /// rows are indexed again, never half. Returns true when the index has caught up with the table.
    /// </summary>
    public bool IndexPending(int max)
    {
        var connection = Open();
        try
        {
            Run(connection, null, "PRAGMA synchronous=NORMAL");
            bool caughtUp;
            using (var tx = connection.BeginTransaction(deferred: false))
            {
                var last = (long)Run(connection, tx, "SELECT LastId FROM SearchProgress WHERE Id = 1")!;
                var top = (long)Run(connection, tx, "SELECT IFNULL(MAX(Id), 0) FROM Messages")!;
                var upto = Math.Min(top, last + max);
                if (upto > last)
                {
                    Run(connection, tx, $"""
                        INSERT INTO MessageSearch(rowid, Text) SELECT Id, Text FROM Messages
                        WHERE Id > {last} AND Id <= {upto} AND Kind IN (0, 1) AND Text <> ''
                        """);
                    Run(connection, tx, $"UPDATE SearchProgress SET LastId = {upto} WHERE Id = 1");
                }
                tx.Commit();
                caughtUp = upto == top;
            }
            Run(connection, null, "PRAGMA synchronous=FULL");
            return caughtUp;
        }
        catch
        {
            Reset(); // also drops the NORMAL setting: the next connection starts with the pragmas
            throw;
        }
    }

    private object? Run(SqliteConnection connection, SqliteTransaction? tx, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandTimeout = commandTimeoutSeconds;
        cmd.CommandText = sql; // numbers only, from our own queries
        return cmd.ExecuteScalar();
    }

    /// <summary>After a failure the connection is dropped; the next batch opens a fresh one.</summary>
    private void Reset()
    {
        _find?.Dispose();
        _insert?.Dispose();
        _deliver?.Dispose();
        _connection?.Dispose();
        _find = _insert = _deliver = null;
        _connection = null;
    }

    public void Dispose() => Reset();

    private static object Db(object? value) => value ?? DBNull.Value;

    /// <summary>One transaction. Dispose without <see cref="Commit"/> rolls back (and resets the connection).</summary>
    public sealed class Batch(SqlitePostStore store, SqliteTransaction tx) : IDisposable
    {
        private bool _done;

        public Message? FindByClientId(long senderId, string clientMsgId)
        {
            var find = store._find!;
            find.Transaction = tx;
            find.Parameters[0].Value = senderId;
            find.Parameters[1].Value = clientMsgId;
            using var r = find.ExecuteReader();
            if (!r.Read()) return null;
            return new Message
            {
                Id = r.GetInt64(0),
                RoomId = r.GetInt64(1),
                SenderId = r.GetInt64(2),
                Kind = (MessageKind)r.GetInt32(3),
                Text = r.GetString(4),
                ClientMsgId = r.IsDBNull(5) ? null : r.GetString(5),
                TargetId = r.IsDBNull(6) ? null : r.GetInt64(6),
                ImageId = r.IsDBNull(7) ? null : r.GetString(7),
                CreatedAt = FromDb(r.GetInt64(8)),
                EditedAt = r.IsDBNull(9) ? null : FromDb(r.GetInt64(9)),
                DeletedAt = r.IsDBNull(10) ? null : FromDb(r.GetInt64(10)),
                DeletedBy = r.IsDBNull(11) ? null : r.GetInt64(11),
                QuoteId = r.IsDBNull(12) ? null : r.GetInt64(12),
                ThreadId = r.IsDBNull(13) ? null : r.GetInt64(13),
                AlsoInRoom = r.GetInt64(14) != 0,
                IsAction = r.GetInt64(15) != 0,
                AsName = r.IsDBNull(16) ? null : r.GetString(16),
                AsIcon = r.IsDBNull(17) ? null : r.GetString(17),
                PostedVia = r.IsDBNull(18) ? null : r.GetString(18),
            };
        }

        /// <summary>Inserts the row and sets its <see cref="Message.Id"/>.</summary>
        public void Insert(Message row)
        {
            var insert = store._insert!;
            insert.Transaction = tx;
            var p = insert.Parameters;
            p[0].Value = row.RoomId;
            p[1].Value = row.SenderId;
            p[2].Value = (int)row.Kind;
            p[3].Value = row.Text;
            p[4].Value = Db(row.ClientMsgId);
            p[5].Value = Db(row.TargetId);
            p[6].Value = Db(row.ImageId);
            p[7].Value = ToDb(row.CreatedAt);
            p[8].Value = row.EditedAt is { } e ? ToDb(e) : DBNull.Value;
            p[9].Value = row.DeletedAt is { } d ? ToDb(d) : DBNull.Value;
            p[10].Value = Db(row.DeletedBy);
            p[11].Value = Db(row.QuoteId);
            p[12].Value = Db(row.ThreadId);
            p[13].Value = row.AlsoInRoom ? 1 : 0;
            p[14].Value = row.IsAction ? 1 : 0;
            p[15].Value = Db(row.AsName);
            p[16].Value = Db(row.AsIcon);
            p[17].Value = Db(row.PostedVia);
            row.Id = (long)insert.ExecuteScalar()!;
        }

        public void Insert(Chat.Integrations.WebhookDelivery row)
        {
            var deliver = store._deliver!;
            deliver.Transaction = tx;
            var p = deliver.Parameters;
            p[0].Value = row.HookId;
            p[1].Value = row.MessageId;
            p[2].Value = row.RoomId;
            p[3].Value = row.Body;
            p[4].Value = (int)row.State;
            p[5].Value = row.Attempts;
            p[6].Value = ToDb(row.NextAttemptAt);
            p[7].Value = ToDb(row.CreatedAt);
            row.Id = (long)deliver.ExecuteScalar()!;
        }

        public void Commit()
        {
            tx.Commit();
            _done = true;
        }

        public void Dispose()
        {
            if (!_done)
            {
                try { tx.Rollback(); } catch (SqliteException) { /* the connection is dropped below anyway */ }
            }
            try { tx.Dispose(); } catch (SqliteException) { /* same */ }
            if (!_done) store.Reset();
        }
    }
}
