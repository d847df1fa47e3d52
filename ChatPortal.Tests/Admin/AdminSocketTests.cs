using System.Net.WebSockets;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Data;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Admin;

/// <summary>Moderation from the back office reaches socket clients too: mute stops sending, ban closes the socket and its token.</summary>
public sealed class AdminSocketTests
{
    [Fact]
    public async Task Mute_refuses_socket_sends_and_ban_closes_the_socket_and_ends_its_token()
    {
        await using var portal = await InProcessPortal.StartAsync();
        var accounts = portal.Services.GetRequiredService<AdminAccounts>();
        Assert.True((await accounts.CreateAsync("warden", "warden-password-1", new AdminActor(0, "(test)", null))).Ok);
        var factory = portal.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>();
        await using (var db = await factory.CreateDbContextAsync())
        {
            var admin = await db.Admins.SingleAsync(a => a.Name == "warden");
            var caller = new AdminCaller(PortalClaims.ForAdmin(admin), "127.0.0.1");
            var users = portal.Services.GetRequiredService<AdminChatUsers>();

            var token = await portal.TokenAsync("loud");
            await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            var welcome = await ws.AuthAsync(token: token);
            var userId = welcome.GetLong("user.id");
            await ws.JoinAsync("lobby");
            Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "before"), ("client_id", "m-1"))).Is("ack"));

            Assert.True((await users.MuteAsync(caller, userId, TimeSpan.FromMinutes(10))).Ok);
            var refused = await ws.RequestAsync("send", ("room", "lobby"), ("text", "while muted"), ("client_id", "m-2"));
            Assert.Equal("muted", refused.Get("code"));

            Assert.True((await users.BanAsync(caller, userId, "spam")).Ok);
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync(TimeSpan.FromSeconds(10)));

            // The token the banned user had no longer opens a session.
            await using var again = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            var denied = await again.AuthAsync(token: token);
            Assert.False(denied.Is("welcome"), denied.ToString());
            Assert.Equal(1, await db.Messages.CountAsync(m => m.SenderId == userId));
        }
    }
}
