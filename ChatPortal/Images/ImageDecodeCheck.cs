using ChatPortal.Chat;
using SkiaSharp;

namespace ChatPortal.Images;

/// <summary>
/// The second gate after the header sniffer: a real decoder (Skia) must agree on the format and
/// the size and must decode every pixel of the first frame. Catches files that only start like an
/// image (HTML behind PNG magic bytes, truncated uploads). Runs only after the byte and pixel caps,
/// so it never decodes a bomb; at most two decodes run at once to bound memory.
/// </summary>
public static class ImageDecodeCheck
{
    private static readonly SemaphoreSlim Gate = new(2, 2);

    public static async Task<ChatError?> CheckAsync(ReadOnlyMemory<byte> bytes, string contentType, int width, int height,
        CancellationToken ct = default)
    {
        await Gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return Check(bytes.Span, contentType, width, height);
        }
        finally
        {
            Gate.Release();
        }
    }

    internal static ChatError? Check(ReadOnlySpan<byte> bytes, string contentType, int width, int height)
    {
        var corrupt = new ChatError("image_corrupt", "The image could not be decoded; it is damaged or not an image.");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data); // null on anything Skia does not recognise
        if (codec is null) return corrupt;
        var expected = contentType switch
        {
            "image/png" => SKEncodedImageFormat.Png,
            "image/jpeg" => SKEncodedImageFormat.Jpeg,
            "image/gif" => SKEncodedImageFormat.Gif,
            "image/webp" => SKEncodedImageFormat.Webp,
            _ => (SKEncodedImageFormat?)null,
        };
        if (codec.EncodedFormat != expected) return corrupt;
        if (codec.Info.Width != width || codec.Info.Height != height) return corrupt;

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info)) return new ChatError("image_unchecked", "The server could not check this image right now; try a smaller one.");
        var result = codec.GetPixels(info, bitmap.GetPixels());
        return result == SKCodecResult.Success ? null : corrupt;
    }
}
