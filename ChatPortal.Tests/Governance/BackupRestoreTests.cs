using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Data.Sqlite;

namespace ChatPortal.Tests.Governance;

/// <summary>
/// <c>backup FILE</c> while the server takes writes from socket senders, <c>restore FILE</c> into
/// a new data folder, the server started on it: every message acknowledged before the backup began
/// is there with its id, and a sign-in cookie of the old server still works (the key ring came along).
/// Restore refuses to touch a folder a server is running on.
/// </summary>
public sealed class BackupRestoreTests
{
    private const int Senders = 8;

    [Fact]
    public async Task A_backup_taken_under_write_load_restores_every_message_acknowledged_before_it_began()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "1000000",
            ["Chat__RateLimitPerSecond"] = "1000000",
            ["WebSockets__SendQueueCapacity"] = "100000",
        });
        var cookies = await portal.SignInAsync("keeper", "keeper-pw-1");
        var image = await UploadImageAsync(portal, cookies);

        var acked = new ConcurrentDictionary<string, long>();
        var sockets = new List<(string Name, WsClient Ws)>();
        for (var i = 0; i < Senders; i++)
        {
            var name = $"bk{i}x{Random.Shared.Next(1000, 9999)}";
            sockets.Add((name, await portal.MemberSocketAsync(name)));
        }
        using var stop = new CancellationTokenSource();
        var loops = sockets.Select(s => Task.Run(async () =>
        {
            for (var k = 0; !stop.IsCancellationRequested; k++)
            {
                var cid = $"{s.Name}-{k}";
                var reply = await s.Ws.RequestAsync(new Dictionary<string, object?> { ["type"] = "send", ["room"] = "lobby", ["text"] = $"load {cid}", ["client_id"] = cid },
                    TimeSpan.FromSeconds(20));
                if (!reply.Is("ack")) throw new InvalidOperationException($"not acked: {reply}");
                acked[cid] = reply.GetLong("message_id");
            }
        })).ToList();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (acked.Count < 400 && DateTime.UtcNow < deadline) await Task.Delay(20);
            var before = new Dictionary<string, long>(acked); // acknowledged before the backup began
            Assert.True(before.Count >= 400, $"only {before.Count} acks");

            var file = Path.Combine(portal.DataDir, "..", $"backup-{Guid.NewGuid():N}.zip");
            var backup = await AdminCommandLine.RunAsync(portal.DataDir, null, "backup", file);
            Assert.True(backup.ExitCode == 0, backup.Output + backup.Error);
            Assert.Contains("Backup written", backup.Output);
            var during = acked.Count - before.Count;
            // Keep the load on a moment longer, then stop; writes went on during the backup (the count is logged, not asserted).
            await Task.Delay(200);
            await stop.CancelAsync();
            await Task.WhenAll(loops);
            Console.WriteLine($"{before.Count} acks before the backup, {during} while it ran, {acked.Count} in all");

            using (var zip = ZipFile.OpenRead(file))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("chatportal.db", names);
                Assert.Contains("backup.json", names);
                Assert.Contains($"images/{image}", names);
                Assert.Contains(names, n => n.StartsWith("keys/key-", StringComparison.Ordinal));
            }

            // Over the running server's folder: refused, nothing changed.
            var refused = await AdminCommandLine.RunAsync(portal.DataDir, null, "restore", file);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("server is running", refused.Error);
            Assert.Empty(Directory.GetDirectories(portal.DataDir, "pre-restore-*"));

            // Into a new folder: every acknowledged-before message is there with its id.
            var target = TempDir.Create("restored");
            try
            {
                var restore = await AdminCommandLine.RunAsync(target, null, "restore", file);
                Assert.True(restore.ExitCode == 0, restore.Output + restore.Error);
                Assert.Contains("Restored the backup", restore.Output);
                await using var restored = await PortalProcess.StartAsync(dataDir: target);
                await using (var db = new SqliteConnection($"Data Source={Path.Combine(target, "chatportal.db")};Mode=ReadOnly;Pooling=False"))
                {
                    await db.OpenAsync();
                    await using var cmd = db.CreateCommand();
                    cmd.CommandText = "SELECT ClientMsgId, Id FROM Messages WHERE ClientMsgId IS NOT NULL";
                    var stored = new Dictionary<string, long>();
                    await using (var r = await cmd.ExecuteReaderAsync())
                        while (await r.ReadAsync()) stored[r.GetString(0)] = r.GetInt64(1);
                    foreach (var (cid, id) in before)
                    {
                        Assert.True(stored.TryGetValue(cid, out var got), $"acknowledged {cid} (id {id}) is missing from the restore");
                        Assert.Equal(id, got);
                    }
                    cmd.CommandText = "PRAGMA integrity_check";
                    Assert.Equal("ok", (string?)await cmd.ExecuteScalarAsync());
                }

                // The restored server serves the image and honours the old server's cookie (the key ring came along).
                using var http = restored.CreateClient(cookies: cookies);
                using var account = await http.GetAsync("/account");
                Assert.Equal(HttpStatusCode.OK, account.StatusCode);
                Assert.Contains("keeper", await account.Content.ReadAsStringAsync());
                using var img = await http.GetAsync($"/images/{image}");
                Assert.Equal(HttpStatusCode.OK, img.StatusCode);

                // A second restore over the (stopped) folder moves what is there aside instead of deleting it.
                await restored.StopAsync();
                var again = await AdminCommandLine.RunAsync(target, null, "restore", file);
                Assert.True(again.ExitCode == 0, again.Output + again.Error);
                var aside = Assert.Single(Directory.GetDirectories(target, "pre-restore-*"));
                Assert.True(File.Exists(Path.Combine(aside, "chatportal.db")));
            }
            finally
            {
                TempDir.Delete(target);
                File.Delete(file);
            }
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var (_, ws) in sockets) await ws.DisposeAsync();
        }
    }

    /// <summary>Uploads an image through a signed-in socket (binary frame) and returns its id.</summary>
    private static async Task<string> UploadImageAsync(PortalProcess portal, CookieContainer cookies)
    {
        var ticket = await portal.TicketAsync(cookies);
        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        Assert.True((await ws.AuthAsync(ticket: ticket)).Is("welcome"));
        await ws.JoinAsync("lobby");
        await ws.SendJsonAsync(new Dictionary<string, object?> { ["type"] = "image", ["id"] = 5, ["room"] = "lobby", ["client_id"] = "img-1" });
        await ws.SendBytesAsync(PortalHelpers.TinyPng(), System.Net.WebSockets.WebSocketMessageType.Binary);
        var posted = await ws.WaitForAsync(f => f.Is("message") && f.Get("message.image.id") is not null);
        return posted.Get("message.image.id")!;
    }
}
