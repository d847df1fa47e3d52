using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// Opens and ends <see cref="ChatSession"/>s: one per browser tab or socket. The session is how
/// an adapter joins rooms and receives events; this class holds what all sessions share.
/// </summary>
public sealed class ChatSessions(LocalFanout fanout, IChatBackplane backplane, PresenceTracker presence, RoomDirectory directory,
    ChatRooms rooms, ChatHistory history, ChatCommands commands, UserDirectory users, IOptions<ChatOptions> options, ILogger<ChatSessions> log,
    Conversations.ReadReceipts? receipts = null)
{
    internal LocalFanout Fanout => fanout;
    internal RoomDirectory Directory => directory;
    internal ChatRooms Rooms => rooms;
    internal ChatHistory History => history;
    internal ChatCommands Commands => commands;
    internal ILogger Log => log;
    /// <summary>Read receipts, replayed at the end of a catch-up (null where the conversation features are not set up).</summary>
    internal Conversations.ReadReceipts? Receipts => receipts;

    public PresenceTracker Presence => presence;

    /// <summary>
    /// A session for one connection of <paramref name="user"/>; it listens to the user's own events
    /// (direct conversations, membership, revocation) from now on. Dispose it when the connection closes.
    /// </summary>
    /// <paramref name="signInSessionId"/> is the browser sign-in the connection belongs to (a tab, a
    /// ticket socket), so signing that one out ends it; null for tokens and guests.
    public ChatSession Open(UserRef user, IChatSessionSink sink, int? maxStash = null, string? signInSessionId = null, long? tokenId = null) =>
        new(this, user, sink, maxStash ?? Math.Max(64, options.Value.CircuitQueueCapacity), signInSessionId, tokenId);

    /// <summary>Who is online in a room (this node and, in a cluster, the others).</summary>
    public IReadOnlyList<UserRef> Online(long roomId) => presence.Online(roomId);

    /// <summary>
    /// Ends a user's sessions everywhere (ban, kick): every node's sessions of the user close. With a
    /// sign-in <paramref name="signInSessionId"/>, only the sessions opened under that sign-in (sign-out).
    /// </summary>
    public void Revoke(long userId, string reason, string? signInSessionId = null)
    {
        users.Invalidate(userId);
        backplane.Publish(new SessionRevoked(userId, reason, signInSessionId));
    }

    /// <summary>The reason of a session ended because its API token was revoked (a socket closes with it).</summary>
    public const string TokenRevoked = "token_revoked";

    /// <summary>Ends the sessions authenticated with an API token that was just revoked, on every node.</summary>
    public void RevokeToken(long userId, long tokenId) => backplane.Publish(new SessionRevoked(userId, TokenRevoked, TokenId: tokenId));

    /// <summary><see cref="Revoke"/>, returning once the revocation has left this node (so what the caller does next comes after it everywhere).</summary>
    public async Task RevokeAsync(long userId, string reason)
    {
        Revoke(userId, reason);
        await backplane.FlushAsync();
    }

    /// <summary>What a join lists of the room's online users (<see cref="ChatOptions.JoinOnlineListUpTo"/>) and the total.</summary>
    internal (IReadOnlyList<UserRef> First, int Total) OnlineAtJoin(long roomId) =>
        options.Value.JoinOnlineListUpTo > 0 ? presence.OnlineFirst(roomId, options.Value.JoinOnlineListUpTo) : OnlineWithCount(roomId);

    private (IReadOnlyList<UserRef>, int) OnlineWithCount(long roomId)
    {
        var all = presence.Online(roomId);
        return (all, all.Count);
    }

    internal IDisposable EnterPresence(long roomId, UserRef user) => presence.Enter(roomId, user, backplane.Publish);
}
