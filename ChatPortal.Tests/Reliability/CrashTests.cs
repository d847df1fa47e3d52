using System.Collections.Concurrent;
using System.Globalization;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Data.Sqlite;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// kill -9 in the middle of 50 socket senders: after a restart every acknowledged message is
/// stored exactly once, the database passes integrity_check, and every client catches up from
/// what it last saw with no gap and no duplicate; re-sending the unacknowledged ones (same
/// client_id) stores each exactly once.
/// </summary>
public sealed class CrashTests
{
    /// <summary>Senders; CHATPORTAL_SOAK=1 raises the load for a run by hand.</summary>
    private static readonly int Senders = Soak.Enabled ? 200 : 50;
    private static readonly int AcksBeforeKill = Soak.Enabled ? 5000 : 400;

    private sealed record Sender(string Name, string Token, WsClient Ws)
    {
        public ConcurrentDictionary<string, long> Acked { get; } = new();
        public ConcurrentBag<string> Tried { get; } = [];
    }

    [Fact]
    public async Task Kill_9_mid_run_loses_no_acknowledged_message_and_clients_catch_up_without_gap_or_duplicate()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "1000000",
            ["Chat__RateLimitPerSecond"] = "1000000",
            ["WebSockets__SendQueueCapacity"] = "100000",
        });
        var senders = new List<Sender>();
        foreach (var i in Enumerable.Range(0, Senders))
        {
            var name = $"crash{i}x{Random.Shared.Next(1000, 9999)}";
            var token = await portal.TokenAsync(name);
            var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            Assert.True((await ws.AuthAsync(token: token)).Is("welcome"));
            await ws.JoinAsync("lobby", since: 0);
            senders.Add(new Sender(name, token, ws));
        }

        var totalAcks = 0;
        using var stop = new CancellationTokenSource();
        var loops = senders.Select(s => Task.Run(async () =>
        {
            for (var k = 0; !stop.IsCancellationRequested; k++)
            {
                var cid = $"{s.Name}-{k}";
                s.Tried.Add(cid);
                WsFrame reply;
                try
                {
                    reply = await s.Ws.RequestAsync(new Dictionary<string, object?> { ["type"] = "send", ["room"] = "lobby", ["text"] = $"m {cid}", ["client_id"] = cid },
                        TimeSpan.FromSeconds(20));
                }
                catch (Exception)
                {
                    return; // the server died under us: this one is unacknowledged
                }
                if (!reply.Is("ack")) throw new InvalidOperationException($"not acked: {reply}");
                s.Acked[cid] = reply.GetLong("message_id");
                if (Interlocked.Increment(ref totalAcks) >= AcksBeforeKill && !stop.IsCancellationRequested) await stop.CancelAsync();
            }
        })).ToList();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref totalAcks) < AcksBeforeKill && DateTime.UtcNow < deadline) await Task.Delay(20);
        await portal.KillAsync(); // senders are still sending: some requests are in flight
        await stop.CancelAsync();
        await Task.WhenAll(loops);
        foreach (var s in senders) await s.Ws.Closed.WaitAsync(TimeSpan.FromSeconds(20));
        var acked = senders.SelectMany(s => s.Acked).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.True(acked.Count >= AcksBeforeKill, $"only {acked.Count} acks before the kill");

        await portal.StartAgainAsync();

        // The file is sound, and every acknowledged message is there exactly once, with the acked id.
        var dbPath = Path.Combine(portal.DataDir, "chatportal.db");
        Dictionary<string, List<long>> stored;
        var lobbyIds = new List<long>();
        await using (var db = new SqliteConnection($"Data Source={dbPath};Pooling=False;Mode=ReadOnly"))
        {
            await db.OpenAsync();
            await using (var check = db.CreateCommand())
            {
                check.CommandText = "PRAGMA integrity_check";
                Assert.Equal("ok", (string?)await check.ExecuteScalarAsync());
            }
            stored = await ClientIdsAsync(db);
            await using var all = db.CreateCommand();
            all.CommandText = "SELECT Id FROM Messages WHERE RoomId = (SELECT Id FROM Rooms WHERE Slug = 'lobby') ORDER BY Id";
            await using var rows = await all.ExecuteReaderAsync();
            while (await rows.ReadAsync()) lobbyIds.Add(rows.GetInt64(0));
        }
        foreach (var (cid, id) in acked)
        {
            Assert.True(stored.TryGetValue(cid, out var ids), $"acknowledged {cid} (id {id}) is missing after the crash");
            Assert.Equal([id], ids);
        }
        Assert.All(stored, kv => Assert.Single(kv.Value));

        // Each client reconnects with its token and catches up from the last message it saw.
        foreach (var s in senders)
        {
            var seen = s.Ws.Where(f => f.Is("message")).Select(f => f.GetLong("message.id")).ToList();
            Assert.Equal(seen.Distinct().Count(), seen.Count);
            var since = seen.Count == 0 ? 0 : seen.Max();
            await using var again = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            Assert.True((await again.AuthAsync(token: s.Token)).Is("welcome"));
            await again.JoinAsync("lobby", since);
            var caughtUp = again.Where(f => f.Is("message")).Select(f => f.GetLong("message.id")).ToList();
            Assert.True(caughtUp.SequenceEqual(caughtUp.Order()), "catch-up out of order");
            Assert.Empty(caughtUp.Intersect(seen));
            var union = seen.Concat(caughtUp).Order().ToList();
            Assert.True(lobbyIds.SequenceEqual(union), $"{s.Name}: saw {seen.Count} live + {caughtUp.Count} caught up, the lobby has {lobbyIds.Count}");
        }

        // Re-sending what was never acknowledged (same client_id) stores each once; acked ones are not stored again.
        var sender0 = senders[0];
        await using (var retry = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1"))
        {
            Assert.True((await retry.AuthAsync(token: sender0.Token)).Is("welcome"));
            foreach (var cid in sender0.Tried)
            {
                var r = await retry.RequestAsync(new Dictionary<string, object?> { ["type"] = "send", ["room"] = "lobby", ["text"] = $"m {cid}", ["client_id"] = cid });
                Assert.True(r.Is("ack"), r.ToString());
                if (sender0.Acked.TryGetValue(cid, out var first)) Assert.Equal(first, r.GetLong("message_id"));
            }
        }
        await using (var db = new SqliteConnection($"Data Source={dbPath};Pooling=False;Mode=ReadOnly"))
        {
            await db.OpenAsync();
            var after = await ClientIdsAsync(db);
            foreach (var cid in sender0.Tried) Assert.Single(after[cid]);
        }
        Assert.Empty(portal.ErrorLines());
    }

    private static async Task<Dictionary<string, List<long>>> ClientIdsAsync(SqliteConnection db)
    {
        await using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT ClientMsgId, Id FROM Messages WHERE ClientMsgId IS NOT NULL";
        var result = new Dictionary<string, List<long>>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            var cid = r.GetString(0);
            if (!result.TryGetValue(cid, out var list)) result[cid] = list = [];
            list.Add(r.GetInt64(1));
        }
        return result;
    }
}

/// <summary>The longer, by-hand mode: <c>bench/soak.sh suite</c> (sets CHATPORTAL_SOAK=1).</summary>
public static class Soak
{
    public static bool Enabled => Environment.GetEnvironmentVariable("CHATPORTAL_SOAK") == "1";
    public static int Int(string name, int normal, int soak) =>
        Enabled && int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : Enabled ? soak : normal;
}
