using System.Net;
using System.Net.Http.Headers;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// A ban or a token revocation written straight into the database (not through the back office,
/// so no cache is told) stops every new authentication at once: token and ticket on the socket,
/// bearer token on the HTTP API. The user cache is warm first, so a cached "not banned" would let
/// them in.
/// </summary>
public sealed class BanAtOnceTests
{
    private static async Task<HttpStatusCode> ListTokensAsync(PortalProcess portal, string token)
    {
        using var http = portal.CreateClient();
        using var req = new HttpRequestMessage(HttpMethod.Get, "/api/auth/tokens");
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var r = await http.SendAsync(req);
        return r.StatusCode;
    }

    private static async Task<WsFrame> AuthAsync(PortalProcess portal, string? token = null, string? ticket = null)
    {
        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        return await ws.AuthAsync(ticket: ticket, token: token);
    }

    [Fact]
    public async Task A_ban_set_in_the_database_refuses_token_ticket_and_api_at_once()
    {
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("tobeban");
        var token = await portal.TokenAsync(name);
        var cookies = await portal.SignInAsync(name);
        var ticket = await portal.TicketAsync(cookies); // issued before the ban, redeemed after it

        // Warm: the token works on the socket and the API (the user's state is now cached as not banned).
        var ok = await AuthAsync(portal, token: token);
        Assert.True(ok.Is("welcome"), ok.ToString());
        Assert.Equal(HttpStatusCode.OK, await ListTokensAsync(portal, token));

        await using (var db = portal.OpenDb())
        {
            var n = await db.Users.Where(u => u.Name == name).ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedAt, DateTimeOffset.UtcNow));
            Assert.Equal(1, n);
        }

        var byToken = await AuthAsync(portal, token: token);
        Assert.True(byToken.Is("error"), byToken.ToString());
        Assert.Equal("token_invalid", byToken.Get("code"));
        var byTicket = await AuthAsync(portal, ticket: ticket);
        Assert.True(byTicket.Is("error"), byTicket.ToString());
        Assert.Equal("ticket_invalid", byTicket.Get("code"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ListTokensAsync(portal, token));

        // Lifting the ban in the database lets the token in again, just as directly.
        await using (var db = portal.OpenDb())
            await db.Users.Where(u => u.Name == name).ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedAt, (DateTimeOffset?)null));
        var again = await AuthAsync(portal, token: token);
        Assert.True(again.Is("welcome"), again.ToString());
    }

    [Fact]
    public async Task A_token_revoked_in_the_database_is_refused_at_once()
    {
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("revokee");
        var token = await portal.TokenAsync(name);
        var other = await portal.TokenAsync(name); // the same user's second token stays valid
        var ok = await AuthAsync(portal, token: token);
        Assert.True(ok.Is("welcome"), ok.ToString());

        await using (var db = portal.OpenDb())
        {
            var hash = ChatPortal.Auth.ApiTokens.Hash(token);
            Assert.Equal(1, await db.ApiTokens.Where(t => t.TokenHash == hash)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, DateTimeOffset.UtcNow)));
        }

        var refused = await AuthAsync(portal, token: token);
        Assert.True(refused.Is("error"), refused.ToString());
        Assert.Equal("token_invalid", refused.Get("code"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ListTokensAsync(portal, token));
        var stillOk = await AuthAsync(portal, token: other);
        Assert.True(stillOk.Is("welcome"), stillOk.ToString());
    }
}
