using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Integrations;

/// <summary>
/// The outbox side of outgoing webhooks (issue 16): the single writer adds a <see cref="WebhookDelivery"/> row for every enabled
/// hook whose rooms and trigger words match a new post, in the post's own transaction (<see cref="IPostOutbox"/>). Matching
/// runs on an in-memory copy of the enabled hooks: dropped at once when a hook changes on this node (<see cref="Changed"/>),
/// read again after <see cref="IntegrationOptions.HookCacheTime"/> for changes made on another node. Posts of bots and
/// integrations are skipped (a webhook's reply never triggers webhooks again), and so are direct conversations.
/// </summary>
public sealed class OutgoingOutbox(IDbContextFactory<ChatDbContext> dbFactory, RoomDirectory rooms, IOptions<IntegrationOptions> options,
    TimeProvider time) : IPostOutbox
{
    private readonly SemaphoreSlim _wake = new(0);
    private volatile List<OutgoingWebhook>? _enabled;
    private long _loadedAt;

    /// <summary>A hook was created, changed or deleted on this node: the next batch reads them again.</summary>
    public void Changed() => _enabled = null;

    /// <summary>Waits until rows were committed or <paramref name="timeout"/> passed (the delivery worker's nap).</summary>
    internal Task<bool> WaitForRowsAsync(TimeSpan timeout, CancellationToken ct) => _wake.WaitAsync(timeout, ct);

    private void Wake()
    {
        if (_wake.CurrentCount == 0) _wake.Release();
    }

    public async ValueTask<IPostOutboxBatch?> BeginAsync(IReadOnlyCollection<long> roomIds, CancellationToken ct = default)
    {
        var hooks = await EnabledAsync(ct);
        if (hooks.Count == 0) return null;
        var open = new Dictionary<long, RoomInfo>();
        foreach (var id in roomIds)
            if (await rooms.GetAsync(id, ct) is { IsDirect: false } room) open[id] = room; // direct conversations never leave the server
        return open.Count == 0 ? null : new Batch(this, hooks, open, time.GetUtcNow());
    }

    private async Task<List<OutgoingWebhook>> EnabledAsync(CancellationToken ct)
    {
        var cached = _enabled;
        if (cached is not null && Environment.TickCount64 - Interlocked.Read(ref _loadedAt) < options.Value.HookCacheTime.TotalMilliseconds) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var fresh = await db.Set<OutgoingWebhook>().AsNoTracking().Where(h => h.Enabled).OrderBy(h => h.Id).ToListAsync(ct);
        Interlocked.Exchange(ref _loadedAt, Environment.TickCount64);
        _enabled = fresh;
        return fresh;
    }

    private sealed class Batch(OutgoingOutbox outbox, List<OutgoingWebhook> hooks, Dictionary<long, RoomInfo> rooms, DateTimeOffset now) : IPostOutboxBatch
    {
        private bool _added;

        public IEnumerable<WebhookDelivery> RowsFor(ChatMessage m)
        {
            if (m is not { Sender.IsBot: false, PostedAs: null, Text.Length: > 0, InRoom: true } || !rooms.TryGetValue(m.RoomId, out var room)) yield break;
            foreach (var hook in hooks)
            {
                var only = OutgoingHooks.Ids(hook.RoomIds);
                if (only.Count > 0 && !only.Contains(room.Id)) continue;
                if (OutgoingHooks.Trigger(hook, m.Text) is not { } trigger) continue;
                _added = true;
                yield return new WebhookDelivery
                {
                    HookId = hook.Id,
                    MessageId = m.Id,
                    RoomId = room.Id,
                    Body = OutgoingHooks.Body(hook, room, m, trigger),
                    State = DeliveryState.Pending,
                    NextAttemptAt = now,
                    CreatedAt = now,
                };
            }
        }

        public void Committed()
        {
            if (_added) outbox.Wake();
        }
    }
}
