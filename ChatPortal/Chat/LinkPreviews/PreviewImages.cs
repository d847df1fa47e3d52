using System.Security.Cryptography;
using ChatPortal.Hosting;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace ChatPortal.Chat.LinkPreviews;

/// <summary>
/// A preview's <c>og:image</c>, never served as fetched: the header's size is checked before anything is
/// decoded, the image is decoded, scaled to <see cref="LinkPreviewOptions.ImageWidth"/> at most, drawn on
/// white and re-encoded as JPEG into the data folder's <c>previews</c> (random hex names), so what our
/// origin serves is always a plain JPEG we wrote (no SVG, no polyglot, no metadata).
/// </summary>
public sealed class PreviewImages(IOptions<PortalOptions> portal, IOptions<LinkPreviewOptions> options, IHostEnvironment env)
{
    private static readonly SemaphoreSlim Gate = new(2, 2);

    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "previews");

    /// <summary>Re-encodes and stores; null when the bytes are no image Skia knows or are too big.</summary>
    public async Task<(string Id, int Width, int Height)?> SaveAsync(byte[] bytes, CancellationToken ct = default)
    {
        byte[] jpeg;
        int w, h;
        await Gate.WaitAsync(ct);
        try
        {
            var encoded = Reencode(bytes, options.Value.MaxImagePixels, Math.Max(16, options.Value.ImageWidth));
            if (encoded is null) return null;
            (jpeg, w, h) = encoded.Value;
        }
        finally
        {
            Gate.Release();
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(Folder);
        await File.WriteAllBytesAsync(Path.Combine(Folder, id), jpeg, ct);
        return (id, w, h);
    }

    internal static (byte[] Jpeg, int Width, int Height)? Reencode(byte[] bytes, long maxPixels, int maxWidth)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data); // null on anything Skia does not recognise (SVG and HTML included)
        if (codec is null) return null;
        var (sw, sh) = (codec.Info.Width, codec.Info.Height);
        if (sw <= 0 || sh <= 0 || (long)sw * sh > maxPixels) return null;
        using var source = new SKBitmap(new SKImageInfo(sw, sh, SKColorType.Rgba8888, SKAlphaType.Premul));
        var result = codec.GetPixels(source.Info, source.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput)) return null;
        var scale = Math.Min(1.0, (double)maxWidth / sw);
        var (w, h) = (Math.Max(1, (int)Math.Round(sw * scale)), Math.Max(1, (int)Math.Round(sh * scale)));
        h = Math.Min(h, maxWidth * 2); // a very tall image is cut, not shown as a ribbon
        using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var image = SKImage.FromBitmap(source);
        canvas.DrawImage(image, new SKRect(0, 0, w, (float)(sh * scale)), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var snapshot = surface.Snapshot();
        using var jpeg = snapshot.Encode(SKEncodedImageFormat.Jpeg, 82);
        return jpeg is null ? null : (jpeg.ToArray(), w, h);
    }

    /// <summary>The file of a preview image id, or null (ids are hex only: no path tricks).</summary>
    public string? PathOf(string id) =>
        Images.ImageStore.IsImageId(id) && File.Exists(Path.Combine(Folder, id)) ? Path.Combine(Folder, id) : null;

    public bool Delete(string id)
    {
        if (!Images.ImageStore.IsImageId(id)) return false;
        var path = Path.Combine(Folder, id);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        return true;
    }
}
