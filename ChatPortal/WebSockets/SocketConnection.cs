using System.Buffers;
using System.Net.WebSockets;
using System.Text.Unicode;
using ChatPortal.Chat;

namespace ChatPortal.WebSockets;

/// <summary>What differs between the plain and the <c>chatportal.v1</c> protocol.</summary>
internal interface ISocketProtocol
{
    SocketKind Kind { get; }
    IWireFormat<WireFrame> Format { get; }
    Task OnOpenAsync(CancellationToken ct);
    Task OnTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken ct);
    Task OnBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken ct);
    /// <summary>Whether this socket gets the event at all (e.g. plain clients never get their own messages back).</summary>
    bool Wants(ChatEvent evt);
    /// <summary>A join's reply, sent before its catch-up.</summary>
    WireFrame Joined(RoomJoin join);
    /// <summary>The frame that ends a join's catch-up, or null when the protocol has none.</summary>
    WireFrame? CaughtUp(RoomJoin join);
    /// <summary>The frame telling the client its request failed on the server's side.</summary>
    WireFrame ServerError();
    /// <summary>The session lost a room (its user may no longer read it): tell the client.</summary>
    void OnRoomLost(RoomInfo room, RoomLoss reason);
    void OnClosed();
}

/// <summary>Close after everything queued before it is sent (e.g. an error frame, then 1008).</summary>
internal sealed record CloseAfterFlush(WebSocketCloseStatus Status, string Reason);

/// <summary>
/// One socket: a receive loop (this request's thread), a bounded queue with at most ONE drain
/// sending from it at a time (a .NET WebSocket allows one send at a time), and the socket's
/// <see cref="ChatSession"/>, whose sink it is: the core queues the session's events and joins here,
/// and the drain hands them back to the session, which decides what this socket may see. The drain
/// runs only while something is queued: an idle socket holds no waiting loop, and the fan-out starts
/// the drains of a room's sockets in batches (<see cref="DrainBatch"/>). A client that lets its queue
/// fill is dropped without slowing anyone; it reconnects and catches up.
/// </summary>
internal sealed class SocketConnection : IChatSessionSink
{
    private const int SmallBuffer = 4096;
    /// <summary>At most this many requests read back to back share one deferred drain (their replies one write).</summary>
    private const int MaxDeferredRequests = 8;

    private readonly WebSocket _ws;
    /// <summary>The upgraded stream under <see cref="_ws"/>, when we have it: the send loop holds a burst's frames there and sends them as one write.</summary>
    private readonly KeepOpenStream? _stream;
    private readonly SocketServices _s;
    private readonly ILogger _log;
    private const int Idle = 0, Draining = 1, Stopped = 2, Deferred = 3;
    // A plain queue under its own lock: a ConcurrentQueue's first segment alone is ~0.8 KB per socket.
    private readonly Queue<object> _out = new();
    private int _queuePeak; // under the queue's lock
    private readonly int _capacity;
    private int _queued;
    private int _completed; // set when closing: nothing more is queued
    // Idle, Draining (one drain owns the queue), Stopped (sending ended for good), Deferred (the receive
    // loop is handling a request and starts the drain when it has nothing more to read: DeferDrain).
    private int _drain;
    private TaskCompletionSource? _drainEndWaiter;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _life = new();
    private readonly int _replyLimit;
    private TaskCompletionSource? _drainWaiter;
    private int _pendingReplies;
    private int _closing;
    private int _aborted;

    public SocketConnection(WebSocket ws, SocketServices services, string? remoteIp, Func<SocketConnection, ISocketProtocol> protocol,
        KeepOpenStream? stream = null)
    {
        _ws = ws;
        _stream = stream;
        _s = services;
        RemoteIp = remoteIp;
        _log = services.Logs.CreateLogger("ChatPortal.WebSockets");
        // The queue's lock is held only to add or take one item (a bounded channel's lock, also held
        // while it woke the waiting reader, made the fan-out and the sender contend:
        // Monitor.Enter_Slowpath, 18% of the server's CPU in the steady benchmark); a counter keeps the bound.
        _capacity = Math.Max(4, services.Options.SendQueueCapacity);
        // Replies may fill half the queue; the other half is room for events. A client that sends
        // requests faster than it reads the replies is slowed down (we stop reading it), not dropped.
        _replyLimit = Math.Max(2, services.Options.SendQueueCapacity / 2);
        Protocol = protocol(this);
    }

    public ISocketProtocol Protocol { get; }
    public string? RemoteIp { get; }
    public UserRef? User => Session?.User;
    /// <summary>The socket's session in the core, from its authentication on.</summary>
    public ChatSession? Session { get; private set; }
    /// <summary>The API token this socket authenticated with, if any (revoking it closes the socket).</summary>
    public long? TokenId { get; private set; }

    /// <summary>Frames waiting in this socket's send queue (for the queue-depth gauge).</summary>
    public int QueuedFrames => Volatile.Read(ref _queued);
    public SocketServices Services => _s;
    public bool IsClosing => Volatile.Read(ref _closing) == 1;
    /// <summary>The framework closed the socket for a protocol violation; the endpoint drains until the client's close.</summary>
    public bool ClosedOnProtocolError { get; private set; }

    public async Task RunAsync()
    {
        try
        {
            // The greeting waits like a reply: a client that wrote right after the upgrade gets it together with the answers.
            DeferDrain();
            await Protocol.OnOpenAsync(_life.Token);
            await ReceiveLoopAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The peer went away or we aborted: nothing to report. A protocol error caught by the
            // framework (it has sent 1002/1007) still needs the client's close read: see CloseLinger.
            if (ex is WebSocketException { WebSocketErrorCode: WebSocketError.Faulted }) ClosedOnProtocolError = true;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Socket of {User} failed", User?.Name);
            Abort();
        }
        finally
        {
            StartDeferredDrain();
            Complete();
            _life.Cancel();
            if (!await DrainEndedAsync(_s.Options.CloseTimeout))
            {
                Abort(); // a send stuck on a client that stopped reading
                await DrainEndedAsync(_s.Options.CloseTimeout);
            }
            await CleanupAsync();
        }
    }

    /// <summary>
    /// The socket now acts as this user: a session opens for it (the user's own events, rooms to join).
    /// <paramref name="resumableGuest"/>: a guest that was given a resume token keeps its row when the socket closes.
    /// </summary>
    public ChatSession Authenticate(UserRef user, long? tokenId = null, string? signInSessionId = null, bool resumableGuest = false)
    {
        TokenId = tokenId;
        _resumableGuest = resumableGuest;
        if (user.IsGuest) _s.Metrics.GuestIn();
        return Session = _s.Sessions.Open(user, this, maxStash: _s.Options.SendQueueCapacity, signInSessionId: signInSessionId, tokenId: tokenId);
    }

    private bool _resumableGuest;

    // ------------------------------------------------------------------ outgoing

    /// <summary>Queues a frame for this socket only (replies, errors).</summary>
    public void Send(WireFrame frame) => Enqueue(frame);

    /// <summary>Queues a close that happens after everything queued so far has been sent.</summary>
    public void CloseAfterFlush(WebSocketCloseStatus status, string reason) => Enqueue(new CloseAfterFlush(status, reason));

    /// <summary>Queues a reply (frame, join, close): counted, so the receive loop can wait for them to drain.</summary>
    private void Enqueue(object item)
    {
        if (IsClosing) return;
        Interlocked.Increment(ref _pendingReplies);
        if (!TryAdd(item)) Drop();
        else if (item is CloseAfterFlush ? ClaimDrainNow() : ClaimDrain()) DrainLater(); // else a drain runs, or the receive loop starts it
    }

    /// <summary>False when the queue is full (the client is too slow) or closed.</summary>
    private bool TryAdd(object item)
    {
        if (Interlocked.Increment(ref _queued) > _capacity || Volatile.Read(ref _completed) == 1)
        {
            Interlocked.Decrement(ref _queued);
            return false;
        }
        lock (_out)
        {
            _out.Enqueue(item);
            if (_out.Count > _queuePeak) _queuePeak = _out.Count;
        }
        return true;
    }

    /// <summary>True when the caller must start the drain: whoever queues to an idle socket starts it, so the queue is never left unattended.</summary>
    private bool ClaimDrain() => Interlocked.CompareExchange(ref _drain, Draining, Idle) == Idle;

    /// <summary>
    /// Like <see cref="ClaimDrain"/>, and also takes the drain from the receive loop that deferred it: an
    /// event from elsewhere (a room's message) is not kept waiting for this socket's request to finish.
    /// </summary>
    private bool ClaimDrainNow() =>
        ClaimDrain() || Interlocked.CompareExchange(ref _drain, Draining, Deferred) == Deferred;

    /// <summary>
    /// The receive loop, about to handle a request: what it queues (replies, a join) waits until it has
    /// handled every request already read (<see cref="StartDeferredDrain"/>), so a client that sends
    /// <c>auth</c> and its joins together gets their replies in one write, not one write per reply.
    /// </summary>
    private bool DeferDrain() => Interlocked.CompareExchange(ref _drain, Deferred, Idle) == Idle;

    /// <summary>Ends <see cref="DeferDrain"/>: sends what the requests queued, here (no hop to another thread).</summary>
    private void StartDeferredDrain()
    {
        if (Interlocked.CompareExchange(ref _drain, Draining, Deferred) == Deferred) _ = DrainAsync();
    }

    private void Complete() => Volatile.Write(ref _completed, 1);

    private void DrainLater() => ThreadPool.UnsafeQueueUserWorkItem(static c => c.Drain(), this, preferLocal: false);

    /// <summary>Backpressure for requests: before reading the next one, wait until the replies so far are mostly sent.</summary>
    private async Task WaitForRepliesAsync()
    {
        while (Volatile.Read(ref _pendingReplies) >= _replyLimit)
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _drainWaiter, waiter);
            if (Volatile.Read(ref _pendingReplies) < _replyLimit) break;
            await waiter.Task.WaitAsync(_life.Token);
        }
    }

    private void ReplySent()
    {
        if (Interlocked.Decrement(ref _pendingReplies) < _replyLimit)
            Interlocked.Exchange(ref _drainWaiter, null)?.TrySetResult();
    }

    // ------------------------------------------------------------------ the session's sink

    public bool TryQueue(object item, bool urgent, out bool startDrain)
    {
        startDrain = false;
        if (IsClosing) return true; // going anyway; do not count it as slow
        if (!TryAdd(item)) return false;
        // A room's event goes now; the session's own items (a join this socket asked for, the presence it caused) may
        // wait with the replies.
        startDrain = urgent ? ClaimDrainNow() : ClaimDrain();
        return true;
    }

    public void Overflow() => Drop();

    public ValueTask JoinedAsync(RoomJoin join) => new(SendFrameAsync(Protocol.Joined(join)));

    public ValueTask EventAsync(ChatEvent evt) => Protocol.Wants(evt) ? new(SendFrameAsync(evt.Encoded(Protocol.Format))) : ValueTask.CompletedTask;

    public ValueTask CaughtUpAsync(RoomJoin join) => Protocol.CaughtUp(join) is { } done ? new(SendFrameAsync(done)) : ValueTask.CompletedTask;

    public ValueTask RoomLostAsync(RoomInfo room, RoomLoss reason)
    {
        Protocol.OnRoomLost(room, reason);
        return ValueTask.CompletedTask;
    }

    public void Revoked(string reason)
    {
        _log.LogInformation("Closing the socket of {User}: session revoked ({Reason})", User?.Name, reason);
        // A revoked token says so (a bot then stops instead of retrying with it); anything else is a revoked session.
        _ = CloseAsync(WebSocketCloseStatus.PolicyViolation, reason == ChatSessions.TokenRevoked ? ChatSessions.TokenRevoked : "session_revoked");
    }

    public void Drain() => _ = DrainAsync();

    /// <summary>Too slow: its queue is full. Drop it at once; it reconnects and catches up.</summary>
    private void Drop()
    {
        if (IsClosing || Volatile.Read(ref _aborted) == 1) return;
        _s.Metrics.SlowDropped();
        _log.LogInformation("Dropping the socket of {User}: it stopped reading and its queue is full", User?.Name);
        Abort();
    }

    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) == 1) return;
        Interlocked.Exchange(ref _closing, 1);
        Complete();
        try { _ws.Abort(); } catch (Exception) { /* already gone */ }
        try { _life.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// Starts the closing handshake with <paramref name="status"/> (the first caller wins). Waits
    /// for the send in progress, never for a peer that does not read: then it aborts.
    /// </summary>
    public Task CloseAsync(WebSocketCloseStatus status, string reason) => CloseAsync(status, reason, _s.Options.CloseTimeout);

    /// <summary>
    /// The server stops: 1012, and the connection ends once the client answered or after
    /// <see cref="WebSocketEndpointOptions.ShutdownCloseWait"/>, without the linger a protocol error gets.
    /// </summary>
    public Task CloseForShutdownAsync()
    {
        ClosedForShutdown = true;
        return CloseAsync(SocketRegistry.ServiceRestart, "server_shutdown", _s.Options.ShutdownCloseWait);
    }

    /// <summary>Closed because the server stops (<see cref="CloseForShutdownAsync"/>).</summary>
    public bool ClosedForShutdown { get; private set; }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason, TimeSpan wait)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return;
        Complete();
        var timeout = _s.Options.CloseTimeout;
        _ = AbortIfStillOpenAsync(wait);
        var locked = false;
        try
        {
            locked = await _sendLock.WaitAsync(timeout);
            if (!locked)
            {
                Abort();
                return;
            }
            if (_ws.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var cts = new CancellationTokenSource(timeout);
                await _ws.CloseOutputAsync(status, reason, cts.Token);
            }
        }
        catch (Exception)
        {
            Abort();
        }
        finally
        {
            if (locked) _sendLock.Release();
        }
    }

    private async Task AbortIfStillOpenAsync(TimeSpan timeout)
    {
        // A socket that closes in time cancels the wait (every socket of a stopping server): no exception for it.
        await Task.Delay(timeout, _life.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_life.IsCancellationRequested) return;
        if (_ws.State is not WebSocketState.Closed) Abort();
    }

    /// <summary>
    /// Sends what is queued, in order, until the queue is empty; only the caller that claimed the
    /// drain runs it. It ends for good (<see cref="Stopped"/>) when the socket closes or a send fails.
    /// </summary>
    private async Task DrainAsync()
    {
        var idle = false;
        try
        {
            while (true)
            {
                while (TryTake(out var item))
                {
                    // More queued behind this one: hold the frames and send them as one write (released below).
                    if (Interlocked.Decrement(ref _queued) > 0 && item is WireFrame or ChatEvent) _stream?.Hold();
                    if (IsClosing) return;
                    switch (item)
                    {
                        case WireFrame frame:
                            await SendFrameAsync(frame);
                            break;
                        case CloseAfterFlush close:
                            await ReleaseHeldAsync();
                            await CloseAsync(close.Status, close.Reason);
                            return;
                        case ChatEvent evt when Session is { } s && s.TryRouteNow(evt, out var send):
                            if (send) await EventAsync(evt);
                            continue;
                        default:
                            // The session's own (an event, a join): it decides what this socket sees.
                            if (Session is not { } session)
                            {
                                await ReleaseHeldAsync();
                                continue;
                            }
                            if (item is not RoomJoin)
                            {
                                await ReleaseHeldAsync(); // it may read the database first: what is held goes now
                                await session.DeliverAsync(item);
                                continue;
                            }
                            // A join's reply, its catch-up (after a restart, every event missed: dozens per socket)
                            // and caught_up go out together, in writes of up to KeepOpenStream.MaxHeld bytes,
                            // instead of one write and flush per frame — and with what was held before it (the
                            // welcome of an auth sent with its joins): those wait for the join's reads, as the
                            // client waits for the join anyway.
                            _stream?.Hold();
                            await session.DeliverAsync(item);
                            await ReleaseHeldAsync();
                            continue;
                    }
                    ReplySent();
                }
                await ReleaseHeldAsync();
                Volatile.Write(ref _drain, Idle);
                // Something queued after the last dequeue and before Idle was written: its sender saw
                // Draining and left it to us.
                if (IsQueueEmpty() || !ClaimDrain())
                {
                    idle = true;
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Not when the socket is closing or ending anyway (a close frame went out, e.g. the framework's
            // 1002): Abort() resets the TCP connection, which would destroy that frame on its way to the client.
            if (!_life.IsCancellationRequested && _ws.State == WebSocketState.Open) Abort();
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Send loop of {User} failed", User?.Name);
            Abort();
        }
        finally
        {
            if (!idle)
            {
                Volatile.Write(ref _drain, Stopped);
                // Held frames (or a close written meanwhile) still go out when the loop ends early.
                try { await ReleaseHeldAsync(); } catch (Exception) { /* the connection is gone */ }
            }
            Interlocked.Exchange(ref _drainEndWaiter, null)?.TrySetResult();
        }
    }

    private ValueTask ReleaseHeldAsync() => _stream?.ReleaseAsync() ?? ValueTask.CompletedTask;

    private bool TryTake([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out object? item)
    {
        lock (_out)
        {
            if (_out.TryDequeue(out item)) return true;
            if (_queuePeak > 64)
            {
                _out.TrimExcess(); // a burst's big array is not kept by an idle socket
                _queuePeak = 0;
            }
            return false;
        }
    }

    private bool IsQueueEmpty()
    {
        lock (_out) return _out.Count == 0;
    }

    /// <summary>Waits until no drain is running (at close); false if one still runs after <paramref name="timeout"/>.</summary>
    private async Task<bool> DrainEndedAsync(TimeSpan timeout)
    {
        while (Volatile.Read(ref _drain) == Draining)
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _drainEndWaiter, waiter);
            if (Volatile.Read(ref _drain) != Draining) break;
            try { await waiter.Task.WaitAsync(timeout); }
            catch (TimeoutException) { return false; }
        }
        return true;
    }

    private async Task SendFrameAsync(WireFrame frame)
    {
        for (var f = frame; f is not null; f = f.Next)
        {
            if (f.IsNone) return;
            await _sendLock.WaitAsync(_life.Token);
            try
            {
                if (IsClosing) return;
                if (_stream is not null)
                {
                    // The frame goes to the stream as it is: a busy room's message is one payload shared by
                    // every socket, framed here without the WebSocket's copy, state machine and send lock.
                    if (_ws.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
                        throw new WebSocketException(WebSocketError.InvalidState);
                    try
                    {
                        await _stream.WriteFrameAsync(f.Bytes, f.Binary);
                    }
                    catch (IOException ex)
                    {
                        throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, ex);
                    }
                }
                else
                {
                    // No token: with one, ManagedWebSocket takes its slow path (an async state machine and
                    // a cancellation registration per frame, ~1,000 per message in a busy room). A send
                    // stuck on a client that stopped reading ends by Abort() (queue full, end of RunAsync).
                    await _ws.SendAsync(f.Bytes, f.Binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, CancellationToken.None);
                }
            }
            finally
            {
                _sendLock.Release();
            }
            _s.Metrics.Sent();
        }
    }

    // ------------------------------------------------------------------ incoming

    private async Task ReceiveLoopAsync()
    {
        var o = _s.Options;
        byte[]? buffer = null;
        var deferredFor = 0; // requests handled since the drain was deferred
        try
        {
            while (true)
            {
                // An idle socket holds no buffer: a zero-byte read waits for the next frame's header,
                // and only then is a buffer rented (and it goes back after the message).
                var next = _ws.ReceiveAsync(Memory<byte>.Empty, _life.Token);
                // Nothing more read yet, or enough requests in a row: what the requests so far queued goes now.
                if (!next.IsCompleted || deferredFor >= MaxDeferredRequests)
                {
                    StartDeferredDrain();
                    deferredFor = 0;
                }
                var r = await next;
                if (DeferDrain() || deferredFor > 0) deferredFor++;
                buffer = ArrayPool<byte>.Shared.Rent(SmallBuffer);
                var count = 0;
                var type = r.MessageType;
                var limit = type == WebSocketMessageType.Text ? o.MaxTextMessageBytes : o.MaxBinaryMessageBytes;
                while (true)
                {
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        StartDeferredDrain(); // the replies to what came before the close still go
                        // The peer closes: answer with the same code, and we are done.
                        var status = _ws.CloseStatus is null or WebSocketCloseStatus.Empty ? WebSocketCloseStatus.NormalClosure : _ws.CloseStatus.Value;
                        await CloseAsync(status, "");
                        return;
                    }
                    count += r.Count;
                    if (count > limit)
                    {
                        await CloseAsync(WebSocketCloseStatus.MessageTooBig, "message_too_big");
                        await DrainAsync(buffer);
                        return;
                    }
                    if (r.EndOfMessage) break;
                    if (count == buffer.Length) buffer = Grow(buffer, count, Math.Min(buffer.Length * 2L, limit + 1L));
                    var more = _ws.ReceiveAsync(buffer.AsMemory(count), _life.Token);
                    if (!more.IsCompleted)
                    {
                        // The rest of a big message is still on its way (an image on a slow link): what is queued
                        // (an earlier send's ack) does not wait for it.
                        StartDeferredDrain();
                        deferredFor = 0;
                    }
                    r = await more;
                }

                if (IsClosing)
                {
                    await DrainAsync(buffer); // we are closing: read until the peer's close, ignore the rest
                    return;
                }
                _s.Metrics.Received();
                var message = buffer.AsMemory(0, count);
                if (type == WebSocketMessageType.Text && !Utf8.IsValid(message.Span))
                {
                    await CloseAsync(WebSocketCloseStatus.InvalidPayloadData, "invalid_utf8");
                    await DrainAsync(buffer);
                    return;
                }
                try
                {
                    if (type == WebSocketMessageType.Text) await Protocol.OnTextAsync(message, _life.Token);
                    else await Protocol.OnBinaryAsync(message, _life.Token);
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or WebSocketException or ObjectDisposedException))
                {
                    // One request failed on our side (e.g. the database): say so and keep the socket.
                    _log.LogError(ex, "A request from {User} failed", User?.Name);
                    Send(Protocol.ServerError());
                }
                if (Volatile.Read(ref _pendingReplies) >= _replyLimit)
                {
                    StartDeferredDrain();
                    deferredFor = 0;
                    await WaitForRepliesAsync();
                }
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        finally
        {
            StartDeferredDrain();
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static byte[] Grow(byte[] buffer, int used, long size)
    {
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Max(size, buffer.Length + 1L));
        buffer.AsSpan(0, used).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    /// <summary>After our close frame: discard what still arrives until the peer's close (bounded by the close timeout).</summary>
    private async Task DrainAsync(byte[] scratch)
    {
        long budget = CloseLinger.Budget; // and at most the close timeout: a hostile client cannot hold us
        while (_ws.State is WebSocketState.Open or WebSocketState.CloseSent && budget > 0)
        {
            var r = await _ws.ReceiveAsync(scratch.AsMemory(), _life.Token);
            if (r.MessageType == WebSocketMessageType.Close) return;
            budget -= r.Count;
        }
    }

    // ------------------------------------------------------------------ end

    private async Task CleanupAsync()
    {
        Protocol.OnClosed();
        Session?.Dispose();
        if (User is { IsGuest: true } guest)
        {
            _s.Metrics.GuestOut();
            try { await _s.Guests.ClosedAsync(guest.Id, _resumableGuest); }
            catch (Exception ex) { _log.LogWarning(ex, "Could not record that guest {Guest} left", guest.Name); }
        }
    }
}
