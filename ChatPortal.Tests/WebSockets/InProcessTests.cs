using System.Net.WebSockets;
using ChatPortal.Chat;
using ChatPortal.Hosting;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// The real app hosted in the test process on a loopback port (real Kestrel, real sockets), for
/// what needs the core's hand: revoking sessions (what a ban or kick does), reading the
/// connection counters, stopping the server. Default rate limits.
/// </summary>
public sealed class InProcessPortal : IChatCore, IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dir;

    private InProcessPortal(WebApplication app, string dir, int port)
    {
        _app = app;
        _dir = dir;
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri BaseUri { get; }
    public IServiceProvider Services => _app.Services;

    public static async Task<InProcessPortal> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var dir = TempDir.Create("inproc");
        var port = PortalProcess.FreePort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = "ChatPortal",
            EnvironmentName = "Production",
            ContentRootPath = dir,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["Portal:DataPath"] = dir,
            ["WebSockets:CloseTimeoutSeconds"] = "2",
            ["Bots:EnabledByDefault"] = "false", // as in PortalProcess: the built-in bot's socket would count as a person online
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddChatPortal();
        var app = builder.Build();
        app.MapChatPortal();
        await app.InitializeChatPortalAsync();
        await app.StartAsync();
        return new InProcessPortal(app, dir, port);
    }

    /// <summary>The same helpers as the child-process portal, through a PortalProcess-shaped facade.</summary>
    public async Task<string> TokenAsync(string name)
    {
        using var http = new HttpClient { BaseAddress = BaseUri };
        using var r = await http.PostAsync("/api/auth/token", System.Net.Http.Json.JsonContent.Create(new { name, password = "secret-pw-1" }));
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, body);
        return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    public async Task<(WsClient Socket, UserRef User)> MemberAsync(string name, string? join = "lobby")
    {
        var ws = await WsClient.ConnectAsync(BaseUri, "chatportal.v1");
        var welcome = await ws.AuthAsync(token: await TokenAsync(name));
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        if (join is not null) await ws.JoinAsync(join);
        return (ws, new UserRef(welcome.GetLong("user.id"), name, Data.UserKind.Member));
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        try { await _app.StopAsync(); } catch (Exception) { /* already stopped */ }
        await _app.DisposeAsync();
        TempDir.Delete(_dir);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessCollection
{
    // The connection counters are process-wide: these tests run alone.
    public const string Name = "ws-in-process";
}

[Collection(InProcessCollection.Name)]
public sealed class InProcessTests
{
    [Fact]
    public async Task A_revoked_session_ban_or_kick_closes_all_of_that_users_sockets_with_1008()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var name = PortalHelpers.UniqueName("banme");
        var (one, user) = await portal.MemberAsync(name);
        var (two, _) = await portal.MemberAsync(name, join: null);
        var (bystander, _) = await portal.MemberAsync(PortalHelpers.UniqueName("fine"));
        await using (one)
        await using (two)
        await using (bystander)
        {
            portal.Sessions.Revoke(user.Id, "banned");

            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await one.WaitClosedAsync());
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await two.WaitClosedAsync());
            Assert.Equal("session_revoked", one.CloseReason);
            await bystander.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == name && f.Get("online") == "false");
            Assert.True((await bystander.RequestAsync("send", ("room", "lobby"), ("text", "still here"))).Is("ack"));
        }
    }

    [Fact]
    public async Task When_a_room_stops_allowing_guests_its_guest_sockets_leave_it()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var (member, _) = await portal.MemberAsync(PortalHelpers.UniqueName("stays"));
        await using var plain = await WsClient.ConnectAsync(portal.BaseUri);
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        await using var guest = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        await guest.AuthAsync(guest: true);
        var lobby = await guest.JoinAsync("lobby");

        // What the back office does: the core changes the room and tells every session.
        Assert.True((await portal.Rooms.UpdateAsync(lobby.GetLong("room.id"), r =>
        {
            r.AllowGuests = false;
            return null;
        })).Ok);

        var left = await guest.WaitForAsync(f => f.Is("left"));
        Assert.Equal(lobby.Get("room.id"), left.Get("room_id"));
        Assert.Equal("closed", left.Get("reason"));
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await plain.WaitClosedAsync());
        await using (member)
        {
            await member.WaitForAsync(f => f.Is("room_changed") && f.Get("room.guests") == "false");
            Assert.True((await member.RequestAsync("send", ("room", "lobby"), ("text", "members only now"))).Is("ack"));
        }
        Assert.DoesNotContain(guest.Frames, f => f.Get("message.text") == "members only now");
        Assert.Equal("not_found", (await guest.RequestAsync("send", ("room", "lobby"), ("text", "let me back"))).Get("code"));
    }

    [Fact]
    public async Task A_request_that_fails_inside_the_server_gets_server_error_and_the_socket_lives_on()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var (ws, _) = await portal.MemberAsync(PortalHelpers.UniqueName("unlucky"));
        await using (ws)
        {
            // Break image storage underneath the running server.
            var db = portal.Services.GetRequiredService<IDbContextFactory<Data.ChatDbContext>>();
            await using (var ctx = await db.CreateDbContextAsync())
                await ctx.Database.ExecuteSqlRawAsync("ALTER TABLE Images RENAME TO ImagesGone");

            await ws.SendJsonAsync(new { type = "image", id = 5, room = "lobby" });
            await ws.SendBytesAsync(PortalHelpers.TinyPng(), System.Net.WebSockets.WebSocketMessageType.Binary);
            var error = await ws.WaitForAsync(f => f.Is("error") && f.Get("code") == "server_error");
            Assert.NotNull(error.Get("message"));

            Assert.True((await ws.RequestAsync("ping")).Is("pong"));
            Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "text still works"))).Is("ack"));
        }
    }

    [Fact]
    public async Task Connection_counters_count_plain_v1_and_guest_sockets()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var metrics = portal.Services.GetRequiredService<WebSocketMetrics>();
        var before = metrics.Current;

        await using var plain = await WsClient.ConnectAsync(portal.BaseUri);
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        var (member, _) = await portal.MemberAsync(PortalHelpers.UniqueName("counted"), join: null);
        await using var guest = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        await guest.AuthAsync(guest: true);

        var now = metrics.Current;
        Assert.Equal(before.Plain + 1, now.Plain);
        Assert.Equal(before.V1 + 2, now.V1);
        Assert.Equal(before.Guests + 2, now.Guests); // the plain guest and the v1 guest
        Assert.Equal(before.Total + 3, now.Total);

        await member.DisposeAsync();
        await guest.DisposeAsync();
        await plain.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (metrics.Current != before && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(before, metrics.Current);
    }

    [Fact]
    public async Task The_rate_limit_holds_one_user_to_one_budget_across_all_their_sockets()
    {
        await using var portal = await InProcessPortal.StartAsync(); // default: burst 10, 3 per second
        var name = PortalHelpers.UniqueName("flooder");
        var sockets = new List<WsClient>();
        for (var i = 0; i < 3; i++) sockets.Add((await portal.MemberAsync(name)).Socket);
        try
        {
            var started = DateTime.UtcNow;
            var replies = await Task.WhenAll(Enumerable.Range(0, 45).Select(i =>
                sockets[i % 3].RequestAsync("send", ("room", "lobby"), ("text", $"flood {i}"))));
            var elapsed = DateTime.UtcNow - started;
            var acked = replies.Count(r => r.Is("ack"));
            var limited = replies.Count(r => r.Get("code") == "rate_limited");

            Assert.Equal(45, acked + limited);
            Assert.True(limited > 0, "nothing was rate limited");
            // The budget is per user: the burst plus what refilled meanwhile, not three bursts.
            var allowed = 10 + (int)Math.Ceiling(elapsed.TotalSeconds * 3) + 1;
            Assert.True(acked <= allowed, $"{acked} acked in {elapsed.TotalSeconds:F1}s; at most {allowed} allowed");
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }

    /// <summary>
    /// Issue 19: a restart waited for every client's answer to its 1012 (up to <c>CloseTimeoutSeconds</c> for the slowest);
    /// a client that reads nothing must not hold the stop, and still finds the 1012 when it reads.
    /// </summary>
    [Fact]
    public async Task A_client_that_does_not_answer_the_1012_does_not_hold_the_stop()
    {
        var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["WebSockets:CloseTimeoutSeconds"] = "60",
            ["WebSockets:ShutdownCloseWaitSeconds"] = "0.3",
        });
        try
        {
            using var silent = new ClientWebSocket(); // a plain guest that does not read until the server is gone
            await silent.ConnectAsync(new Uri($"ws://{portal.BaseUri.Authority}/ws"), CancellationToken.None);
            var (answering, _) = await portal.MemberAsync(PortalHelpers.UniqueName("answering"));
            await using (answering)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                await portal.StopAsync();
                // Without the shutdown wait the stop lasts until the silent client's close timeout (60 s here).
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the stop took {watch.Elapsed}");
                Assert.Equal((WebSocketCloseStatus)1012, await answering.WaitClosedAsync(TimeSpan.FromSeconds(10)));
            }
            // What the server sent is all there, the 1012 last.
            var buffer = new byte[64 * 1024];
            WebSocketReceiveResult r;
            do r = await silent.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            while (r.MessageType != WebSocketMessageType.Close);
            Assert.Equal((WebSocketCloseStatus)1012, r.CloseStatus);
            Assert.Equal("server_shutdown", r.CloseStatusDescription);
        }
        finally
        {
            await portal.DisposeAsync();
        }
    }

    [Fact]
    public async Task Stopping_the_server_closes_sockets_with_1012()
    {
        var portal = await InProcessPortal.StartAsync();
        try
        {
            var (ws, _) = await portal.MemberAsync(PortalHelpers.UniqueName("leaving"));
            await using (ws)
            {
                var stop = portal.StopAsync();
                Assert.Equal((WebSocketCloseStatus)1012, await ws.WaitClosedAsync(TimeSpan.FromSeconds(30)));
                Assert.Equal("server_shutdown", ws.CloseReason);
                await stop;
            }
        }
        finally
        {
            await portal.DisposeAsync();
        }
    }
}
