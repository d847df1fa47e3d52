using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>Reads the reactions and pins of messages (pages, catch-up, the writer's events): the one mapping of those rows.</summary>
internal static class ConversationState
{
    /// <summary>Each message's reactions, emoji in the order they first appeared, users in the order they reacted.</summary>
    public static async Task<Dictionary<long, IReadOnlyList<ReactionSummary>>> ReactionsAsync(ChatDbContext db, IReadOnlyCollection<long> messageIds,
        CancellationToken ct = default)
    {
        var result = new Dictionary<long, IReadOnlyList<ReactionSummary>>();
        if (messageIds.Count == 0) return result;
        var rows = await (from r in db.Reactions.AsNoTracking()
                          where messageIds.Contains(r.MessageId)
                          join u in db.Users.AsNoTracking() on r.UserId equals u.Id
                          select new { r.MessageId, r.Emoji, r.CreatedAt, u.Id, u.Name, u.Kind }).ToListAsync(ct).ConfigureAwait(false);
        foreach (var message in rows.GroupBy(r => r.MessageId))
        {
            result[message.Key] = message.GroupBy(r => r.Emoji, StringComparer.Ordinal)
                .Select(g => (First: g.Min(x => x.CreatedAt), Summary: new ReactionSummary(g.Key, g.Count(),
                    g.OrderBy(x => x.CreatedAt).ThenBy(x => x.Id).Take(ChatReactions.MaxNamesPerEmoji).Select(x => new UserRef(x.Id, x.Name, x.Kind)).ToList())))
                .OrderBy(x => x.First).ThenBy(x => x.Summary.Emoji, StringComparer.Ordinal)
                .Select(x => x.Summary).ToList();
        }
        return result;
    }

    public static async Task<HashSet<long>> PinnedAsync(ChatDbContext db, IReadOnlyCollection<long> messageIds, CancellationToken ct = default) =>
        messageIds.Count == 0 ? [] : (await db.Pins.AsNoTracking().Where(p => messageIds.Contains(p.MessageId)).Select(p => p.MessageId)
            .ToListAsync(ct).ConfigureAwait(false)).ToHashSet();

    /// <summary>The posts among <paramref name="messages"/> with their reactions, pin, quote and thread replies filled in.</summary>
    public static async Task<List<ChatMessage>> FillAsync(ChatDbContext db, List<ChatMessage> messages, CancellationToken ct = default)
    {
        var posts = messages.Where(m => m.Kind is MessageKind.Text or MessageKind.Image && !m.IsDeleted).Select(m => m.Id).ToList();
        if (posts.Count == 0) return messages;
        var reactions = await ReactionsAsync(db, posts, ct).ConfigureAwait(false);
        var pinned = await PinnedAsync(db, posts, ct).ConfigureAwait(false);
        var threads = await ThreadsAsync(db, messages.Where(m => m.ThreadId is null && !m.IsDeleted).Select(m => m.Id).ToList(), ct).ConfigureAwait(false);
        var quotes = await QuotesAsync(db, messages.Where(m => m.QuoteId is not null && m.Quote is null).Select(m => m.QuoteId!.Value).Distinct().ToList(), ct)
            .ConfigureAwait(false);
        if (reactions.Count == 0 && pinned.Count == 0 && threads.Count == 0 && quotes.Count == 0) return messages;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var r = reactions.GetValueOrDefault(m.Id);
            var p = pinned.Contains(m.Id);
            var t = threads.GetValueOrDefault(m.Id);
            var q = m.QuoteId is { } qid ? quotes.GetValueOrDefault(qid) : null;
            if (r is not null || p || t is not null || q is not null)
                messages[i] = m with { Reactions = r, Pinned = p, Thread = t, Quote = q ?? m.Quote };
        }
        return messages;
    }

    /// <summary>Reply counts of the threads among these messages (those with replies).</summary>
    public static async Task<Dictionary<long, ThreadSummary>> ThreadsAsync(ChatDbContext db, IReadOnlyCollection<long> rootIds, CancellationToken ct = default)
    {
        if (rootIds.Count == 0) return [];
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.ThreadId != null && rootIds.Contains(m.ThreadId.Value) && m.DeletedAt == null && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .GroupBy(m => m.ThreadId!.Value)
            .Select(g => new { Root = g.Key, Count = g.Count(), Last = g.Max(m => m.Id) }).ToListAsync(ct).ConfigureAwait(false);
        if (rows.Count == 0) return [];
        var lastIds = rows.Select(r => r.Last).ToList();
        var times = await db.Messages.AsNoTracking().Where(m => lastIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, m => m.CreatedAt, ct).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Root, r => new ThreadSummary(r.Count, times.TryGetValue(r.Last, out var at) ? at : null));
    }

    /// <summary>What quote-replies show of the messages they quote (a deleted one shows as deleted).</summary>
    public static async Task<Dictionary<long, QuoteRef>> QuotesAsync(ChatDbContext db, IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        var rows = await (from m in db.Messages.AsNoTracking()
                          where ids.Contains(m.Id)
                          join u in db.Users.AsNoTracking() on m.SenderId equals u.Id
                          select new { m.Id, m.Text, m.DeletedAt, UserId = u.Id, u.Name, u.Kind }).ToListAsync(ct).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Id, r => new QuoteRef(r.Id, new UserRef(r.UserId, r.Name, r.Kind),
            r.DeletedAt is not null ? "" : r.Text.Length <= 200 ? r.Text : r.Text[..200] + "…", r.DeletedAt is not null));
    }
}
