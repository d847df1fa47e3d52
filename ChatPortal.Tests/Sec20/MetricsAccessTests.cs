using System.Net;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 8 (second half): <c>/metrics</c> on the app's own port is restricted by a setting
/// (<c>Metrics:AllowedNetworks</c>; default loopback and the private ranges), not only in the nginx
/// template. The client address is the one after forwarded headers (loopback is the trusted proxy by default).
/// </summary>
public sealed class MetricsAccessTests
{
    private static async Task<HttpStatusCode> ScrapeAsync(PortalProcess portal, string? forwardedFor = null)
    {
        using var http = portal.CreateClient();
        using var req = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (forwardedFor is not null) req.Headers.Add("X-Forwarded-For", forwardedFor);
        using var r = await http.SendAsync(req);
        if (r.StatusCode == HttpStatusCode.OK) Assert.Contains("chatportal_ws_connections", await r.Content.ReadAsStringAsync());
        return r.StatusCode;
    }

    [Fact]
    public async Task Metrics_are_served_to_loopback_and_private_addresses_only_by_default()
    {
        await using var portal = await PortalProcess.StartAsync();
        Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(portal));                        // 127.0.0.1
        Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(portal, "10.20.30.40"));         // private range
        Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(portal, "192.168.1.9"));
        Assert.Equal(HttpStatusCode.Forbidden, await ScrapeAsync(portal, "203.0.113.9")); // a public client behind the proxy
        Assert.Equal(HttpStatusCode.Forbidden, await ScrapeAsync(portal, "2001:db8::5"));
        // The health probe stays open to everyone (load balancers), and nothing else changed for that client.
        using var http = portal.CreateClient();
        using var health = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        health.Headers.Add("X-Forwarded-For", "203.0.113.9");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(health)).StatusCode);
    }

    [Fact]
    public async Task The_allowed_networks_are_a_setting()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Metrics__AllowedNetworks__0"] = "203.0.113.0/24",
        });
        Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(portal, "203.0.113.77"));
        Assert.Equal(HttpStatusCode.Forbidden, await ScrapeAsync(portal, "198.51.100.1"));
        Assert.Equal(HttpStatusCode.Forbidden, await ScrapeAsync(portal)); // loopback is not in the list any more
    }
}
