using ChatPortal.Chat.Integrations;

namespace ChatPortal.Chat;

/// <summary>
/// Rows a new post causes that must commit with it (a transactional outbox: outgoing webhook deliveries). The single writer
/// asks before a batch's transaction (<see cref="BeginAsync"/>: the async part, reading caches), then, inside the
/// transaction, for each new post once it has its id (<see cref="IPostOutboxBatch.RowsFor"/>: synchronous, no I/O). The
/// post and its rows are committed or rolled back together: a crash, a full queue or a failed write never leaves one
/// without the other.
/// </summary>
public interface IPostOutbox
{
    /// <summary>What matching needs for posts to these rooms, or null when none of them can cause a row (nothing configured).</summary>
    ValueTask<IPostOutboxBatch?> BeginAsync(IReadOnlyCollection<long> roomIds, CancellationToken ct = default);
}

/// <summary>One batch's outbox: the rows for each stored post, and a word once they are committed.</summary>
public interface IPostOutboxBatch
{
    /// <summary>The rows this stored post causes (most cause none). Called inside the post's transaction.</summary>
    IEnumerable<WebhookDelivery> RowsFor(ChatMessage post);

    /// <summary>The transaction committed (the rows are there for whoever sends them).</summary>
    void Committed();
}
