using System.Net;
using System.Net.Http.Json;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 7: five wrong guesses used to lock the account for everyone, its owner too (a
/// denial of service anyone could aim at a public nickname). Now the failures lock only the
/// address that made them (for that account), and the owner signs in from elsewhere.
/// </summary>
public sealed class SignInLockoutTests
{
    private static async Task<HttpStatusCode> TokenAsync(PortalProcess portal, string name, string password, string forwardedFor)
    {
        using var http = portal.CreateClient();
        using var req = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token") { Content = JsonContent.Create(new { name, password }) };
        req.Headers.Add("X-Forwarded-For", forwardedFor); // loopback is the trusted proxy: this is the client's address
        using var r = await http.SendAsync(req);
        return r.StatusCode;
    }

    [Fact]
    public async Task Wrong_guesses_from_one_address_do_not_lock_the_owner_out_from_another()
    {
        await using var portal = await PortalProcess.StartAsync();
        var victim = PortalHelpers.UniqueName("victim");
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, victim, "right-password-1", "198.51.100.23"));

        var attacker = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++) attacker.Add(await TokenAsync(portal, victim, $"guess-{i}-xx", "203.0.113.66"));
        Assert.All(attacker.Take(4), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.All(attacker.Skip(4), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        // The attacker's address stays locked out of this account, even with the right password...
        Assert.Equal(HttpStatusCode.TooManyRequests, await TokenAsync(portal, victim, "right-password-1", "203.0.113.66"));
        // ...but the owner, from their own address, signs in.
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, victim, "right-password-1", "198.51.100.23"));
        // And a new neighbour of the attacker on another /64-less IPv4 address is not punished either.
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, victim, "right-password-1", "203.0.113.67"));
    }
}
