using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// Reading what is stored: history pages, catch-up, unread counts and read positions, room numbers.
/// The methods that take a <see cref="UserRef"/> check first that the user may read the room
/// (<see cref="RoomDirectory.CheckReadAsync"/>); the others are for the core itself and the back office.
/// </summary>
public sealed class ChatHistory(IDbContextFactory<ChatDbContext> dbFactory, RoomDirectory rooms, IOptions<ChatOptions> options,
    ChatMetrics? metrics = null, LocalFanout? fanout = null)
{
    private readonly ChatOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, ImageRef> _images = new();

    // ---------------------------------------------------------------- checked (a user reads)

    /// <summary>A page of the room's history for a user who may read it (see <see cref="GetHistoryAsync"/>).</summary>
    public async Task<ChatResult<IReadOnlyList<ChatMessage>>> HistoryAsync(UserRef user, long roomId, long? beforeId = null, int? limit = null,
        CancellationToken ct = default)
    {
        if (await CheckAsync(user, roomId, ct) is { } denied) return denied;
        return ChatResult.Of(await GetHistoryAsync(roomId, beforeId, limit, ct));
    }

    /// <summary>The page after a message, for a user who may read the room (see <see cref="GetNewerAsync"/>).</summary>
    public async Task<ChatResult<IReadOnlyList<ChatMessage>>> NewerAsync(UserRef user, long roomId, long afterId, int? limit = null,
        CancellationToken ct = default)
    {
        if (await CheckAsync(user, roomId, ct) is { } denied) return denied;
        return ChatResult.Of(await GetNewerAsync(roomId, afterId, limit, ct));
    }

    /// <summary>A message with the ones around it, for a user who may read the room (see <see cref="GetAroundAsync"/>).</summary>
    public async Task<ChatResult<IReadOnlyList<ChatMessage>>> AroundAsync(UserRef user, long roomId, long messageId, int each = 25,
        CancellationToken ct = default)
    {
        if (await CheckAsync(user, roomId, ct) is { } denied) return denied;
        return ChatResult.Of(await GetAroundAsync(roomId, messageId, each, ct));
    }

    private async ValueTask<ChatError?> CheckAsync(UserRef user, long roomId, CancellationToken ct) =>
        await rooms.GetAsync(roomId, ct) is { } room ? await rooms.CheckReadAsync(user, room, ct) : ChatError.NotFound("The room");

    // ---------------------------------------------------------------- pages

    /// <summary>
    /// A page of visible messages (posts, with edits and deletes applied), oldest first:
    /// the latest page when <paramref name="beforeId"/> is null, else the page before it.
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(long roomId, long? beforeId = null, int? limit = null,
        CancellationToken ct = default)
    {
        var take = Math.Clamp(limit ?? _options.HistoryPageSize, 1, 200);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // A thread's replies stay in the thread unless also sent to the room.
        var query = db.Messages.AsNoTracking().Where(m => m.RoomId == roomId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image)
            && (m.ThreadId == null || m.AlsoInRoom));
        if (beforeId is { } before) query = query.Where(m => m.Id < before);
        var rows = await query.OrderByDescending(m => m.Id).Take(take).ToListAsync(ct);
        rows.Reverse();
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>The page of visible messages right after <paramref name="afterId"/>, oldest first (reading forward from a search hit).</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetNewerAsync(long roomId, long afterId, int? limit = null, CancellationToken ct = default)
    {
        var take = Math.Clamp(limit ?? _options.HistoryPageSize, 1, 200);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && m.Id > afterId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image) && (m.ThreadId == null || m.AlsoInRoom))
            .OrderBy(m => m.Id).Take(take).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>A message and the ones around it (for opening a search result in its context).</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetAroundAsync(long roomId, long messageId, int each = 25, CancellationToken ct = default)
    {
        var before = await GetHistoryAsync(roomId, messageId + 1, each + 1, ct);
        return [.. before, .. await GetNewerAsync(roomId, messageId, each, ct)];
    }

    /// <summary>Posts by id (search results, mentions), as they are now; event rows and unknown ids are left out.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetMessagesAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => ids.Contains(m.Id) && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderBy(m => m.Id).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>
    /// Visible posts across rooms, newest first, for the back office: optionally in one room, before an
    /// id (paging back), containing a text, from a sender (by name).
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> FindAsync(long? roomId, long? beforeId, string? text, string? senderName, int limit,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Messages.AsNoTracking().Where(m => (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image) && m.DeletedAt == null);
        if (roomId is { } r) q = q.Where(m => m.RoomId == r);
        if (beforeId is { } before) q = q.Where(m => m.Id < before);
        if (!string.IsNullOrWhiteSpace(text))
        {
            var s = $"%{ChatRooms.EscapeLike(text.Trim())}%";
            q = q.Where(m => EF.Functions.Like(m.Text, s, "\\"));
        }
        if (!string.IsNullOrWhiteSpace(senderName))
        {
            var normalized = UserNames.Normalize(senderName);
            q = q.Where(m => db.Users.Any(u => u.Id == m.SenderId && u.NormalizedName == normalized));
        }
        var rows = await q.OrderByDescending(m => m.Id).Take(Math.Clamp(limit, 1, 500)).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>One stored row (a post or an edit/delete event row) as it is now, or null.</summary>
    public async Task<ChatMessage?> GetRowAsync(long id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
        return row is null ? null : (await ToChatMessagesAsync(db, [row], ct))[0];
    }

    public async ValueTask<long> LatestIdAsync(long roomId, CancellationToken ct = default)
    {
        // Read once per room, then kept by the fan-out (every join asked the database: 17 % of a connect).
        if (rooms.LatestStoredId(roomId) is { } known) return known;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var latest = await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => (long?)m.Id, ct) ?? 0;
        rooms.NoteStored(roomId, latest);
        return rooms.LatestStoredId(roomId) ?? latest;
    }

    /// <summary>The newest stored id of all rooms (the dashboard counts what came after it).</summary>
    public async Task<long> LatestIdAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Messages.MaxAsync(m => (long?)m.Id, ct) ?? 0;
    }

    /// <summary>Visible posts with an id in (<paramref name="afterId"/>, <paramref name="upToId"/>], optionally only those created since a time.</summary>
    public async Task<int> CountPostsAsync(long afterId, long upToId, DateTimeOffset? since = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Messages.Where(m => m.Id > afterId && m.Id <= upToId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image));
        if (since is { } s) q = q.Where(m => m.CreatedAt >= s);
        return await q.CountAsync(ct);
    }

    // ---------------------------------------------------------------- catch-up

    /// <summary>
    /// <see cref="GetStoredEventsAfterAsync"/> for a session's catch-up, shared (<see cref="SharedReads{TKey, TValue}"/>):
    /// one database read, and each event encoded once, for all who come back with the same last event id at once — and,
    /// while no event of the room has been delivered on this node since that read started
    /// (<see cref="LocalFanout.RoomVersion"/>), for those who come back after it too.
    /// </summary>
    public Task<IReadOnlyList<ChatEvent>> GetStoredEventsAfterSharedAsync(long roomId, long afterId, int limit)
    {
        metrics?.CatchUp();
        return _catchUpReads.ReadAsync((roomId, afterId, limit));
    }

    private SharedReads<(long Room, long After, int Limit), IReadOnlyList<ChatEvent>> _catchUpReads =>
        LazyInitializer.EnsureInitialized(ref field, () => new(key =>
        {
            metrics?.CatchUpRead();
            return GetStoredEventsAfterAsync(key.Room, key.After, key.Limit);
        }, fanout is null ? null : key => fanout.RoomVersion(key.Room)));

    /// <summary>
    /// Catch-up: every stored event of the room after <paramref name="afterId"/>, in id order, as live
    /// subscribers get them: posts as <see cref="MessagePosted"/>, edit rows as <see cref="MessageEdited"/>
    /// (with the message as it is now), delete rows as <see cref="MessageDeleted"/>. The one mapping of
    /// stored rows to events: sessions and the cluster's gap fill both use it.
    /// </summary>
    public async Task<IReadOnlyList<ChatEvent>> GetStoredEventsAfterAsync(long roomId, long afterId, int limit = 500,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && m.Id > afterId)
            .OrderBy(m => m.Id).Take(Math.Clamp(limit, 1, 5000)).ToListAsync(ct);
        var editTargets = rows.Where(r => r.Kind == MessageKind.Edit && r.TargetId is not null).Select(r => r.TargetId!.Value).Distinct().ToList();
        var targets = new Dictionary<long, ChatMessage>();
        if (editTargets.Count > 0)
        {
            var found = await db.Messages.AsNoTracking().Where(m => editTargets.Contains(m.Id)).ToListAsync(ct);
            foreach (var m in await ToChatMessagesAsync(db, found, ct)) targets[m.Id] = m;
        }
        // Reactions replay with the message's reactions as they are now (as edits replay with its text as it is now).
        var reacted = rows.Where(r => r.Kind is MessageKind.ReactionAdded or MessageKind.ReactionRemoved && r.TargetId is not null)
            .Select(r => r.TargetId!.Value).Distinct().ToList();
        var reactions = await Conversations.ConversationState.ReactionsAsync(db, reacted, ct);
        var events = new List<ChatEvent>(rows.Count);
        foreach (var r in await ToChatMessagesAsync(db, rows, ct))
        {
            switch (r.Kind)
            {
                case MessageKind.Text or MessageKind.Image:
                    events.Add(new MessagePosted(r));
                    break;
                case MessageKind.Edit when r.TargetId is { } t && targets.TryGetValue(t, out var target):
                    events.Add(new MessageEdited(target, r.Id));
                    break;
                case MessageKind.Delete when r.TargetId is { } t:
                    events.Add(new MessageDeleted(roomId, t, r.Id, r.Sender));
                    break;
                case MessageKind.ReactionAdded or MessageKind.ReactionRemoved when r.TargetId is { } t:
                    events.Add(new ReactionChanged(roomId, t, r.Id, r.Sender, r.Text, r.Kind == MessageKind.ReactionAdded,
                        reactions.GetValueOrDefault(t) ?? []));
                    break;
                case MessageKind.Pinned or MessageKind.Unpinned when r.TargetId is { } t:
                    events.Add(new PinChanged(roomId, t, r.Id, r.Sender, r.Kind == MessageKind.Pinned));
                    break;
            }
        }
        return events;
    }

    // ---------------------------------------------------------------- unread and read positions

    public async Task MarkReadAsync(long userId, long roomId, long messageId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId && m.LastReadMessageId < messageId)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LastReadMessageId, messageId), ct);
    }

    /// <summary>The first visible message from someone else after the user's read position, or null when all is read.</summary>
    public async Task<long?> FirstUnreadIdAsync(long userId, long roomId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var lastRead = await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId)
            .Select(m => (long?)m.LastReadMessageId).FirstOrDefaultAsync(ct);
        if (lastRead is null) return null;
        return await db.Messages.Where(m => m.RoomId == roomId && m.Id > lastRead && m.SenderId != userId && m.DeletedAt == null
                && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image) && (m.ThreadId == null || m.AlsoInRoom))
            .OrderBy(m => m.Id).Select(m => (long?)m.Id).FirstOrDefaultAsync(ct);
    }

    /// <summary>Unread visible messages per room for a user (rooms with none are left out).</summary>
    public async Task<IReadOnlyDictionary<long, int>> UnreadCountsAsync(long userId, CancellationToken ct = default) =>
        (await UnreadAsync(userId, ct)).ToDictionary(r => r.Key, r => r.Value.Count);

    /// <summary>
    /// Unread messages per room with the newest unread id, read in one query: a live event whose id
    /// is at most that id is already in the count.
    /// </summary>
    public async Task<IReadOnlyDictionary<long, UnreadRoom>> UnreadAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await (from m in db.RoomMembers
                          where m.UserId == userId
                          from msg in db.Messages
                          where msg.RoomId == m.RoomId && msg.Id > m.LastReadMessageId
                                && (msg.Kind == MessageKind.Text || msg.Kind == MessageKind.Image)
                                && msg.DeletedAt == null && msg.SenderId != userId
                                && (msg.ThreadId == null || msg.AlsoInRoom) // thread replies count in the thread
                          group msg by msg.RoomId into g
                          select new { RoomId = g.Key, Count = g.Count(), LastId = g.Max(x => x.Id) }).ToListAsync(ct);
        return rows.ToDictionary(r => r.RoomId, r => new UnreadRoom(r.Count, r.LastId));
    }

    /// <summary>
    /// Unread messages per room that mention the user (<c>@Name</c>); rooms with none are left
    /// out. A coarse text match in the database, then <see cref="Mentions.IsMentioned"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<long, int>> UnreadMentionCountsAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var unread = from m in db.RoomMembers
                     where m.UserId == user.Id
                     from msg in db.Messages
                     where msg.RoomId == m.RoomId && msg.Id > m.LastReadMessageId
                           && (msg.Kind == MessageKind.Text || msg.Kind == MessageKind.Image)
                           && msg.DeletedAt == null && msg.SenderId != user.Id
                     select msg;
        if (db.Database.IsSqlite())
        {
            // SQLite's LIKE ignores ASCII case, as the final check does.
            var needle = "%@" + user.Name.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";
            unread = unread.Where(msg => EF.Functions.Like(msg.Text, needle, "\\"));
        }
        else
        {
            var lower = "@" + user.Name.ToLowerInvariant();
            unread = unread.Where(msg => msg.Text.ToLower().Contains(lower));
        }
        var rows = await unread.Select(msg => new { msg.RoomId, msg.Text }).ToListAsync(ct);
        return rows.Where(r => Mentions.IsMentioned(r.Text, user.Name)).GroupBy(r => r.RoomId).ToDictionary(g => g.Key, g => g.Count());
    }

    // ---------------------------------------------------------------- numbers and people

    /// <summary>Numbers for a room (the bot's "stats"): visible messages, members, first message time.</summary>
    public async Task<RoomStats> RoomStatsAsync(long roomId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var posts = db.Messages.Where(m => m.RoomId == roomId && m.DeletedAt == null && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image));
        var count = await posts.CountAsync(ct);
        var images = await posts.CountAsync(m => m.Kind == MessageKind.Image, ct);
        var senders = await posts.Select(m => m.SenderId).Distinct().CountAsync(ct);
        var members = await db.RoomMembers.CountAsync(m => m.RoomId == roomId, ct);
        var first = await posts.OrderBy(m => m.Id).Select(m => (DateTimeOffset?)m.CreatedAt).FirstOrDefaultAsync(ct);
        return new RoomStats(count, images, senders, members, first);
    }

    /// <summary>Whether the user has anything stored (a guest that never posted can be forgotten).</summary>
    public async Task<bool> HasPostedAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Messages.AnyAsync(m => m.SenderId == userId, ct);
    }

    // ---------------------------------------------------------------- images and rows

    public async Task<ImageRef?> GetImageAsync(string imageId, CancellationToken ct = default)
    {
        if (_images.TryGetValue(imageId, out var cached)) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var img = await db.Images.AsNoTracking().FirstOrDefaultAsync(i => i.Id == imageId, ct);
        if (img is null) return null;
        return _images[img.Id] = new ImageRef(img.Id, img.ContentType, img.Width, img.Height, img.Length, img.OriginalName, img.IsFile);
    }

    internal async Task<List<ChatMessage>> ToChatMessagesAsync(ChatDbContext db, List<Message> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return [];
        var senderIds = rows.Select(r => r.SenderId).Distinct().ToList();
        var senders = await db.Users.AsNoTracking().Where(u => senderIds.Contains(u.Id))
            .ToDictionaryAsync(u => u.Id, u => new UserRef(u.Id, u.Name, u.Kind), ct);
        var list = new List<ChatMessage>(rows.Count);
        foreach (var r in rows)
        {
            var sender = senders.GetValueOrDefault(r.SenderId) ?? new UserRef(r.SenderId, "?", UserKind.Member);
            var image = r.ImageId is null ? null : await GetImageAsync(r.ImageId, ct);
            list.Add(MessageWriter.ToChatMessage(r, sender, image));
        }
        // Link previews (issue 15) ride on the posts they belong to: pages, history and catch-up alike.
        var postIds = rows.Where(r => r.Kind is MessageKind.Text or MessageKind.Image && r.DeletedAt == null).Select(r => r.Id).ToList();
        if (postIds.Count > 0)
        {
            var previews = await db.LinkPreviews.AsNoTracking().Where(p => postIds.Contains(p.MessageId)).ToDictionaryAsync(p => p.MessageId, ct);
            if (previews.Count > 0)
                for (var i = 0; i < list.Count; i++)
                    if (previews.TryGetValue(list[i].Id, out var p)) list[i] = list[i] with { Preview = LinkPreview.From(p) };
        }
        return await Conversations.ConversationState.FillAsync(db, list, ct); // reactions and pins of the posts
    }
}
