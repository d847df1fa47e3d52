using System.Net;
using ChatPortal.Security;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.Identity;

/// <summary>The SSRF-safe client: what it refuses to reach, and its redirect, size and scheme limits.</summary>
public sealed class SafeHttpTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("198.18.0.1")]
    [InlineData("192.0.2.1")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("ff02::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::7f00:1")]
    [InlineData("2002:7f00:1::1")]
    [InlineData("2001:db8::1")]
    [InlineData("::127.0.0.1")]
    public void Private_loopback_link_local_mapped_multicast_and_reserved_addresses_are_refused(string address) =>
        Assert.False(AddressPolicy.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::1")]
    public void Public_addresses_are_allowed(string address) => Assert.True(AddressPolicy.IsPublic(IPAddress.Parse(address)));

    private static SafeHttpClient Client(params string[] allowed) => new(Options.Create(new SafeHttpOptions
    {
        AllowedAddresses = allowed,
        MaxResponseBytes = 64 * 1024,
        TimeoutSeconds = 10,
    }));

    [Fact]
    public async Task Loopback_is_refused_at_connect_time_unless_allow_listed_and_redirects_and_sizes_are_capped()
    {
        var port = PortalProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        var hits = 0;
        app.MapGet("/ok", () => { Interlocked.Increment(ref hits); return Results.Text("hello"); });
        app.MapGet("/hop/{n:int}", (int n) => n == 0 ? Results.Text("arrived") : Results.Redirect($"/hop/{n - 1}"));
        app.MapGet("/to-ipv6-loopback", () => Results.Redirect($"http://[::1]:{port}/ok"));
        app.MapGet("/big", () => Results.Bytes(new byte[200 * 1024], "application/octet-stream"));
        await app.StartAsync();
        var baseUrl = $"http://127.0.0.1:{port}";

        // Not allow-listed: loopback by address and by name is refused before any request reaches it.
        using (var strict = Client())
        {
            var refused = await Assert.ThrowsAsync<SafeHttpException>(() => strict.GetAsync(new Uri(baseUrl + "/ok")));
            Assert.Contains("not a public address", refused.Message);
            await Assert.ThrowsAsync<SafeHttpException>(() => strict.GetAsync(new Uri($"http://localhost:{port}/ok")));
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => strict.Client.GetAsync(baseUrl + "/ok"));
            Assert.Equal(0, hits);
        }

        using var allowed = Client("127.0.0.1");
        var ok = await allowed.GetAsync(new Uri(baseUrl + "/ok"));
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        Assert.Equal("hello", System.Text.Encoding.UTF8.GetString(ok.Body));
        Assert.Equal(1, hits);

        // Three redirects are followed (each one checked again), a fourth is not.
        var three = await allowed.GetAsync(new Uri(baseUrl + "/hop/3"));
        Assert.Equal("arrived", System.Text.Encoding.UTF8.GetString(three.Body));
        Assert.EndsWith("/hop/0", three.FinalUri.ToString());
        Assert.Contains("redirects", (await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri(baseUrl + "/hop/4")))).Message);
        // A redirect to an address that is not allow-listed is refused at its connect.
        Assert.Contains("not a public address", (await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri(baseUrl + "/to-ipv6-loopback")))).Message);

        // Size cap, schemes, credentials in the URL.
        Assert.Contains("larger than", (await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri(baseUrl + "/big")))).Message);
        await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri("ftp://127.0.0.1/x")));
        await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri($"http://user:pw@127.0.0.1:{port}/ok")));
        await Assert.ThrowsAsync<SafeHttpException>(() => allowed.GetAsync(new Uri("file:///etc/passwd")));
        await app.StopAsync();
    }
}
