using System.Text.RegularExpressions;
using System.Threading.Channels;
using ChatPortal.Data;
using ChatPortal.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.LinkPreviews;

/// <summary>
/// Link previews (issue 15), after the post is stored: the writer only queues each stored post with a
/// link (bounded; when full, new ones go without a preview); a few workers fetch the first http(s) link
/// through <see cref="SafeHttpClient"/> (connect-time address check, no proxy, redirects by hand, each
/// checked), HTML only, capped in time and bytes; then its <c>og:image</c> through the same client,
/// re-encoded (<see cref="PreviewImages"/>). The preview is stored once and published once as
/// <see cref="LinkPreviewReady"/>, which every node's sessions deliver to tabs and sockets.
/// Runs on the node that stored the post (observers do). An edit that changes the first link replaces the
/// preview (the old one is removed and announced as gone, then the new link is fetched like a new post's);
/// a deleted post's preview goes with it; a sweep removes previews of posts that are gone (room deletes,
/// retention) and files without a row.
/// </summary>
public sealed partial class LinkPreviewer(IDbContextFactory<ChatDbContext> dbFactory, SafeHttpClient http, PreviewImages images,
    IChatBackplane backplane, IOptions<LinkPreviewOptions> options, TimeProvider time, ILogger<LinkPreviewer> log)
    : BackgroundService, IStoredEventObserver
{
    private readonly Channel<(ChatMessage Message, bool Edited)> _queue = Channel.CreateBounded<(ChatMessage, bool)>(new BoundedChannelOptions(Math.Max(1, options.Value.QueueLimit))
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleWriter = false,
    });

    [GeneratedRegex(@"\bhttps?://[^\s<>""'`\]\)]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 50)]
    private static partial Regex Link();

    /// <summary>The first http(s) address in the text (trailing punctuation left out), or null.</summary>
    public static Uri? FirstLink(string text)
    {
        try
        {
            foreach (Match m in Link().Matches(text))
            {
                var url = m.Value.TrimEnd('.', ',', '!', '?', ';', ':', '*', '_', '~', '。', '，');
                if (Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && string.IsNullOrEmpty(u.UserInfo)) return u;
            }
        }
        catch (RegexMatchTimeoutException)
        {
        }
        return null;
    }

    public void OnStored(ChatEvent evt)
    {
        if (!options.Value.Enabled) return;
        switch (evt)
        {
            case MessagePosted { Message: { IsDeleted: false, Kind: MessageKind.Text } m } when m.Text.Contains("http", StringComparison.OrdinalIgnoreCase):
                _queue.Writer.TryWrite((m, false));
                break;
            case MessageEdited { Message: { IsDeleted: false, Kind: MessageKind.Text } m }:
                _queue.Writer.TryWrite((m, true)); // the link may have come, gone or changed
                break;
            case MessageDeleted d:
                _ = Task.Run(async () =>
                {
                    try { await RemoveAsync([d.MessageId]); }
                    catch (Exception ex) { log.LogWarning(ex, "Could not remove the preview of a deleted message; the sweep retries"); }
                });
                break;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var workers = Enumerable.Range(0, Math.Clamp(options.Value.Concurrency, 1, 8)).Select(_ => WorkAsync(stoppingToken)).ToList();
        workers.Add(SweepLoopAsync(stoppingToken));
        await Task.WhenAll(workers);
    }

    private async Task WorkAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var (message, edited) in _queue.Reader.ReadAllAsync(stop))
            {
                try
                {
                    if (edited) await EditedAsync(message, stop);
                    else await PreviewAsync(message, stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    log.LogWarning(ex, "Link preview of message {Id} failed", message.Id);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Fetches, stores and publishes the preview of one post; returns it, or null when there is none.</summary>
    public async Task<LinkPreview?> PreviewAsync(ChatMessage message, CancellationToken ct = default)
    {
        if (FirstLink(message.Text) is not { } url) return null;
        var o = options.Value;
        var limit = TimeSpan.FromSeconds(Math.Max(0.5, o.TimeoutSeconds));
        PreviewPage page;
        Uri finalUri;
        try
        {
            var response = await http.GetAsync(url, o.MaxHtmlBytes, ct, limit,
                type => type is "text/html" or "application/xhtml+xml");
            if ((int)response.Status is < 200 or >= 300) return null;
            page = PreviewPage.Parse(response.Body, response.FinalUri);
            finalUri = response.FinalUri;
        }
        catch (SafeHttpException ex)
        {
            log.LogInformation("No link preview for message {Id}: {Reason}", message.Id, ex.Message);
            return null;
        }
        if (page.IsEmpty) return null;

        (string Id, int Width, int Height)? image = null;
        if (page.Image is { } imageUri)
        {
            try
            {
                var fetched = await http.GetAsync(imageUri, o.MaxImageBytes, ct, limit, type => type is not null && type.StartsWith("image/", StringComparison.Ordinal));
                if ((int)fetched.Status is >= 200 and < 300) image = await images.SaveAsync(fetched.Body, ct);
            }
            catch (SafeHttpException ex)
            {
                log.LogInformation("No preview image for message {Id}: {Reason}", message.Id, ex.Message);
            }
        }

        var record = new LinkPreviewRecord
        {
            MessageId = message.Id,
            RoomId = message.RoomId,
            Url = url.AbsoluteUri.Length <= 2048 ? url.AbsoluteUri : finalUri.GetLeftPart(UriPartial.Path)[..Math.Min(2048, finalUri.GetLeftPart(UriPartial.Path).Length)],
            Title = page.Title,
            Description = page.Description,
            SiteName = page.SiteName ?? finalUri.Host,
            ImageId = image?.Id,
            ImageWidth = image?.Width ?? 0,
            ImageHeight = image?.Height ?? 0,
            CreatedAt = time.GetUtcNow(),
        };
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            // The post may have been deleted (or its room) or edited to another link while the page was fetched: then nothing is shown.
            var now = await db.Messages.Where(m => m.Id == message.Id && m.DeletedAt == null).Select(m => m.Text).FirstOrDefaultAsync(ct);
            if (now is null || FirstLink(now)?.AbsoluteUri != url.AbsoluteUri
                || await db.LinkPreviews.AnyAsync(p => p.MessageId == message.Id, ct))
            {
                if (image is { } orphan) images.Delete(orphan.Id);
                return null;
            }
            db.LinkPreviews.Add(record);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Another fetch of the same post stored first: that one is published, not this.
                if (image is { } lost) images.Delete(lost.Id);
                return null;
            }
        }
        var preview = LinkPreview.From(record);
        backplane.Publish(new LinkPreviewReady(message.RoomId, message.Id, preview));
        await backplane.FlushAsync();
        return preview;
    }

    /// <summary>
    /// A post was edited: when its first link is no longer the previewed one, the old preview is removed and
    /// announced as gone (<see cref="LinkPreviewReady"/> with no preview), then the new link (if any) is previewed.
    /// Returns the new preview, or null.
    /// </summary>
    public async Task<LinkPreview?> EditedAsync(ChatMessage message, CancellationToken ct = default)
    {
        var link = FirstLink(message.Text);
        string? shown;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            shown = await db.LinkPreviews.AsNoTracking().Where(p => p.MessageId == message.Id).Select(p => p.Url).FirstOrDefaultAsync(ct);
        if (shown is not null)
        {
            if (link is not null && string.Equals(shown, link.AbsoluteUri, StringComparison.Ordinal)) return null; // the same link: it stays
            if (await RemoveAsync([message.Id], ct) > 0)
            {
                backplane.Publish(new LinkPreviewReady(message.RoomId, message.Id, null));
                await backplane.FlushAsync();
            }
        }
        return link is null ? null : await PreviewAsync(message, ct);
    }

    /// <summary>Removes the previews of these posts (rows, then image files).</summary>
    public async Task<int> RemoveAsync(IReadOnlyCollection<long> messageIds, CancellationToken ct = default)
    {
        if (messageIds.Count == 0) return 0;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var gone = await db.LinkPreviews.Where(p => messageIds.Contains(p.MessageId)).ToListAsync(ct);
        if (gone.Count == 0) return 0;
        var ids = gone.Select(p => p.MessageId).ToList();
        await db.LinkPreviews.Where(p => ids.Contains(p.MessageId)).ExecuteDeleteAsync(ct);
        foreach (var p in gone) if (p.ImageId is { } img) images.Delete(img);
        return gone.Count;
    }

    /// <summary>One sweep: previews of posts deleted or gone, then preview files without a row (older than an hour).</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        List<long> stale;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            stale = await db.LinkPreviews.Where(p => !db.Messages.Any(m => m.Id == p.MessageId && m.DeletedAt == null))
                .Select(p => p.MessageId).Take(5000).ToListAsync(ct);
        var removed = await RemoveAsync(stale, ct);
        if (!Directory.Exists(images.Folder)) return removed;
        var cutoff = (now - TimeSpan.FromHours(1)).UtcDateTime;
        var files = Directory.EnumerateFiles(images.Folder).Select(Path.GetFileName).OfType<string>()
            .Where(n => Images.ImageStore.IsImageId(n) && File.GetLastWriteTimeUtc(Path.Combine(images.Folder, n)) < cutoff).ToList();
        foreach (var chunk in files.Chunk(500))
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var known = await db.LinkPreviews.Where(p => p.ImageId != null && chunk.Contains(p.ImageId)).Select(p => p.ImageId!).ToListAsync(ct);
            foreach (var id in chunk.Except(known)) removed += images.Delete(id) ? 1 : 0;
        }
        return removed;
    }

    private async Task SweepLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(10), time, stop);
                await SweepAsync(time.GetUtcNow(), stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Link preview sweep failed; it runs again later");
            }
        }
    }
}

public static class LinkPreviewSetup
{
    /// <summary>Link previews: the fetcher (an observer of stored posts) and <c>/previews/{id}</c>.</summary>
    public static IHostApplicationBuilder AddLinkPreviews(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<LinkPreviewOptions>(builder.Configuration.GetSection(LinkPreviewOptions.Section));
        s.AddSafeHttp(builder.Configuration);
        s.AddSingleton<PreviewImages>();
        s.AddSingleton<LinkPreviewer>();
        s.AddSingleton<IStoredEventObserver>(sp => sp.GetRequiredService<LinkPreviewer>());
        s.AddHostedService(sp => sp.GetRequiredService<LinkPreviewer>());
        return builder;
    }

    /// <summary>GET /previews/{id}: our re-encoded JPEG, nosniff, sandboxed; public by unguessable 128-bit id like /images/.</summary>
    public static IEndpointRouteBuilder MapLinkPreviews(this IEndpointRouteBuilder app)
    {
        app.MapGet("/previews/{id}", (string id, PreviewImages store, HttpContext ctx) =>
        {
            if (store.PathOf(id) is not { } path) return Results.NotFound();
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            ctx.Response.Headers.CacheControl = "public, max-age=300";
            ctx.Response.Headers.ContentSecurityPolicy = "default-src 'none'; sandbox";
            return Results.File(path, "image/jpeg", enableRangeProcessing: false);
        });
        return app;
    }
}
