using ChatPortal.Chat;
using Microsoft.AspNetCore.Components.Server.Circuits;

namespace ChatPortal.Components.Chat;

/// <summary>
/// Presence of one circuit (one browser tab). While the tab's connection is down the user
/// counts as gone from its rooms; when it comes back they are present again.
/// </summary>
public sealed class CircuitPresence(ChatService chat) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<Entry> _entries = [];
    private bool _connected = true;

    /// <summary>Be present in the room while the returned handle lives (and the tab is connected).</summary>
    public IDisposable Enter(long roomId, UserRef user)
    {
        var entry = new Entry(this, roomId, user);
        lock (_gate)
        {
            _entries.Add(entry);
            if (_connected) entry.Lease = chat.EnterRoom(roomId, user);
        }
        return entry;
    }

    internal void SetConnected(bool connected)
    {
        lock (_gate)
        {
            if (_connected == connected) return;
            _connected = connected;
            foreach (var e in _entries)
            {
                if (connected) e.Lease ??= chat.EnterRoom(e.RoomId, e.User);
                else
                {
                    e.Lease?.Dispose();
                    e.Lease = null;
                }
            }
        }
    }

    private void Remove(Entry e)
    {
        lock (_gate)
        {
            _entries.Remove(e);
            e.Lease?.Dispose();
            e.Lease = null;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var e in _entries) e.Lease?.Dispose();
            _entries.Clear();
        }
    }

    private sealed class Entry(CircuitPresence owner, long roomId, UserRef user) : IDisposable
    {
        public long RoomId { get; } = roomId;
        public UserRef User { get; } = user;
        public IDisposable? Lease { get; set; }
        public void Dispose() => owner.Remove(this);
    }
}

/// <summary>Feeds the circuit's connection state into <see cref="CircuitPresence"/>.</summary>
public sealed class PresenceCircuitHandler(CircuitPresence presence) : CircuitHandler
{
    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        presence.SetConnected(false);
        return Task.CompletedTask;
    }

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        presence.SetConnected(true);
        return Task.CompletedTask;
    }

    public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        presence.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Which conversation this circuit shows (the drawer highlights it and skips its unread count).</summary>
public sealed class ChatViewState
{
    public long? CurrentRoomId { get; private set; }

    public event Action? Changed;

    public void Show(long? roomId)
    {
        if (CurrentRoomId == roomId) return;
        CurrentRoomId = roomId;
        Changed?.Invoke();
    }
}
