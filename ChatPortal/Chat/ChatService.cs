using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// The chat core: rooms, direct conversations, posting, editing, deleting, history, presence
/// and subscriptions. It knows nothing of HTTP or Razor; the web UI, the WebSocket endpoint,
/// the back office and the bots all call it.
/// </summary>
public sealed class ChatService : IDisposable
{
    private readonly IDbContextFactory<ChatDbContext> _dbFactory;
    private readonly MessageWriter _writer;
    private readonly LocalFanout _fanout;
    private readonly IChatBackplane _backplane;
    private readonly PresenceTracker _presence;
    private readonly UserDirectory _users;
    private readonly WordFilter _wordFilter;
    private readonly ChatOptions _options;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<long> _rate;
    private readonly Safeguards.AddressLimits? _addressLimits;
    private readonly ConcurrentDictionary<long, RoomInfo> _roomsById = new();
    private readonly ConcurrentDictionary<string, ImageRef> _images = new();
    private readonly ConcurrentDictionary<(long User, long Room), DateTimeOffset> _typing = new();

    public ChatService(IDbContextFactory<ChatDbContext> dbFactory, MessageWriter writer, LocalFanout fanout,
        IChatBackplane backplane, PresenceTracker presence, UserDirectory users, IOptions<ChatOptions> options,
        TimeProvider time, WordFilter wordFilter, Safeguards.AddressLimits? addressLimits = null)
    {
        _addressLimits = addressLimits;
        _wordFilter = wordFilter;
        _dbFactory = dbFactory;
        _writer = writer;
        _fanout = fanout;
        _backplane = backplane;
        _presence = presence;
        _users = users;
        _options = options.Value;
        _time = time;
        _rate = PartitionedRateLimiter.Create<long, long>(userId =>
            RateLimitPartition.GetTokenBucketLimiter(userId, _ => BucketFor(_options)));
    }

    /// <summary>A burst of N, refilled at the configured rate (in steps of at most 100 ms).</summary>
    internal static TokenBucketRateLimiterOptions BucketFor(ChatOptions o)
    {
        var perSecond = Math.Max(0.01, o.RateLimitPerSecond);
        var (tokens, period) = perSecond >= 10
            ? ((int)Math.Ceiling(perSecond / 10), TimeSpan.FromMilliseconds(100))
            : (1, TimeSpan.FromSeconds(1 / perSecond));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, o.RateLimitBurst),
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    public ChatOptions Options => _options;

    public PresenceTracker Presence => _presence;

    public UserDirectory Users => _users;

    // ---------------------------------------------------------------- rooms

    public async Task<RoomInfo?> GetRoomAsync(long roomId, CancellationToken ct = default)
    {
        if (_roomsById.TryGetValue(roomId, out var cached)) return cached;
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Id == roomId, ct);
        return room is null ? null : _roomsById[room.Id] = RoomInfo.From(room);
    }

    public async Task<RoomInfo?> FindRoomAsync(string slug, CancellationToken ct = default)
    {
        var s = slug.Trim().ToLowerInvariant();
        var cached = _roomsById.Values.FirstOrDefault(r => r.Slug == s);
        if (cached is not null) return cached;
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Slug == s, ct);
        return room is null ? null : _roomsById[room.Id] = RoomInfo.From(room);
    }

    public Task<RoomInfo?> GetDefaultRoomAsync(CancellationToken ct = default) => FindRoomAsync(_options.DefaultRoomSlug, ct);

    /// <summary>Another node changed a room: take its new settings (the backplane calls this before telling viewers).</summary>
    public void ApplyRemoteRoomChange(RoomInfo room) => _roomsById[room.Id] = room;

    /// <summary>Call after a room changes outside the core (back office): refreshes caches and tells viewers.</summary>
    public async Task RoomChangedAsync(long roomId, CancellationToken ct = default)
    {
        _roomsById.TryRemove(roomId, out _);
        var room = await GetRoomAsync(roomId, ct);
        if (room is not null) _backplane.Publish(new RoomChanged(room));
    }

    /// <summary>Rooms shown in a user's drawer: public rooms and the private ones they belong to.</summary>
    public async Task<IReadOnlyList<RoomInfo>> ListRoomsAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var memberOf = db.RoomMembers.Where(m => m.UserId == user.Id).Select(m => m.RoomId);
        var rooms = await db.Rooms.AsNoTracking()
            .Where(r => !r.IsDirect && !r.IsArchived && (!r.IsPrivate || memberOf.Contains(r.Id)))
            .Where(r => !user.IsGuest || r.AllowGuests)
            .OrderBy(r => r.Id)
            .ToListAsync(ct);
        return rooms.Select(RoomInfo.From).ToList();
    }

    public async Task<bool> IsMemberAsync(long roomId, long userId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.RoomMembers.AnyAsync(m => m.RoomId == roomId && m.UserId == userId, ct);
    }

    /// <summary>Whether the user may read the room (and so join, catch up, search it).</summary>
    public async Task<bool> CanReadAsync(UserRef user, RoomInfo room, CancellationToken ct = default)
    {
        if (user.IsGuest) return room.AllowGuests && !room.IsPrivate && !room.IsDirect;
        if (!room.IsPrivate && !room.IsDirect) return true;
        return await IsMemberAsync(room.Id, user.Id, ct);
    }

    /// <summary>
    /// Opens a room for a user: checks access, and records membership of public rooms (unread
    /// counts start there). Returns the room or a coded error.
    /// </summary>
    public async Task<ChatResult<RoomInfo>> OpenRoomAsync(UserRef user, string slug, CancellationToken ct = default)
    {
        var room = await FindRoomAsync(slug, ct);
        if (room is null) return ChatError.NotFound("The room");
        if (!await CanReadAsync(user, room, ct)) return ChatError.Forbidden;
        if (!user.IsGuest && !room.IsDirect)
            await EnsureMemberAsync(room.Id, user.Id, ct);
        return room;
    }

    /// <summary>Joins a private room by its invite code.</summary>
    public async Task<ChatResult<RoomInfo>> JoinByInviteAsync(UserRef user, string inviteCode, CancellationToken ct = default)
    {
        if (user.IsGuest) return ChatError.Forbidden;
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.InviteCode == inviteCode && !r.IsDirect, ct);
        if (room is null) return ChatError.NotFound("The invitation");
        if (room.IsArchived) return ChatError.Archived;
        await EnsureMemberAsync(room.Id, user.Id, ct);
        return RoomInfo.From(room);
    }

    public async Task EnsureMemberAsync(long roomId, long userId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        if (await db.RoomMembers.AnyAsync(m => m.RoomId == roomId && m.UserId == userId, ct)) return;
        var last = await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => (long?)m.Id, ct) ?? 0;
        db.RoomMembers.Add(new RoomMember { RoomId = roomId, UserId = userId, JoinedAt = _time.GetUtcNow(), LastReadMessageId = last });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another tab joined at the same moment: the row exists, which is all we wanted.
        }
    }

    /// <summary>Removes a user from a room's members (private rooms: they lose access).</summary>
    public async Task<bool> RemoveMemberAsync(long roomId, long userId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId).ExecuteDeleteAsync(ct) > 0;
    }

    public static string NewInviteCode() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    // ---------------------------------------------------------------- direct conversations

    /// <summary>Finds or creates the direct conversation between two users.</summary>
    public async Task<ChatResult<DirectConversation>> OpenDirectAsync(UserRef me, string otherName, CancellationToken ct = default)
    {
        if (me.IsGuest) return ChatError.Forbidden;
        var other = await _users.FindByNameAsync(otherName, ct);
        if (other is null) return ChatError.NotFound("That user");
        if (other.Id == me.Id) return new ChatError("self", "You cannot start a conversation with yourself.");
        if (other.IsGuest) return new ChatError("guest", "Guests cannot receive direct messages.");
        var slug = DirectSlug(me.Id, other.Id);
        var room = await FindRoomAsync(slug, ct);
        if (room is null)
        {
            await using var db = await _dbFactory.CreateDbContextAsync(ct);
            var now = _time.GetUtcNow();
            var entity = new Room
            {
                Slug = slug, Name = slug, IsDirect = true, IsPrivate = true, InviteCode = NewInviteCode(), CreatedAt = now,
            };
            db.Rooms.Add(entity);
            try
            {
                await db.SaveChangesAsync(ct);
                db.RoomMembers.AddRange(
                    new RoomMember { RoomId = entity.Id, UserId = me.Id, JoinedAt = now },
                    new RoomMember { RoomId = entity.Id, UserId = other.Id, JoinedAt = now });
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Both sides opened it at once: the other insert won.
            }
            room = await FindRoomAsync(slug, ct);
            if (room is null) return ChatError.StorageFailed;
            _backplane.Publish(new DirectActivity(room.Id, other, new DirectConversation(room, me), 0));
        }
        return new DirectConversation(room, other);
    }

    public async Task<IReadOnlyList<DirectConversation>> ListDirectAsync(UserRef me, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await (
            from mine in db.RoomMembers
            where mine.UserId == me.Id
            join room in db.Rooms on mine.RoomId equals room.Id
            where room.IsDirect
            join theirs in db.RoomMembers on room.Id equals theirs.RoomId
            where theirs.UserId != me.Id
            join u in db.Users on theirs.UserId equals u.Id
            select new { room, u.Id, u.Name, u.Kind }).AsNoTracking().ToListAsync(ct);
        return rows.Select(r => new DirectConversation(RoomInfo.From(r.room), new UserRef(r.Id, r.Name, r.Kind)))
            .OrderBy(d => d.Other.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The other member of a direct room, seen from <paramref name="me"/>.</summary>
    public async Task<UserRef?> DirectPartnerAsync(long roomId, long me, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await (from m in db.RoomMembers
                      where m.RoomId == roomId && m.UserId != me
                      join u in db.Users on m.UserId equals u.Id
                      select new UserRef(u.Id, u.Name, u.Kind)).FirstOrDefaultAsync(ct);
    }

    public static string DirectSlug(long a, long b) => $"dm-{Math.Min(a, b)}-{Math.Max(a, b)}";

    // ---------------------------------------------------------------- posting

    /// <summary>
    /// Validates, authorizes and rate-limits a post, then stores it. The task completes only
    /// after the message is committed (and fanned out); its id orders it in the room.
    /// </summary>
    public async Task<ChatResult<ChatMessage>> PostAsync(UserRef sender, long roomId, string? text,
        string? clientMsgId = null, string? imageId = null, CancellationToken ct = default, string? address = null) =>
        await (await BeginPostAsync(sender, roomId, text, clientMsgId, imageId, ct, address));

    /// <summary>
    /// <see cref="PostAsync"/> in two steps, for connections that pipeline their sends: the outer
    /// task completes once the post is checked and queued to the writer (so posts begun one after
    /// another are stored in that order), the inner one once it is committed and fanned out.
    /// A socket can thus have many posts in one group commit instead of one per round trip.
    /// <paramref name="address"/> is the client's address, for the per-address limit on top of the
    /// per-user one (null: none, e.g. bots and the back office).
    /// </summary>
    public async Task<Task<ChatResult<ChatMessage>>> BeginPostAsync(UserRef sender, long roomId, string? text,
        string? clientMsgId = null, string? imageId = null, CancellationToken ct = default, string? address = null)
    {
        var body = CleanText(text);
        if (imageId is null && body.Length == 0) return Refused(ChatError.Empty);
        if (body.Length > _options.MaxMessageLength) return Refused(ChatError.TooLong(_options.MaxMessageLength));
        if (clientMsgId is { Length: > 64 }) return Refused(new ChatError("bad_client_id", "The client message id is longer than 64 characters."));
        var filtered = await _wordFilter.ApplyAsync(body, ct);
        if (filtered.Rejected) return Refused(ChatError.Filtered);
        body = filtered.Text;

        var (room, error) = await CheckCanPostAsync(sender, roomId, ct);
        if (error is not null) return Refused(error);

        ImageRef? image = null;
        if (imageId is not null)
        {
            image = await GetImageAsync(imageId, ct);
            if (image is null) return Refused(ChatError.NotFound("The image"));
        }

        if (!sender.IsBot)
        {
            using var lease = _rate.AttemptAcquire(sender.Id);
            if (!lease.IsAcquired) return Refused(ChatError.RateLimited);
            if (_addressLimits?.TryPost(address) == false) return Refused(ChatError.RateLimited); // rotating users buys nothing
        }

        var row = new Message
        {
            RoomId = room!.Id,
            SenderId = sender.Id,
            Kind = image is null ? MessageKind.Text : MessageKind.Image,
            Text = body,
            ClientMsgId = string.IsNullOrEmpty(clientMsgId) ? null : clientMsgId,
            ImageId = image?.Id,
            CreatedAt = _time.GetUtcNow(),
        };
        var stored = await _writer.EnqueueAsync(new PostOp(sender, row, image), ct);
        return FinishPostAsync(sender, room, stored, ct);
    }

    private static Task<ChatResult<ChatMessage>> Refused(ChatError error) => Task.FromResult<ChatResult<ChatMessage>>(error);

    private async Task<ChatResult<ChatMessage>> FinishPostAsync(UserRef sender, RoomInfo room, Task<WriteResult> stored, CancellationToken ct)
    {
        var result = await stored.WaitAsync(ct);
        if (result.Error is not null) return result.Error;
        var message = result.Message!;
        _typing.TryRemove((sender.Id, room.Id), out _); // a new message starts a new typing period
        if (room.IsDirect && !result.Duplicate)
        {
            var partner = await DirectPartnerAsync(room.Id, sender.Id, ct);
            if (partner is not null)
                _backplane.Publish(new DirectActivity(room.Id, partner, new DirectConversation(room, sender), message.Id));
        }
        return message;
    }

    public async Task<ChatResult<ChatMessage>> EditAsync(UserRef editor, long messageId, string? text, CancellationToken ct = default)
    {
        var body = CleanText(text);
        if (body.Length == 0) return ChatError.Empty;
        if (body.Length > _options.MaxMessageLength) return ChatError.TooLong(_options.MaxMessageLength);
        var filtered = await _wordFilter.ApplyAsync(body, ct);
        if (filtered.Rejected) return ChatError.Filtered;
        body = filtered.Text;
        var target = await LoadMessageAsync(messageId, ct);
        if (target is null || target.DeletedAt is not null || target.Kind is MessageKind.Edit or MessageKind.Delete)
            return ChatError.NotFound("The message");
        if (target.SenderId != editor.Id) return ChatError.Forbidden;
        if (target.Kind == MessageKind.Image) return new ChatError("not_editable", "Images cannot be edited.");
        var (_, error) = await CheckCanPostAsync(editor, target.RoomId, ct);
        if (error is not null) return error;

        var row = new Message
        {
            RoomId = target.RoomId, SenderId = editor.Id, Kind = MessageKind.Edit, Text = body, TargetId = target.Id,
            CreatedAt = _time.GetUtcNow(),
        };
        var result = await _writer.SubmitAsync(new ChangeOp(editor, row, editor, null), ct);
        return result.Error is not null ? result.Error : result.Message!;
    }

    /// <summary>Deletes one's own message, or any message when <paramref name="asModerator"/>.</summary>
    public async Task<ChatResult<long>> DeleteAsync(UserRef by, long messageId, bool asModerator = false, CancellationToken ct = default)
    {
        var target = await LoadMessageAsync(messageId, ct);
        if (target is null || target.DeletedAt is not null || target.Kind is MessageKind.Edit or MessageKind.Delete)
            return ChatError.NotFound("The message");
        if (!asModerator)
        {
            if (target.SenderId != by.Id) return ChatError.Forbidden;
            var (_, error) = await CheckCanPostAsync(by, target.RoomId, ct, allowArchivedOrMuted: true);
            if (error is not null) return error;
        }
        var targetSender = (await _users.GetAsync(target.SenderId, ct))?.User ?? new UserRef(target.SenderId, "?", UserKind.Member);
        var row = new Message
        {
            RoomId = target.RoomId, SenderId = by.Id, Kind = MessageKind.Delete, TargetId = target.Id, CreatedAt = _time.GetUtcNow(),
        };
        var result = await _writer.SubmitAsync(new ChangeOp(by, row, targetSender, null), ct);
        return result.Error is not null ? result.Error : result.Row!.Id;
    }

    private async Task<(RoomInfo? Room, ChatError? Error)> CheckCanPostAsync(UserRef sender, long roomId, CancellationToken ct,
        bool allowArchivedOrMuted = false)
    {
        var state = await _users.GetAsync(sender.Id, ct);
        if (state is null) return (null, ChatError.NotFound("The user"));
        if (state.Banned) return (null, ChatError.Banned);
        if (!allowArchivedOrMuted && state.IsMuted(_time.GetUtcNow())) return (null, ChatError.Muted);
        var room = await GetRoomAsync(roomId, ct);
        if (room is null) return (null, ChatError.NotFound("The room"));
        if (!allowArchivedOrMuted && room.IsArchived) return (null, ChatError.Archived);
        if (!await CanReadAsync(sender, room, ct)) return (null, ChatError.Forbidden);
        return (room, null);
    }

    private async Task<Message?> LoadMessageAsync(long id, CancellationToken ct)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.Messages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
    }

    /// <summary>Keeps line breaks and tabs, drops other control characters, trims the ends.</summary>
    internal static string CleanText(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var needsClean = false;
        foreach (var c in text)
        {
            if (char.IsControl(c) && c is not '\n' and not '\t') { needsClean = true; break; }
        }
        if (needsClean)
            text = string.Concat(text.Where(c => !char.IsControl(c) || c is '\n' or '\t'));
        return text.Trim();
    }

    // ---------------------------------------------------------------- images

    public async Task<ImageRef?> GetImageAsync(string imageId, CancellationToken ct = default)
    {
        if (_images.TryGetValue(imageId, out var cached)) return cached;
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var img = await db.Images.AsNoTracking().FirstOrDefaultAsync(i => i.Id == imageId, ct);
        if (img is null) return null;
        return _images[img.Id] = new ImageRef(img.Id, img.ContentType, img.Width, img.Height, img.Length, img.OriginalName);
    }

    // ---------------------------------------------------------------- history

    /// <summary>
    /// A page of visible messages (posts, with edits and deletes applied), oldest first:
    /// the latest page when <paramref name="beforeId"/> is null, else the page before it.
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(long roomId, long? beforeId = null, int? limit = null,
        CancellationToken ct = default)
    {
        var take = Math.Clamp(limit ?? _options.HistoryPageSize, 1, 200);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var query = db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image));
        if (beforeId is { } before) query = query.Where(m => m.Id < before);
        var rows = await query.OrderByDescending(m => m.Id).Take(take).ToListAsync(ct);
        rows.Reverse();
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>
    /// Catch-up: every stored event of the room after <paramref name="afterId"/>, in order —
    /// posts as they are now, and edit/delete rows (kind Edit/Delete, TargetId set).
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> GetEventsAfterAsync(long roomId, long afterId, int limit = 500,
        CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && m.Id > afterId)
            .OrderBy(m => m.Id).Take(Math.Clamp(limit, 1, 5000)).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>
    /// Catch-up as the events live subscribers get: posts as <see cref="MessagePosted"/>, edit rows
    /// as <see cref="MessageEdited"/> (with the message as it is now), delete rows as <see cref="MessageDeleted"/>.
    /// </summary>
    public async Task<IReadOnlyList<ChatEvent>> GetStoredEventsAfterAsync(long roomId, long afterId, int limit = 500,
        CancellationToken ct = default)
    {
        var rows = await GetEventsAfterAsync(roomId, afterId, limit, ct);
        var editTargets = rows.Where(r => r.Kind == MessageKind.Edit && r.TargetId is not null)
            .Select(r => r.TargetId!.Value).Distinct().ToList();
        var targets = new Dictionary<long, ChatMessage>();
        if (editTargets.Count > 0)
        {
            await using var db = await _dbFactory.CreateDbContextAsync(ct);
            var found = await db.Messages.AsNoTracking().Where(m => editTargets.Contains(m.Id)).ToListAsync(ct);
            foreach (var m in await ToChatMessagesAsync(db, found, ct)) targets[m.Id] = m;
        }
        var events = new List<ChatEvent>(rows.Count);
        foreach (var r in rows)
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
            }
        }
        return events;
    }

    /// <summary>A message and the ones around it (for opening a search result in its context).</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetAroundAsync(long roomId, long messageId, int each = 25, CancellationToken ct = default)
    {
        var before = await GetHistoryAsync(roomId, messageId + 1, each + 1, ct);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var after = await db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && m.Id > messageId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderBy(m => m.Id).Take(each).ToListAsync(ct);
        return [.. before, .. await ToChatMessagesAsync(db, after, ct)];
    }

    /// <summary>Posts by id (search results, mentions), as they are now; event rows and unknown ids are left out.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetMessagesAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => ids.Contains(m.Id) && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderBy(m => m.Id).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>The page of visible messages right after <paramref name="afterId"/>, oldest first (reading forward from a search hit).</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetNewerAsync(long roomId, long afterId, int? limit = null, CancellationToken ct = default)
    {
        var take = Math.Clamp(limit ?? _options.HistoryPageSize, 1, 200);
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.RoomId == roomId && m.Id > afterId && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderBy(m => m.Id).Take(take).ToListAsync(ct);
        return await ToChatMessagesAsync(db, rows, ct);
    }

    /// <summary>The first visible message from someone else after the user's read position, or null when all is read.</summary>
    public async Task<long?> FirstUnreadIdAsync(long userId, long roomId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var lastRead = await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId)
            .Select(m => (long?)m.LastReadMessageId).FirstOrDefaultAsync(ct);
        if (lastRead is null) return null;
        return await db.Messages.Where(m => m.RoomId == roomId && m.Id > lastRead && m.SenderId != userId && m.DeletedAt == null
                && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
            .OrderBy(m => m.Id).Select(m => (long?)m.Id).FirstOrDefaultAsync(ct);
    }

    /// <summary>
    /// Unread messages per room that mention the user (<c>@Name</c>); rooms with none are left
    /// out. A coarse text match, refined by <see cref="Mentions.IsMentioned"/> in the caller if needed.
    /// </summary>
    public async Task<IReadOnlyDictionary<long, int>> UnreadMentionCountsAsync(UserRef user, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
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
        return rows.Where(r => Mentions.IsMentioned(r.Text, user.Name))
            .GroupBy(r => r.RoomId).ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>Numbers for a room (the bot's "stats"): visible messages, members, first message time.</summary>
    public async Task<RoomStats> RoomStatsAsync(long roomId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var posts = db.Messages.Where(m => m.RoomId == roomId && m.DeletedAt == null
            && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image));
        var count = await posts.CountAsync(ct);
        var images = await posts.CountAsync(m => m.Kind == MessageKind.Image, ct);
        var senders = await posts.Select(m => m.SenderId).Distinct().CountAsync(ct);
        var members = await db.RoomMembers.CountAsync(m => m.RoomId == roomId, ct);
        var first = await posts.OrderBy(m => m.Id).Select(m => (DateTimeOffset?)m.CreatedAt).FirstOrDefaultAsync(ct);
        return new RoomStats(count, images, senders, members, first);
    }

    /// <summary>Members of a room (for @-completion), by name, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<UserRef>> ListMembersAsync(long roomId, int limit = 200, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await (from m in db.RoomMembers
                      where m.RoomId == roomId
                      join u in db.Users on m.UserId equals u.Id
                      where u.BannedAt == null
                      orderby u.Name
                      select new UserRef(u.Id, u.Name, u.Kind)).Take(Math.Clamp(limit, 1, 1000)).ToListAsync(ct);
    }

    public async Task<long> LatestIdAsync(long roomId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => (long?)m.Id, ct) ?? 0;
    }

    private async Task<List<ChatMessage>> ToChatMessagesAsync(ChatDbContext db, List<Message> rows, CancellationToken ct)
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
        return list;
    }

    // ---------------------------------------------------------------- unread

    public async Task MarkReadAsync(long userId, long roomId, long messageId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId && m.LastReadMessageId < messageId)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LastReadMessageId, messageId), ct);
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
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rows = await (from m in db.RoomMembers
                          where m.UserId == userId
                          from msg in db.Messages
                          where msg.RoomId == m.RoomId && msg.Id > m.LastReadMessageId
                                && (msg.Kind == MessageKind.Text || msg.Kind == MessageKind.Image)
                                && msg.DeletedAt == null && msg.SenderId != userId
                          group msg by msg.RoomId into g
                          select new { RoomId = g.Key, Count = g.Count(), LastId = g.Max(x => x.Id) }).ToListAsync(ct);
        return rows.ToDictionary(r => r.RoomId, r => new UnreadRoom(r.Count, r.LastId));
    }

    public async Task<long> LastReadAsync(long userId, long roomId, CancellationToken ct = default)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        return await db.RoomMembers.Where(m => m.RoomId == roomId && m.UserId == userId)
            .Select(m => (long?)m.LastReadMessageId).FirstOrDefaultAsync(ct) ?? 0;
    }

    // ---------------------------------------------------------------- live

    public IDisposable SubscribeRoom(long roomId, IChatSubscriber subscriber) => _fanout.SubscribeRoom(roomId, subscriber);

    public IDisposable SubscribeUser(long userId, IChatSubscriber subscriber) => _fanout.SubscribeUser(userId, subscriber);

    /// <summary>Marks the user online in the room for as long as the returned lease lives.</summary>
    public IDisposable EnterRoom(long roomId, UserRef user) => _presence.Enter(roomId, user);

    public IReadOnlyList<UserRef> Online(long roomId) => _presence.Online(roomId);

    /// <summary>
    /// Announces that the user is typing. Throttled in the core for every adapter: at most one
    /// event per user and room per <see cref="ChatOptions.TypingInterval"/>. True when announced.
    /// </summary>
    public bool Typing(UserRef user, long roomId)
    {
        var now = _time.GetUtcNow();
        var key = (user.Id, roomId);
        if (_typing.TryGetValue(key, out var last) && now - last < _options.TypingInterval) return false;
        _typing[key] = now;
        if (_typing.Count > 50_000)
        {
            foreach (var (k, at) in _typing)
                if (now - at > _options.TypingInterval) _typing.TryRemove(k, out _);
        }
        _backplane.Publish(new UserTyping(roomId, user));
        return true;
    }

    /// <summary>
    /// Ends a user's live sessions everywhere (ban, kick): adapters close them. With a sign-in
    /// <paramref name="sessionId"/>, only that session's tabs and sockets (sign-out).
    /// </summary>
    public void RevokeSessions(long userId, string reason, string? sessionId = null)
    {
        _users.Invalidate(userId);
        _backplane.Publish(new SessionRevoked(userId, reason, sessionId));
    }

    public void Dispose() => _rate.Dispose();
}
