using System.Buffers.Binary;
using System.Security.Cryptography;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Images;

/// <summary>Limits for uploaded images (section <c>Images</c>).</summary>
public sealed class ImageOptions
{
    public const string Section = "Images";
    public int MaxBytes { get; set; } = 5 * 1024 * 1024;
    /// <summary>Width × height cap, checked from the header before anything is decoded.</summary>
    public long MaxPixels { get; set; } = 40_000_000;
    public int MaxSide { get; set; } = 12_000;
    /// <summary>Uploads one user may make in a burst (each one is decoded, so they are not free).</summary>
    public int UploadBurst { get; set; } = 20;
    /// <summary>Uploads per minute the burst refills at.</summary>
    public int UploadsPerMinute { get; set; } = 20;
    /// <summary>Bytes of stored images one user may hold (deleted and orphaned images free their share); 0: no quota.</summary>
    public long MaxBytesPerUser { get; set; } = 200L * 1024 * 1024;
    /// <summary>How long browsers and proxies may cache an image; a delete is honoured by caches within this time.</summary>
    public int CacheSeconds { get; set; } = 300;
    /// <summary>An upload no message refers to is removed once it is this old (a picked image waiting in a composer is not).</summary>
    public double OrphanMinutes { get; set; } = 60;
    /// <summary>How often the sweep for orphaned uploads runs (0: never).</summary>
    public double CleanupIntervalMinutes { get; set; } = 10;

    public TimeSpan OrphanAge => TimeSpan.FromMinutes(Math.Max(0, OrphanMinutes));
    public TimeSpan CleanupInterval => TimeSpan.FromMinutes(Math.Max(0, CleanupIntervalMinutes));
}

/// <summary>
/// Validates images by their content (never their name) and stores them in the data folder
/// under random names. Every adapter (web upload, socket binary frame) goes through here.
/// </summary>
public sealed class ImageStore(IDbContextFactory<ChatDbContext> dbFactory, IOptions<PortalOptions> portal,
    IOptions<ImageOptions> options, IWebHostEnvironment env, TimeProvider time, Chat.Safeguards.AddressLimits? addressLimits = null) : IDisposable
{
    private static readonly UploadWords Words = new("images", "images", "image_quota", "images", n => $"{n / 1024 / 1024} MB");
    private readonly UploadGate _gate = new(dbFactory, options.Value.UploadBurst, options.Value.UploadsPerMinute, addressLimits);

    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "images");

    /// <summary>
    /// Checks and stores an upload. <paramref name="address"/> is the client's address (per-address
    /// limits, see <see cref="Chat.Safeguards.AddressLimits"/>); null where there is none (bots, tests).
    /// </summary>
    public async Task<ChatResult<ImageRef>> SaveAsync(ReadOnlyMemory<byte> bytes, long uploaderId, string? originalName = null,
        CancellationToken ct = default, string? address = null)
    {
        var o = options.Value;
        if (bytes.Length == 0) return new ChatError("image_empty", "The image is empty.");
        if (bytes.Length > o.MaxBytes) return new ChatError("image_too_large", $"The image is larger than {o.MaxBytes / 1024 / 1024} MB.");
        if (await _gate.CheckAsync(uploaderId, bytes.Length, address, o.MaxBytesPerUser, Words, ct) is { } refused) return refused;
        var info = ImageSniffer.Identify(bytes.Span);
        if (info is null) return new ChatError("image_type", "Only PNG, JPEG, GIF and WebP images are accepted.");
        var (type, w, h) = info.Value;
        if (w <= 0 || h <= 0) return new ChatError("image_corrupt", "The image header is damaged.");
        if (w > o.MaxSide || h > o.MaxSide || (long)w * h > o.MaxPixels)
            return new ChatError("image_dimensions", $"The image is {w}×{h} pixels; the limit is {o.MaxSide} per side and {o.MaxPixels:N0} pixels.");
        // Only now, with the size known to be within the caps, does a real decoder look at it.
        var decodeError = await ImageDecodeCheck.CheckAsync(bytes, type, w, h, ct);
        if (decodeError is not null) return decodeError;

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(Folder);
        var path = Path.Combine(Folder, id);
        await using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 16384, FileOptions.Asynchronous))
        {
            await f.WriteAsync(bytes, ct);
            await f.FlushAsync(ct);
            f.Flush(flushToDisk: true); // the file is on disk before the message naming it is stored
        }
        var name = CleanName(originalName);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.Images.Add(new StoredImage
        {
            Id = id,
            ContentType = type,
            Width = w,
            Height = h,
            Length = bytes.Length,
            OriginalName = name,
            UploaderId = uploaderId,
            CreatedAt = time.GetUtcNow(),
        });
        await db.SaveChangesAsync(ct);
        return new ImageRef(id, type, w, h, bytes.Length, name);
    }

    /// <summary>The file name without folders or control characters, at most 200 characters (shown as text only).</summary>
    internal static string? CleanName(string? originalName)
    {
        if (string.IsNullOrWhiteSpace(originalName)) return null;
        var name = Path.GetFileName(originalName.Replace('\\', '/'));
        name = string.Concat(name.Where(c => !char.IsControl(c))).Trim();
        return name.Length == 0 ? null : name[..Math.Min(name.Length, 200)];
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>The stored file of an image id, or null (ids are hex only: no path tricks).</summary>
    public string? PathOf(string id) =>
        IsImageId(id) && File.Exists(Path.Combine(Folder, id)) ? Path.Combine(Folder, id) : null;

    /// <summary>Whether the text has the shape of an image id (32 lower-case hex digits), and so is also a safe file name.</summary>
    public static bool IsImageId(string id) => id.Length == 32 && id.All(char.IsAsciiHexDigitLower);

    /// <summary>The image's row read from the database (not a cache): a deleted image is gone at once.</summary>
    public async Task<StoredImage?> FindAsync(string id, CancellationToken ct = default)
    {
        if (!IsImageId(id)) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Images.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, ct);
    }
}

/// <summary>Reads type and size from the first bytes of PNG, JPEG, GIF and WebP files.</summary>
public static class ImageSniffer
{
    // Not a u8 string literal: "\x89" there would be U+0089, two bytes in UTF-8.
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static (string ContentType, int Width, int Height)? Identify(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 24 && b[..8].SequenceEqual(PngSignature) && b[12..16].SequenceEqual("IHDR"u8))
            return ("image/png", (int)BinaryPrimitives.ReadUInt32BigEndian(b[16..]), (int)BinaryPrimitives.ReadUInt32BigEndian(b[20..]));
        if (b.Length >= 10 && (b[..6].SequenceEqual("GIF87a"u8) || b[..6].SequenceEqual("GIF89a"u8)))
            return ("image/gif", BinaryPrimitives.ReadUInt16LittleEndian(b[6..]), BinaryPrimitives.ReadUInt16LittleEndian(b[8..]));
        if (b.Length >= 30 && b[..4].SequenceEqual("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8))
            return WebP(b);
        if (b.Length >= 4 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
            return Jpeg(b);
        return null;
    }

    private static (string, int, int)? WebP(ReadOnlySpan<byte> b)
    {
        var chunk = b[12..16];
        if (chunk.SequenceEqual("VP8X"u8))
            return ("image/webp", 1 + (b[24] | b[25] << 8 | b[26] << 16), 1 + (b[27] | b[28] << 8 | b[29] << 16));
        if (chunk.SequenceEqual("VP8 "u8) && b[23] == 0x9D && b[24] == 0x01 && b[25] == 0x2A)
            return ("image/webp", BinaryPrimitives.ReadUInt16LittleEndian(b[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(b[28..]) & 0x3FFF);
        if (chunk.SequenceEqual("VP8L"u8) && b[20] == 0x2F)
        {
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(b[21..]);
            return ("image/webp", (int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
        }
        return null;
    }

    private static (string, int, int)? Jpeg(ReadOnlySpan<byte> b)
    {
        var i = 2;
        while (i + 9 < b.Length)
        {
            if (b[i] != 0xFF) return null;
            var marker = b[i + 1];
            if (marker == 0xFF) { i++; continue; }
            var len = BinaryPrimitives.ReadUInt16BigEndian(b[(i + 2)..]);
            // Start-of-frame markers carry the size (C0-CF except C4, C8, CC).
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                return ("image/jpeg", BinaryPrimitives.ReadUInt16BigEndian(b[(i + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(b[(i + 5)..]));
            if (len < 2) return null;
            i += 2 + len;
        }
        return null;
    }
}

public static class ImageSetup
{
    public static WebApplicationBuilder AddChatPortalImages(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<ImageOptions>(builder.Configuration.GetSection(ImageOptions.Section));
        builder.Services.AddSingleton<ImageStore>();
        builder.Services.AddSingleton<ImageUrls>();
        builder.Services.AddSingleton<ChatImages>();
        return builder;
    }

    /// <summary>GET /images/{id}: stored images with their sniffed type, nosniff, cached for <see cref="ImageOptions.CacheSeconds"/>.</summary>
    public static IEndpointRouteBuilder MapChatPortalImages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/images/{id}", async (string id, ImageStore store, IOptions<ImageOptions> options, HttpContext ctx) =>
        {
            var path = store.PathOf(id);
            var meta = path is null ? null : await store.FindAsync(id, ctx.RequestAborted);
            if (path is null || meta is null) return Results.NotFound();
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            // Not "immutable" for a year: a deleted image must stop being served, by caches too, within CacheSeconds.
            ctx.Response.Headers.CacheControl = $"public, max-age={Math.Max(0, options.Value.CacheSeconds)}";
            ctx.Response.Headers.ContentSecurityPolicy = "default-src 'none'; sandbox";
            if (meta.IsFile)
            {
                // A file attachment (issue 15) is only ever a download, whatever it contains.
                var download = new Microsoft.Net.Http.Headers.ContentDispositionHeaderValue("attachment");
                download.SetHttpFileName(meta.OriginalName ?? "file");
                ctx.Response.Headers.ContentDisposition = download.ToString();
                return Results.File(path, Chat.Attachments.FileSniffer.IsSafeLabel(meta.ContentType) ? meta.ContentType : Chat.Attachments.FileSniffer.Binary,
                    enableRangeProcessing: false);
            }
            return Results.File(path, meta.ContentType, enableRangeProcessing: false);
        }); // public by unguessable 128-bit id, so a CDN or a mini-program can fetch it (see docs/security.md)
        return app;
    }
}
