using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatPortal.Admin;
using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;
using ChatPortal.Data;
using ChatPortal.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Integrations;

/// <summary>
/// Sends the outbox (<see cref="WebhookDelivery"/> rows) of outgoing webhooks through the SSRF-safe client: a signed JSON
/// POST per attempt (<c>X-ChatPortal-Timestamp</c>, <c>X-ChatPortal-Signature: v0=hex(HMAC-SHA256(secret, "v0:" + timestamp
/// + ":" + body))</c>), retries with exponential backoff and jitter, a log row per attempt. Rows are claimed by moving their
/// due time (a lease), so nodes sharing a database do not send one twice; at start the worker finds what was due before a
/// restart. After <see cref="IntegrationOptions.DisableAfterFailures"/> failed attempts in a row a hook switches itself off
/// (audit entry). A 2xx reply <c>{"text": "..."}</c> is posted back into the room as the hook.
/// </summary>
public sealed class WebhookDeliveryWorker(IDbContextFactory<ChatDbContext> dbFactory, OutgoingHooks hooks, SafeHttpClient http, ChatCommands commands,
    ChatRooms rooms, IntegrationUsers identities, AdminAudit audit, IOptions<IntegrationOptions> options, TimeProvider time,
    ILogger<WebhookDeliveryWorker> log) : BackgroundService
{
    private const int MaxReplyBytes = 64 * 1024;
    private readonly IntegrationOptions _o = options.Value;

    /// <summary>The signature a receiver recomputes: <c>v0=</c> and the lowercase hex HMAC-SHA256 of <c>v0:{timestamp}:{body}</c>.</summary>
    public static string Sign(string secret, string timestamp, string body) =>
        "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_o.SendDeliveries)
        {
            log.LogInformation("Integrations:SendDeliveries is off: this node writes outgoing webhook deliveries but does not send them");
            return;
        }
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                List<WebhookDelivery> due;
                try
                {
                    due = await ClaimDueAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    log.LogError(ex, "Reading the webhook outbox failed; trying again shortly");
                    due = [];
                }
                if (due.Count == 0)
                {
                    await hooks.WaitForRowsAsync(_o.WorkerPollInterval, stoppingToken);
                    continue;
                }
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _o.WorkerConcurrency), CancellationToken = stoppingToken },
                    async (d, ct) =>
                    {
                        try { await DeliverAsync(d, ct); }
                        catch (OperationCanceledException) when (ct.IsCancellationRequested)
                        {
                            await ReleaseAsync(d); // stopping: due again at once, for the next start (or another node)
                        }
                        catch (Exception ex)
                        {
                            log.LogError(ex, "Webhook delivery {Id} failed unexpectedly; it is retried", d.Id);
                        }
                    });
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Due rows, each claimed by moving its due time past the attempt's time limit (another node skips it meanwhile).</summary>
    private async Task<List<WebhookDelivery>> ClaimDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var candidates = await db.Set<WebhookDelivery>().AsNoTracking()
            .Where(d => d.State == DeliveryState.Pending && d.NextAttemptAt <= now)
            .OrderBy(d => d.NextAttemptAt).Take(32).ToListAsync(ct);
        var lease = now + _o.OutgoingTimeout + TimeSpan.FromSeconds(5); // a crashed node's rows are due again after this
        var claimed = new List<WebhookDelivery>(candidates.Count);
        foreach (var d in candidates)
        {
            var old = d.NextAttemptAt;
            var n = await db.Set<WebhookDelivery>().Where(x => x.Id == d.Id && x.State == DeliveryState.Pending && x.NextAttemptAt == old)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.NextAttemptAt, lease), ct);
            if (n == 1) claimed.Add(d);
        }
        return claimed;
    }

    private async Task ReleaseAsync(WebhookDelivery d)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var now = time.GetUtcNow();
            await db.Set<WebhookDelivery>().Where(x => x.Id == d.Id && x.State == DeliveryState.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.NextAttemptAt, now));
        }
        catch (Exception ex)
        {
            log.LogWarning(ex, "Could not release webhook delivery {Id}; it is due again once its lease ends", d.Id);
        }
    }

    private async Task DeliverAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<OutgoingWebhook>().AsNoTracking().FirstOrDefaultAsync(h => h.Id == delivery.HookId, ct);
        var row = await db.Set<WebhookDelivery>().FirstAsync(d => d.Id == delivery.Id, ct);
        if (hook is null || !hook.Enabled)
        {
            row.State = DeliveryState.Failed;
            row.DoneAt = time.GetUtcNow();
            await db.SaveChangesAsync(ct);
            return;
        }

        var attempt = row.Attempts + 1;
        var (status, error, reply) = await SendAsync(hook, row.Body, ct);
        var ok = status is >= 200 and < 300;
        var now = time.GetUtcNow();
        db.Set<WebhookAttempt>().Add(new WebhookAttempt
        {
            DeliveryId = row.Id,
            HookId = hook.Id,
            Attempt = attempt,
            At = now,
            Status = status,
            Ok = ok,
            Error = error is { Length: > 500 } ? error[..500] : error,
        });
        row.Attempts = attempt;
        if (ok)
        {
            row.State = DeliveryState.Delivered;
            row.DoneAt = now;
        }
        else if (attempt >= Math.Max(1, _o.OutgoingMaxAttempts))
        {
            row.State = DeliveryState.Failed;
            row.DoneAt = now;
        }
        else
        {
            row.NextAttemptAt = now + Backoff(attempt);
        }
        await db.SaveChangesAsync(ct);

        if (ok)
        {
            await db.Set<OutgoingWebhook>().Where(h => h.Id == hook.Id && h.ConsecutiveFailures != 0)
                .ExecuteUpdateAsync(s => s.SetProperty(h => h.ConsecutiveFailures, 0), ct);
            if (reply is not null) await PostReplyAsync(hook, row, reply, ct);
            return;
        }
        await db.Set<OutgoingWebhook>().Where(h => h.Id == hook.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(h => h.ConsecutiveFailures, h => h.ConsecutiveFailures + 1), ct);
        var failures = await db.Set<OutgoingWebhook>().Where(h => h.Id == hook.Id).Select(h => h.ConsecutiveFailures).FirstOrDefaultAsync(ct);
        if (failures >= Math.Max(1, _o.DisableAfterFailures)) await DisableAsync(db, hook, failures, error ?? $"HTTP {status}", ct);
    }

    private async Task<(int? Status, string? Error, string? Reply)> SendAsync(OutgoingWebhook hook, string body, CancellationToken ct)
    {
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-ChatPortal-Timestamp", timestamp);
        request.Headers.Add("X-ChatPortal-Signature", Sign(hook.Secret, timestamp, body));
        request.Headers.UserAgent.ParseAdd("ChatPortal-Webhooks/1");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_o.OutgoingTimeout);
        try
        {
            using var response = await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (status is < 200 or >= 300) return (status, $"HTTP {status}", null);
            if (response.Content.Headers.ContentLength > MaxReplyBytes) return (status, null, null);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            return (status, null, text.Length is > 0 and <= MaxReplyBytes ? text : null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, $"No answer within {_o.OutgoingTimeout.TotalSeconds:0.#} s", null);
        }
        catch (Exception ex) when (ex is HttpRequestException or SafeHttpException or IOException)
        {
            // The reason (refused, not a public address, ...) without the stack: it is shown in the delivery log.
            var reason = ex.InnerException is SafeHttpException safe ? safe.Message : ex.Message;
            return (null, reason, null);
        }
    }

    /// <summary>Doubling from <see cref="IntegrationOptions.RetryBaseDelay"/>, capped, plus up to 20 % jitter (receivers coming back are not stampeded).</summary>
    private TimeSpan Backoff(int attempt)
    {
        var ticks = Math.Min(_o.RetryMaxDelay.Ticks, _o.RetryBaseDelay.Ticks * Math.Pow(2, Math.Min(30, attempt - 1)));
        return TimeSpan.FromTicks((long)(ticks * (1 + Random.Shared.NextDouble() * 0.2)));
    }

    private async Task DisableAsync(ChatDbContext db, OutgoingWebhook hook, int failures, string lastError, CancellationToken ct)
    {
        var reason = $"Switched off after {failures} failed deliveries in a row (last: {lastError}).";
        var n = await db.Set<OutgoingWebhook>().Where(h => h.Id == hook.Id && h.Enabled)
            .ExecuteUpdateAsync(s => s.SetProperty(h => h.Enabled, false).SetProperty(h => h.DisabledReason, reason), ct);
        if (n == 0) return; // another attempt got here first
        hooks.Changed();
        await audit.WriteAsync(null, "(system)", null, IntegrationAudit.OutgoingAutoDisable, $"outgoing webhook {hook.Id} {hook.Name}", reason, ct);
        var now = time.GetUtcNow();
        await db.Set<WebhookDelivery>().Where(d => d.HookId == hook.Id && d.State == DeliveryState.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.State, DeliveryState.Failed).SetProperty(d => d.DoneAt, now), ct);
        log.LogWarning("Outgoing webhook {Id} ({Name}) was switched off: {Reason}", hook.Id, hook.Name, reason);
    }

    /// <summary>A reply <c>{"text": "...", "username"?, "icon_url"?}</c> is posted once (its client id is the delivery's).</summary>
    private async Task PostReplyAsync(OutgoingWebhook hook, WebhookDelivery delivery, string reply, CancellationToken ct)
    {
        string? text, username = null, icon = null;
        try
        {
            using var doc = JsonDocument.Parse(reply);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String) return;
            text = t.GetString();
            if (doc.RootElement.TryGetProperty("username", out var u) && u.ValueKind == JsonValueKind.String) username = u.GetString();
            if (doc.RootElement.TryGetProperty("icon_url", out var i) && i.ValueKind == JsonValueKind.String
                && Uri.TryCreate(i.GetString(), UriKind.Absolute, out var iu) && iu.Scheme is "https" or "http") icon = iu.ToString();
        }
        catch (JsonException)
        {
            return; // any other 2xx body ("ok", HTML) is just an acknowledgement
        }
        if (string.IsNullOrWhiteSpace(text)) return;
        var me = await identities.GetAsync(hook.PostAsUserId, ct);
        var room = await rooms.GetAsync(delivery.RoomId, ct);
        if (me is null || room is null) return;
        if (text.Length > commands.Options.MaxMessageLength) text = text[..commands.Options.MaxMessageLength];
        if (room.IsPrivate) await rooms.EnsureMemberAsync(room.Id, me, ct);
        var posted = await commands.PostAsync(me, room.Id, text, clientMsgId: $"outgoing-{delivery.Id}", ct: ct,
            style: new MessageStyle(As: new PostedAs(username ?? hook.Name, icon, $"outgoing:{hook.Id}")));
        if (!posted.Ok) log.LogInformation("Outgoing webhook {Id}'s reply was not posted: {Code}", hook.Id, posted.Error!.Code);
    }
}
