using System.Text.Json;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Integrations;

/// <summary>An outgoing webhook as the back office lists it (the secret is shown: the receiver needs it to check signatures).</summary>
public sealed record OutgoingHookInfo(long Id, string Name, IReadOnlyList<long> RoomIds, IReadOnlyList<string> TriggerWords, string Url,
    string Secret, string Token, bool Enabled, int ConsecutiveFailures, string? DisabledReason, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>What the back office sets on an outgoing webhook.</summary>
public sealed record OutgoingHookSpec(string? Name, IReadOnlyList<long> RoomIds, string? TriggerWords, string? Url);

/// <summary>One line of the delivery log.</summary>
public sealed record DeliveryAttemptInfo(long DeliveryId, long MessageId, int Attempt, DateTimeOffset At, int? Status, string? Error, bool Ok, DeliveryState State);

/// <summary>
/// Outgoing webhooks (issue 16): their settings, and the outbox's format. Every enabled hook whose rooms and trigger words
/// match a new post gets a <see cref="WebhookDelivery"/> row with the body fixed (Slack/Mattermost outgoing format), written
/// by the single writer in the post's own transaction (<see cref="OutgoingOutbox"/>); <see cref="WebhookDeliveryWorker"/>
/// sends due rows. The outbox is in the database, so nothing is lost between the post and its delivery, and retries survive
/// a restart.
/// </summary>
public sealed class OutgoingHooks(IDbContextFactory<ChatDbContext> dbFactory, OutgoingOutbox outbox, IntegrationUsers identities, TimeProvider time)
{
    /// <summary>Waits until new rows were committed or <paramref name="timeout"/> passed (the delivery worker's nap).</summary>
    internal Task<bool> WaitForRowsAsync(TimeSpan timeout, CancellationToken ct) => outbox.WaitForRowsAsync(timeout, ct);

    // ---------------------------------------------------------------- settings

    public async Task<IReadOnlyList<OutgoingHookInfo>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.Set<OutgoingWebhook>().AsNoTracking().OrderBy(h => h.Id).ToListAsync(ct)).Select(Info).ToList();
    }

    public async Task<ChatResult<OutgoingHookInfo>> CreateAsync(OutgoingHookSpec spec, string createdBy, Action<ChatDbContext, OutgoingWebhook>? alsoWrite = null,
        CancellationToken ct = default)
    {
        if (Check(spec) is { } refused) return refused;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = identities.Add(db, "outgoing");
        await db.SaveChangesAsync(ct);
        var hook = new OutgoingWebhook
        {
            Name = spec.Name!.Trim(),
            RoomIds = string.Join(',', spec.RoomIds.Distinct()),
            TriggerWords = string.Join('\n', Words(spec.TriggerWords)),
            Url = spec.Url!.Trim(),
            Secret = IntegrationUsers.NewToken(),
            Token = IntegrationUsers.NewToken(),
            PostAsUserId = user.Id,
            CreatedAt = time.GetUtcNow(),
            CreatedBy = createdBy,
        };
        db.Set<OutgoingWebhook>().Add(hook);
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        Changed();
        return Info(hook);
    }

    /// <summary>Switches a hook on (its failure count starts again) or off.</summary>
    public async Task<ChatResult<OutgoingHookInfo>> SetEnabledAsync(long id, bool enabled, Action<ChatDbContext, OutgoingWebhook>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<OutgoingWebhook>().FirstOrDefaultAsync(h => h.Id == id, ct);
        if (hook is null) return ChatError.NotFound("The webhook");
        hook.Enabled = enabled;
        hook.ConsecutiveFailures = 0;
        hook.DisabledReason = enabled ? null : "Switched off in the back office.";
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        Changed();
        return Info(hook);
    }

    public async Task<bool> DeleteAsync(long id, Action<ChatDbContext, OutgoingWebhook>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<OutgoingWebhook>().FirstOrDefaultAsync(h => h.Id == id, ct);
        if (hook is null) return false;
        db.Remove(hook);
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        // Its log goes with it; pending deliveries have nowhere to go.
        await db.Set<WebhookDelivery>().Where(d => d.HookId == id).ExecuteDeleteAsync(ct);
        await db.Set<WebhookAttempt>().Where(a => a.HookId == id).ExecuteDeleteAsync(ct);
        Changed();
        return true;
    }

    /// <summary>The newest attempts of a hook, newest first.</summary>
    public async Task<IReadOnlyList<DeliveryAttemptInfo>> AttemptsAsync(long hookId, int limit = 50, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await (from a in db.Set<WebhookAttempt>().AsNoTracking()
                      join d in db.Set<WebhookDelivery>() on a.DeliveryId equals d.Id
                      where a.HookId == hookId
                      orderby a.Id descending
                      select new DeliveryAttemptInfo(a.DeliveryId, d.MessageId, a.Attempt, a.At, a.Status, a.Error, a.Ok, d.State))
            .Take(Math.Clamp(limit, 1, 500)).ToListAsync(ct);
    }

    private static ChatError? Check(OutgoingHookSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Name)) return new ChatError("name_required", "Give the webhook a name.");
        if (spec.Name.Trim().Length > 80) return new ChatError("name_too_long", "The name is longer than 80 characters.");
        if (!Uri.TryCreate(spec.Url?.Trim(), UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http") || spec.Url!.Length > 2000)
            return new ChatError("bad_url", "The URL must be an absolute http(s) address.");
        if (Words(spec.TriggerWords).Count > 50) return new ChatError("too_many_words", "At most 50 trigger words.");
        return null;
    }

    private static List<string> Words(string? text) =>
        (text ?? "").Split([',', '\n', ' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(w => w.Length <= 100).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    private static OutgoingHookInfo Info(OutgoingWebhook h) => new(h.Id, h.Name, Ids(h.RoomIds), Words(h.TriggerWords), h.Url, h.Secret, h.Token,
        h.Enabled, h.ConsecutiveFailures, h.DisabledReason, h.CreatedAt, h.CreatedBy);

    internal static List<long> Ids(string csv) =>
        csv.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => long.TryParse(s, out var id) ? id : 0).Where(id => id > 0).ToList();

    internal void Changed() => outbox.Changed();

    // ---------------------------------------------------------------- the outbox

    /// <summary>The trigger word a message matches (its first word), "" for a hook without words, null for no match.</summary>
    internal static string? Trigger(OutgoingWebhook hook, string text)
    {
        var words = Words(hook.TriggerWords);
        if (words.Count == 0) return "";
        var first = text.TrimStart().Split([' ', '\n', '\t'], 2)[0];
        return words.FirstOrDefault(w => string.Equals(w, first, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Slack's and Mattermost's outgoing webhook fields, as JSON.</summary>
    internal static string Body(OutgoingWebhook hook, RoomInfo room, ChatMessage m, string trigger) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["token"] = hook.Token,
        ["team_id"] = "chatportal",
        ["team_domain"] = "chatportal",
        ["channel_id"] = room.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["channel_name"] = room.Slug,
        ["timestamp"] = m.CreatedAt.ToUnixTimeMilliseconds() / 1000.0,
        ["user_id"] = m.Sender.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["user_name"] = m.Sender.Name,
        ["post_id"] = m.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["text"] = m.Text,
        ["trigger_word"] = trigger,
    });
}
