using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Images;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Safeguards;

/// <summary>
/// Stored images live exactly as long as something uses them:
/// <list type="bullet">
/// <item>a deleted message's image goes with it (this observer sees the stored <see cref="MessageDeleted"/>, which names the image);</item>
/// <item>a deleted room's images go with the room (<see cref="ImagesOfRoomAsync"/> before, <see cref="DeleteImagesAsync"/> after);</item>
/// <item>orphans — uploads no message refers to (refused while rate-limited, picked but never sent, a crash between
/// file and row) — are removed by a sweep every <see cref="ImageOptions.CleanupIntervalMinutes"/> once older than
/// <see cref="ImageOptions.OrphanMinutes"/> (so an upload waiting in a composer is not taken away).</item>
/// </list>
/// The row goes first (the image endpoint answers 404 from then on), then the file.
/// </summary>
public sealed class ImageRetention(IDbContextFactory<ChatDbContext> dbFactory, IOptions<PortalOptions> portal,
    IOptions<ImageOptions> options, IHostEnvironment env, TimeProvider time, ILogger<ImageRetention> log)
    : BackgroundService, IStoredEventObserver
{
    private const int SweepBatch = 1000;

    public string Folder { get; } = Path.Combine(portal.Value.ResolveDataPath(env.ContentRootPath), "images");

    public void OnStored(ChatEvent evt)
    {
        // Off the writer's thread: observers must not block.
        if (evt is MessageDeleted { ImageId: { } id })
            _ = Task.Run(async () =>
            {
                try { await DeleteImagesAsync([id]); }
                catch (Exception ex) { log.LogWarning(ex, "Could not remove the image of a deleted message; the sweep retries"); }
            });
    }

    /// <summary>Images of a room's messages: read before the room is deleted, removed after (<see cref="DeleteImagesAsync"/>).</summary>
    public async Task<IReadOnlyList<string>> ImagesOfRoomAsync(long roomId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Messages.Where(m => m.RoomId == roomId && m.ImageId != null).Select(m => m.ImageId!).Distinct().ToListAsync(ct);
    }

    /// <summary>Removes these images (rows, then files) unless a visible message still shows one. Returns how many went.</summary>
    public async Task<int> DeleteImagesAsync(IReadOnlyCollection<string> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return 0;
        var removed = 0;
        foreach (var chunk in ids.Chunk(500))
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var stillShown = await db.Messages.Where(m => m.ImageId != null && chunk.Contains(m.ImageId) && m.DeletedAt == null)
                .Select(m => m.ImageId!).Distinct().ToListAsync(ct);
            var gone = chunk.Except(stillShown).ToList();
            await db.Images.Where(i => gone.Contains(i.Id)).ExecuteDeleteAsync(ct);
            foreach (var id in gone) removed += DeleteFile(id) ? 1 : 0;
        }
        return removed;
    }

    /// <summary>
    /// One sweep: image rows no message refers to and older than the orphan age, then files without
    /// a row (older than the same age). Returns the number of files removed.
    /// </summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        var cutoff = now - options.Value.OrphanAge;
        var removed = 0;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            while (true)
            {
                var orphans = await db.Images.Where(i => i.CreatedAt < cutoff && !db.Messages.Any(m => m.ImageId == i.Id))
                    .Select(i => i.Id).Take(SweepBatch).ToListAsync(ct);
                if (orphans.Count == 0) break;
                await db.Images.Where(i => orphans.Contains(i.Id)).ExecuteDeleteAsync(ct);
                foreach (var id in orphans) removed += DeleteFile(id) ? 1 : 0;
                if (orphans.Count < SweepBatch) break;
            }
        }
        if (!Directory.Exists(Folder)) return removed;
        var stray = new List<string>();
        foreach (var path in Directory.EnumerateFiles(Folder))
        {
            var name = Path.GetFileName(path);
            if (ImageStore.IsImageId(name) && File.GetLastWriteTimeUtc(path) < cutoff.UtcDateTime) stray.Add(name);
        }
        foreach (var chunk in stray.Chunk(500))
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var known = await db.Images.Where(i => chunk.Contains(i.Id)).Select(i => i.Id).ToListAsync(ct);
            foreach (var id in chunk.Except(known)) removed += DeleteFile(id) ? 1 : 0;
        }
        return removed;
    }

    private bool DeleteFile(string id)
    {
        if (!ImageStore.IsImageId(id)) return false;
        var path = Path.Combine(Folder, id);
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (IOException ex)
        {
            log.LogWarning(ex, "Could not delete image file {Id}; the next sweep retries", id);
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.CleanupInterval;
        if (every <= TimeSpan.Zero) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stoppingToken);
                var n = await SweepAsync(time.GetUtcNow(), stoppingToken);
                if (n > 0) log.LogInformation("Image sweep removed {Count} unused image files", n);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Image sweep failed; it runs again later");
            }
        }
    }
}
