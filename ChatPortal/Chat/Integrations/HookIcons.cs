using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ChatPortal.Auth;
using ChatPortal.Chat.LinkPreviews;
using ChatPortal.Hosting;
using ChatPortal.Security;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Integrations;

/// <summary>
/// The <c>icon_url</c> an integration posted with, shown as the message's avatar the way Slack does. The page's
/// Content-Security-Policy loads images from our origin only (a viewer's browser never calls the hook's server), so
/// the icon is fetched here, once per URL, through <see cref="SafeHttpClient"/> (the address checks of link
/// previews), decoded and re-encoded as a small JPEG in the data folder's <c>hook-icons</c>, and served as
/// <c>/hook-icons/{message id}</c> to those who may read the message's room. An icon that cannot be fetched or is
/// no image is not retried for <see cref="RetryAfter"/>: the avatar shows the name's initial meanwhile.
/// </summary>
public sealed class HookIcons(SafeHttpClient http, ChatHistory history, RoomDirectory rooms, IOptions<PortalOptions> portal,
    IHostEnvironment env, TimeProvider time, ILogger<HookIcons> log)
{
    /// <summary>Icons are avatars: 64 px wide at most, the source at most 512 KiB and 4 megapixels.</summary>
    public const int Size = 64;
    private const long MaxBytes = 512 * 1024;
    private const long MaxPixels = 4_000_000;
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(10);
    private static readonly SemaphoreSlim Gate = new(2, 2);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _failed = new();

    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "hook-icons");

    /// <summary>The icon file of a message for this viewer, or null (no such message, not theirs to read, no icon, or none to be had).</summary>
    public async Task<string?> FileForAsync(UserRef viewer, long messageId, CancellationToken ct = default)
    {
        var message = await history.GetRowAsync(messageId, ct);
        if (message?.PostedAs?.IconUrl is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri)) return null;
        var room = await rooms.GetAsync(message.RoomId, ct);
        if (room is null || await rooms.CheckReadAsync(viewer, room, ct) is not null) return null;
        var path = Path.Combine(Folder, Key(url));
        if (File.Exists(path)) return path;
        if (_failed.TryGetValue(url, out var at) && time.GetUtcNow() - at < RetryAfter) return null;
        await Gate.WaitAsync(ct);
        try
        {
            if (File.Exists(path)) return path; // fetched while we waited
            var fetched = await http.GetAsync(uri, MaxBytes, ct, acceptType: type => type is not null && type.StartsWith("image/", StringComparison.Ordinal));
            var jpeg = (int)fetched.Status is >= 200 and < 300 ? PreviewImages.Reencode(fetched.Body, MaxPixels, Size) : null;
            if (jpeg is null)
            {
                _failed[url] = time.GetUtcNow();
                return null;
            }
            Directory.CreateDirectory(Folder);
            var temp = path + ".tmp" + Environment.CurrentManagedThreadId;
            await File.WriteAllBytesAsync(temp, jpeg.Value.Jpeg, ct);
            File.Move(temp, path, overwrite: true);
            return path;
        }
        catch (Exception ex) when (ex is SafeHttpException or HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            log.LogInformation("Integration icon {Url} could not be fetched: {Reason}", url, ex.Message);
            _failed[url] = time.GetUtcNow();
            return null;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static string Key(string url) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))[..32];

    /// <summary>GET /hook-icons/{messageId}: our re-encoded JPEG, for signed-in readers of the room.</summary>
    internal static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/hook-icons/{messageId:long}", async (long messageId, HookIcons icons, HttpContext ctx) =>
        {
            if (ctx.User.ToChatUser() is not { } viewer) return Results.NotFound();
            var path = await icons.FileForAsync(viewer, messageId, ctx.RequestAborted);
            if (path is null) return Results.NotFound();
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            ctx.Response.Headers.CacheControl = "private, max-age=3600";
            ctx.Response.Headers.ContentSecurityPolicy = "default-src 'none'; sandbox";
            return Results.File(path, "image/jpeg");
        });
}
