using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ChatPortal.Hosting;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: after a restart every client of a reconnect storm tries again while the new process starts (~1.5 s: the EF
/// model, the endpoints, the database check). The portal now takes its port first (<see cref="EarlyListen"/>), so those
/// connections wait in the listen queue and are served once it is ready, instead of being refused and backing off.
/// </summary>
public sealed class EarlyListenTests
{
    [Fact]
    public async Task A_connection_made_while_the_portal_starts_waits_and_is_served_once_it_is_ready()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Portal__ListenBacklog"] = "77" });
        await portal.StopAsync();

        // The next start cannot get past its database check while this connection holds the file: the portal is up,
        // but not ready, for as long as the test wants.
        var held = Hold(portal.DataDir);
        var starting = portal.StartAgainAsync();
        using var early = await ConnectWhileStartingAsync(portal.Port, starting);
        Assert.NotNull(early); // the build before refused every connection until its start-up was over
        Assert.Equal(77, await ListenBacklogTests.ListenBacklogAsync(portal.Port)); // the early socket is queued as configured
        await early.GetStream().WriteAsync("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8.ToArray());

        held.Dispose(); // let the start-up finish
        var reply = await ReadAllAsync(early);
        Assert.StartsWith("HTTP/1.1 200", reply);
        await starting;
        Assert.DoesNotContain("Overriding address", portal.ReadLog());

        // The switch: with Portal:ListenEarly=false the port opens only when the start-up is over (as before).
        await portal.StopAsync();
        portal.Environment["Portal__ListenEarly"] = "false";
        held = Hold(portal.DataDir);
        starting = portal.StartAgainAsync();
        using (var refused = await ConnectWhileStartingAsync(portal.Port, starting, TimeSpan.FromSeconds(2)))
            Assert.Null(refused);
        held.Dispose();
        await starting;
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", "127.0.0.1:5080")]
    [InlineData("http://localhost:5000", "127.0.0.1:5000 [::1]:5000?")]
    [InlineData("http://*:8080", "[::]:8080")]
    [InlineData("http://+:8080;http://0.0.0.0:9090", "[::]:8080 0.0.0.0:9090")]
    [InlineData("http://[::1]:7000/", "[::1]:7000")]
    public void Plain_http_addresses_are_taken_early(string urls, string expected)
    {
        var endpoints = EarlyListen.Endpoints(urls);
        Assert.NotNull(endpoints);
        Assert.Equal(expected, string.Join(' ', endpoints.Select(e => e.Endpoint + (e.Optional ? "?" : ""))));
    }

    [Theory]
    [InlineData("https://127.0.0.1:5001")]
    [InlineData("http://127.0.0.1:5080;https://127.0.0.1:5001")]
    [InlineData("http://chat.example.com:80")]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("http://127.0.0.1:5080/chat")]
    [InlineData("http://unix:/run/chatportal.sock")]
    [InlineData("")]
    public void Anything_else_is_left_to_Kestrel(string urls) => Assert.Null(EarlyListen.Endpoints(urls));

    /// <summary>An exclusive lock on the portal's database: its start-up waits at its first query until this is disposed.</summary>
    private static SqliteConnection Hold(string dataDir)
    {
        var db = new SqliteConnection($"Data Source={Path.Combine(dataDir, "chatportal.db")};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM sqlite_master;";
        cmd.ExecuteScalar();
        return db;
    }

    /// <summary>Tries to connect until it works, the start-up ends or <paramref name="within"/> passes (then null).</summary>
    private static async Task<TcpClient?> ConnectWhileStartingAsync(int port, Task starting, TimeSpan? within = null)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < (within ?? TimeSpan.FromSeconds(30)))
        {
            Assert.False(starting.IsCompleted, "the portal finished starting while its database was held");
            var tcp = new TcpClient();
            try
            {
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                return tcp;
            }
            catch (SocketException)
            {
                tcp.Dispose();
                await Task.Delay(50);
            }
        }
        return null;
    }

    private static async Task<string> ReadAllAsync(TcpClient tcp)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new MemoryStream();
        await tcp.GetStream().CopyToAsync(buffer, cts.Token);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
