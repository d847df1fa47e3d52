using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>A followed thread in the Threads view: its first message, its room, its replies and how many the user has not read.</summary>
public sealed record ThreadEntry(ChatMessage Root, RoomInfo Room, int Replies, int Unread, DateTimeOffset? LastReplyAt);

/// <summary>
/// Threads: replies to a post that stay out of the room's list unless also sent to the room. A reply is a
/// post (<see cref="ChatCommands.PostAsync"/> with <see cref="MessageLinks.ThreadId"/>), so it is stored,
/// fanned out, caught up and notified (@mentions) like any post. This class keeps who follows a thread (the
/// first message's author, everyone who replied or was mentioned in it, and whoever follows it by hand)
/// and how far each follower read it: the thread unread counts and the Threads view.
/// </summary>
public sealed class ChatThreads(RoomDirectory rooms, ChatHistory history, IDbContextFactory<ChatDbContext> dbFactory, TimeProvider time,
    IChatBackplane backplane)
{
    private const int MaxReplies = 500;

    /// <summary>
    /// A reply is about to be stored: its author, the root's author and the members it mentions follow the thread
    /// (new followers from the start: every reply by others is unread). Done before the post is written, so anyone
    /// who hears of the reply finds the thread among theirs. Each new follower's tabs and sockets hear of it
    /// (<see cref="ThreadFollowChanged"/>), as if they had followed by hand.
    /// </summary>
    internal async Task NoteReplyAsync(long roomId, long threadId, UserRef sender, string text, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rootSender = await db.Messages.AsNoTracking().Where(m => m.Id == threadId).Select(m => (long?)m.SenderId).FirstOrDefaultAsync(ct);
        if (rootSender is null) return;
        var followers = new HashSet<long> { sender.Id, rootSender.Value };
        if (text.Contains('@', StringComparison.Ordinal))
        {
            var members = await (from rm in db.RoomMembers
                                 where rm.RoomId == roomId
                                 join u in db.Users on rm.UserId equals u.Id
                                 where u.Kind == UserKind.Member
                                 select new { u.Id, u.Name }).ToListAsync(ct);
            foreach (var u in members.Where(u => Mentions.IsMentioned(text, u.Name))) followers.Add(u.Id);
        }
        var ids = followers.ToList();
        var people = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id) && u.Kind == UserKind.Member).Select(u => u.Id).ToListAsync(ct);
        var existing = await db.ThreadFollowers.Where(f => f.ThreadId == threadId && ids.Contains(f.UserId)).Select(f => f.UserId).ToListAsync(ct);
        var added = people.Except(existing).ToList();
        foreach (var userId in added)
            db.ThreadFollowers.Add(new ThreadFollower { ThreadId = threadId, UserId = userId, RoomId = roomId, LastReadId = 0, FollowedAt = time.GetUtcNow() });
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException) { return; } // two replies at once added the same follower: one row is enough (the other announces)
        foreach (var userId in added) backplane.Publish(new ThreadFollowChanged(userId, threadId, roomId, true));
    }

    /// <summary>A thread: its first message and its replies (oldest first), for a user who may read the room.</summary>
    public async Task<ChatResult<(ChatMessage Root, IReadOnlyList<ChatMessage> Replies)>> ThreadAsync(UserRef user, long rootId, CancellationToken ct = default)
    {
        var (root, denied) = await RootAsync(user, rootId, ct);
        if (denied is not null) return denied;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.ThreadId == rootId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderByDescending(m => m.Id).Take(MaxReplies).ToListAsync(ct);
        rows.Reverse();
        var replies = await history.ToChatMessagesAsync(db, rows, ct);
        return ChatResult.Of<(ChatMessage, IReadOnlyList<ChatMessage>)>((root!, replies));
    }

    /// <summary>Follows (or stops following) a thread; a change reaches the user's other tabs and sockets (<see cref="ThreadFollowChanged"/>).</summary>
    public async Task<ChatResult<bool>> FollowAsync(UserRef user, long rootId, bool follow = true, CancellationToken ct = default)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        var (root, denied) = await RootAsync(user, rootId, ct);
        if (denied is not null) return denied;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var mine = db.ThreadFollowers.Where(f => f.ThreadId == rootId && f.UserId == user.Id);
        if (!follow)
        {
            if (await mine.ExecuteDeleteAsync(ct) == 0) return false;
            backplane.Publish(new ThreadFollowChanged(user.Id, rootId, root!.RoomId, false));
            return true;
        }
        if (await mine.AnyAsync(ct)) return false;
        var last = await db.Messages.Where(m => m.ThreadId == rootId).MaxAsync(m => (long?)m.Id, ct) ?? 0;
        db.ThreadFollowers.Add(new ThreadFollower { ThreadId = rootId, UserId = user.Id, RoomId = root!.RoomId, LastReadId = last, FollowedAt = time.GetUtcNow() });
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException) { return false; }
        backplane.Publish(new ThreadFollowChanged(user.Id, rootId, root.RoomId, true));
        return true;
    }

    /// <summary>The user has read the thread up to <paramref name="upToId"/> (or all of it).</summary>
    public async Task MarkReadAsync(UserRef user, long rootId, long? upToId = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var last = upToId ?? await db.Messages.Where(m => m.ThreadId == rootId).MaxAsync(m => (long?)m.Id, ct) ?? 0;
        await db.ThreadFollowers.Where(f => f.ThreadId == rootId && f.UserId == user.Id && f.LastReadId < last)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.LastReadId, last), ct);
    }

    /// <summary>The threads the user follows in rooms they may still read, latest activity first, with unread replies (not their own).</summary>
    public async Task<IReadOnlyList<ThreadEntry>> ThreadsAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var stats = await (from f in db.ThreadFollowers
                           where f.UserId == user.Id
                           select new
                           {
                               f.ThreadId,
                               f.RoomId,
                               Replies = db.Messages.Count(m => m.ThreadId == f.ThreadId && m.DeletedAt == null && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image)),
                               Unread = db.Messages.Count(m => m.ThreadId == f.ThreadId && m.Id > f.LastReadId && m.SenderId != user.Id && m.DeletedAt == null
                                                              && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image)),
                               LastId = db.Messages.Where(m => m.ThreadId == f.ThreadId).Max(m => (long?)m.Id),
                           }).ToListAsync(ct);
        var roots = (await history.GetMessagesAsync(stats.Select(s => s.ThreadId).ToList(), ct)).ToDictionary(m => m.Id);
        var list = new List<(ThreadEntry Entry, long Order)>();
        foreach (var s in stats)
        {
            if (!roots.TryGetValue(s.ThreadId, out var root) || await rooms.GetAsync(s.RoomId, ct) is not { } room) continue;
            if (await rooms.CheckReadAsync(user, room, ct) is { Code: "not_found" or "banned" }) continue;
            list.Add((new ThreadEntry(root, room, s.Replies, s.Unread, root.Thread?.LastReplyAt), s.LastId ?? s.ThreadId));
        }
        return list.OrderByDescending(x => x.Order).Select(x => x.Entry).ToList();
    }

    public async Task<bool> IsFollowingAsync(long userId, long rootId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ThreadFollowers.AnyAsync(f => f.ThreadId == rootId && f.UserId == userId, ct);
    }

    private async Task<(ChatMessage? Root, ChatError? Error)> RootAsync(UserRef user, long rootId, CancellationToken ct)
    {
        var root = (await history.GetMessagesAsync([rootId], ct)).FirstOrDefault();
        if (root is null || root.ThreadId is not null) return (null, ChatError.NotFound("The thread"));
        var room = await rooms.GetAsync(root.RoomId, ct);
        if (room is null) return (null, ChatError.NotFound("The thread"));
        if (await rooms.CheckReadAsync(user, room, ct) is { } denied) return (null, denied.Code == "not_found" ? ChatError.NotFound("The thread") : denied);
        return (root, null);
    }
}
