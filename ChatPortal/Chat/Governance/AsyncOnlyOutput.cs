namespace ChatPortal.Chat.Governance;

/// <summary>
/// Sits between <see cref="System.IO.Compression.ZipArchive"/> and a response body that allows
/// only asynchronous writes (Kestrel's default). The archive writes some of its own records (entry
/// headers, data descriptors, the central directory) synchronously even through its async API;
/// those small pieces wait here and go out with the next asynchronous write or flush. Content
/// passes through at most <see cref="Chunk"/> bytes at a time, so memory stays bounded.
/// </summary>
internal sealed class AsyncOnlyOutput(Stream inner) : Stream
{
    public const int Chunk = 64 * 1024;
    private readonly MemoryStream _pending = new();
    private long _written;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _written + _pending.Length; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _pending.Write(buffer.Span);
        if (_pending.Length >= Chunk) await DrainAsync(cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Synchronous flushes keep the bytes here; they leave with the next asynchronous write or flush.</summary>
    public override void Flush() { }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    private async Task DrainAsync(CancellationToken ct)
    {
        if (_pending.Length == 0) return;
        await inner.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), ct);
        _written += _pending.Length;
        _pending.SetLength(0);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
