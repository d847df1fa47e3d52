using System.Globalization;
using System.Text;
using System.Threading.Channels;
using ChatPortal.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

/// <summary>
/// New memberships written in batches (issue 19): one loop takes every first join that arrived meanwhile and writes
/// them in one transaction (one context, one commit), as guests' rows are (<c>GuestAccounts</c>). A thousand bots
/// connecting for the first time each become a member of the lobby; written one transaction each, on SQLite their
/// concurrent write transactions queued on the database's one write lock and cost ~1.3 ms of server CPU per connect
/// (with the writes taken out of the path, 0.5 ms). Used by <see cref="ChatRooms.EnsureMemberAsync"/> once its
/// caches and read say the user is not a member; the announcement (<see cref="MemberAdded"/>) goes out from here
/// before the caller's task completes, also when the caller stopped waiting.
/// On SQLite a batch is two statements per room in one transaction (<see cref="InsertSqliteAsync"/>): through EF Core
/// (two reads with their SQL generated anew for each batch's lists, change tracking, SaveChanges) the write was a
/// fifth of what the server spent on a bot's first connect. PostgreSQL keeps the EF Core path, and
/// Speed/MemberWritesTests checks that both leave the same rows.
/// </summary>
internal sealed class MemberWrites : IDisposable
{
    private const int MaxBatch = 256;

    private readonly IDbContextFactory<ChatDbContext> _dbFactory;
    private readonly RoomDirectory _directory;
    private readonly TimeProvider _time;
    private readonly Func<MemberAdded, Task> _announce;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });

    private readonly bool _efOnly;
    private bool? _sqlite;

    /// <param name="efOnly">Write through EF Core also on SQLite (a test compares the two paths).</param>
    public MemberWrites(IDbContextFactory<ChatDbContext> dbFactory, RoomDirectory directory, TimeProvider time, Func<MemberAdded, Task> announce,
        bool efOnly = false)
    {
        (_dbFactory, _directory, _time, _announce, _efOnly) = (dbFactory, directory, time, announce, efOnly);
    }

    private int _started;

    /// <summary>Makes the user a member of the room; true when this call made them one (false: they were already).</summary>
    public Task<bool> AddAsync(long roomId, UserRef user, CancellationToken ct)
    {
        var request = new Request(roomId, user);
        if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(MemberWrites));
        if (Interlocked.Exchange(ref _started, 1) == 0) _ = Task.Run(RunAsync); // the loop starts with the first join
        return request.Done.Task.WaitAsync(ct);
    }

    public void Dispose() => _queue.Writer.TryComplete();

    private sealed class Request(long roomId, UserRef user)
    {
        public long RoomId { get; } = roomId;
        public UserRef User { get; } = user;
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var r)) batch.Add(r);
            await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<Request> batch)
    {
        HashSet<Request> made;
        try
        {
            made = await InsertAsync(batch).ConfigureAwait(false);
        }
        catch (DbUpdateException) when (batch.Count > 1)
        {
            // A row made between the read and the insert (another node, another process): one at a time, so only that
            // request finds its row there.
            foreach (var r in batch) await WriteAsync([r]).ConfigureAwait(false);
            return;
        }
        catch (DbUpdateException)
        {
            // Joined at the same moment elsewhere: the row exists, which is all we wanted.
            _directory.SetMember(batch[0].RoomId, batch[0].User.Id, true);
            batch[0].Done.TrySetResult(false);
            return;
        }
        catch (Exception ex)
        {
            foreach (var r in batch) r.Done.TrySetException(ex);
            return;
        }
        foreach (var r in batch)
        {
            if (made.Contains(r))
            {
                try
                {
                    await _announce(new MemberAdded(r.RoomId, r.User)).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    r.Done.TrySetException(ex); // stored; the caches and sessions learn of it at the next join
                    continue;
                }
            }
            else _directory.SetMember(r.RoomId, r.User.Id, true);
            r.Done.TrySetResult(made.Contains(r));
        }
    }

    /// <summary>Writes the rows of the batch that do not exist yet in one transaction; returns the requests that made one.</summary>
    private async Task<HashSet<Request>> InsertAsync(List<Request> batch)
    {
        await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
        _sqlite ??= !_efOnly && db.Database.IsSqlite(); // asked once: the provider's service lookup showed in the profile
        return _sqlite.Value ? await InsertSqliteAsync(db, batch).ConfigureAwait(false) : await InsertWithEfAsync(db, batch).ConfigureAwait(false);
    }

    /// <summary>The request that makes each (room, user) row; the same user twice in one batch (two tabs): the first.</summary>
    private static HashSet<Request> Makers(List<Request> batch, Func<Request, bool> isNew)
    {
        var made = new HashSet<Request>();
        var wanted = new HashSet<(long RoomId, long UserId)>();
        foreach (var r in batch)
            if (isNew(r) && wanted.Add((r.RoomId, r.User.Id))) made.Add(r);
        return made;
    }

    // Unread counts start at the room's newest message (one indexed MAX); a row that exists is left as it is (its read
    // cursor too) and not returned. json_each: the batch's user ids as one parameter, so the SQL text never changes.
    private const string InsertSql = """
        INSERT INTO RoomMembers (RoomId, UserId, JoinedAt, LastReadMessageId)
        SELECT $room, u.value, $now, COALESCE((SELECT MAX(Id) FROM Messages WHERE RoomId = $room), 0)
        FROM json_each($users) AS u WHERE true
        ON CONFLICT DO NOTHING
        RETURNING UserId
        """;

    // Joining a public room they once left lists it in their drawer again (in the same transaction).
    private const string DeleteDeparturesSql = "DELETE FROM RoomDepartures WHERE RoomId = $room AND UserId IN (SELECT value FROM json_each($users))";

    private async Task<HashSet<Request>> InsertSqliteAsync(ChatDbContext db, List<Request> batch)
    {
        var now = SqliteReads.ToDb(_time.GetUtcNow());
        var inserted = new HashSet<(long RoomId, long UserId)>();
        await db.Database.OpenConnectionAsync().ConfigureAwait(false); // the context's pragmas (its interceptor), as for its own commands
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        var timeout = db.Database.GetCommandTimeout() ?? 30;
        // The connection's own transaction (BEGIN IMMEDIATE, as EF Core's would be) without EF Core's bookkeeping
        // around it: nothing here goes through the context's commands.
        using var tx = connection.BeginTransaction();
        foreach (var (roomId, userIds) in ByRoom(batch))
        {
            var made = new List<long>();
            using (var insert = Command(connection, tx, timeout, InsertSql, roomId, IdList(userIds)))
            {
                insert.Parameters.AddWithValue("$now", now);
                using var reader = insert.ExecuteReader(); // Microsoft.Data.Sqlite runs its async methods synchronously anyway
                while (reader.Read())
                {
                    made.Add(reader.GetInt64(0));
                    inserted.Add((roomId, reader.GetInt64(0)));
                }
            }
            if (made.Count == 0) continue;
            using var delete = Command(connection, tx, timeout, DeleteDeparturesSql, roomId, IdList(made));
            delete.ExecuteNonQuery();
        }
        tx.Commit();
        return Makers(batch, r => inserted.Contains((r.RoomId, r.User.Id)));
    }

    /// <summary>The batch's users per room, each once (a batch is mostly one room).</summary>
    private static Dictionary<long, HashSet<long>> ByRoom(List<Request> batch)
    {
        var rooms = new Dictionary<long, HashSet<long>>();
        foreach (var r in batch)
        {
            if (!rooms.TryGetValue(r.RoomId, out var users)) rooms[r.RoomId] = users = [];
            users.Add(r.User.Id);
        }
        return rooms;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction tx, int timeout, string sql, long roomId, string users)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandTimeout = timeout;
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$room", roomId);
        cmd.Parameters.AddWithValue("$users", users);
        return cmd;
    }

    /// <summary>Ids as a JSON array (<c>[1,2,3]</c>), read by <c>json_each</c>.</summary>
    private static string IdList(IEnumerable<long> ids)
    {
        var sb = new StringBuilder("[");
        foreach (var id in ids) sb.Append(sb.Length > 1 ? "," : "").Append(id.ToString(CultureInfo.InvariantCulture));
        return sb.Append(']').ToString();
    }

    /// <summary>The same through EF Core (PostgreSQL).</summary>
    private async Task<HashSet<Request>> InsertWithEfAsync(ChatDbContext db, List<Request> batch)
    {
        var roomIds = batch.Select(r => r.RoomId).Distinct().ToList();
        var userIds = batch.Select(r => r.User.Id).Distinct().ToList();
        var existing = (await db.RoomMembers.AsNoTracking()
                .Where(m => roomIds.Contains(m.RoomId) && userIds.Contains(m.UserId))
                .Select(m => new { m.RoomId, m.UserId })
                .ToListAsync().ConfigureAwait(false))
            .Select(m => (m.RoomId, m.UserId)).ToHashSet();
        var made = Makers(batch, r => !existing.Contains((r.RoomId, r.User.Id)));
        if (made.Count == 0) return made;

        var now = _time.GetUtcNow();
        foreach (var roomId in made.Select(r => r.RoomId).Distinct())
        {
            // Unread counts start at the newest message: one indexed MAX per room (a batch is mostly one room).
            var last = await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => (long?)m.Id).ConfigureAwait(false) ?? 0;
            foreach (var r in made.Where(r => r.RoomId == roomId))
                db.RoomMembers.Add(new RoomMember { RoomId = roomId, UserId = r.User.Id, JoinedAt = now, LastReadMessageId = last });
        }
        // Joining a public room they once left lists it in their drawer again (deleted in the same transaction).
        var wanted = made.Select(r => (r.RoomId, r.User.Id)).ToHashSet();
        var departures = await db.RoomDepartures
            .Where(d => roomIds.Contains(d.RoomId) && userIds.Contains(d.UserId))
            .ToListAsync().ConfigureAwait(false);
        db.RoomDepartures.RemoveRange(departures.Where(d => wanted.Contains((d.RoomId, d.UserId))));
        await db.SaveChangesAsync().ConfigureAwait(false);
        return made;
    }
}
