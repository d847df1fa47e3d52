using System.Security.Cryptography;
using System.Text.Unicode;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Images;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Attachments;

/// <summary>Limits for file attachments (section <c>Attachments</c>); the per-user quota is the images' (<c>Images:MaxBytesPerUser</c>), shared.</summary>
public sealed class AttachmentOptions
{
    public const string Section = "Attachments";
    public bool Enabled { get; set; } = true;
    /// <summary>Largest file accepted (also the socket's binary frame cap for files, see docs/protocol.md).</summary>
    public int MaxBytes { get; set; } = 10 * 1024 * 1024;
    /// <summary>Uploads one user may make in a burst, refilled per minute.</summary>
    public int UploadBurst { get; set; } = 20;
    public int UploadsPerMinute { get; set; } = 20;
}

/// <summary>
/// File attachments beyond images (issue 15). A file is stored like an image — a row in the images table
/// marked <see cref="StoredImage.IsFile"/>, the bytes under a random name in the same folder, posted as the
/// message's image id — so the per-user quota, the delete of a deleted message's file, room deletes and the
/// sweep of uploads never posted (<see cref="Safeguards.ImageRetention"/>) hold for files with no second path.
/// The type is taken from the content (<see cref="FileSniffer"/>), never from the name or the client; files are
/// only ever served as downloads (<c>Content-Disposition: attachment</c>, <c>nosniff</c>, sandbox CSP).
/// </summary>
public sealed class ChatAttachments(IDbContextFactory<ChatDbContext> dbFactory, ChatCommands commands, Safeguards.ImageRetention retention,
    IOptions<AttachmentOptions> options, IOptions<ImageOptions> imageOptions, IOptions<PortalOptions> portal, IHostEnvironment env,
    TimeProvider time, Safeguards.AddressLimits? addressLimits = null) : IDisposable
{
    private static readonly UploadWords Words = new("files", "uploads", "file_quota", "files and images", FormatBytes);
    private readonly UploadGate _gate = new(dbFactory, options.Value.UploadBurst, options.Value.UploadsPerMinute, addressLimits);

    /// <summary>The images folder: files live next to images, so the image sweep knows them.</summary>
    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "images");

    public AttachmentOptions Options => options.Value;

    /// <summary>Why the user may not attach a file in the room now, or null (the same check as a post).</summary>
    public async Task<ChatError?> CheckAsync(UserRef user, long roomId, CancellationToken ct = default)
    {
        if (!options.Value.Enabled) return new ChatError("files_disabled", "File attachments are switched off here.");
        return (await commands.CheckPostAsync(user, roomId, ct)).Error;
    }

    /// <summary>
    /// Checks and stores a file (not yet posted: the web composer holds it until Send; the sweep removes it if it
    /// never is). <paramref name="originalName"/> is shown only, never trusted.
    /// </summary>
    public async Task<ChatResult<ImageRef>> SaveAsync(ReadOnlyMemory<byte> bytes, long uploaderId, string? originalName,
        CancellationToken ct = default, string? address = null)
    {
        var o = options.Value;
        if (!o.Enabled) return new ChatError("files_disabled", "File attachments are switched off here.");
        if (bytes.Length == 0) return new ChatError("file_empty", "The file is empty.");
        if (bytes.Length > o.MaxBytes) return new ChatError("file_too_large", $"The file is larger than {FormatBytes(o.MaxBytes)}.");
        if (await _gate.CheckAsync(uploaderId, bytes.Length, address, imageOptions.Value.MaxBytesPerUser, Words, ct) is { } refused) return refused;
        var type = FileSniffer.Identify(bytes.Span);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(Folder);
        await using (var f = new FileStream(Path.Combine(Folder, id), FileMode.CreateNew, FileAccess.Write, FileShare.None, 16384, FileOptions.Asynchronous))
        {
            await f.WriteAsync(bytes, ct);
            await f.FlushAsync(ct);
            f.Flush(flushToDisk: true); // the file is on disk before the message naming it is stored
        }
        var name = ImageStore.CleanName(originalName) ?? "file";
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.Images.Add(new StoredImage
        {
            Id = id,
            ContentType = type,
            Length = bytes.Length,
            OriginalName = name,
            UploaderId = uploaderId,
            CreatedAt = time.GetUtcNow(),
            IsFile = true,
        });
        await db.SaveChangesAsync(ct);
        return new ImageRef(id, type, 0, 0, bytes.Length, name, IsFile: true);
    }

    /// <summary>Checks, stores and posts (a socket's binary frame); a refused post removes the file at once.</summary>
    public async Task<ChatResult<ChatMessage>> PostAsync(UserRef user, long roomId, ReadOnlyMemory<byte> bytes, string? name, string? clientId,
        string? caption = null, CancellationToken ct = default, string? address = null)
    {
        if (await CheckAsync(user, roomId, ct) is { } denied) return denied;
        var saved = await SaveAsync(bytes, user.Id, name, ct, address);
        if (!saved.Ok) return saved.Error!;
        var posted = await commands.PostAsync(user, roomId, caption, clientId, saved.Value!.Id, ct, address);
        if (!posted.Ok) await retention.DeleteImagesAsync([saved.Value.Id], CancellationToken.None);
        return posted;
    }

    public static string FormatBytes(long n) => n switch
    {
        >= 1024 * 1024 => $"{n / 1024.0 / 1024.0:0.#} MB",
        >= 1024 => $"{n / 1024.0:0.#} KB",
        _ => $"{n} B",
    };

    public void Dispose() => _gate.Dispose();
}

/// <summary>
/// A file's type from its first bytes. Only labels: files are always served as downloads. Anything that
/// could be markup (HTML, SVG, XML) or is unknown is <c>application/octet-stream</c>, so no label ever
/// invites a browser to render it.
/// </summary>
public static class FileSniffer
{
    public const string Binary = "application/octet-stream";

    public static string Identify(ReadOnlySpan<byte> b)
    {
        if (b.StartsWith("%PDF-"u8)) return "application/pdf";
        if (b.StartsWith("PK\x03\x04"u8)) return "application/zip";
        if (b.Length >= 2 && b[0] == 0x1F && b[1] == 0x8B) return "application/gzip";
        if (b.StartsWith((ReadOnlySpan<byte>)[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C])) return "application/x-7z-compressed";
        if (b.StartsWith("OggS"u8)) return "audio/ogg";
        if (b.StartsWith("ID3"u8) || (b.Length >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0 && b[1] != 0xFF && !IsJpeg(b))) return "audio/mpeg";
        if (b.Length >= 12 && b.StartsWith("RIFF"u8) && b[8..12].SequenceEqual("WAVE"u8)) return "audio/wav";
        if (b.Length >= 12 && b[4..8].SequenceEqual("ftyp"u8)) return "video/mp4";
        if (ImageSniffer.Identify(b) is { } image) return image.ContentType; // a picture sent as a file stays a file (a download)
        return IsPlainText(b) ? "text/plain" : Binary;
    }

    /// <summary>Whether a stored label may be sent as the Content-Type (never a type a browser renders as a document).</summary>
    public static bool IsSafeLabel(string type) =>
        type is "application/pdf" or "application/zip" or "application/gzip" or "application/x-7z-compressed" or "audio/ogg" or "audio/mpeg"
            or "audio/wav" or "video/mp4" or "image/png" or "image/jpeg" or "image/gif" or "image/webp" or "text/plain" or Binary;

    private static bool IsJpeg(ReadOnlySpan<byte> b) => b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;

    /// <summary>UTF-8 without NULs or control characters (but tabs and line ends), and not starting like markup.</summary>
    private static bool IsPlainText(ReadOnlySpan<byte> b)
    {
        var head = b[..Math.Min(b.Length, 64 * 1024)];
        if (head.StartsWith("\uFEFF"u8)) head = head[3..];
        // A cut inside a multi-byte character at the end of the window is fine.
        var check = head.Length == b.Length ? head : head[..Math.Max(0, head.Length - 4)];
        if (!Utf8.IsValid(check)) return false;
        foreach (var c in check)
            if (c < 0x20 && c is not (0x09 or 0x0A or 0x0D or 0x0C)) return false;
        var start = check.TrimStart(" \t\r\n"u8);
        return !(start.Length > 0 && start[0] == (byte)'<');
    }
}
