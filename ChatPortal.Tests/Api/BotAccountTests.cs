using System.Net;
using System.Net.WebSockets;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Api;

/// <summary>Bot accounts made by an admin: a token that works on the REST API and chatportal.v1, <c>bot: true</c>, disable and delete.</summary>
[Collection(ApiPortalCollection.Name)]
public sealed class BotAccountTests(ApiPortalFixture fx)
{
    [Fact]
    public async Task An_admin_makes_a_bot_whose_token_posts_over_rest_and_connects_to_v1_as_a_bot()
    {
        using var admin = fx.Portal.Bearer(await fx.Portal.AdminTokenAsync(PortalHelpers.UniqueName("botadmin")));
        var name = "ci" + Guid.NewGuid().ToString("N")[..6];
        var created = await admin.SendAsync(HttpMethod.Post, "/api/v1/admin/bot-accounts", new { name });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var token = created.Body.GetProperty("token").GetString()!;
        var botId = created.Body.GetProperty("bot_id").GetInt64();
        await using (var db = fx.Portal.OpenDb())
        {
            var row = await db.Users.AsNoTracking().SingleAsync(u => u.Id == botId);
            Assert.Equal(Data.UserKind.Bot, row.Kind);
            Assert.NotNull(row.BotOwnerId);
            Assert.Null(row.PasswordHash); // no password: it cannot sign in on the web
            Assert.True(await db.AuditLog.AnyAsync(a => a.Action == "bot.create" && a.Target == name));
        }
        (await admin.SendAsync(HttpMethod.Post, "/api/v1/admin/bot-accounts", new { name })).AssertProblem(HttpStatusCode.Conflict, "name_taken");

        using var bot = fx.Portal.Bearer(token);
        var me = await bot.SendAsync(HttpMethod.Get, "/api/v1/users/me");
        Assert.True(me.Body.GetProperty("bot").GetBoolean());
        Assert.Equal("bot", me.Body.GetProperty("kind").GetString());

        await using var listener = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("watch"));
        await using var ws = await WsClient.ConnectAsync(fx.Portal.BaseUri, "chatportal.v1");
        var welcome = await ws.AuthAsync(token: token);
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        Assert.Equal("bot", welcome.Get("user.kind"));
        await ws.JoinAsync("lobby");
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "beep over v1"), ("client_id", "b-1"))).Is("ack"));
        var posted = await bot.SendAsync(HttpMethod.Post, "/api/v1/rooms/lobby/messages", new { text = "beep over REST" });
        Assert.Equal(HttpStatusCode.Created, posted.Status);
        Assert.True(posted.Body.GetProperty("sender").GetProperty("bot").GetBoolean());
        await listener.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "beep over v1");
        await listener.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "beep over REST");

        // Disabling the bot ends its tokens at once: the socket closes and REST refuses.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(HttpMethod.Post, $"/api/v1/admin/bot-accounts/{botId}/disable")).Status);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
        (await bot.SendAsync(HttpMethod.Get, "/api/v1/users/me")).AssertProblem(HttpStatusCode.Unauthorized, "token_invalid");

        // Enabled again, it needs a new token; deleting it ends that one too and drops it from the list.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(HttpMethod.Post, $"/api/v1/admin/bot-accounts/{botId}/enable")).Status);
        var fresh = await admin.SendAsync(HttpMethod.Post, $"/api/v1/admin/bot-accounts/{botId}/tokens");
        Assert.Equal(HttpStatusCode.OK, fresh.Status);
        using (var again = fx.Portal.Bearer(fresh.Body.GetProperty("token").GetString()!))
        {
            Assert.Equal(HttpStatusCode.OK, (await again.SendAsync(HttpMethod.Get, "/api/v1/users/me")).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(HttpMethod.Delete, $"/api/v1/admin/bot-accounts/{botId}")).Status);
            (await again.SendAsync(HttpMethod.Get, "/api/v1/users/me")).AssertProblem(HttpStatusCode.Unauthorized, "token_invalid");
        }
        var list = await admin.SendAsync(HttpMethod.Get, "/api/v1/admin/bot-accounts");
        Assert.DoesNotContain(list.Body.EnumerateArray(), b => b.GetProperty("id").GetInt64() == botId);
    }

    [Fact]
    public async Task A_read_only_token_is_refused_on_a_v1_socket()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("ro"), "read");
        await using var ws = await WsClient.ConnectAsync(fx.Portal.BaseUri, "chatportal.v1");
        var answer = await ws.AuthAsync(token: token);
        Assert.Equal("insufficient_scope", answer.Get("code"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
        // The same token on the upgrade request: refused before a socket opens.
        Assert.Equal(HttpStatusCode.Forbidden, await WsClient.UpgradeStatusAsync(fx.Portal.BaseUri, "chatportal.v1", authorization: "Bearer " + token));
    }
}
