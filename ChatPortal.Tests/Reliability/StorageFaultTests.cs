using System.Diagnostics;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Data.Sqlite;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// The database refuses a write (locked by another process past the busy timeout; the disk is
/// full): the sender gets storage_failed and no ack, nobody receives the message, nothing is
/// stored; when the fault clears the same client_id goes through once.
/// </summary>
public sealed class StorageFaultTests
{
    private static Dictionary<string, string> Settings(string? connectionString = null)
    {
        var env = new Dictionary<string, string>
        {
            ["Portal__SqliteBusyTimeoutSeconds"] = "0.5",
            ["Portal__SqliteCommandTimeoutSeconds"] = "1",
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
        };
        if (connectionString is not null) env["Portal__ConnectionString"] = connectionString;
        return env;
    }

    private static Dictionary<string, object?> Send(string cid, string text) =>
        new() { ["type"] = "send", ["room"] = "lobby", ["text"] = text, ["client_id"] = cid };

    private static async Task<int> CountAsync(string dbPath, string cid)
    {
        await using var db = new SqliteConnection($"Data Source={dbPath};Pooling=False");
        await db.OpenAsync();
        await using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM Messages WHERE ClientMsgId = $c";
        cmd.Parameters.AddWithValue("$c", cid);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_database_locked_past_the_busy_timeout_fails_the_send_visibly_and_recovers()
    {
        await using var portal = await PortalProcess.StartAsync(Settings());
        var dbPath = Path.Combine(portal.DataDir, "chatportal.db");
        await using var sender = await portal.MemberSocketAsync(PortalHelpers.UniqueName("lk"));
        await using var watcher = await portal.MemberSocketAsync(PortalHelpers.UniqueName("lw"));

        await using (var locker = new SqliteConnection($"Data Source={dbPath};Pooling=False"))
        {
            await locker.OpenAsync();
            await using (var begin = locker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE"; // the write lock, held past the server's busy timeout
                await begin.ExecuteNonQueryAsync();
            }
            var reply = await sender.RequestAsync(Send("locked-1", "while locked"));
            Assert.True(reply.Is("error"), reply.ToString());
            Assert.Equal("storage_failed", reply.Get("code"));
            Assert.Empty(sender.Where(f => f.Is("ack")));
            await using var rollback = locker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }
        Assert.Empty(watcher.Where(f => f.Is("message") && f.Get("message.text") == "while locked"));
        Assert.Equal(0, await CountAsync(dbPath, "locked-1"));

        // The lock is gone: the same message (same client_id) is stored once and delivered.
        var ok = await sender.RequestAsync(Send("locked-1", "while locked"));
        Assert.True(ok.Is("ack"), ok.ToString());
        await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "while locked");
        Assert.Equal(1, await CountAsync(dbPath, "locked-1"));
        Assert.DoesNotContain(portal.ErrorLines(), l => !l.Contains("ChatPortal.Chat.MessageWriter", StringComparison.Ordinal) && !l.Contains("Microsoft.EntityFrameworkCore", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_full_disk_fails_the_send_visibly_and_the_server_recovers_when_space_returns()
    {
        var mount = Path.Combine(Path.GetTempPath(), "chatportal-full-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mount);
        var mounted = Run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount);
        Assert.True(mounted.Code == 0,
            $"This test puts the database on a small tmpfs and needs to mount one (root or CAP_SYS_ADMIN): mount said {mounted.Output}");
        try
        {
            var dbPath = Path.Combine(mount, "chatportal.db");
            await using var portal = await PortalProcess.StartAsync(Settings($"Data Source={dbPath};Pooling=True"));
            await using var sender = await portal.MemberSocketAsync(PortalHelpers.UniqueName("df"));
            await using var watcher = await portal.MemberSocketAsync(PortalHelpers.UniqueName("dw"));
            Assert.True((await sender.RequestAsync(Send("before", "before the disk filled"))).Is("ack"));

            // Fill the disk to the last byte.
            var filler = Path.Combine(mount, "filler");
            try
            {
                // Unbuffered, so every write reaches the disk and fails there when it is full.
                using var f = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
                var chunk = new byte[64 * 1024];
                try { while (true) f.Write(chunk); }
                catch (IOException) { }
                while (true) f.Write(chunk, 0, 512);
            }
            catch (IOException) { /* full */ }

            var text = new string('x', 3900);
            string? failedCid = null;
            var acked = new List<string>();
            for (var i = 0; i < 300 && failedCid is null; i++)
            {
                var cid = $"full-{i}";
                var r = await sender.RequestAsync(Send(cid, $"{i} {text}"));
                if (r.Is("ack")) acked.Add(cid);
                else
                {
                    Assert.Equal("storage_failed", r.Get("code"));
                    failedCid = cid;
                }
            }
            Assert.True(failedCid is not null, "the full disk never failed a write");
            Assert.Empty(sender.Where(f => f.Is("ack") && f.Get("client_id") == failedCid));
            await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.client_id") == (acked.LastOrDefault() ?? "before"));
            Assert.Empty(watcher.Where(f => f.Is("message") && f.Get("message.client_id") == failedCid));

            // Space comes back: the failed message goes through once, and new ones too.
            File.Delete(filler);
            var retried = await sender.RequestAsync(Send(failedCid, "after space returned"));
            Assert.True(retried.Is("ack"), retried.ToString());
            Assert.True((await sender.RequestAsync(Send("after", "and another"))).Is("ack"));
            await watcher.WaitForAsync(f => f.Is("message") && f.Get("message.client_id") == "after");
            await portal.StopAsync();

            Assert.Equal(1, await CountAsync(dbPath, failedCid));
            foreach (var cid in acked) Assert.Equal(1, await CountAsync(dbPath, cid));
            await using var db = new SqliteConnection($"Data Source={dbPath};Pooling=False");
            await db.OpenAsync();
            await using var check = db.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", (string?)await check.ExecuteScalarAsync());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Run("umount", "-l", mount);
            try { Directory.Delete(mount, recursive: true); } catch (IOException) { }
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
