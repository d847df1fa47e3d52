namespace ChatPortal.Chat;

/// <summary>
/// An event about one user's own state, addressed to that user only: the fan-out hands it to the user's channel
/// (every tab and socket of theirs, on every node), never to a room. Not stored: a reload reads the same state.
/// </summary>
public interface IPersonalEvent
{
    long UserId { get; }
}

/// <summary>The user saved a message or took it off their saved list (in one tab or socket): the others follow live.</summary>
public sealed record SavedChanged(long UserId, long MessageId, long MessageRoomId, bool Saved) : ChatEvent(0), IPersonalEvent;

/// <summary>The user followed a thread or stopped following it (by hand): their other tabs and sockets follow live.</summary>
public sealed record ThreadFollowChanged(long UserId, long ThreadId, long ThreadRoomId, bool Following) : ChatEvent(0), IPersonalEvent;
