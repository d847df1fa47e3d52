using System.Buffers;

namespace ChatPortal.WebSockets;

/// <summary>
/// The upgraded stream as the WebSocket sees it, except that disposing it leaves the connection
/// alone: the server (not the WebSocket) ends it, after <see cref="CloseLinger"/> when needed.
/// It can also hold back what the WebSocket writes (<see cref="Hold"/>) and hand it to the
/// connection as one write (<see cref="ReleaseAsync"/>).
/// </summary>
/// <remarks>
/// A socket's send loop that finds several frames queued (a busy room's burst) holds them and
/// releases them together: without that each frame was its own write, pipe flush and, as the pipe
/// filled, its own asynchronous completion — the fan-out's cost per delivery (bench/notes.md,
/// issue 14). Writes from the WebSocket itself (a pong, a keep-alive ping, a close) while holding
/// are held in order with the rest; the gate keeps the release and a direct write from overlapping.
/// </remarks>
internal sealed class KeepOpenStream(Stream inner, WebSocketMetrics? metrics = null) : Stream
{
    /// <summary>Held bytes are written out once they pass this many, even while still holding.</summary>
    public const int MaxHeld = 16 * 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _heldLock = new();
    private bool _holding;
    private byte[]? _held; // rented while holding, returned at every release
    private int _heldCount;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>From now until <see cref="ReleaseAsync"/>, writes are kept instead of sent.</summary>
    public void Hold()
    {
        lock (_heldLock) _holding = true;
    }

    /// <summary>Sends what was held as one write and one flush, and stops holding.</summary>
    public ValueTask ReleaseAsync()
    {
        lock (_heldLock)
        {
            // The drain releases at the end of every pass: nothing held (the usual case) costs no gate.
            if (!_holding && _held is null) return ValueTask.CompletedTask;
        }
        return ReleaseHeldAsync();
    }

    private async ValueTask ReleaseHeldAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await WriteHeldAsync(stopHolding: true).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Under the gate: writes the held bytes out (returning the buffer) and flushes.</summary>
    private async ValueTask WriteHeldAsync(bool stopHolding)
    {
        byte[]? held;
        int count;
        lock (_heldLock)
        {
            if (stopHolding) _holding = false;
            (held, count, _held, _heldCount) = (_held, _heldCount, null, 0);
        }
        if (held is null) return;
        try
        {
            if (count == 0) return;
            metrics?.Wrote();
            await inner.WriteAsync(held.AsMemory(0, count)).ConfigureAwait(false);
            await inner.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>Appends to the held bytes when holding; false when not holding (write it through).</summary>
    private bool TryKeep(ReadOnlySpan<byte> data, out bool full) => TryKeep(data, default, out full);

    private bool TryKeep(ReadOnlySpan<byte> data, ReadOnlySpan<byte> more, out bool full)
    {
        lock (_heldLock)
        {
            full = false;
            if (!_holding) return false;
            var length = data.Length + more.Length;
            if (_held is null || _held.Length - _heldCount < length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(MaxHeld, (_heldCount + length) * 2));
                if (_held is not null)
                {
                    _held.AsSpan(0, _heldCount).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(_held);
                }
                _held = bigger;
            }
            data.CopyTo(_held.AsSpan(_heldCount));
            more.CopyTo(_held.AsSpan(_heldCount + data.Length));
            _heldCount += length;
            full = _heldCount >= MaxHeld;
            return true;
        }
    }

    /// <summary>
    /// Writes one whole server frame (FIN, text or binary, unmasked) of <paramref name="payload"/>: held
    /// when holding, else at once as one write. The send loop frames shared payloads itself this way
    /// (the WebSocket would copy each into its own buffer first); the WebSocket's own frames go through
    /// <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, and since both write whole
    /// frames under the same lock and gate, they never interleave.
    /// </summary>
    public ValueTask WriteFrameAsync(ReadOnlyMemory<byte> payload, bool binary)
    {
        Span<byte> header = stackalloc byte[10];
        header = header[..FrameHeader(header, payload.Length, binary)];
        if (TryKeep(header, payload.Span, out var full)) return full ? WriteOutAsync(default, default) : ValueTask.CompletedTask;
        var frame = ArrayPool<byte>.Shared.Rent(header.Length + payload.Length);
        header.CopyTo(frame);
        payload.Span.CopyTo(frame.AsSpan(header.Length));
        return WriteRentedAsync(frame, header.Length + payload.Length);
    }

    private async ValueTask WriteRentedAsync(byte[] frame, int count)
    {
        try
        {
            await WriteOutAsync(frame.AsMemory(0, count), default).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>The header of an unmasked final frame (RFC 6455 5.2): 2, 4 or 10 bytes.</summary>
    public static int FrameHeader(Span<byte> header, int length, bool binary)
    {
        header[0] = (byte)(0x80 | (binary ? 0x2 : 0x1));
        if (length < 126)
        {
            header[1] = (byte)length;
            return 2;
        }
        if (length <= ushort.MaxValue)
        {
            header[1] = 126;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)length);
            return 4;
        }
        header[1] = 127;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(header[2..], (ulong)length);
        return 10;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (TryKeep(buffer.Span, out var full)) return full ? WriteOutAsync(default, cancellationToken) : ValueTask.CompletedTask;
        return WriteOutAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Under the gate: the held bytes (if any) go first, then <paramref name="buffer"/>.</summary>
    private async ValueTask WriteOutAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await WriteHeldAsync(stopHolding: false).ConfigureAwait(false);
            if (buffer.IsEmpty) return;
            metrics?.Wrote();
            await inner.WriteAsync(buffer, ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        lock (_heldLock)
            if (_holding) return Task.CompletedTask; // the release flushes
        return FlushOutAsync(cancellationToken);
    }

    private async Task FlushOutAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await inner.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
