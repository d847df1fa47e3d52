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

    /// <summary>The posts among <paramref name="messages"/> with their reactions and pin filled in.</summary>
    public static async Task<List<ChatMessage>> FillAsync(ChatDbContext db, List<ChatMessage> messages, CancellationToken ct = default)
    {
        var posts = messages.Where(m => m.Kind is MessageKind.Text or MessageKind.Image && !m.IsDeleted).Select(m => m.Id).ToList();
        if (posts.Count == 0) return messages;
        var reactions = await ReactionsAsync(db, posts, ct).ConfigureAwait(false);
        var pinned = await PinnedAsync(db, posts, ct).ConfigureAwait(false);
        if (reactions.Count == 0 && pinned.Count == 0) return messages;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var r = reactions.GetValueOrDefault(m.Id);
            var p = pinned.Contains(m.Id);
            if (r is not null || p) messages[i] = m with { Reactions = r, Pinned = p };
        }
        return messages;
    }
}
