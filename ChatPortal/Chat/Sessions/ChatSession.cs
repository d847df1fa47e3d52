using System.Collections.Concurrent;

namespace ChatPortal.Chat;

/// <summary>Why a session lost a room.</summary>
public enum RoomLoss
{
    /// <summary>The user was removed from a private room or a direct conversation.</summary>
    Removed,
    /// <summary>The room was made private (or closed to guests) and the user is not let in.</summary>
    Closed,
    Archived,
    Deleted,
}

/// <summary>
/// What a connection (a browser tab, a socket) implements for its <see cref="ChatSession"/>: a queue
/// the core may put work on without ever waiting, drained by one loop that hands the session's items
/// back to <see cref="ChatSession.DeliverAsync"/>, and the outputs the session produces there.
/// </summary>
public interface IChatSessionSink
{
    /// <summary>
    /// Queues an item (an event or a <see cref="RoomJoin"/>); false when the queue is full (the connection is too slow).
    /// <paramref name="urgent"/>: an event from elsewhere that should not wait for the requests the connection is handling
    /// (false for the session's own items, and for events of a room whose join is still catching up: they wait for it anyway).
    /// </summary>
    bool TryQueue(object item, bool urgent, out bool startDrain);

    /// <summary>Starts the drain when <c>TryQueue</c> said so (on any thread).</summary>
    void Drain();

    /// <summary>The queue overflowed: the connection is dropped (it reconnects and catches up).</summary>
    void Overflow();

    /// <summary>A join's reply, before its catch-up (the room, who is online, the newest id; for the web the latest page).</summary>
    ValueTask JoinedAsync(RoomJoin join);

    /// <summary>An event this session's user may see.</summary>
    ValueTask EventAsync(ChatEvent evt);

    /// <summary>A join's catch-up is complete: live events follow.</summary>
    ValueTask CaughtUpAsync(RoomJoin join);

    /// <summary>The session left a room because its user may no longer read it.</summary>
    ValueTask RoomLostAsync(RoomInfo room, RoomLoss reason);

    /// <summary>The session ended (ban, kick, sign-out): close the connection. Called once, on any thread.</summary>
    void Revoked(string reason);
}

/// <summary>
/// A join on its way through the session's queue: the reply, then what was stored after
/// <see cref="Since"/> (or the latest page), then the live events that arrived meanwhile, in order,
/// with nothing missed and nothing twice.
/// </summary>
public sealed class RoomJoin
{
    private readonly Func<IReadOnlyList<UserRef>> _everyone;
    private IReadOnlyList<UserRef>? _online;

    internal RoomJoin(RoomInfo room, long? since, int latestPage, IReadOnlyList<UserRef> listed, int onlineCount, bool presenceSummarized,
        Func<IReadOnlyList<UserRef>> everyone, long lastId, object? tag, RoomFeed feed)
    {
        (Room, Since, LatestPage, OnlineListed, OnlineCount, PresenceSummarized, LastId, Tag, Feed) =
            (room, since, latestPage, listed, onlineCount, presenceSummarized, lastId, tag, feed);
        _everyone = everyone;
        if (listed.Count >= onlineCount) _online = listed;
    }

    public RoomInfo Room { get; }
    /// <summary>Catch up with everything stored after this id (null: no catch-up).</summary>
    public long? Since { get; }
    /// <summary>Instead of a catch-up: the latest page of this many messages (the web view).</summary>
    public int LatestPage { get; }
    /// <summary>
    /// Everyone online in the room (a web view's list), read when first asked: in a busy room that is
    /// O(room), so sockets send <see cref="OnlineListed"/> instead.
    /// </summary>
    public IReadOnlyList<UserRef> Online => _online ??= _everyone();
    /// <summary>The first <see cref="ChatOptions.JoinOnlineListUpTo"/> of the online list at the join (all of it in a smaller room).</summary>
    public IReadOnlyList<UserRef> OnlineListed { get; }
    /// <summary>How many were online in the room at the join.</summary>
    public int OnlineCount { get; }
    /// <summary>
    /// The room is busy: presence reaches this session as summaries (<see cref="PresenceSummary"/>), not one by one, so a
    /// list sent with the join could not be kept current by the client (a v1 <c>joined</c> leaves it out then).
    /// </summary>
    public bool PresenceSummarized { get; }
    /// <summary>The room's newest stored id when the join was made.</summary>
    public long LastId { get; }
    /// <summary>The adapter's own data (e.g. the request id to reply to).</summary>
    public object? Tag { get; }
    /// <summary>The latest page, for a <see cref="LatestPage"/> join (set before <see cref="IChatSessionSink.JoinedAsync"/>).</summary>
    public IReadOnlyList<ChatMessage> Page { get; internal set; } = [];
    /// <summary>Set before <see cref="IChatSessionSink.CaughtUpAsync"/>: the newest id sent and how many events the catch-up sent.</summary>
    public long CaughtUpTo { get; internal set; }
    public int CatchUpCount { get; internal set; }
    internal RoomFeed Feed { get; }
}

/// <summary>One room of one session.</summary>
internal sealed class RoomFeed(RoomInfo room)
{
    // The drain is the only one to touch Room, Stash and SentUpTo once the feed is published.
    public RoomInfo Room { get; set; } = room;
    public IDisposable? Subscription { get; set; }
    public IDisposable? Presence { get; set; }
    /// <summary>Joined (with presence and a catch-up) rather than only watched (a drawer's unread counts).</summary>
    public bool Joined { get; set; }
    public bool Watched { get; set; }
    /// <summary>Watched with presence: the user counts as online in it while connected, whichever room they view.</summary>
    public bool WatchPresence { get; set; }
    public bool WantsPresence { get; set; }
    public RoomJoin? Join { get; set; }
    /// <summary>Until the join's catch-up is sent, live events of the room wait here, in order.</summary>
    public List<ChatEvent>? Stash { get; set; }
    /// <summary>Live events with an id up to this were already sent (by the catch-up, or are in the page).</summary>
    public long SentUpTo { get; set; }

    public void Dispose()
    {
        Subscription?.Dispose();
        Subscription = null;
        Presence?.Dispose();
        Presence = null;
    }
}

/// <summary>
/// One connection's life in the core: a browser tab or a socket, for one user. It owns the rooms
/// joined (subscription, presence, the join's catch-up), the one visibility check every event passes
/// (the room is one the session still has; its access was checked at the join and again on every
/// room or membership event), typing, and revocation. Adapters only frame what it hands them.
/// </summary>
public sealed class ChatSession : IDrainedSubscriber, IDisposable
{
    private const int CatchUpPage = 500;
    private readonly ChatSessions _core;
    private readonly IChatSessionSink _sink;
    private readonly Lock _gate = new();
    // Sized for a connection's few rooms: the defaults (31 buckets, a lock per core) cost ~0.4 KB per socket.
    private readonly ConcurrentDictionary<long, RoomFeed> _rooms = new(concurrencyLevel: 1, capacity: 2);
    private readonly int _maxStash;
    private IDisposable? _userSubscription;
    private bool _connected = true;
    private int _ended;

    internal ChatSession(ChatSessions core, UserRef user, IChatSessionSink sink, int maxStash, string? signInSessionId, long? tokenId = null)
    {
        (_core, User, _sink, _maxStash, SignInSessionId, TokenId) = (core, user, sink, maxStash, signInSessionId, tokenId);
        _userSubscription = core.Fanout.SubscribeUser(user.Id, this);
    }

    public UserRef User { get; }

    /// <summary>The browser sign-in this connection belongs to, if any: signing it out ends the session.</summary>
    public string? SignInSessionId { get; }

    /// <summary>The API token this connection authenticated with, if any: revoking it ends the session, on every node.</summary>
    public long? TokenId { get; }

    public bool IsEnded => Volatile.Read(ref _ended) == 1;

    /// <summary>Whether an item of the connection's queue belongs to the session (to go back through <see cref="DeliverAsync"/>).</summary>
    public static bool Owns(object item) => item is ChatEvent or RoomJoin;

    // ------------------------------------------------------------------ rooms

    public bool IsJoined(long roomId) => _rooms.TryGetValue(roomId, out var f) && f.Joined;

    public int JoinedCount => _rooms.Values.Count(f => f.Joined);

    /// <summary>A joined room by slug (no database needed: the session knows its rooms).</summary>
    public long? JoinedRoomBySlug(string? slug) =>
        _rooms.Values.FirstOrDefault(f => f.Joined && string.Equals(f.Room.Slug, slug, StringComparison.Ordinal))?.Room.Id;

    /// <summary>
    /// Joins a room: checks that the user may read it (recording membership of public rooms), listens
    /// to it, enters presence, then queues the join so that its reply, its catch-up (everything stored
    /// after <paramref name="since"/>, or the latest page of <paramref name="latestPage"/> messages) and the
    /// live events that arrived meanwhile reach the connection in order, with no gap and no duplicate.
    /// </summary>
    public async Task<ChatResult<RoomJoin>> JoinAsync(RoomInfo? room, long? since = null, int latestPage = 0, object? tag = null,
        int maxRooms = int.MaxValue, CancellationToken ct = default)
    {
        if (IsEnded) return Ended;
        var opened = await _core.Rooms.OpenAsync(User, room, ct);
        if (!opened.Ok) return opened.Error!;
        room = opened.Value!;
        RoomFeed feed;
        lock (_gate)
        {
            if (IsEnded) return Ended;
            if (_rooms.TryGetValue(room.Id, out var existing) && existing.Joined)
                return new ChatError("already_joined", "This connection has already joined that room.");
            if (existing is null && JoinedCount >= maxRooms)
                return new ChatError("too_many_rooms", $"A connection may join at most {maxRooms} rooms.");
            feed = existing ?? new RoomFeed(room);
            feed.Stash = [];
            feed.Joined = true;
            feed.WantsPresence = true;
            // Joining made the user a member: a tab's drawer keeps them online here after they move on.
            if (feed.Watched && !User.IsGuest && !room.IsDirect) feed.WatchPresence = true;
            _rooms[room.Id] = feed; // before the room's events can come: they find it catching up (stashed, not urgent)
            feed.Subscription ??= _core.Fanout.SubscribeRoom(room.Id, this);
            if (_connected) feed.Presence ??= _core.EnterPresence(room.Id, User);
        }
        var (listed, onlineCount) = _core.OnlineAtJoin(room.Id);
        var roomId = room.Id;
        var join = new RoomJoin(room, since, latestPage, listed, onlineCount, _core.Fanout.PresenceSummarized(room.Id),
            () => _core.Presence.Online(roomId), await _core.History.LatestIdAsync(room.Id, ct), tag, feed);
        feed.Join = join;
        Queue(join);
        return join;
    }

    /// <summary>Leaves a joined room (a watched room stays watched). False when it was not joined.</summary>
    public bool Leave(long roomId)
    {
        lock (_gate)
        {
            if (!_rooms.TryGetValue(roomId, out var feed) || !feed.Joined) return false;
            feed.Joined = false;
            feed.Join = null;
            if (!feed.Watched)
            {
                feed.WantsPresence = false;
                Remove(feed);
            }
            else if (!feed.WatchPresence)
            {
                feed.WantsPresence = false;
                feed.Presence?.Dispose();
                feed.Presence = null;
            }
            // else: still online in the room (a tab's drawer), so moving to another room is not leaving this one.
            return true;
        }
    }

    /// <summary>
    /// Listens to rooms without joining them (a drawer's unread counts): no catch-up, and only rooms
    /// the user may read. With <paramref name="presence"/> (a browser tab: online is per user, not per
    /// room viewed) the user counts as online in the rooms they are a member of while the connection
    /// is up. Returns the rooms now watched.
    /// </summary>
    public async Task<IReadOnlyList<RoomInfo>> WatchAsync(IEnumerable<RoomInfo> rooms, bool presence = false, CancellationToken ct = default)
    {
        var watched = new List<RoomInfo>();
        foreach (var room in rooms)
        {
            if (await _core.Directory.CheckReadAsync(User, room, ct) is not null) continue;
            // Guests have no memberships: they are online in the guest rooms they can read.
            var online = presence && (User.IsGuest || await _core.Directory.IsMemberAsync(room.Id, User.Id, ct));
            lock (_gate)
            {
                if (IsEnded) break;
                var feed = _rooms.GetOrAdd(room.Id, _ => new RoomFeed(room));
                feed.Watched = true;
                feed.Subscription ??= _core.Fanout.SubscribeRoom(room.Id, this);
                if (online)
                {
                    feed.WatchPresence = true;
                    feed.WantsPresence = true;
                    if (_connected) feed.Presence ??= _core.EnterPresence(room.Id, User);
                }
            }
            watched.Add(room);
        }
        return watched;
    }

    /// <summary>The connection's link went down (or came back): it counts as gone from its rooms meanwhile.</summary>
    public void SetConnected(bool connected)
    {
        lock (_gate)
        {
            if (_connected == connected || IsEnded) return;
            _connected = connected;
            foreach (var feed in _rooms.Values)
            {
                if (connected && feed.WantsPresence) feed.Presence ??= _core.EnterPresence(feed.Room.Id, User);
                else if (!connected)
                {
                    feed.Presence?.Dispose();
                    feed.Presence = null;
                }
            }
        }
    }

    /// <summary>Says the user is typing in a joined room (throttled in the core for all connections).</summary>
    public ChatError? Typing(long roomId)
    {
        if (!IsJoined(roomId)) return new ChatError("not_joined", "Join the room before typing in it.");
        _core.Commands.Typing(User, roomId);
        return null;
    }

    // ------------------------------------------------------------------ ending

    /// <summary>Ends the session and tells the connection to close (token revoked, ban, kick).</summary>
    public void Revoke(string reason)
    {
        if (End()) _sink.Revoked(reason);
    }

    /// <summary>The connection closed: leave everything.</summary>
    public void Dispose() => End();

    private bool End()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1) return false;
            _userSubscription?.Dispose();
            _userSubscription = null;
            foreach (var feed in _rooms.Values) feed.Dispose();
            _rooms.Clear();
            return true;
        }
    }

    private static readonly ChatError Ended = new("session_ended", "This session has ended.");

    // ------------------------------------------------------------------ from the fan-out (never waits)

    public bool TryQueue(ChatEvent evt, out bool startDrain)
    {
        startDrain = false;
        if (IsEnded) return true; // going anyway; not slow
        if (evt is SessionRevoked revoked)
        {
            if (revoked.UserId == User.Id && (revoked.TokenId is { } token ? token == TokenId
                    : revoked.SessionId is null || revoked.SessionId == SignInSessionId))
            {
                _core.Log.LogInformation("Ending a session of user {UserId}: {Reason}", revoked.UserId, revoked.Reason);
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Session.Revoke(s.Reason), (Session: this, revoked.Reason), preferLocal: false);
            }
            return true;
        }
        return _sink.TryQueue(evt, urgent: !CanWait(evt), out startDrain);
    }

    /// <summary>
    /// Events that wait anyway, so need not hurry the drain past the requests the connection is handling: those of a room
    /// this session is still joining (its own presence on entering, say) stay in the stash until the join's catch-up is
    /// sent, and "you are a member now" is mostly this session's own first join of a public room. A hint read off the
    /// drain's thread: a stale answer only moves the event's write, never loses or reorders it.
    /// </summary>
    private bool CanWait(ChatEvent evt) =>
        evt is MemberAdded added && added.User.Id == User.Id
        || evt.RoomId != 0 && _rooms.TryGetValue(evt.RoomId, out var feed) && feed.Stash is not null;

    public bool TryDeliver(ChatEvent evt)
    {
        if (!TryQueue(evt, out var start)) return false;
        if (start) _sink.Drain();
        return true;
    }

    public void Drain() => _sink.Drain();

    public void OnOverflow() => _sink.Overflow();

    private void Queue(object item)
    {
        if (!_sink.TryQueue(item, urgent: false, out var start))
        {
            _sink.Overflow();
            return;
        }
        if (start) _sink.Drain();
    }

    // ------------------------------------------------------------------ on the connection's drain

    /// <summary>Handles one of the session's items from the connection's queue (an event, a join), in queue order.</summary>
    public async ValueTask DeliverAsync(object item)
    {
        if (IsEnded) return;
        if (item is RoomJoin join) await CatchUpAsync(join);
        else if (item is ChatEvent evt) await RouteAsync(evt);
    }

    private async ValueTask CatchUpAsync(RoomJoin join)
    {
        var feed = join.Feed;
        if (!_rooms.TryGetValue(join.Room.Id, out var current) || !ReferenceEquals(current, feed)) return;
        if (!ReferenceEquals(feed.Join, join))
        {
            // Left before its turn came, but still watched: what waited for the catch-up goes out as it is.
            if (feed.Join is null && feed.Stash is { } left)
            {
                feed.Stash = null;
                foreach (var evt in left) await RouteAsync(evt);
            }
            return;
        }
        if (join.LatestPage > 0)
        {
            // Everything up to LastId is in the page (read after it); later events come live, applied by id.
            join.Page = await _core.History.GetHistoryAsync(join.Room.Id, null, join.LatestPage);
            feed.SentUpTo = join.LastId;
        }
        await _sink.JoinedAsync(join);
        var count = 0;
        if (join.Since is { } since)
        {
            var after = Math.Max(0, since);
            while (!IsEnded)
            {
                var events = await _core.History.GetStoredEventsAfterSharedAsync(join.Room.Id, after, CatchUpPage);
                foreach (var evt in events)
                {
                    var id = ChatEvents.StoredId(evt);
                    feed.SentUpTo = Math.Max(feed.SentUpTo, id);
                    after = Math.Max(after, id);
                    count++;
                    await _sink.EventAsync(evt);
                }
                if (events.Count < CatchUpPage) break;
            }
            await ReplayReceiptsAsync(join);
        }
        join.CaughtUpTo = Math.Max(feed.SentUpTo, join.Since ?? 0);
        join.CatchUpCount = count;
        await _sink.CaughtUpAsync(join);
        var waiting = feed.Stash ?? [];
        feed.Stash = null;
        foreach (var evt in waiting)
        {
            if (IsEnded) return;
            await RouteAsync(evt);
        }
    }

    /// <summary>Receipts replayed on catch-up (the furthest-read members first); a client asks <c>receipts</c> for the rest.</summary>
    internal const int ReplayedReceipts = 200;

    /// <summary>
    /// Read receipts are not stored events (a cursor only moves forward, so there is nothing to replay in order):
    /// a catch-up ends with the room's current cursors instead, each as a <see cref="ReadReceipt"/>, so a client that
    /// rejoins knows the ✓✓ and "seen by" it missed without asking. Those who hide their receipts are never among them.
    /// </summary>
    private async ValueTask ReplayReceiptsAsync(RoomJoin join)
    {
        if (_core.Receipts is not { } receipts || IsEnded) return;
        var cursors = await receipts.CursorsAsync(User, join.Room.Id);
        if (!cursors.Ok) return;
        foreach (var c in cursors.Value!.OrderByDescending(c => c.LastReadId).Take(ReplayedReceipts))
        {
            if (IsEnded) return;
            await _sink.EventAsync(new ReadReceipt(join.Room.Id, c.User, c.LastReadId));
        }
    }

    /// <summary>
    /// The common cases of <see cref="DeliverAsync"/> without an async call: a room event of a room the
    /// session has, not changing access, and any event of a room waiting for its catch-up (stashed, as
    /// <see cref="RouteAsync"/> would: the connection need not send what it holds first). True when it is settled
    /// here (<paramref name="send"/>: the connection frames it now); false when it needs
    /// <see cref="DeliverAsync"/>. At a million deliveries a second the saved layer is measurable.
    /// </summary>
    public bool TryRouteNow(ChatEvent evt, out bool send)
    {
        send = false;
        if (IsEnded) return true;
        if (evt is DirectActivity or RoomListed || evt.RoomId == 0) return false;
        if (!_rooms.TryGetValue(evt.RoomId, out var feed)) return evt is not (MemberAdded or MemberRemoved or RoomChanged or RoomDeleted); // left, lost, or never ours
        if (feed.Stash is { } stash)
        {
            Stash(stash, evt);
            return true;
        }
        if (evt is MemberAdded or MemberRemoved or RoomChanged or RoomDeleted) return false;
        send = !(ChatEvents.StoredId(evt) is > 0 and var id && id <= feed.SentUpTo); // else the catch-up had it
        return true;
    }

    private void Stash(List<ChatEvent> stash, ChatEvent evt)
    {
        stash.Add(evt);
        if (stash.Count > _maxStash) _sink.Overflow();
    }

    /// <summary>The visibility check every event passes before the connection sees it.</summary>
    private async ValueTask RouteAsync(ChatEvent evt)
    {
        switch (evt)
        {
            case DirectActivity d:
                if (d.Recipient.Id == User.Id) await _sink.EventAsync(d);
                return;
            case MemberAdded m when m.User.Id == User.Id && !_rooms.ContainsKey(m.RoomId):
                await _sink.EventAsync(m); // a room the user may now open (the drawer lists it)
                return;
            case RoomListed l:
                // A new public room: only for those who may open it (guests: if it lets them in).
                if (!_rooms.ContainsKey(l.RoomId) && await _core.Directory.CheckReadAsync(User, l.Room) is null) await _sink.EventAsync(l);
                return;
        }
        if (evt.RoomId == 0)
        {
            if (evt is IPersonalEvent p && p.UserId != User.Id) return; // another user's own business
            await _sink.EventAsync(evt);
            return;
        }
        if (!_rooms.TryGetValue(evt.RoomId, out var feed)) return; // left, lost, or never ours
        if (feed.Stash is { } stash)
        {
            Stash(stash, evt);
            return;
        }
        if (ChatEvents.StoredId(evt) is > 0 and var id && id <= feed.SentUpTo) return; // the catch-up had it
        switch (evt)
        {
            case RoomDeleted:
                await LoseAsync(feed, RoomLoss.Deleted);
                return;
            case MemberRemoved m when m.User.Id == User.Id:
                if (await _core.Directory.CheckReadAsync(User, feed.Room) is not null)
                {
                    await LoseAsync(feed, RoomLoss.Removed);
                    return;
                }
                break; // a public room: still theirs to read
            case RoomChanged rc:
                feed.Room = rc.Room;
                if (await _core.Directory.CheckReadAsync(User, rc.Room) is { } denied)
                {
                    await LoseAsync(feed, denied == ChatError.Archived ? RoomLoss.Archived : RoomLoss.Closed);
                    return;
                }
                break;
        }
        await _sink.EventAsync(evt);
    }

    private async ValueTask LoseAsync(RoomFeed feed, RoomLoss reason)
    {
        lock (_gate)
        {
            if (!_rooms.TryGetValue(feed.Room.Id, out var current) || !ReferenceEquals(current, feed)) return;
            Remove(feed);
        }
        await _sink.RoomLostAsync(feed.Room, reason);
    }

    private void Remove(RoomFeed feed)
    {
        _rooms.TryRemove(new KeyValuePair<long, RoomFeed>(feed.Room.Id, feed));
        feed.Dispose();
    }
}
