namespace ChatPortal.Chat;

/// <summary>Settings of the chat core (section <c>Chat</c>).</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";

    /// <summary>Slug of the room created on first run; plain WebSocket clients land here.</summary>
    public string DefaultRoomSlug { get; set; } = "lobby";
    public string DefaultRoomName { get; set; } = "Lobby";
    public int MaxMessageLength { get; set; } = 4000;
    public int HistoryPageSize { get; set; } = 50;
    /// <summary>Messages a user may send in a burst, across all their tabs and sockets.</summary>
    public int RateLimitBurst { get; set; } = 10;
    /// <summary>Messages per second the burst refills at.</summary>
    public double RateLimitPerSecond { get; set; } = 3;
    /// <summary>Events queued for one web circuit before it counts as too slow and resyncs.</summary>
    public int CircuitQueueCapacity { get; set; } = 512;
    /// <summary>At most one typing notice per user and room this often (the web UI shows one for about 5 s).</summary>
    public TimeSpan TypingInterval { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>
    /// Rooms with more sessions than this on a node get presence and membership changes as summaries at most once a
    /// second (<see cref="PresenceSummary"/>, <see cref="MembershipSummary"/>) instead of an event per arrival and
    /// departure. 0 = always one by one.
    /// </summary>
    public int PresenceAnnounceUpTo { get; set; } = 100;
    /// <summary>
    /// A socket's join (plain <c>openSuccess</c>, v1 <c>joined</c>) lists at most this many of the room's
    /// online users, with the total beside them; the v1 <c>online</c> request gives the whole list.
    /// Bounds a join's cost in a busy room. 0 = always the whole list.
    /// </summary>
    public int JoinOnlineListUpTo { get; set; } = 100;
    /// <summary>How often a busy room's presence summary is sent, at most.</summary>
    public TimeSpan PresenceSummaryInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// SQLite: the writer adds new messages to the search index once no write has come for this long
    /// (or between batches once 2,048 wait), so a burst is indexed in one step. Search reads the
    /// messages not yet indexed directly, so results are complete either way.
    /// </summary>
    public TimeSpan SearchIndexDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}
