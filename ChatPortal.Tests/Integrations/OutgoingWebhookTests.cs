using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatPortal.Chat.Integrations;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Integrations;

/// <summary>Outgoing webhooks on the real portal with real receivers on loopback (issue 16): signed, retried from a database outbox.</summary>
[Collection(IntegrationPortalCollection.Name)]
public sealed class OutgoingWebhookTests(IntegrationPortalFixture fx)
{
    /// <summary>What a receiver does (docs/webhooks.md), written here on its own: recompute the HMAC, refuse old timestamps.</summary>
    private static bool Verify(ReceivedRequest r, string secret)
    {
        if (!r.Headers.TryGetValue("X-ChatPortal-Timestamp", out var ts) || !r.Headers.TryGetValue("X-ChatPortal-Signature", out var sig)) return false;
        if (!long.TryParse(ts, out var seconds) || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300) return false;
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        var expected = "v0=" + Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes($"v0:{ts}:{r.Body}")));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(sig));
    }

    private static async Task<long> PostAsync(WsClient ws, string room, string text)
    {
        var ack = await ws.RequestAsync("send", ("room", room), ("text", text), ("client_id", Guid.NewGuid().ToString("N")));
        Assert.True(ack.Is("ack"), ack.ToString());
        return ack.GetLong("message_id");
    }

    private static async Task<WebhookDelivery> WaitForDeliveryAsync(PortalProcess portal, long hookId, long messageId, Func<WebhookDelivery, bool> done)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (true)
        {
            await using (var db = portal.OpenDb())
            {
                var d = await db.Set<WebhookDelivery>().AsNoTracking().FirstOrDefaultAsync(x => x.HookId == hookId && x.MessageId == messageId);
                if (d is not null && done(d)) return d;
            }
            if (DateTime.UtcNow > until) throw new TimeoutException($"Delivery of message {messageId} by hook {hookId} never reached the expected state.");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_trigger_word_delivers_a_signed_slack_format_post_the_receiver_verifies_and_its_reply_is_posted_back()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("outsig").ToLowerInvariant(), allowGuests: false);
        await using var receiver = new LoopbackReceiver((_, _) => (200, """{"text":"Deploying main now","username":"Deployer"}""", TimeSpan.Zero));
        var hook = await fx.Portal.AddOutgoingAsync(receiver.Url, room.Id, "deploy\nship", secret: "the-shared-secret");
        var annName = PortalHelpers.UniqueName("ann");
        await using var ann = await fx.Portal.MemberSocketAsync(annName, room.Slug);

        await PostAsync(ann, room.Slug, "hello, no trigger here");
        await PostAsync(ann, room.Slug, "we will deploy later"); // not the first word
        var id = await PostAsync(ann, room.Slug, "Deploy main please");
        var reply = await ann.WaitForAsync(f => f.Is("message") && f.Get("message.posted_as.via") == $"outgoing:{hook.Id}");
        Assert.Equal("Deploying main now", reply.Get("message.text"));
        Assert.Equal("Deployer", reply.Get("message.posted_as.name"));

        var request = Assert.Single(receiver.Requests); // only the triggering message, once; the reply triggers nothing
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/json", request.ContentType);
        Assert.True(Verify(request, "the-shared-secret"), "the signature must verify with the documented algorithm");
        Assert.False(Verify(request, "another-secret"));
        Assert.False(Verify(request with { Body = request.Body.Replace("main", "prod") }, "the-shared-secret"));
        using var json = JsonDocument.Parse(request.Body);
        var p = json.RootElement;
        Assert.Equal(hook.Token, p.GetProperty("token").GetString());
        Assert.Equal(room.Slug, p.GetProperty("channel_name").GetString());
        Assert.Equal(room.Id.ToString(), p.GetProperty("channel_id").GetString());
        Assert.Equal(annName, p.GetProperty("user_name").GetString());
        Assert.Equal("Deploy main please", p.GetProperty("text").GetString());
        Assert.Equal("deploy", p.GetProperty("trigger_word").GetString());
        Assert.Equal(id.ToString(), p.GetProperty("post_id").GetString());
        Assert.True(p.GetProperty("timestamp").GetDouble() > 1_700_000_000);

        var delivery = await WaitForDeliveryAsync(fx.Portal, hook.Id, id, d => d.State == DeliveryState.Delivered);
        Assert.Equal(1, delivery.Attempts);
    }

    [Fact]
    public async Task A_receiver_that_fails_three_times_then_succeeds_gets_the_message_exactly_once_and_the_log_has_each_attempt()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("outretry").ToLowerInvariant(), allowGuests: false);
        await using var receiver = new LoopbackReceiver((n, _) => n <= 3 ? (503, "down", TimeSpan.Zero) : (200, "ok", TimeSpan.Zero));
        var hook = await fx.Portal.AddOutgoingAsync(receiver.Url, room.Id); // no trigger words: every message
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug);
        var id = await PostAsync(ann, room.Slug, "retry me");

        var delivery = await WaitForDeliveryAsync(fx.Portal, hook.Id, id, d => d.State == DeliveryState.Delivered);
        Assert.Equal(4, delivery.Attempts);
        Assert.Equal(1, receiver.Requests.Count(r => r.AnsweredStatus == 200));
        Assert.Equal(4, receiver.Requests.Count);
        Assert.All(receiver.Requests, r => Assert.Equal(receiver.Requests[0].Body, r.Body)); // the same message each time
        Assert.All(receiver.Requests, r => Assert.True(Verify(r, hook.Secret)));

        await using var db = fx.Portal.OpenDb();
        var attempts = await db.Set<WebhookAttempt>().Where(a => a.DeliveryId == delivery.Id).OrderBy(a => a.Attempt).ToListAsync();
        Assert.Equal([1, 2, 3, 4], attempts.Select(a => a.Attempt));
        Assert.Equal([503, 503, 503, 200], attempts.Select(a => a.Status ?? 0));
        Assert.Equal([false, false, false, true], attempts.Select(a => a.Ok));
        Assert.Equal(0, (await db.Set<OutgoingWebhook>().SingleAsync(h => h.Id == hook.Id)).ConsecutiveFailures); // a success resets the count
        Assert.True(attempts.Zip(attempts.Skip(1)).All(x => x.Second.At > x.First.At));
    }

    [Fact]
    public async Task After_N_failures_in_a_row_the_webhook_switches_itself_off_with_an_audit_entry()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("outoff").ToLowerInvariant(), allowGuests: false);
        await using var receiver = new LoopbackReceiver((_, _) => (500, "broken", TimeSpan.Zero));
        var hook = await fx.Portal.AddOutgoingAsync(receiver.Url, room.Id);
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug);
        var id = await PostAsync(ann, room.Slug, "nobody will take this");

        var delivery = await WaitForDeliveryAsync(fx.Portal, hook.Id, id, d => d.State == DeliveryState.Failed);
        Assert.Equal(IntegrationPortalFixture.DisableAfter, delivery.Attempts);
        await using var db = fx.Portal.OpenDb();
        var row = await db.Set<OutgoingWebhook>().SingleAsync(h => h.Id == hook.Id);
        Assert.False(row.Enabled);
        Assert.Contains($"{IntegrationPortalFixture.DisableAfter} failed deliveries", row.DisabledReason);
        var audit = await db.AuditLog.SingleAsync(a => a.Action == "outgoing.auto_disable" && a.Target!.Contains(hook.Name));
        Assert.Contains("HTTP 500", audit.Detail);
        Assert.Equal(IntegrationPortalFixture.DisableAfter, receiver.Requests.Count);

        // Switched off: a new message makes no delivery at all.
        var later = await PostAsync(ann, room.Slug, "after the switch-off");
        await PostAsync(ann, room.Slug, "and one more");
        await using var check = fx.Portal.OpenDb();
        Assert.False(await check.Set<WebhookDelivery>().AnyAsync(d => d.MessageId == later));
    }
}

/// <summary>The outbox survives a restart: a portal stopped mid-retry and started again on the same data folder completes the delivery.</summary>
public sealed class OutgoingWebhookRestartTests
{
    [Fact]
    public async Task A_restart_of_the_portal_mid_retry_loses_nothing_and_the_delivery_completes_once()
    {
        // The receiver is down (502) while the first process runs. Delivery is at least once (docs/webhooks.md): an attempt
        // the first process had on the wire when it stopped may still be read by a receiver after the stop, so the receiver
        // that takes deliveries is a new one on the same port, started only after the first process has exited and the
        // failing receiver is closed; it must get the delivery exactly once, from the second process.
        await using var failing = new LoopbackReceiver((_, _) => (502, "bad gateway", TimeSpan.Zero));
        var port = failing.Port;
        var settings = IntegrationPortalFixture.Settings();
        settings["Integrations__RetryBaseDelay"] = "00:00:01";
        settings["Integrations__RetryMaxDelay"] = "00:00:02";
        settings["Integrations__DisableAfterFailures"] = "1000";
        // A generous time limit per attempt: the failing receiver answers at once, and the new process's first attempt on a
        // busy machine must not run out of time after the receiver has answered (that attempt would then count as failed and
        // be sent again — at least once, as documented — which is not what this test is about).
        settings["Integrations__OutgoingTimeout"] = "00:00:10";
        await using var portal = await PortalProcess.StartAsync(settings);
        var room = await portal.CreateRoomAsync(PortalHelpers.UniqueName("outrestart").ToLowerInvariant(), allowGuests: false);
        var hook = await portal.AddOutgoingAsync(failing.Url, room.Id);
        long id;
        await using (var ann = await portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug))
        {
            var ack = await ann.RequestAsync("send", ("room", room.Slug), ("text", "survive the restart"), ("client_id", "restart-1"));
            id = ack.GetLong("message_id");
        }
        // Wait until a failed attempt is on record: the row then waits in the outbox for its retry.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            await using var db = portal.OpenDb();
            if (await db.Set<WebhookAttempt>().AnyAsync(a => a.HookId == hook.Id && !a.Ok)) break;
            Assert.True(DateTime.UtcNow < until, "no failed attempt was recorded");
            await Task.Delay(100);
        }
        await portal.StopAsync();
        await failing.DisposeAsync();
        Assert.NotEmpty(failing.Requests);
        Assert.All(failing.Requests, r => Assert.Equal(502, r.AnsweredStatus));
        await using (var db = portal.OpenDb())
        {
            var waiting = await db.Set<WebhookDelivery>().SingleAsync(d => d.HookId == hook.Id && d.MessageId == id);
            Assert.Equal(DeliveryState.Pending, waiting.State);
            Assert.True(waiting.Attempts >= 1);
        }

        await using var receiver = new LoopbackReceiver((_, _) => (200, "ok", TimeSpan.Zero), port);
        await portal.StartAgainAsync();
        await receiver.WaitForAsync(r => r.Any(x => x.AnsweredStatus == 200));
        until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        WebhookDelivery done;
        while (true)
        {
            await using var db = portal.OpenDb();
            done = await db.Set<WebhookDelivery>().AsNoTracking().SingleAsync(d => d.HookId == hook.Id && d.MessageId == id);
            if (done.State == DeliveryState.Delivered || DateTime.UtcNow > until) break;
            await Task.Delay(100);
        }
        Assert.Equal(DeliveryState.Delivered, done.State);
        // Delivered: the worker sends nothing more for it (a second send would come within the retry delays above).
        await Task.Delay(TimeSpan.FromSeconds(3));
        if (receiver.Requests.Count != 1)
        {
            await using var db = portal.OpenDb();
            var attempts = await db.Set<WebhookAttempt>().AsNoTracking().Where(a => a.HookId == hook.Id).OrderBy(a => a.Id).ToListAsync();
            Assert.Fail($"{receiver.Requests.Count} requests reached the new receiver; attempts on record: "
                + string.Join("; ", attempts.Select(a => $"#{a.Attempt} {a.At:HH:mm:ss.fff} {a.Status} {a.Error}")));
        }
        var got = Assert.Single(receiver.Requests);
        Assert.Equal(200, got.AnsweredStatus);
        Assert.Contains("survive the restart", got.Body);
    }
}

/// <summary>
/// The transactional outbox: a post and its delivery rows commit (or roll back) in one transaction of the single writer, so
/// no in-memory queue stands between them — a crash right after the acks, or a flood, loses no delivery.
/// </summary>
public sealed class OutgoingOutboxTests
{
    private const int Posts = 40;

    [Fact]
    public async Task Every_acked_post_already_has_its_outbox_row_so_a_crash_before_sending_loses_none_and_each_is_delivered_once()
    {
        await using var receiver = new LoopbackReceiver((_, _) => (200, "ok", TimeSpan.Zero));
        var settings = IntegrationPortalFixture.Settings();
        settings["Integrations__SendDeliveries"] = "false"; // the worker is off: only the outbox is written
        await using var portal = await PortalProcess.StartAsync(settings);
        var room = await portal.CreateRoomAsync(PortalHelpers.UniqueName("outbox").ToLowerInvariant(), allowGuests: false);
        var hook = await portal.AddOutgoingAsync(receiver.Url, room.Id);
        var ids = new List<long>();
        await using (var ann = await portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug))
        {
            for (var i = 0; i < Posts; i++)
            {
                var ack = await ann.RequestAsync("send", ("room", room.Slug), ("text", $"outbox {i}"), ("client_id", $"ob-{i}"));
                Assert.True(ack.Is("ack"), ack.ToString());
                var id = ack.GetLong("message_id");
                ids.Add(id);
                // The ack means "stored": its delivery row is stored with it, not written later from a queue.
                await using var db = portal.OpenDb();
                Assert.True(await db.Set<WebhookDelivery>().AnyAsync(d => d.HookId == hook.Id && d.MessageId == id),
                    $"post {id} was acked without its outbox row");
            }
        }
        await portal.KillAsync(); // kill -9: whatever was only in memory is gone
        Assert.Empty(receiver.Requests);

        settings["Integrations__SendDeliveries"] = "true"; // the same environment dictionary: the next start sends
        await portal.StartAgainAsync();
        await receiver.WaitForAsync(r => r.Count(x => x.AnsweredStatus == 200) >= Posts);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<WebhookDelivery> rows;
        while (true)
        {
            await using var db = portal.OpenDb();
            rows = await db.Set<WebhookDelivery>().AsNoTracking().Where(d => d.HookId == hook.Id).ToListAsync();
            if (rows.All(r => r.State == DeliveryState.Delivered) || DateTime.UtcNow > until) break;
            await Task.Delay(100);
        }
        Assert.Equal(ids.Order(), rows.Select(r => r.MessageId).Order());
        Assert.All(rows, r => Assert.Equal(DeliveryState.Delivered, r.State));
        // Exactly once each: as many requests as posts, one per post id.
        Assert.Equal(Posts, receiver.Requests.Count);
        var postIds = receiver.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("post_id").GetString()).ToList();
        Assert.Equal(ids.Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(), postIds.Order());
    }

    [Fact]
    public async Task A_post_whose_outbox_row_cannot_be_written_is_not_stored_either()
    {
        await using var receiver = new LoopbackReceiver((_, _) => (200, "ok", TimeSpan.Zero));
        var settings = IntegrationPortalFixture.Settings();
        settings["Integrations__SendDeliveries"] = "false";
        await using var portal = await PortalProcess.StartAsync(settings);
        var room = await portal.CreateRoomAsync(PortalHelpers.UniqueName("outboxtx").ToLowerInvariant(), allowGuests: false);
        var hook = await portal.AddOutgoingAsync(receiver.Url, room.Id);
        // The database refuses delivery rows for one text (a stand-in for a failing outbox write).
        await using (var db = portal.OpenDb())
            await db.Database.ExecuteSqlRawAsync("""
                CREATE TRIGGER refuse_outbox BEFORE INSERT ON WebhookDelivery
                WHEN NEW.Body LIKE '%refuse me%' BEGIN SELECT RAISE(ABORT, 'outbox refused'); END;
                """);
        await using var ann = await portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug);

        var refused = await ann.RequestAsync("send", ("room", room.Slug), ("text", "please refuse me"), ("client_id", "tx-1"));
        Assert.True(refused.Is("error"), refused.ToString());
        Assert.Equal("storage_failed", refused.Get("code"));
        var fine = await ann.RequestAsync("send", ("room", room.Slug), ("text", "this one is fine"), ("client_id", "tx-2"));
        Assert.True(fine.Is("ack"), fine.ToString());

        await using var check = portal.OpenDb();
        // Rolled back together: neither the post nor a delivery; committed together: both.
        Assert.False(await check.Messages.AnyAsync(m => m.Text == "please refuse me"));
        var rows = await check.Set<WebhookDelivery>().Where(d => d.HookId == hook.Id).ToListAsync();
        Assert.Equal([fine.GetLong("message_id")], rows.Select(r => r.MessageId));
        Assert.DoesNotContain(ann.Frames, f => f.Is("message") && f.Get("message.text") == "please refuse me");
    }
}

/// <summary>The transactional outbox on PostgreSQL (the EF Core path of the single writer, in an explicit transaction).</summary>
public sealed class OutgoingOutboxPostgresTests
{
    [Fact]
    public async Task On_postgres_a_post_and_its_outbox_row_commit_together_and_a_refused_row_rolls_the_post_back()
    {
        await using var pg = await Cluster.PostgresServer.StartAsync();
        var connection = await pg.CreateDatabaseAsync("outbox");
        var settings = IntegrationPortalFixture.Settings();
        settings["Portal__DatabaseProvider"] = "Postgres";
        settings["Portal__ConnectionString"] = connection;
        settings["Integrations__SendDeliveries"] = "false";
        await using var portal = await PortalProcess.StartAsync(settings);
        var options = new DbContextOptionsBuilder<ChatPortal.Cluster.PostgresChatDbContext>().UseNpgsql(connection).Options;
        long hookId;
        await using (var db = new ChatPortal.Cluster.PostgresChatDbContext(options))
        {
            var user = IntegrationRows.BotUser(db, "outgoing");
            await db.SaveChangesAsync();
            var hook = new OutgoingWebhook
            {
                Name = "pg",
                RoomIds = "",
                TriggerWords = "",
                Url = "http://127.0.0.1:9/",
                Secret = "s",
                Token = "t",
                PostAsUserId = user.Id,
                CreatedAt = DateTimeOffset.UtcNow,
                CreatedBy = "test",
            };
            db.Add(hook);
            await db.SaveChangesAsync();
            hookId = hook.Id;
            await db.Database.ExecuteSqlRawAsync("""
                CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$
                BEGIN IF NEW."Body" LIKE '%refuse me%' THEN RAISE EXCEPTION 'outbox refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                CREATE TRIGGER refuse_outbox BEFORE INSERT ON "WebhookDelivery" FOR EACH ROW EXECUTE FUNCTION refuse_outbox();
                """);
        }
        await using var ann = await portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"));

        var refused = await ann.RequestAsync("send", ("room", "lobby"), ("text", "please refuse me"), ("client_id", "pg-tx-1"));
        Assert.Equal("storage_failed", refused.Get("code"));
        var fine = await ann.RequestAsync("send", ("room", "lobby"), ("text", "this one is fine"), ("client_id", "pg-tx-2"));
        Assert.True(fine.Is("ack"), fine.ToString());

        await using var check = new ChatPortal.Cluster.PostgresChatDbContext(options);
        Assert.False(await check.Messages.AnyAsync(m => m.Text == "please refuse me"));
        var rows = await check.Set<WebhookDelivery>().Where(d => d.HookId == hookId).ToListAsync();
        Assert.Equal([fine.GetLong("message_id")], rows.Select(r => r.MessageId));
    }
}
