using System.Threading.Channels;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>Sees every stored event right after it is committed and fanned out. Must not block.</summary>
public interface IStoredEventObserver
{
    void OnStored(ChatEvent evt);
}

/// <summary>
/// Serializes writers of the same rooms across nodes that share one database: the writer holds
/// the gate from before its insert until its events have been published, so ids commit in room
/// order (catch-up "after id N" misses nothing) and other nodes receive them in that order.
/// One node alone needs none: its single writer already orders everything.
/// </summary>
public interface IRoomWriteGate
{
    ValueTask<IAsyncDisposable> EnterAsync(IReadOnlyList<long> sortedRoomIds, CancellationToken ct = default);
}

/// <summary>
/// The single writer. Posts, edits and deletes queue here; the loop commits whatever has
/// arrived in one transaction (group commit), then fans the events out in id order, then
/// completes each caller's task. Nobody sees a message, and no sender is told it was sent,
/// before it is committed.
/// </summary>
public sealed class MessageWriter : BackgroundService
{
    private const int MaxBatch = 512;
    /// <summary>Rows per search-index step, and how many may wait before one runs between batches.</summary>
    private const int IndexStep = 4096, IndexEagerly = 2048;
    private readonly TimeSpan _indexIdle;
    private long _unindexed = 1; // unknown at start: look once
    private bool _indexBehind;
    private readonly Channel<WriteOp> _queue = Channel.CreateBounded<WriteOp>(new BoundedChannelOptions(20_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly IDbContextFactory<ChatDbContext> _db;
    private readonly IChatBackplane _backplane;
    private readonly IEnumerable<IStoredEventObserver> _observers;
    private readonly ILogger<MessageWriter> _log;
    private readonly IRoomWriteGate? _gate;
    private readonly SqlitePostStore? _posts;
    private readonly RoomDirectory? _rooms;
    private readonly ChatMetrics? _metrics;
    private readonly IPostOutbox? _outbox;

    public MessageWriter(IDbContextFactory<ChatDbContext> db, IChatBackplane backplane,
        IEnumerable<IStoredEventObserver> observers, ILogger<MessageWriter> log, IRoomWriteGate? gate = null,
        SqlitePostStore? posts = null, IOptions<ChatOptions>? options = null, RoomDirectory? rooms = null, ChatMetrics? metrics = null,
        IPostOutbox? outbox = null)
    {
        _outbox = outbox;
        _metrics = metrics;
        _rooms = rooms;
        _indexIdle = options?.Value.SearchIndexDelay ?? TimeSpan.FromMilliseconds(200);
        _db = db;
        _backplane = backplane;
        _observers = observers;
        _log = log;
        _gate = gate;
        _posts = posts;
    }

    public int QueueDepth => _queue.Reader.Count;

    internal async Task<WriteResult> SubmitAsync(WriteOp op, CancellationToken ct)
    {
        try
        {
            await _queue.Writer.WriteAsync(op, ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return WriteResult.Fail(ChatError.Unavailable);
        }
        // Once queued the write happens; the caller's cancellation only stops the waiting.
        return await op.Done.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Queues a write; the returned task completes once it is committed and fanned out.</summary>
    internal async ValueTask<Task<WriteResult>> EnqueueAsync(WriteOp op, CancellationToken ct)
    {
        try
        {
            await _queue.Writer.WriteAsync(op, ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return Task.FromResult(WriteResult.Fail(ChatError.Unavailable));
        }
        return op.Done.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new List<WriteOp>(MaxBatch);
        // Keep draining after a stop request until the queue is closed and empty.
        while (!reader.Completion.IsCompleted)
        {
            if (_posts is not null && _unindexed > 0 && reader.Count == 0)
            {
                // Nothing to write: index for search. After a burst wait briefly first, so that one
                // step covers the whole burst (bigger FTS segments, less merging).
                if (_indexBehind || !await WritesArriveWithinAsync(reader, _indexIdle).ConfigureAwait(false)) IndexSearch();
                continue;
            }
            if (!await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false)) break;
            // A room delete (or a conversation change) is a batch of its own: what was queued before it is committed first.
            while (batch.Count < MaxBatch && reader.TryPeek(out var next) && !(next.Solo && batch.Count > 0) && reader.TryRead(out var op))
            {
                batch.Add(op);
                if (op.Solo) break;
            }
            await CommitAsync(batch).ConfigureAwait(false);
            batch.Clear();
            // Under sustained load there is no idle moment: index between batches once enough waits.
            if (_posts is not null && _unindexed >= IndexEagerly) IndexSearch();
        }
    }

    private static async Task<bool> WritesArriveWithinAsync(ChannelReader<WriteOp> reader, TimeSpan wait)
    {
        var more = reader.WaitToReadAsync(CancellationToken.None).AsTask();
        return await Task.WhenAny(more, Task.Delay(wait)).ConfigureAwait(false) == more; // also true once closed
    }

    /// <summary>One search-index step on SQLite (see <see cref="SqlitePostStore.IndexPending"/>); search reads the unindexed tail directly.</summary>
    private void IndexSearch()
    {
        try
        {
            _indexBehind = !_posts!.IndexPending(IndexStep);
            _unindexed = _indexBehind ? IndexEagerly : 0;
        }
        catch (Exception ex)
        {
            // Retried after the next write; until then search reads those messages without the index.
            _log.LogWarning(ex, "Search indexing failed");
            _indexBehind = false;
            _unindexed = 0;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CommitAsync(List<WriteOp> batch)
    {
        if (_gate is null)
        {
            await CommitUngatedAsync(batch).ConfigureAwait(false);
            return;
        }
        IAsyncDisposable held;
        try
        {
            var rooms = batch.Select(op => op.RoomId).Distinct().Order().ToList();
            held = await _gate.EnterAsync(rooms).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Could not take the room write locks; {Count} writes are refused", batch.Count);
            foreach (var op in batch) op.Done.TrySetResult(WriteResult.Fail(ChatError.StorageFailed));
            return;
        }
        try
        {
            await CommitUngatedAsync(batch).ConfigureAwait(false);
            await _backplane.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            try { await held.DisposeAsync().ConfigureAwait(false); }
            catch (Exception ex) { _log.LogWarning(ex, "Releasing the room write locks failed (they end with the connection)"); }
        }
    }

    private async Task CommitUngatedAsync(List<WriteOp> batch)
    {
        List<(WriteOp Op, WriteResult Result)> results;
        try
        {
            results = await ApplyAsync(batch).ConfigureAwait(false);
        }
        catch (Exception ex) when (batch.Count > 1)
        {
            // One bad row must not fail the others: retry each alone.
            _log.LogWarning(ex, "Group commit of {Count} writes failed; retrying one by one", batch.Count);
            results = [];
            foreach (var op in batch)
            {
                try
                {
                    results.AddRange(await ApplyAsync([op]).ConfigureAwait(false));
                }
                catch (Exception one)
                {
                    _log.LogError(one, "Write failed; the sender is told it was not sent");
                    results.Add((op, WriteResult.Fail(ChatError.StorageFailed)));
                }
            }
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Write failed; the sender is told it was not sent");
            results = [(batch[0], WriteResult.Fail(ChatError.StorageFailed))];
        }

        var stored = 0;
        foreach (var (_, result) in results)
        {
            if (result.Event is null || result.Duplicate) continue;
            stored++;
            _backplane.Publish(result.Event);
            foreach (var o in _observers)
            {
                try { o.OnStored(result.Event); }
                catch (Exception ex) { _log.LogError(ex, "Observer {Observer} failed", o.GetType().Name); }
            }
        }
        if (stored > 0)
        {
            _metrics?.Stored(stored);
            _unindexed += stored;
        }
        foreach (var (op, result) in results)
            op.Done.TrySetResult(result);
    }

    private async Task<List<(WriteOp, WriteResult)>> ApplyAsync(List<WriteOp> batch)
    {
        if (batch is [RoomDeleteOp delete]) return [(delete, await DeleteRoomAsync(delete).ConfigureAwait(false))];
        // A post or change to a room deleted meanwhile (the room cache of its sender's node was not told yet) is refused.
        var gone = _rooms is null ? null : batch.Where(op => _rooms.IsDeleted(op.RoomId)).ToList();
        var results = new List<(WriteOp, WriteResult)>(batch.Count);
        if (gone is { Count: > 0 })
        {
            foreach (var op in gone) results.Add((op, WriteResult.Fail(ChatError.NotFound("The room"))));
            batch = batch.Except(gone).ToList();
            if (batch.Count == 0) return results;
        }
        if (batch is [Conversations.ConversationOp conversation])
        {
            results.Add((conversation, await ApplyConversationAsync(conversation).ConfigureAwait(false)));
            return results;
        }
        // The outbox rows of new posts commit in the posts' own transaction (read what matching needs before it starts).
        var outbox = await OutboxForAsync(batch).ConfigureAwait(false);
        if (_posts is not null && batch.TrueForAll(op => op is PostOp))
        {
            results.AddRange(ApplyPosts(_posts, batch, outbox));
            outbox?.Committed();
            return results;
        }
        await using var db = await _db.CreateDbContextAsync().ConfigureAwait(false);

        // Idempotency: a client id already stored (or earlier in this batch) returns the first row.
        var withIds = batch.OfType<PostOp>().Where(p => p.Row.ClientMsgId is not null).ToList();
        var existing = new Dictionary<(long, string), Message>();
        if (withIds.Count > 0)
        {
            // Both columns constrained, so the (SenderId, ClientMsgId) index serves the lookup.
            var senderIds = withIds.Select(p => p.Row.SenderId).Distinct().ToList();
            var clientIds = withIds.Select(p => p.Row.ClientMsgId!).Distinct().ToList();
            var candidates = await db.Messages.AsNoTracking()
                .Where(m => senderIds.Contains(m.SenderId) && clientIds.Contains(m.ClientMsgId!))
                .ToListAsync().ConfigureAwait(false);
            foreach (var m in candidates)
                existing[(m.SenderId, m.ClientMsgId!)] = m;
        }

        var targetIds = batch.OfType<ChangeOp>().Select(c => c.TargetId).Distinct().ToList();
        var targets = targetIds.Count == 0
            ? new Dictionary<long, Message>()
            : await db.Messages.Where(m => targetIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id).ConfigureAwait(false);
        var purge = await Safeguards.DeletePurge.LoadAsync(db, batch).ConfigureAwait(false); // a delete purges its edits' text too

        var pending = new List<(WriteOp Op, Message Row, Message? Target)>();
        var inBatch = new Dictionary<(long, string), PostOp>();
        foreach (var op in batch)
        {
            switch (op)
            {
                case PostOp p when p.Row.ClientMsgId is { } cid && existing.TryGetValue((p.Row.SenderId, cid), out var prior):
                    results.Add((op, WriteResult.Duplicated(prior, p)));
                    break;
                case PostOp p when p.Row.ClientMsgId is { } cid && inBatch.ContainsKey((p.Row.SenderId, cid)):
                    pending.Add((op, inBatch[(p.Row.SenderId, cid)].Row, null)); // same row as the first
                    break;
                case PostOp p:
                    if (p.Row.ClientMsgId is { } key) inBatch[(p.Row.SenderId, key)] = p;
                    db.Messages.Add(p.Row);
                    pending.Add((op, p.Row, null));
                    break;
                case ChangeOp change when !targets.TryGetValue(change.TargetId, out var target) || target.DeletedAt is not null || target.RoomId != change.Row.RoomId:
                    results.Add((op, WriteResult.Fail(ChatError.NotFound("The message"))));
                    break;
                case ChangeOp change:
                    var t = targets[change.TargetId];
                    if (change.Row.Kind == MessageKind.Edit)
                    {
                        t.Text = change.Row.Text;
                        t.EditedAt = change.Row.CreatedAt;
                    }
                    else
                    {
                        purge.Apply(t, pending.Select(x => x.Row));
                        t.Text = "";
                        t.ImageId = null;
                        t.DeletedAt = change.Row.CreatedAt;
                        t.DeletedBy = change.Row.SenderId;
                    }
                    db.Messages.Add(change.Row);
                    pending.Add((op, change.Row, t));
                    break;
            }
        }

        if (pending.Count > 0 && outbox is not null)
        {
            await using var tx = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
            await db.SaveChangesAsync().ConfigureAwait(false); // the posts get their ids
            foreach (var (op, row, _) in pending)
            {
                if (op is not PostOp p || !ReferenceEquals(p.Row, row)) continue;
                foreach (var delivery in outbox.RowsFor(p.ToMessage(row))) db.Add(delivery);
            }
            await db.SaveChangesAsync().ConfigureAwait(false);
            await tx.CommitAsync().ConfigureAwait(false);
            outbox.Committed();
        }
        else if (pending.Count > 0)
        {
            await db.SaveChangesAsync().ConfigureAwait(false);
        }

        foreach (var (op, row, target) in pending)
        {
            if (op is PostOp p && !ReferenceEquals(p.Row, row))
            {
                results.Add((op, WriteResult.Duplicated(row, p)));
                continue;
            }
            results.Add((op, op switch
            {
                PostOp post => WriteResult.Stored(new MessagePosted(post.ToMessage(row)), row),
                ChangeOp { Row.Kind: MessageKind.Edit } edit => WriteResult.Stored(
                    new MessageEdited(ToChatMessage(target!, edit.TargetSender, edit.TargetImage), row.Id), row),
                ChangeOp del => WriteResult.Stored(new MessageDeleted(row.RoomId, target!.Id, row.Id, del.Sender, purge.ImageOf(target.Id)), row),
                _ => throw new InvalidOperationException("unknown write"),
            }));
        }
        // Keep the callers' order (results were gathered in two passes); refused ones first.
        var order = batch.Select((op, i) => (op, i)).ToDictionary(x => x.op, x => x.i);
        results.Sort((a, b) => order.GetValueOrDefault(a.Item1, -1).CompareTo(order.GetValueOrDefault(b.Item1, -1)));
        return results;
    }

    private async Task<IPostOutboxBatch?> OutboxForAsync(List<WriteOp> batch)
    {
        if (_outbox is null) return null;
        var rooms = batch.OfType<PostOp>().Select(p => p.RoomId).Distinct().ToList();
        return rooms.Count == 0 ? null : await _outbox.BeginAsync(rooms).ConfigureAwait(false);
    }

    /// <summary>
    /// A reaction or a pin: in one transaction, the target must still be a visible post of the op's room,
    /// then the op changes its table and adds its event row (or finds nothing to change: no row, no event).
    /// </summary>
    private async Task<WriteResult> ApplyConversationAsync(Conversations.ConversationOp op)
    {
        await using var db = await _db.CreateDbContextAsync().ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
        var target = await db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == op.TargetId).ConfigureAwait(false);
        if (target is null || target.DeletedAt is not null || target.RoomId != op.RoomId || target.Kind is not (MessageKind.Text or MessageKind.Image))
            return WriteResult.Fail(ChatError.NotFound("The message"));
        var result = await op.ApplyAsync(db, target).ConfigureAwait(false);
        if (result.Error is null) await tx.CommitAsync().ConfigureAwait(false);
        return result;
    }

    /// <summary>Deletes a room and everything in it in one transaction; its event tells every session and node.</summary>
    private async Task<WriteResult> DeleteRoomAsync(RoomDeleteOp op)
    {
        var roomId = op.Room.Id;
        await using var db = await _db.CreateDbContextAsync().ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
        var messages = await db.Messages.Where(m => m.RoomId == roomId).ExecuteDeleteAsync().ConfigureAwait(false);
        await db.RoomMembers.Where(m => m.RoomId == roomId).ExecuteDeleteAsync().ConfigureAwait(false);
        await db.RoomDepartures.Where(m => m.RoomId == roomId).ExecuteDeleteAsync().ConfigureAwait(false);
        await db.BotSettings.Where(b => b.RoomId == roomId).ExecuteDeleteAsync().ConfigureAwait(false);
        var rooms = await db.Rooms.Where(r => r.Id == roomId).ExecuteDeleteAsync().ConfigureAwait(false);
        if (rooms == 0) return WriteResult.Fail(ChatError.NotFound("The room"));
        op.AlsoWrite?.Invoke(db, op.Room, messages);
        await db.SaveChangesAsync().ConfigureAwait(false);
        await tx.CommitAsync().ConfigureAwait(false);
        _rooms?.MarkDeleted(roomId);
        return new WriteResult(new RoomDeleted(roomId), null, null, false, null) { Deleted = messages };
    }

    /// <summary>
    /// New posts only, on SQLite: prepared statements in one transaction (see <see cref="SqlitePostStore"/>).
    /// Same rules as the EF path: a client id already stored, or earlier in this batch, returns that row.
    /// </summary>
    private static List<(WriteOp, WriteResult)> ApplyPosts(SqlitePostStore store, List<WriteOp> batch, IPostOutboxBatch? outbox)
    {
        var results = new List<(WriteOp, WriteResult)>(batch.Count);
        Dictionary<(long, string), Message>? known = null;
        using var tx = store.Begin();
        foreach (var op in batch)
        {
            var p = (PostOp)op;
            if (p.Row.ClientMsgId is { } cid)
            {
                known ??= [];
                var key = (p.Row.SenderId, cid);
                if (known.TryGetValue(key, out var first) || (first = tx.FindByClientId(p.Row.SenderId, cid)) is not null)
                {
                    known[key] = first;
                    results.Add((op, WriteResult.Duplicated(first, p)));
                    continue;
                }
                known[key] = p.Row;
            }
            tx.Insert(p.Row);
            var posted = p.ToMessage(p.Row);
            if (outbox is not null)
                foreach (var delivery in outbox.RowsFor(posted)) tx.Insert(delivery);
            results.Add((op, WriteResult.Stored(new MessagePosted(posted), p.Row)));
        }
        tx.Commit();
        return results;
    }

    internal static ChatMessage ToChatMessage(Message m, UserRef sender, ImageRef? image) =>
        new(m.Id, m.RoomId, sender, m.Kind, m.Text, m.CreatedAt, m.ClientMsgId, m.DeletedAt is null ? image : null,
            m.EditedAt, m.DeletedAt, m.TargetId, QuoteId: m.QuoteId, ThreadId: m.ThreadId, AlsoInRoom: m.AlsoInRoom,
            IsAction: m.IsAction, PostedAs: m.PostedVia is null ? null : new PostedAs(m.AsName, m.AsIcon, m.PostedVia));
}

internal abstract class WriteOp
{
    /// <summary>The room written to (a cluster's writers lock it around the commit).</summary>
    public abstract long RoomId { get; }
    /// <summary>Committed in a batch of its own.</summary>
    public virtual bool Solo => false;
    public TaskCompletionSource<WriteResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A new row: a post, or an edit/delete event row.</summary>
internal abstract class RowOp(UserRef sender, Message row) : WriteOp
{
    public UserRef Sender { get; } = sender;
    public Message Row { get; } = row;
    public override long RoomId => Row.RoomId;
}

/// <summary>Deletes a room with everything in it; <see cref="AlsoWrite"/> adds to the same transaction (an audit entry).</summary>
internal sealed class RoomDeleteOp(RoomInfo room, Action<ChatDbContext, RoomInfo, int>? alsoWrite) : WriteOp
{
    public RoomInfo Room { get; } = room;
    public Action<ChatDbContext, RoomInfo, int>? AlsoWrite { get; } = alsoWrite;
    public override long RoomId => Room.Id;
    public override bool Solo => true;
}

internal sealed class PostOp(UserRef sender, Message row, ImageRef? image, QuoteRef? quote = null) : RowOp(sender, row)
{
    public ImageRef? Image { get; } = image;
    /// <summary>What the quoted message says (checked by the command), handed out with the post.</summary>
    public QuoteRef? Quote { get; } = quote;

    public ChatMessage ToMessage(Message stored) => MessageWriter.ToChatMessage(stored, Sender, Image) with { Quote = Quote };
}

/// <summary>An edit or a delete of <see cref="TargetId"/>; the row is the event row to add.</summary>
internal sealed class ChangeOp(UserRef sender, Message row, UserRef targetSender, ImageRef? targetImage) : RowOp(sender, row)
{
    public long TargetId => Row.TargetId!.Value;
    public UserRef TargetSender { get; } = targetSender;
    public ImageRef? TargetImage { get; } = targetImage;
}

internal sealed record WriteResult(ChatEvent? Event, Message? Row, ChatError? Error, bool Duplicate, ChatMessage? Message)
{
    /// <summary>For a room delete: the stored rows removed with it.</summary>
    public int Deleted { get; init; }

    public static WriteResult Fail(ChatError e) => new(null, null, e, false, null);

    /// <summary>Nothing to change (a reaction already there, a pin already pinned): no row, no event.</summary>
    public static readonly WriteResult Unchanged = new(null, null, null, false, null);

    public static WriteResult Stored(ChatEvent evt, Message row) => new(evt, row, null, false, evt switch
    {
        MessagePosted p => p.Message,
        MessageEdited e => e.Message,
        _ => null,
    });

    public static WriteResult Duplicated(Message prior, PostOp p) =>
        new(null, prior, null, true, p.ToMessage(prior));
}
