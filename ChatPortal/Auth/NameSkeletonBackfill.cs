using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

/// <summary>
/// Computes the confusable skeleton of names stored before skeletons existed (and of guests and
/// bots, which are created without one), in batches at startup and then hourly, so the look-alike
/// check of new names covers every name.
/// </summary>
internal sealed class NameSkeletonBackfill(IDbContextFactory<ChatDbContext> dbFactory, TimeProvider time, ILogger<NameSkeletonBackfill> log)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        log.LogDebug("Nickname skeletons from {Source}", NameSkeletons.Source);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await FillAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Filling nickname skeletons failed; it runs again later");
                await Task.Delay(TimeSpan.FromMinutes(5), time, stoppingToken);
            }
        }
    }

    internal async Task<int> FillAsync(CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var batch = await db.Users.Where(u => u.NameSkeleton == null).OrderBy(u => u.Id).Take(500).ToListAsync(ct);
            if (batch.Count == 0) return total;
            foreach (var u in batch) u.NameSkeleton = NameSkeletons.Of(u.Name);
            await db.SaveChangesAsync(ct);
            total += batch.Count;
        }
    }
}
