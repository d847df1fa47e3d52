using System.Diagnostics;
using System.Net;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// One client cannot take the server from others: a flood is throttled after its burst, a
/// user's sockets share one budget, and a thousand idle sockets do not stop the web pages.
/// Rate: burst 10, refill 3/s (the defaults).
/// </summary>
[Collection(RelyPortalCollection.Name)]
public sealed class AbuseTests(RelyPortalFixture fx)
{
    private const int Burst = 10;
    private const double PerSecond = 3;

    /// <summary>The most a token bucket can have granted in <paramref name="elapsed"/>.</summary>
    private static int Allowed(TimeSpan elapsed) => Burst + (int)Math.Ceiling(elapsed.TotalSeconds * PerSecond) + 1;

    private static async Task<(int Acks, int Limited, TimeSpan Elapsed)> FloodAsync(IReadOnlyList<WsClient> sockets, int perSocket, string tag)
    {
        var sw = Stopwatch.StartNew();
        var replies = await Task.WhenAll(sockets.Select(async (ws, s) =>
        {
            var sent = Enumerable.Range(0, perSocket).Select(i => ws.SendJsonAsync(new { type = "send", id = $"{tag}-{s}-{i}", room = "lobby", text = $"{tag} {s} {i}" }));
            await Task.WhenAll(sent);
            return await ws.WaitForCountAsync(f => f.Get("reply_to")?.StartsWith($"{tag}-{s}-", StringComparison.Ordinal) == true, perSocket);
        }));
        sw.Stop();
        var all = replies.SelectMany(r => r).ToList();
        return (all.Count(f => f.Is("ack")), all.Count(f => f.Is("error") && f.Get("code") == "rate_limited"), sw.Elapsed);
    }

    [Fact]
    public async Task A_flooding_client_is_throttled_after_its_burst_while_others_are_served()
    {
        var portal = fx.Portal;
        await using var flooder = await portal.MemberSocketAsync(PortalHelpers.UniqueName("flood"));
        await using var other = await portal.MemberSocketAsync(PortalHelpers.UniqueName("calm"));
        await using var reader = await portal.MemberSocketAsync(PortalHelpers.UniqueName("read"));

        var flood = FloodAsync([flooder], 200, "f");
        // Meanwhile another user sends a few messages at a human pace: every one is stored and delivered.
        for (var i = 0; i < 5; i++)
        {
            var ack = await other.RequestAsync("send", ("room", "lobby"), ("text", $"calm {i}"));
            Assert.True(ack.Is("ack"), ack.ToString());
            await reader.WaitForAsync(f => f.Is("message") && f.Get("message.text") == $"calm {i}");
        }
        var (acks, limited, elapsed) = await flood;
        Assert.True(acks >= Burst, $"the burst itself must pass: {acks} acks");
        Assert.True(acks <= Allowed(elapsed), $"{acks} acks in {elapsed.TotalSeconds:0.0} s is more than the bucket allows");
        Assert.Equal(200, acks + limited);
    }

    [Fact]
    public async Task One_user_on_ten_sockets_is_held_to_the_same_total_limit()
    {
        var portal = fx.Portal;
        var name = PortalHelpers.UniqueName("ten");
        var sockets = new List<WsClient>();
        try
        {
            for (var i = 0; i < 10; i++) sockets.Add(await portal.MemberSocketAsync(name));
            var (acks, limited, elapsed) = await FloodAsync(sockets, 20, "t");
            Assert.True(acks <= Allowed(elapsed), $"{acks} acks on 10 sockets in {elapsed.TotalSeconds:0.0} s: the limit is per user, not per socket");
            Assert.True(limited > 0);
            Assert.Equal(200, acks + limited);
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_thousand_idle_sockets_do_not_stop_web_users_and_all_are_released()
    {
        var portal = fx.Portal;
        var baseline = await portal.SettledOpenSocketsAsync();
        var idle = new List<RawWs>();
        try
        {
            // Bounded: 1,000 sockets, opened 50 at a time.
            for (var batch = 0; batch < 20; batch++)
            {
                var opened = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => RawWs.ConnectAsync(portal.BaseUri)));
                idle.AddRange(opened);
                Assert.All(opened, r => Assert.True(r.Upgraded, r.ResponseHead));
            }
            // The gauge counts a socket once its handler runs (just after the 101 went out), and the
            // scrape endpoint caches its answer for a moment: wait (bounded) for it to catch up.
            var open = await portal.WaitForOpenSocketsAtLeastAsync(baseline + 1000);
            Assert.True(open >= baseline + 1000, $"{open} open sockets, expected at least {baseline + 1000}");

            // The web UI still answers, and chat over a socket still works.
            using var http = portal.CreateClient();
            for (var i = 0; i < 5; i++)
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/login")).StatusCode);
            await using var a = await portal.MemberSocketAsync(PortalHelpers.UniqueName("busy"));
            await using var b = await portal.MemberSocketAsync(PortalHelpers.UniqueName("busy"));
            var ack = await a.RequestAsync("send", ("room", "lobby"), ("text", "through the crowd"));
            Assert.True(ack.Is("ack"), ack.ToString());
            await b.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "through the crowd");
        }
        finally
        {
            foreach (var r in idle) await r.DisposeAsync();
        }
        Assert.Equal(baseline, await portal.WaitForOpenSocketsAsync(baseline, TimeSpan.FromSeconds(30)));
    }
}

/// <summary>The per-address cap on open sockets, on a portal of its own (cap 5).</summary>
public sealed class PerIpCapTests
{
    [Fact]
    public async Task The_sixth_socket_from_one_address_is_refused_and_a_slot_frees_when_one_closes()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["WebSockets__MaxConnectionsPerIp"] = "5",
            ["WebSockets__AuthTimeoutSeconds"] = "600",
        });
        var open = new List<RawWs>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var r = await RawWs.ConnectAsync(portal.BaseUri);
                open.Add(r);
                Assert.True(r.Upgraded, r.ResponseHead);
            }
            await using (var sixth = await RawWs.ConnectAsync(portal.BaseUri))
            {
                Assert.StartsWith("HTTP/1.1 429", sixth.ResponseHead, StringComparison.Ordinal);
            }
            await open[0].DisposeAsync();
            open.RemoveAt(0);
            await portal.WaitForOpenSocketsAsync(4);
            await using var again = await RawWs.ConnectAsync(portal.BaseUri);
            Assert.True(again.Upgraded, again.ResponseHead);
        }
        finally
        {
            foreach (var r in open) await r.DisposeAsync();
        }
    }
}
