using System.Data.Common;
using System.Threading.Channels;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>A member's read position in a room, as others may see it.</summary>
public sealed record ReceiptCursor(UserRef User, long LastReadId);

/// <summary>
/// Read receipts from the one read cursor each member has per room (<see cref="RoomMember.LastReadMessageId"/>,
/// which unread counts already use): moving it tells the room (through the fan-out and to every node), and the
/// room's cursors give ✓✓ in direct conversations and "seen by N" in rooms. Storage is one row per member and room,
/// whatever the number of messages. A user who opts out is never announced nor listed.
/// The moves of one room are announced together, <see cref="AnnounceWindow"/> after the first of them: one move alone
/// as a <see cref="ReadReceipt"/>, several as one <see cref="ReceiptsMoved"/> (each member once, at their furthest).
/// Every attentive viewer moves their cursor when a message arrives, so announcing each move to everyone would cost
/// N² deliveries per message in a room of N viewers; gathered, it is N per window.
/// </summary>
public sealed class ReadReceipts(RoomDirectory rooms, IChatBackplane backplane, IDbContextFactory<ChatDbContext> dbFactory,
    TimeProvider time, LocalFanout? fanout = null)
{
    /// <summary>How long the moves of a room are gathered before they are announced (a ✓✓ shows this much later).</summary>
    internal TimeSpan AnnounceWindow { get; set; } = TimeSpan.FromMilliseconds(300);

    private readonly Lock _pendingGate = new();
    private Dictionary<long, Dictionary<long, ReceiptCursor>> _pending = [];
    private bool _announceScheduled;

    // Opt-outs are read on every cursor move: cached per node (a change on another node is seen within a minute).
    private readonly CountedMap<long, (bool Hidden, DateTimeOffset At)> _hidden = new();
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Moves the user's read position forward (never back) and, unless they hide receipts, tells the room. Returns once
    /// the move is stored: moves that come while one write runs are stored together, in the next transaction.
    /// </summary>
    public async Task MarkReadAsync(UserRef user, long roomId, long messageId, CancellationToken ct = default)
    {
        if (user.IsGuest) return;
        var write = new CursorWrite(user.Id, roomId, messageId);
        _cursorWrites.Writer.TryWrite(write);
        if (Interlocked.CompareExchange(ref _cursorWriterStarted, 1, 0) == 0) _ = Task.Run(WriteCursorsAsync);
        var moved = await write.Done.Task.WaitAsync(ct);
        if (moved && !await IsHiddenAsync(user.Id, ct)) Announce(roomId, user, messageId);
    }

    // Every attentive viewer of a room saves its read position within seconds of a new message: 1,000 viewers were
    // 1,000 transactions (each an EF query and a turn of SQLite's one writer, ahead of the next message's insert).
    // One writer loop takes whatever is queued and stores it in one transaction with one prepared statement.
    private readonly Channel<CursorWrite> _cursorWrites = Channel.CreateUnbounded<CursorWrite>(new UnboundedChannelOptions { SingleReader = true });
    private int _cursorWriterStarted;
    private const int MaxCursorWritesPerTransaction = 1000;

    private sealed record CursorWrite(long UserId, long RoomId, long MessageId)
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task WriteCursorsAsync()
    {
        var reader = _cursorWrites.Reader;
        var batch = new List<CursorWrite>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxCursorWritesPerTransaction && reader.TryRead(out var w)) batch.Add(w);
            try
            {
                var moved = await StoreCursorsAsync(batch).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(moved[i]);
            }
            catch (Exception ex)
            {
                foreach (var w in batch) w.Done.TrySetException(ex); // each caller sees the failure (the web view retries)
            }
        }
    }

    private async Task<bool[]> StoreCursorsAsync(List<CursorWrite> batch)
    {
        await using var db = await dbFactory.CreateDbContextAsync().ConfigureAwait(false);
        await db.Database.OpenConnectionAsync().ConfigureAwait(false); // through EF: its interceptors set the connection up
        var connection = db.Database.GetDbConnection();
        await using var tx = await connection.BeginTransactionAsync().ConfigureAwait(false);
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        // The same quoted names on SQLite and PostgreSQL (both migrations keep the model's names).
        cmd.CommandText = "UPDATE \"RoomMembers\" SET \"LastReadMessageId\" = @read WHERE \"RoomId\" = @room AND \"UserId\" = @user AND \"LastReadMessageId\" < @read";
        var read = Parameter(cmd, "@read");
        var room = Parameter(cmd, "@room");
        var user = Parameter(cmd, "@user");
        var moved = new bool[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            (read.Value, room.Value, user.Value) = (batch[i].MessageId, batch[i].RoomId, batch[i].UserId);
            moved[i] = await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) > 0;
        }
        await tx.CommitAsync().ConfigureAwait(false);
        return moved;

        static DbParameter Parameter(DbCommand cmd, string name)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.DbType = System.Data.DbType.Int64;
            cmd.Parameters.Add(p);
            return p;
        }
    }

    private void Announce(long roomId, UserRef user, long messageId)
    {
        lock (_pendingGate)
        {
            if (!_pending.TryGetValue(roomId, out var room)) _pending[roomId] = room = [];
            if (!room.TryGetValue(user.Id, out var had) || had.LastReadId < messageId) room[user.Id] = new ReceiptCursor(user, messageId);
            if (_announceScheduled) return;
            _announceScheduled = true;
        }
        _ = AnnounceLaterAsync();
    }

    private async Task AnnounceLaterAsync()
    {
        // Real time, not the injected clock: a test's frozen clock must not hold receipts back forever.
        await Task.Delay(AnnounceWindow).ConfigureAwait(false);
        Dictionary<long, Dictionary<long, ReceiptCursor>> due;
        lock (_pendingGate)
        {
            (due, _pending) = (_pending, []);
            _announceScheduled = false;
        }
        foreach (var (roomId, cursors) in due)
        {
            if (cursors.Count == 1)
            {
                var c = cursors.Values.First();
                backplane.Publish(new ReadReceipt(roomId, c.User, c.LastReadId));
            }
            else backplane.Publish(new ReceiptsMoved(roomId, [.. cursors.Values.OrderBy(c => c.LastReadId)]));
        }
    }

    /// <summary>
    /// How far each member of the room has read (those who hide receipts left out), for a user who may read it; with
    /// <paramref name="readFrom"/>, only the members who have read at least up to that message (a room view asks only
    /// for the readers of its user's own messages: O(readers), not O(members), per view).
    /// </summary>
    public async Task<ChatResult<IReadOnlyList<ReceiptCursor>>> CursorsAsync(UserRef user, long roomId, CancellationToken ct = default)
        => await CursorsAsync(user, roomId, readFrom: 1, ct);

    /// <inheritdoc cref="CursorsAsync(UserRef, long, CancellationToken)"/>
    public async Task<ChatResult<IReadOnlyList<ReceiptCursor>>> CursorsAsync(UserRef user, long roomId, long readFrom, CancellationToken ct = default)
    {
        readFrom = Math.Max(1, readFrom);
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null) return ChatError.NotFound("The room");
        if (await rooms.CheckReadAsync(user, room, ct) is { } denied) return denied;
        return ChatResult.Of(await _cursorReads.ReadAsync((roomId, readFrom)).WaitAsync(ct));
    }

    /// <summary>Database reads of a room's cursors so far (a test sees a crowd's reads shared).</summary>
    internal long CursorReads => Interlocked.Read(ref _cursorReadCount);
    private long _cursorReadCount;

    // A crowd rejoining a room after a restart replays its receipts at once (issue 19's reconnect storm): those who ask
    // while a read of the same room runs share the next one, which starts after each of them asked; and a finished read
    // is kept while nothing that could change it happened (CursorsVersion), so a crowd rejoining one by one reads once.
    private SharedReads<(long Room, long ReadFrom), IReadOnlyList<ReceiptCursor>> _cursorReads =>
        LazyInitializer.EnsureInitialized(ref field, () => new(key => ReadCursorsAsync(key.Room, key.ReadFrom),
            fanout is null ? null : key => CursorsVersion(key.Room)));

    /// <summary>
    /// Moves before anything that changes a room's cursors reaches this node's subscribers: a cursor move is stored, then
    /// announced (<see cref="ReadReceipt"/> / <see cref="ReceiptsMoved"/>, from any node), and membership and room events
    /// pass the fan-out too (<see cref="LocalFanout.ReceiptVersion"/>); an opt-out here moves it at once. What has no event
    /// — an opt-out or a rename on another node — is seen within <see cref="CursorsKeptFor"/>: a kept read is never older.
    /// All parts only grow, so their sum changes whenever one of them does.
    /// </summary>
    private long CursorsVersion(long roomId) =>
        fanout!.ReceiptVersion(roomId) + Volatile.Read(ref _optOutChanges) + Environment.TickCount64 / (long)CursorsKeptFor.TotalMilliseconds;

    /// <summary>The longest a kept cursor read is reused.</summary>
    internal static readonly TimeSpan CursorsKeptFor = TimeSpan.FromSeconds(2);

    private long _optOutChanges;

    private async Task<IReadOnlyList<ReceiptCursor>> ReadCursorsAsync(long roomId, long readFrom)
    {
        Interlocked.Increment(ref _cursorReadCount);
        await using var db = await dbFactory.CreateDbContextAsync().ConfigureAwait(false);
        var rows = await (from m in db.RoomMembers.AsNoTracking()
                          where m.RoomId == roomId && m.LastReadMessageId >= readFrom
                                && !db.ReadReceiptOptOuts.Any(o => o.UserId == m.UserId)
                          join u in db.Users.AsNoTracking() on m.UserId equals u.Id
                          where u.DeletedAt == null && u.Kind == UserKind.Member
                          select new { u.Id, u.Name, u.Kind, m.LastReadMessageId }).Take(5000).ToListAsync().ConfigureAwait(false);
        return rows.Select(r => new ReceiptCursor(new UserRef(r.Id, r.Name, r.Kind), r.LastReadMessageId)).ToList();
    }

    public async Task<bool> IsHiddenAsync(long userId, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        if (_hidden.TryGetValue(userId, out var known) && now - known.At < CacheFor) return known.Hidden;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hidden = await db.ReadReceiptOptOuts.AnyAsync(o => o.UserId == userId, ct);
        if (_hidden.Count > 100_000) _hidden.Clear();
        _hidden.Set(userId, (hidden, now));
        return hidden;
    }

    /// <summary>Hides (or shows again) the user's read receipts everywhere.</summary>
    public async Task SetHiddenAsync(UserRef user, bool hidden, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (hidden)
        {
            if (!await db.ReadReceiptOptOuts.AnyAsync(o => o.UserId == user.Id, ct))
            {
                db.ReadReceiptOptOuts.Add(new ReadReceiptOptOut { UserId = user.Id, Since = time.GetUtcNow() });
                try { await db.SaveChangesAsync(ct); }
                catch (DbUpdateException) { } // set at the same moment elsewhere
            }
        }
        else
        {
            await db.ReadReceiptOptOuts.Where(o => o.UserId == user.Id).ExecuteDeleteAsync(ct);
        }
        _hidden.Set(user.Id, (hidden, time.GetUtcNow()));
        Interlocked.Increment(ref _optOutChanges); // kept cursor reads list them no more (or again)
    }
}
