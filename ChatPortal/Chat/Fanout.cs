using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// Delivers events to this node's subscribers: per room, and per user (direct-message notices,
/// membership, session revocations). It never waits: each subscriber queues on its own. Every event
/// of this node or another passes here, so this is where the core's caches learn of room,
/// membership and user changes, just before the event reaches anyone.
/// </summary>
public sealed class LocalFanout(RoomDirectory rooms, UserDirectory users, ChatMetrics metrics, IOptions<ChatOptions> options)
{
    private readonly ConcurrentDictionary<long, SubscriberSet> _rooms = new();
    private readonly ConcurrentDictionary<long, SubscriberSet> _users = new();
    private readonly ConcurrentDictionary<long, byte> _presenceChanged = new();
    private readonly ConcurrentDictionary<long, MembershipChanges> _membershipChanged = new();
    private readonly int _announceUpTo = options.Value.PresenceAnnounceUpTo;
    // Counters of room events (striped by room id; rooms sharing a stripe only invalidate each other more often). Each
    // moves before its event reaches a subscriber, so a catch-up read kept by ChatHistory is still complete for anyone
    // asking while the counter stays put (issue 19: 10,000 clients rejoining one room read the same events).
    private readonly long[] _roomVersions = new long[1024];
    // The same for what a room's read receipts are: every room event but presence and typing (receipts, membership,
    // room changes), so a room's cursor read kept by ReadReceipts is still current while it stays put.
    private readonly long[] _receiptVersions = new long[1024];

    /// <summary>
    /// Moves before every room event that could change what a catch-up of the room returns is delivered here (presence,
    /// typing and receipts do not; they are not in a catch-up's events).
    /// </summary>
    public long RoomVersion(long roomId) => Volatile.Read(ref _roomVersions[(int)(roomId & 1023)]);

    /// <summary>Moves before every room event but presence and typing is delivered here: receipts, membership, room changes.</summary>
    public long ReceiptVersion(long roomId) => Volatile.Read(ref _receiptVersions[(int)(roomId & 1023)]);

    public IDisposable SubscribeRoom(long roomId, IChatSubscriber subscriber) => Add(_rooms, roomId, subscriber);

    public IDisposable SubscribeUser(long userId, IChatSubscriber subscriber) => Add(_users, userId, subscriber);

    public int RoomSubscriberCount(long roomId) => _rooms.TryGetValue(roomId, out var s) ? s.Count : 0;

    /// <summary>Rooms that have a subscriber on this node (a backplane fills gaps for them after an outage).</summary>
    public IReadOnlyList<long> RoomsWithSubscribers() => _rooms.Where(r => !r.Value.IsEmpty).Select(r => r.Key).ToList();

    /// <summary>Hands the event to every local subscriber it concerns.</summary>
    public int Deliver(ChatEvent evt)
    {
        if (evt.RoomId != 0 && evt is not (PresenceChanged or PresenceSummary or MembershipSummary or UserTyping))
        {
            Interlocked.Increment(ref _receiptVersions[(int)(evt.RoomId & 1023)]);
            if (evt is not (ReadReceipt or ReceiptsMoved)) Interlocked.Increment(ref _roomVersions[(int)(evt.RoomId & 1023)]);
        }
        rooms.Apply(evt);
        if (evt is SessionRevoked revoked) users.Invalidate(revoked.UserId);
        var delivered = evt switch
        {
            DirectActivity d => Publish(_users, d.Recipient.Id, evt),
            SessionRevoked r => Publish(_users, r.UserId, evt),
            Integrations.EphemeralReply e => Publish(_users, e.UserId, evt), // the caller's own tabs and sockets only
            // The member's own sessions hear of it (a new room in their list, a room lost), and so does the room: a busy one
            // in the digest's next summary.
            MemberAdded m => Publish(_users, m.User.Id, evt) + (PresenceSummarized(m.RoomId) ? DeferMembership(m.RoomId, m.User, joined: true) : Publish(_rooms, evt.RoomId, evt)),
            MemberRemoved m => Publish(_users, m.User.Id, evt) + (PresenceSummarized(m.RoomId) ? DeferMembership(m.RoomId, m.User, joined: false) : Publish(_rooms, evt.RoomId, evt)),
            RoomListed => PublishToAllUsers(evt), // rare (a room is created): every drawer lists it
            PresenceChanged p when PresenceSummarized(p.RoomId) => Defer(p.RoomId), // the digest sends the room's summary
            IPersonalEvent p => Publish(_users, p.UserId, evt), // saved messages, thread follows: the user's own tabs and sockets
            _ => Publish(_rooms, evt.RoomId, evt),
        };
        metrics.Delivered(delivered);
        return delivered;
    }

    /// <summary>
    /// A busy room: more than <see cref="ChatOptions.PresenceAnnounceUpTo"/> subscribers here, so arrivals and departures
    /// reach them as a <see cref="PresenceSummary"/> instead of one by one.
    /// </summary>
    public bool PresenceSummarized(long roomId) => _announceUpTo > 0 && RoomSubscriberCount(roomId) > _announceUpTo;

    private int Defer(long roomId)
    {
        _presenceChanged.TryAdd(roomId, 0);
        return 0;
    }

    private int DeferMembership(long roomId, UserRef user, bool joined)
    {
        var changes = _membershipChanged.GetOrAdd(roomId, _ => new MembershipChanges());
        // Taken by the digest meanwhile (it removes before it reads): this change goes into a new entry instead.
        while (!changes.Add(user, joined)) changes = _membershipChanged.GetOrAdd(roomId, _ => new MembershipChanges());
        return 0;
    }

    /// <summary>Busy rooms whose membership changed since the last call, each with its summary (<see cref="PresenceDigest"/> sends them).</summary>
    public IReadOnlyList<MembershipSummary> TakeMembershipChanges()
    {
        var summaries = new List<MembershipSummary>();
        foreach (var roomId in _membershipChanged.Keys)
            if (_membershipChanged.TryRemove(roomId, out var changes)) summaries.Add(changes.Close(roomId));
        return summaries;
    }

    /// <summary>Busy rooms whose presence changed since the last call (<see cref="PresenceDigest"/> sends their summaries).</summary>
    public IReadOnlyList<long> TakePresenceChanges()
    {
        var changed = new List<long>();
        foreach (var roomId in _presenceChanged.Keys)
            if (_presenceChanged.TryRemove(roomId, out _)) changed.Add(roomId);
        return changed;
    }

    private int PublishToAllUsers(ChatEvent evt)
    {
        var n = 0;
        foreach (var set in _users.Values) n += set.Publish(evt);
        return n;
    }

    private static int Publish(ConcurrentDictionary<long, SubscriberSet> map, long key, ChatEvent evt) =>
        map.TryGetValue(key, out var set) ? set.Publish(evt) : 0;

    private static IDisposable Add(ConcurrentDictionary<long, SubscriberSet> map, long key, IChatSubscriber subscriber)
    {
        var set = map.GetOrAdd(key, _ => new SubscriberSet());
        set.Add(subscriber);
        return new Unsubscriber(() => set.Remove(subscriber));
    }

    private sealed class Unsubscriber(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }
}

/// <summary>One busy room's joins and departures since the last summary: the first few named, all counted.</summary>
public sealed class MembershipChanges
{
    /// <summary>Users named in a summary for each direction; the rest are counted.</summary>
    public const int Named = 10;

    private readonly List<UserRef> _joined = [];
    private readonly List<UserRef> _left = [];
    private int _joinedCount;
    private int _leftCount;
    private bool _closed;

    /// <summary>False once the digest took these changes: the caller starts a new set.</summary>
    public bool Add(UserRef user, bool joined)
    {
        lock (_joined)
        {
            if (_closed) return false;
            if (joined)
            {
                if (_joined.Count < Named) _joined.Add(user);
                _joinedCount++;
            }
            else
            {
                if (_left.Count < Named) _left.Add(user);
                _leftCount++;
            }
            return true;
        }
    }

    public MembershipSummary Close(long roomId)
    {
        lock (_joined)
        {
            _closed = true;
            return new MembershipSummary(roomId, [.. _joined], _joinedCount, [.. _left], _leftCount);
        }
    }
}

/// <summary>
/// The one seam for clusters: events go through it after they are stored. The default
/// delivers in this process; the Redis backplane delivers on every node.
/// </summary>
public interface IChatBackplane
{
    void Publish(ChatEvent evt);

    /// <summary>
    /// Waits until what was published so far has left this node (a cluster backplane); the writer
    /// calls it while it still holds its room locks, so other nodes see each room's events in commit order.
    /// </summary>
    ValueTask FlushAsync() => ValueTask.CompletedTask;
}

public sealed class InProcessBackplane(LocalFanout fanout) : IChatBackplane
{
    public void Publish(ChatEvent evt) => fanout.Deliver(evt);
}
