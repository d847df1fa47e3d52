using System.Threading.Channels;
using ChatPortal.Auth;
using ChatPortal.Chat;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.Options;

namespace ChatPortal.Components.Chat;

/// <summary>A component of the circuit that shows what its <see cref="ChatSession"/> delivers (the room view, the drawer).</summary>
public interface IChatCircuitListener
{
    Task OnJoinedAsync(RoomJoin join);
    Task OnEventAsync(ChatEvent evt);
    Task OnRoomLostAsync(RoomInfo room, RoomLoss reason);
    /// <summary>The session ended (ban, kick, sign-out): nothing more arrives.</summary>
    Task OnEndedAsync(string reason);
    /// <summary>The circuit fell behind and got a new session: join and watch again, reload what is shown.</summary>
    Task OnResyncAsync();
}

/// <summary>
/// One browser tab's link to the chat core (scoped: one per circuit). It opens the tab's
/// <see cref="ChatSession"/> and is its sink: a bounded queue drained by one loop, which hands the
/// session's items back to it and passes what comes out to the listening components. It also knows
/// which conversation the tab shows, and tells the session when the tab's connection drops.
/// </summary>
public sealed class ChatCircuit(ChatSessions sessions, ChatMetrics metrics, IOptions<ChatOptions> options, ILogger<ChatCircuit> log) : IChatSessionSink, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<IChatCircuitListener> _listeners = [];
    private Channel<object>? _queue;
    private Task? _loop;
    private ChatSession? _session;
    private UserRef? _user;
    private bool _connected = true;
    private int _resyncing;
    private bool _disposed;

    /// <summary>Which conversation the tab shows (the drawer highlights it and skips its unread count).</summary>
    public long? CurrentRoomId { get; private set; }

    public event Action? ViewChanged;

    public string? EndReason { get; private set; }

    public void Show(long? roomId)
    {
        if (CurrentRoomId == roomId) return;
        CurrentRoomId = roomId;
        ViewChanged?.Invoke();
    }

    /// <summary>The tab's session if it has one: what to leave a room through (a closing view must not open a new one).</summary>
    public ChatSession? Current
    {
        get { lock (_gate) return _session; }
    }

    /// <summary>The tab's session for <paramref name="user"/>, opened on first use (only interactive components call this).</summary>
    public ChatSession Open(UserRef user)
    {
        lock (_gate)
        {
            if (_session is { } open) return open;
            _user = user;
            _queue = Channel.CreateBounded<object>(new BoundedChannelOptions(Math.Max(16, options.Value.CircuitQueueCapacity))
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails instead of dropping silently
            });
            _session = sessions.Open(user, this, signInSessionId: SignInSessionId);
            if (!_connected) _session.SetConnected(false);
            _loop = Task.Run(() => DrainAsync(_queue.Reader, _session));
            return _session;
        }
    }

    /// <summary>
    /// The browser sign-in of the tab: signing it out ends the tab's session. Set by
    /// <see cref="ChatCircuitHandler"/> when the circuit opens, before its components run.
    /// </summary>
    public string? SignInSessionId { get; internal set; }

    public IDisposable Listen(IChatCircuitListener listener)
    {
        lock (_gate) _listeners.Add(listener);
        return new Unlisten(this, listener);
    }

    /// <summary>Whether the tab's connection is up: a closed tab's circuit, kept a while in case it comes back, reads nothing.</summary>
    public bool IsConnected
    {
        get { lock (_gate) return _connected; }
    }

    /// <summary>The circuit's connection went down or came back (<see cref="ChatCircuitHandler"/>).</summary>
    internal void SetConnected(bool connected)
    {
        lock (_gate)
        {
            _connected = connected;
            _session?.SetConnected(connected);
        }
    }

    // ------------------------------------------------------------------ sink

    public bool TryQueue(object item, bool urgent, out bool startDrain)
    {
        startDrain = false; // the loop waits on the queue
        var queue = _queue;
        return queue is not null && queue.Writer.TryWrite(item);
    }

    public void Drain()
    {
    }

    /// <summary>This tab fell behind: start again with a new session, and let the components load anew.</summary>
    public void Overflow()
    {
        if (Interlocked.Exchange(ref _resyncing, 1) == 1) return;
        metrics.SlowSubscriberDropped();
        _ = Task.Run(ResyncAsync);
    }

    public async ValueTask JoinedAsync(RoomJoin join)
    {
        foreach (var l in Listeners()) await l.OnJoinedAsync(join);
    }

    public async ValueTask EventAsync(ChatEvent evt)
    {
        foreach (var l in Listeners()) await l.OnEventAsync(evt);
    }

    public ValueTask CaughtUpAsync(RoomJoin join) => ValueTask.CompletedTask; // the page came with the join

    public async ValueTask RoomLostAsync(RoomInfo room, RoomLoss reason)
    {
        foreach (var l in Listeners()) await l.OnRoomLostAsync(room, reason);
    }

    public void Revoked(string reason)
    {
        EndReason = reason;
        _queue?.Writer.TryComplete();
        _ = Task.Run(async () =>
        {
            foreach (var l in Listeners()) await Safe(() => l.OnEndedAsync(reason));
        });
    }

    private async Task DrainAsync(ChannelReader<object> reader, ChatSession session)
    {
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                    await Safe(() => session.DeliverAsync(item).AsTask()).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ResyncAsync()
    {
        try
        {
            ChatSession? old;
            Channel<object>? oldQueue;
            Task? oldLoop;
            UserRef? user;
            lock (_gate)
            {
                (old, oldQueue, oldLoop, user) = (_session, _queue, _loop, _user);
                _session = null;
                _queue = null;
                _loop = null;
            }
            old?.Dispose();
            oldQueue?.Writer.TryComplete();
            if (oldLoop is not null) await oldLoop;
            if (user is null || Volatile.Read(ref _disposed)) return; // the circuit closed meanwhile: no new session
            Open(user);
            foreach (var l in Listeners()) await Safe(l.OnResyncAsync);
        }
        finally
        {
            Volatile.Write(ref _resyncing, 0);
        }
    }

    /// <summary>One failing component must not stop the tab's other deliveries; it is logged, not swallowed.</summary>
    private async Task Safe(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            log.LogWarning(ex, "A chat component failed to take a delivery");
        }
    }

    private IChatCircuitListener[] Listeners()
    {
        lock (_gate) return [.. _listeners];
    }

    public async ValueTask DisposeAsync()
    {
        ChatSession? session;
        Task? loop;
        lock (_gate)
        {
            _disposed = true;
            (session, loop) = (_session, _loop);
            _session = null;
            _queue?.Writer.TryComplete();
        }
        session?.Dispose();
        if (loop is not null)
        {
            try { await loop; }
            catch (Exception ex) { log.LogDebug(ex, "The circuit's delivery loop ended with an error"); }
        }
    }

    private sealed class Unlisten(ChatCircuit owner, IChatCircuitListener listener) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate) owner._listeners.Remove(listener);
        }
    }
}

/// <summary>Feeds the circuit's connection state into its <see cref="ChatCircuit"/> (presence while the tab is connected).</summary>
public sealed class ChatCircuitHandler(ChatCircuit circuit, AuthenticationStateProvider auth) : CircuitHandler
{
    public override async Task OnCircuitOpenedAsync(Circuit c, CancellationToken cancellationToken) =>
        circuit.SignInSessionId = (await auth.GetAuthenticationStateAsync()).User.ChatSessionId();

    public override Task OnConnectionDownAsync(Circuit c, CancellationToken cancellationToken)
    {
        circuit.SetConnected(false);
        return Task.CompletedTask;
    }

    public override Task OnConnectionUpAsync(Circuit c, CancellationToken cancellationToken)
    {
        circuit.SetConnected(true);
        return Task.CompletedTask;
    }

    public override async Task OnCircuitClosedAsync(Circuit c, CancellationToken cancellationToken) => await circuit.DisposeAsync();
}
