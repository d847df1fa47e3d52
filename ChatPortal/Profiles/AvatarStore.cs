using System.Security.Cryptography;
using System.Threading.RateLimiting;
using ChatPortal.Chat;
using ChatPortal.Hosting;
using ChatPortal.Images;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace ChatPortal.Profiles;

/// <summary>
/// Avatars: validated like chat images (sniffed type, byte and pixel caps, a real decode), then
/// cropped to a centred square and re-encoded as a 256-pixel PNG. Re-encoding keeps only pixels:
/// EXIF (camera, GPS), text chunks and ICC data of the upload never leave the server. Files get
/// random names in the data folder's <c>avatars</c>; a new upload is a new name.
/// </summary>
public sealed class AvatarStore(IOptions<PortalOptions> portal, IOptions<ImageOptions> images, IWebHostEnvironment env) : IDisposable
{
    public const int Size = 256;
    private static readonly SemaphoreSlim Gate = new(2, 2);
    private readonly PartitionedRateLimiter<long> _uploads = PartitionedRateLimiter.Create<long, long>(user =>
        RateLimitPartition.GetTokenBucketLimiter(user, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 10,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(6),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "avatars");

    /// <summary>Validates, re-encodes and stores an avatar; the new avatar id, or an error.</summary>
    public async Task<ChatResult<string>> SaveAsync(ReadOnlyMemory<byte> bytes, long userId, CancellationToken ct = default)
    {
        var o = images.Value;
        if (bytes.Length == 0) return new ChatError("image_empty", "The image is empty.");
        if (bytes.Length > o.MaxBytes) return new ChatError("image_too_large", $"The image is larger than {o.MaxBytes / 1024 / 1024} MB.");
        using (var lease = _uploads.AttemptAcquire(userId))
        {
            if (!lease.IsAcquired) return new ChatError("rate_limited", "You are changing your picture too often; wait a moment.");
        }
        var info = ImageSniffer.Identify(bytes.Span);
        if (info is null) return new ChatError("image_type", "Only PNG, JPEG, GIF and WebP images are accepted.");
        var (type, w, h) = info.Value;
        if (w <= 0 || h <= 0 || w > o.MaxSide || h > o.MaxSide || (long)w * h > o.MaxPixels)
            return new ChatError("image_dimensions", $"The image is {w}×{h} pixels; the limit is {o.MaxSide} per side and {o.MaxPixels:N0} pixels.");
        var check = await ImageDecodeCheck.CheckAsync(bytes, type, w, h, ct);
        if (check is not null) return check;

        byte[] png;
        await Gate.WaitAsync(ct);
        try
        {
            png = Reencode(bytes.Span);
        }
        finally
        {
            Gate.Release();
        }
        if (png.Length == 0) return new ChatError("image_corrupt", "The image could not be decoded; it is damaged or not an image.");

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(Folder);
        await File.WriteAllBytesAsync(Path.Combine(Folder, id + ".png"), png, ct);
        return id;
    }

    /// <summary>Centre square, scaled to <see cref="Size"/>, PNG: pixels only.</summary>
    internal static byte[] Reencode(ReadOnlySpan<byte> bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var source = SKImage.FromEncodedData(data);
        if (source is null) return [];
        var side = Math.Min(source.Width, source.Height);
        var crop = SKRect.Create((source.Width - side) / 2f, (source.Height - side) / 2f, side, side);
        var target = Math.Min(Size, side);
        using var surface = SKSurface.Create(new SKImageInfo(target, target, SKColorType.Rgba8888, SKAlphaType.Premul));
        surface.Canvas.Clear(SKColors.Transparent);
        surface.Canvas.DrawImage(source, crop, SKRect.Create(0, 0, target, target), new SKSamplingOptions(SKCubicResampler.Mitchell), null);
        using var snapshot = surface.Snapshot();
        using var encoded = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return encoded?.ToArray() ?? [];
    }

    /// <summary>The file of an avatar id, or null (ids are 32 lowercase hex digits: no path tricks).</summary>
    public string? PathOf(string id)
    {
        if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower)) return null;
        var path = Path.Combine(Folder, id + ".png");
        return File.Exists(path) ? path : null;
    }

    public void Delete(string? id)
    {
        if (id is null || PathOf(id) is not { } path) return;
        try { File.Delete(path); }
        catch (IOException) { } // still being served: removed on the next change
    }

    public void Dispose() => _uploads.Dispose();
}
