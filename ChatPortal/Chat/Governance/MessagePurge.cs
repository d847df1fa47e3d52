using System.Diagnostics;
using ChatPortal.Data;
using ChatPortal.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Governance;

/// <summary>
/// Extension point for features that hang rows off messages: their feature registers a hook
/// (<c>services.AddSingleton&lt;IMessagePurgeHook, T&gt;()</c>; pins, reactions and saves:
/// <c>Conversations.ConversationPurgeHook</c>) and every purge (retention, account removal) honours it
/// (account removal deletes exempt messages too): <see cref="ExemptAsync"/> keeps pinned messages,
/// <see cref="OnPurgingAsync"/> deletes reactions and receipts in the same transaction.
/// </summary>
public interface IMessagePurgeHook
{
    /// <summary>The ids among <paramref name="messageIds"/> that must stay (e.g. pinned messages).</summary>
    Task<IReadOnlyCollection<long>> ExemptAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct);

    /// <summary>Deletes the rows that belong to these messages; runs inside the batch's transaction, before the messages go.</summary>
    Task OnPurgingAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct);
}

/// <summary>Settings of the data-governance jobs (section <c>Governance</c>).</summary>
public sealed class GovernanceOptions
{
    public const string Section = "Governance";
    /// <summary>Messages deleted per transaction: each batch holds SQLite's write lock only briefly.</summary>
    public int PurgeBatchSize { get; set; } = 500;
    /// <summary>Pause between batches, so the message writer gets the lock in between.</summary>
    public TimeSpan PurgePause { get; set; } = TimeSpan.FromMilliseconds(50);
    /// <summary>How often retention runs by itself (0 or less: only when an admin runs it).</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Delay after start before the first automatic retention run.</summary>
    public TimeSpan RetentionFirstRunDelay { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>What a purge removed. <see cref="LongestBatch"/> is the longest time one batch held its transaction open: the most the writer waited for it.</summary>
public sealed record PurgeResult(int Messages, int EventRows, int Images, int Batches, TimeSpan LongestBatch)
{
    public static readonly PurgeResult None = new(0, 0, 0, 0, TimeSpan.Zero);

    public PurgeResult Add(PurgeResult o) =>
        new(Messages + o.Messages, EventRows + o.EventRows, Images + o.Images, Batches + o.Batches, LongestBatch > o.LongestBatch ? LongestBatch : o.LongestBatch);
}

/// <summary>
/// Hard-deletes messages in small batches (retention, account removal): each batch in its own
/// short transaction, with a pause after it, so the single writer (<see cref="MessageWriter"/>) is
/// never held up for long. A batch removes the messages, the edit/delete rows that point at them
/// (an edit row carries the edited text), their search rows (the FTS delete trigger of the
/// SearchDeferred migration), the image rows no other message uses, and what the
/// <see cref="IMessagePurgeHook"/>s remove; the image files go after the commit. Ids are never
/// reused or reordered, so catch-up "after id N" stays exact: it just finds fewer rows.
/// </summary>
public sealed class MessagePurge(IDbContextFactory<ChatDbContext> dbFactory, IEnumerable<IMessagePurgeHook> hooks,
    IOptions<GovernanceOptions> options, IOptions<PortalOptions> portal, IHostEnvironment env, ILogger<MessagePurge> log)
{
    public string ImageFolder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "images");

    /// <summary>Counts the posts (text and image) <paramref name="select"/> picks that a purge would delete (exempt ones excluded).</summary>
    public async Task<int> CountAsync(Func<IQueryable<Message>, IQueryable<Message>> select, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var posts = select(db.Messages.AsNoTracking()).Where(m => m.Kind == MessageKind.Text || m.Kind == MessageKind.Image);
        var count = await posts.CountAsync(ct);
        if (count == 0 || !hooks.Any()) return count;
        var last = 0L;
        var exempt = 0;
        while (true)
        {
            var ids = await posts.Where(m => m.Id > last).OrderBy(m => m.Id).Select(m => m.Id).Take(BatchSize).ToListAsync(ct);
            if (ids.Count == 0) return count - exempt;
            foreach (var hook in hooks) exempt += (await hook.ExemptAsync(db, ids, ct)).Count;
            last = ids[^1];
        }
    }

    private const int MaxBusyRetries = 10;

    private int BatchSize => Math.Clamp(options.Value.PurgeBatchSize, 1, 5000);

    /// <summary>
    /// Deletes every message <paramref name="select"/> picks (any kind), batch by batch, oldest id first.
    /// <paramref name="keepExempt"/> false (a user removing their own messages) deletes what the hooks would keep too.
    /// </summary>
    public async Task<PurgeResult> PurgeAsync(Func<IQueryable<Message>, IQueryable<Message>> select, string what, CancellationToken ct = default,
        bool keepExempt = true)
    {
        var total = PurgeResult.None;
        var last = 0L;
        var busy = 0;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            PurgeResult batch;
            long next;
            bool done;
            try
            {
                (batch, next, done) = await PurgeBatchAsync(select, last, keepExempt, ct);
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode is 5 or 6 && busy++ < MaxBusyRetries)
            {
                // The writer kept the lock past the busy timeout (heavy load): it has priority; try this batch again later.
                log.LogInformation("Purge of {What} waits: the database is busy ({Retry}/{Max})", what, busy, MaxBusyRetries);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                continue;
            }
            total = total.Add(batch);
            last = next;
            if (done) break;
            if (options.Value.PurgePause > TimeSpan.Zero) await Task.Delay(options.Value.PurgePause, ct);
        }
        if (total.Messages > 0)
            log.LogInformation("Purged {Messages} messages ({Events} edit/delete rows, {Images} images) for {What} in {Batches} batches; " +
                "the longest batch held the database for {Longest:0.0} ms (the most the message writer waited)",
                total.Messages, total.EventRows, total.Images, what, total.Batches, total.LongestBatch.TotalMilliseconds);
        return total;
    }

    private async Task<(PurgeResult Result, long Last, bool Done)> PurgeBatchAsync(Func<IQueryable<Message>, IQueryable<Message>> select,
        long after, bool keepExempt, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var picked = await select(db.Messages.AsNoTracking()).Where(m => m.Id > after).OrderBy(m => m.Id)
            .Select(m => m.Id).Take(BatchSize).ToListAsync(ct);
        if (picked.Count == 0) return (PurgeResult.None, after, true);
        var last = picked[^1];

        // BEGIN IMMEDIATE waits (busy timeout) while the writer commits; the clock starts once the lock is ours.
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var clock = Stopwatch.StartNew();
        var ids = picked;
        foreach (var hook in keepExempt ? hooks : [])
        {
            var keep = await hook.ExemptAsync(db, ids, ct);
            if (keep.Count > 0) ids = ids.Except(keep).ToList();
        }
        if (ids.Count == 0)
        {
            await tx.CommitAsync(ct);
            return (PurgeResult.None, last, picked.Count < BatchSize);
        }
        foreach (var hook in hooks) await hook.OnPurgingAsync(db, ids, ct);

        var images = await db.Messages.Where(m => ids.Contains(m.Id) && m.ImageId != null).Select(m => m.ImageId!).Distinct().ToListAsync(ct);
        // Edit and delete rows of these messages go too (they point at nothing, and an edit row holds text).
        var events = await db.Messages.Where(m => m.TargetId != null && ids.Contains(m.TargetId.Value) && !ids.Contains(m.Id))
            .ExecuteDeleteAsync(ct);
        var deleted = await db.Messages.Where(m => ids.Contains(m.Id)).ExecuteDeleteAsync(ct);
        var unused = images.Count == 0 ? [] : await db.Images.Where(i => images.Contains(i.Id) && !db.Messages.Any(m => m.ImageId == i.Id))
            .Select(i => i.Id).ToListAsync(ct);
        if (unused.Count > 0) await db.Images.Where(i => unused.Contains(i.Id)).ExecuteDeleteAsync(ct);
        await tx.CommitAsync(ct);
        var held = clock.Elapsed;

        DeleteFiles(unused); // after the commit: a crash in between leaves a stray file, never a row without its file
        return (new PurgeResult(deleted, events, unused.Count, 1, held), last, picked.Count < BatchSize);
    }

    /// <summary>Deletes the image rows and files <paramref name="uploaderId"/> uploaded that no message uses (any more).</summary>
    public async Task<int> PurgeUnusedUploadsAsync(long uploaderId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var unused = await db.Images.Where(i => i.UploaderId == uploaderId && !db.Messages.Any(m => m.ImageId == i.Id))
            .Select(i => i.Id).ToListAsync(ct);
        foreach (var chunk in unused.Chunk(BatchSize))
            await db.Images.Where(i => chunk.Contains(i.Id)).ExecuteDeleteAsync(ct);
        DeleteFiles(unused);
        return unused.Count;
    }

    private void DeleteFiles(IEnumerable<string> imageIds)
    {
        foreach (var id in imageIds)
        {
            // Ids are our own random hex names; anything else is not a file of ours.
            if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower)) continue;
            try { File.Delete(Path.Combine(ImageFolder, id)); }
            catch (IOException ex) { log.LogWarning(ex, "Could not delete image file {Id}", id); }
            catch (UnauthorizedAccessException ex) { log.LogWarning(ex, "Could not delete image file {Id}", id); }
        }
    }
}
