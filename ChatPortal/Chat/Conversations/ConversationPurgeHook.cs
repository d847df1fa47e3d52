using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>
/// Issue 18's hook: retention and account removal keep pinned messages (a room pinned them to keep them),
/// and the reactions and saves of the messages they remove go in the same transaction.
/// </summary>
internal sealed class ConversationPurgeHook : IMessagePurgeHook
{
    public async Task<IReadOnlyCollection<long>> ExemptAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct) =>
        await db.Pins.AsNoTracking().Where(p => messageIds.Contains(p.MessageId)).Select(p => p.MessageId).ToListAsync(ct);

    public async Task OnPurgingAsync(ChatDbContext db, IReadOnlyList<long> messageIds, CancellationToken ct)
    {
        await db.Reactions.Where(r => messageIds.Contains(r.MessageId)).ExecuteDeleteAsync(ct);
        await db.SavedMessages.Where(s => messageIds.Contains(s.MessageId)).ExecuteDeleteAsync(ct);
        await db.ThreadFollowers.Where(f => messageIds.Contains(f.ThreadId)).ExecuteDeleteAsync(ct);
        await db.Pins.Where(p => messageIds.Contains(p.MessageId)).ExecuteDeleteAsync(ct); // none unless exempted elsewhere
    }
}

public static class ConversationSetup
{
    /// <summary>Reactions, pins and saved messages (issue 15), with their purge hook.</summary>
    public static IServiceCollection AddConversations(this IServiceCollection s)
    {
        s.AddSingleton<ChatReactions>();
        s.AddSingleton<SavedMessages>();
        s.AddSingleton<ChatThreads>();
        s.AddSingleton<ReadReceipts>();
        s.AddSingleton<IMessagePurgeHook, ConversationPurgeHook>();
        return s;
    }
}
