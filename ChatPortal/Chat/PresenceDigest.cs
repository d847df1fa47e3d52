using Microsoft.Extensions.Options;

namespace ChatPortal.Chat;

/// <summary>
/// Sends the presence and membership summaries of busy rooms (<see cref="PresenceSummary"/>, <see cref="MembershipSummary"/>):
/// at most once per <see cref="ChatOptions.PresenceSummaryInterval"/> for each room whose presence or members changed, to this
/// node's sessions. A connect storm of N clients into one room then costs O(N) presence frames a second instead of O(N²),
/// and so do N first joins of new members.
/// </summary>
public sealed class PresenceDigest(LocalFanout fanout, PresenceTracker presence, IOptions<ChatOptions> options,
    TimeProvider time, ILogger<PresenceDigest> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.PresenceAnnounceUpTo <= 0) return;
        using var timer = new PeriodicTimer(options.Value.PresenceSummaryInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) Flush();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>Sends the summary of every busy room whose presence or membership changed since the last flush.</summary>
    public void Flush()
    {
        foreach (var summary in fanout.TakeMembershipChanges())
        {
            try
            {
                fanout.Deliver(summary);
            }
            catch (Exception ex)
            {
                log.LogError(ex, "Membership summary of room {Room} failed", summary.RoomId);
            }
        }
        foreach (var roomId in fanout.TakePresenceChanges())
        {
            try
            {
                fanout.Deliver(new PresenceSummary(roomId, presence.Count(roomId)));
            }
            catch (Exception ex)
            {
                log.LogError(ex, "Presence summary of room {Room} failed", roomId);
            }
        }
    }
}
