using System.Threading.RateLimiting;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Images;

/// <summary>What an upload is called in its errors: images and file attachments pass the same gate with their own words.</summary>
public sealed record UploadWords(string Plural, string NetworkPlural, string QuotaCode, string QuotaWhat, Func<long, string> FormatBytes);

/// <summary>
/// The checks every stored upload passes before its bytes are looked at (images and file attachments alike):
/// a per-user pace (a token bucket per uploader: <paramref name="burst"/>, refilled at <paramref name="perMinute"/>),
/// the per-address limits, and the per-user quota of stored bytes (images and files share it: one table).
/// </summary>
public sealed class UploadGate(IDbContextFactory<ChatDbContext> dbFactory, int burst, int perMinute, Chat.Safeguards.AddressLimits? addressLimits) : IDisposable
{
    private readonly PartitionedRateLimiter<long> _uploads = PartitionedRateLimiter.Create<long, long>(user =>
        RateLimitPartition.GetTokenBucketLimiter(user, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, burst),
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / Math.Max(1, perMinute)),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Why this upload may not be stored now, or null. <paramref name="quota"/> 0: no quota.</summary>
    public async Task<ChatError?> CheckAsync(long uploaderId, long length, string? address, long quota, UploadWords words, CancellationToken ct = default)
    {
        using (var lease = _uploads.AttemptAcquire(uploaderId))
        {
            if (!lease.IsAcquired) return new ChatError("rate_limited", $"You are uploading {words.Plural} too fast; wait a moment.");
        }
        if (addressLimits is not null && !addressLimits.TryUploadImage(address, length))
            return new ChatError("rate_limited", $"Too many {words.NetworkPlural} from your network; wait a moment.");
        if (quota <= 0) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var held = await db.Images.Where(i => i.UploaderId == uploaderId).SumAsync(i => (long?)i.Length, ct) ?? 0;
        return held + length > quota
            ? new ChatError(words.QuotaCode, $"Your stored {words.QuotaWhat} would exceed {words.FormatBytes(quota)}; delete some first.")
            : null;
    }

    public void Dispose() => _uploads.Dispose();
}
