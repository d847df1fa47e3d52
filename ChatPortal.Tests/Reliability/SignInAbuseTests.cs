using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// Password guessing: per account (lockout after 5) and per address (20 failures, then 429 for
/// the rest of the minute), through the form and the token endpoint alike; what the answers
/// reveal; and X-Forwarded-For believed only from configured proxies. Each test has its own
/// portal: the per-address budget is per portal.
/// </summary>
public sealed class SignInAbuseTests
{
    private static async Task<HttpStatusCode> FormAsync(PortalProcess portal, string name, string password, string? forwardedFor = null)
    {
        using var http = portal.CreateClient();
        using var get = new HttpRequestMessage(HttpMethod.Get, "/login");
        if (forwardedFor is not null) get.Headers.Add("X-Forwarded-For", forwardedFor);
        using var page = await http.SendAsync(get);
        if (page.StatusCode != HttpStatusCode.OK) return page.StatusCode;
        var token = Regex.Match(await page.Content.ReadAsStringAsync(), "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var post = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["_handler"] = "login", ["__RequestVerificationToken"] = token,
                ["Input.Name"] = name, ["Input.Password"] = password, ["Input.ReturnUrl"] = "/",
            }),
        };
        if (forwardedFor is not null) post.Headers.Add("X-Forwarded-For", forwardedFor);
        using var r = await http.SendAsync(post);
        return r.StatusCode;
    }

    private static async Task<HttpStatusCode> TokenAsync(PortalProcess portal, string name, string password, string? forwardedFor = null)
    {
        using var http = portal.CreateClient();
        using var req = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token") { Content = System.Net.Http.Json.JsonContent.Create(new { name, password }) };
        if (forwardedFor is not null) req.Headers.Add("X-Forwarded-For", forwardedFor);
        using var r = await http.SendAsync(req);
        return r.StatusCode;
    }

    [Fact]
    public async Task Twenty_bad_passwords_for_one_account_lock_it_through_form_and_token_alike()
    {
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("victim");
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, name, "right-password-1")); // registers
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
            statuses.Add(i % 2 == 0 ? await FormAsync(portal, name, $"guess-{i}-xx") : await TokenAsync(portal, name, $"guess-{i}-xx"));
        Assert.All(statuses.Take(4), s => Assert.True(s is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, s.ToString()));
        Assert.All(statuses.Skip(4), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        // Locked means locked: the right password gets no more than a wrong one.
        Assert.Equal(HttpStatusCode.TooManyRequests, await FormAsync(portal, name, "right-password-1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await TokenAsync(portal, name, "right-password-1"));
    }

    [Fact]
    public async Task Twenty_failures_from_one_address_across_accounts_get_429_for_every_further_attempt()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            // Forwarded headers from loopback are NOT believed here: only 10.9.9.9 is a proxy.
            ["ForwardedHeaders__KnownProxies__0"] = "10.9.9.9",
        });
        var names = Enumerable.Range(0, 21).Select(_ => PortalHelpers.UniqueName("acct")).ToList();
        foreach (var n in names) Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, n, "right-password-1"));
        // One wrong password per account (far below the per-account lockout), from "different" forwarded addresses.
        for (var i = 0; i < 20; i++)
        {
            var s = i % 2 == 0
                ? await FormAsync(portal, names[i], "wrong-password", forwardedFor: $"203.0.113.{i + 1}")
                : await TokenAsync(portal, names[i], "wrong-password", forwardedFor: $"203.0.113.{i + 1}");
            Assert.True(s is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"attempt {i}: {s}");
        }
        // The address is spent: even a right password (and a new registration) waits out the window.
        Assert.Equal(HttpStatusCode.TooManyRequests, await FormAsync(portal, names[20], "right-password-1", forwardedFor: "198.51.100.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await TokenAsync(portal, names[20], "right-password-1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await TokenAsync(portal, PortalHelpers.UniqueName("newbie"), "right-password-1"));
        // Everything else keeps working for that address.
        using var http = portal.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/login")).StatusCode);
    }

    [Fact]
    public async Task A_configured_proxy_is_believed_so_its_clients_get_their_own_budgets()
    {
        // Default: loopback is the trusted proxy, so X-Forwarded-For names the client.
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("proxied");
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, name, "right-password-1"));
        var others = Enumerable.Range(0, 4).Select(_ => PortalHelpers.UniqueName("o")).ToList();
        foreach (var n in others) Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, n, "right-password-1"));
        // 20 failures "from" 203.0.113.50 (4 per account, below the lockout).
        for (var i = 0; i < 20; i++)
            await TokenAsync(portal, others[i % 4], "wrong-password", forwardedFor: "203.0.113.50");
        Assert.Equal(HttpStatusCode.TooManyRequests, await TokenAsync(portal, name, "right-password-1", forwardedFor: "203.0.113.50"));
        // Another client behind the same proxy is not punished for it.
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, name, "right-password-1", forwardedFor: "203.0.113.51"));
    }

    [Fact]
    public async Task Answers_reveal_nothing_beyond_the_public_nickname()
    {
        await using var portal = await PortalProcess.StartAsync();
        var plain = PortalHelpers.UniqueName("known");
        var banned = PortalHelpers.UniqueName("banned");
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, plain, "right-password-1"));
        Assert.Equal(HttpStatusCode.OK, await TokenAsync(portal, banned, "right-password-1"));
        await using (var db = portal.OpenDb())
        {
            var u = await db.Users.SingleAsync(x => x.Name == banned);
            u.BannedAt = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync();
        }
        async Task<(HttpStatusCode, string)> Ask(string n, string p)
        {
            using var http = portal.CreateClient();
            using var r = await http.PostAsJsonAsync("/api/auth/token", new { name = n, password = p });
            return (r.StatusCode, await r.Content.ReadAsStringAsync());
        }
        // A wrong password: the same answer whether or not the account is banned (the ban is told only to the owner).
        var a = await Ask(plain, "wrong-password");
        var b = await Ask(banned, "wrong-password");
        Assert.Equal(HttpStatusCode.Unauthorized, a.Item1);
        Assert.Equal(a, b);
        var (status, body) = await Ask(banned, "right-password-1");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("banned", body);
    }
}
