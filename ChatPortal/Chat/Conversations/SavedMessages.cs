using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>
/// Saved messages: a personal bookmark list (nobody else sees it, so it is no room event: a change is a
/// <see cref="SavedChanged"/> for the user's own tabs and sockets). A message can be saved only from a room the
/// user may read, and the list shows only what the user may still read.
/// </summary>
public sealed class SavedMessages(RoomDirectory rooms, ChatHistory history, IDbContextFactory<ChatDbContext> dbFactory, TimeProvider time,
    IChatBackplane backplane)
{
    public const int MaxSaved = 1000;

    public async Task<ChatResult<bool>> SaveAsync(UserRef user, long messageId, bool save = true, CancellationToken ct = default)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        var target = await history.GetRowAsync(messageId, ct);
        if (target is null || target.IsDeleted || target.Kind is not (MessageKind.Text or MessageKind.Image))
            return ChatError.NotFound("The message");
        var room = await rooms.GetAsync(target.RoomId, ct);
        if (room is null || await rooms.CheckReadAsync(user, room, ct) is { Code: "not_found" }) return ChatError.NotFound("The message");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var mine = db.SavedMessages.Where(s => s.UserId == user.Id && s.MessageId == messageId);
        if (!save) return Announce(user, target.RoomId, messageId, false, await mine.ExecuteDeleteAsync(ct) > 0);
        if (await mine.AnyAsync(ct)) return false;
        if (await db.SavedMessages.CountAsync(s => s.UserId == user.Id, ct) >= MaxSaved)
            return new ChatError("too_many_saved", $"You have saved {MaxSaved} messages; remove some first.");
        db.SavedMessages.Add(new SavedMessage { UserId = user.Id, MessageId = messageId, SavedAt = time.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return false; // saved by another tab at the same moment
        }
        return Announce(user, target.RoomId, messageId, true, true);
    }

    /// <summary>A change reaches the user's other tabs and sockets (every node); no change, no event.</summary>
    private bool Announce(UserRef user, long roomId, long messageId, bool saved, bool changed)
    {
        if (changed) backplane.Publish(new SavedChanged(user.Id, messageId, roomId, saved));
        return changed;
    }

    /// <summary>The user's saved messages, newest save first, only from rooms they may still read.</summary>
    public async Task<IReadOnlyList<(ChatMessage Message, RoomInfo Room)>> ListAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = await db.SavedMessages.AsNoTracking().Where(s => s.UserId == user.Id).OrderByDescending(s => s.SavedAt)
            .Select(s => s.MessageId).Take(MaxSaved).ToListAsync(ct);
        var messages = (await history.GetMessagesAsync(ids, ct)).Where(m => !m.IsDeleted).ToDictionary(m => m.Id);
        var list = new List<(ChatMessage, RoomInfo)>();
        foreach (var id in ids)
        {
            if (!messages.TryGetValue(id, out var m) || await rooms.GetAsync(m.RoomId, ct) is not { } room) continue;
            if (await rooms.CheckReadAsync(user, room, ct) is { Code: "not_found" or "banned" }) continue;
            list.Add((m, room));
        }
        return list;
    }

    public async Task<HashSet<long>> SavedIdsAsync(long userId, IReadOnlyCollection<long> messageIds, CancellationToken ct = default)
    {
        if (messageIds.Count == 0) return [];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.SavedMessages.AsNoTracking().Where(s => s.UserId == userId && messageIds.Contains(s.MessageId))
            .Select(s => s.MessageId).ToListAsync(ct)).ToHashSet();
    }
}
