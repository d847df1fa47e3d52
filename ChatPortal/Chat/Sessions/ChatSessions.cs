using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// Opens and ends <see cref="ChatSession"/>s: one per browser tab or socket. The session is how
/// an adapter joins rooms and receives events; this class holds what all sessions share.
/// </summary>
public sealed class ChatSessions(LocalFanout fanout, IChatBackplane backplane, PresenceTracker presence, RoomDirectory directory,
    ChatRooms rooms, ChatHistory history, ChatCommands commands, UserDirectory users, IOptions<ChatOptions> options, ILogger<ChatSessions> log)
{
    internal LocalFanout Fanout => fanout;
    internal RoomDirectory Directory => directory;
    internal ChatRooms Rooms => rooms;
    internal ChatHistory History => history;
    internal ChatCommands Commands => commands;
    internal ILogger Log => log;

    public PresenceTracker Presence => presence;

    /// <summary>
    /// A session for one connection of <paramref name="user"/>; it listens to the user's own events
    /// (direct conversations, membership, revocation) from now on. Dispose it when the connection closes.
    /// </summary>
    public ChatSession Open(UserRef user, IChatSessionSink sink, int? maxStash = null) =>
        new(this, user, sink, maxStash ?? Math.Max(64, options.Value.CircuitQueueCapacity));

    /// <summary>Who is online in a room (this node and, in a cluster, the others).</summary>
    public IReadOnlyList<UserRef> Online(long roomId) => presence.Online(roomId);

    /// <summary>Ends a user's sessions everywhere (ban, kick): every node's sessions of the user close.</summary>
    public void Revoke(long userId, string reason)
    {
        users.Invalidate(userId);
        backplane.Publish(new SessionRevoked(userId, reason));
    }

    /// <summary><see cref="Revoke"/>, returning once the revocation has left this node (so what the caller does next comes after it everywhere).</summary>
    public async Task RevokeAsync(long userId, string reason)
    {
        Revoke(userId, reason);
        await backplane.FlushAsync();
    }

    internal IDisposable EnterPresence(long roomId, UserRef user) => presence.Enter(roomId, user, backplane.Publish);
}
