using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Auth;
using ChatPortal.Cluster;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ChatPortal.Tests.WebSockets;
using Microsoft.Playwright;
using static ChatPortal.Tests.Cluster.ClusterWebTests;

namespace ChatPortal.Tests.Cluster;

/// <summary>
/// The socket endpoint (plain and chatportal.v1) in a cluster: real portal processes sharing real
/// Redis and PostgreSQL, web users in Debian's Chromium, directly and through real nginx.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterSocketTests(PostgresFixture pg, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string V1 = "chatportal.v1";

    [Fact]
    public async Task Sockets_on_node_one_and_a_web_user_on_node_two_chat_both_ways_share_presence_and_are_counted()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsweb");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);
        // The socket gauges are exported from the start, before any socket has opened.
        await WaitForSocketGaugesAsync(nodes.Node1, plain: 0, v1: 0, guest: 0);

        var wendy = await OpenLobbyAsync(browser, nodes.Node2.BaseUri, "wendy");
        await using var sam = await nodes.Node1.MemberSocketAsync("sam");
        await using var plain = await WsClient.ConnectAsync(nodes.Node1.BaseUri);
        var open = await plain.WaitForAsync(f => f.Is("openSuccess"));
        var guest = open.Get("user.name")!;

        // Presence spans the nodes, for sockets too: each side lists the other when it arrives...
        Assert.Contains("\"wendy\"", open.Get("all"), StringComparison.Ordinal);
        var joined = sam.Where(f => f.Is("joined")).Single();
        Assert.Contains("\"wendy\"", joined.Get("online"), StringComparison.Ordinal);
        await ExpectOnline(wendy, "sam");
        await ExpectOnline(wendy, guest);
        // ...and hears of those who arrive later on the other node.
        await using var tess = await nodes.Node2.MemberSocketAsync("tess");
        await sam.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == "tess" && f.Get("online") == "true");
        await plain.WaitForAsync(f => f.Is("open") && f.Get("user.name") == "tess");
        var online = await tess.RequestAsync("online", ("room", "lobby"));
        foreach (var name in new[] { "sam", guest, "wendy", "tess" })
            Assert.Contains($"\"{name}\"", online.Get("users"), StringComparison.Ordinal);

        // v1 socket (node 1) → web (node 2) and the others.
        var ack = await sam.RequestAsync("send", ("room", "lobby"), ("text", "from a v1 socket on node one"), ("client_id", "sam-1"));
        Assert.True(ack.Is("ack"), ack.ToString());
        await Expect(wendy, "from a v1 socket on node one");
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == "from a v1 socket on node one");
        await tess.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "from a v1 socket on node one");

        // web (node 2) → both sockets on node 1.
        await SayAsync(wendy, "from the web on node two");
        await sam.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "from the web on node two" && f.Get("message.user.name") == "wendy");
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == "from the web on node two" && f.Get("user.name") == "wendy");

        // plain socket (node 1) → web (node 2) and v1 on both nodes.
        await plain.SendTextAsync("from a plain socket on node one");
        await Expect(wendy, "from a plain socket on node one");
        await sam.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "from a plain socket on node one");
        await tess.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "from a plain socket on node one");

        // Each message reached each socket once; all three are stored once, in order.
        Assert.Equal(3, sam.Where(f => f.Is("message")).Count);
        Assert.Equal(3, tess.Where(f => f.Is("message")).Count);
        Assert.Equal(2, plain.Where(f => f.Is("message")).Count); // never its own
        Assert.Equal(["from a v1 socket on node one", "from the web on node two", "from a plain socket on node one"],
            (await PgQueries.MessagesAsync(db)).Select(m => m.Text));

        // Connections by kind, per node, in /metrics.
        await WaitForSocketGaugesAsync(nodes.Node1, plain: 1, v1: 1, guest: 1);
        await WaitForSocketGaugesAsync(nodes.Node2, plain: 0, v1: 1, guest: 0);
        // Queue depths: the socket send queues next to the writer's.
        using (var http = nodes.Node1.CreateClient())
        {
            var text = await http.GetStringAsync("/metrics");
            Assert.Matches(new Regex("^chatportal_ws_send_queue_depth\\{[^}]*\\} \\d+", RegexOptions.Multiline), text);
            Assert.Matches(new Regex("^chatportal_writer_queue_depth\\{[^}]*\\} \\d+", RegexOptions.Multiline), text);
        }
        // Web users are the Blazor circuits open on a node (ASP.NET Core's own gauge, exported alongside).
        using (var http = nodes.Node2.CreateClient())
        {
            var circuits = Regex.Match(await http.GetStringAsync("/metrics"), "^aspnetcore_components_circuit_active\\S*\\{[^}]*\\} (\\S+)", RegexOptions.Multiline);
            Assert.True(circuits.Success, "no aspnetcore_components_circuit_active in /metrics");
            Assert.True(double.Parse(circuits.Groups[1].Value, CultureInfo.InvariantCulture) >= 1, circuits.Value);
        }

        // Leaving spans the nodes too.
        await sam.DisposeAsync();
        await ExpectOnline(wendy, "sam", online: false);
        await tess.WaitForAsync(f => f.Is("presence") && f.Get("user.name") == "sam" && f.Get("online") == "false");
        await plain.DisposeAsync();
        await ExpectOnline(wendy, guest, online: false);
        await WaitForSocketGaugesAsync(nodes.Node1, plain: 0, v1: 0, guest: 0);
        await wendy.Context.CloseAsync();
    }

    [Fact]
    public async Task A_v1_socket_that_reconnects_to_the_other_node_catches_up_exactly_while_both_nodes_write()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsreconnect");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration, new()
        {
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
        });

        var token = await nodes.Node1.TokenAsync("reader");
        var first = await WsClient.ConnectAsync(nodes.Node1.BaseUri, V1);
        Assert.True((await first.AuthAsync(token: token)).Is("welcome"));
        var roomId = (await first.JoinAsync("lobby")).GetLong("room.id");
        await using var w1 = await nodes.Node1.MemberSocketAsync("writer1");
        await using var w2 = await nodes.Node2.MemberSocketAsync("writer2");

        // Both nodes keep posting the whole time (bounded: 40 each), each send acknowledged after store.
        const int each = 40;
        var acked = 0;
        async Task WriteAsync(WsClient w, string who)
        {
            for (var i = 0; i < each; i++)
            {
                var ack = await w.RequestAsync("send", ("room", "lobby"), ("text", $"{who}-{i}"), ("client_id", $"{who}-{i}"));
                Assert.True(ack.Is("ack"), ack.ToString());
                Interlocked.Increment(ref acked);
                await Task.Delay(20);
            }
        }
        var writing = Task.WhenAll(WriteAsync(w1, "one"), WriteAsync(w2, "two"));

        // The reader sees some, then its connection drops (no close handshake) while the writers go on.
        await first.WaitForCountAsync(f => f.Is("message"), 15, TimeSpan.FromSeconds(30));
        first.Socket.Abort();
        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var before = MessageIds(first);
        var cursor = before[^1];
        var ackedAtDrop = Volatile.Read(ref acked);
        while (Volatile.Read(ref acked) < ackedAtDrop + 10 && !writing.IsCompleted) await Task.Delay(20); // a real gap to fill

        // It reconnects to the other node with its cursor, while the writers still write.
        await using var second = await WsClient.ConnectAsync(nodes.Node2.BaseUri, V1);
        Assert.True((await second.AuthAsync(token: token)).Is("welcome"));
        await second.JoinAsync("lobby", since: cursor);
        var caughtUp = second.Where(f => f.Is("caught_up")).Single();
        Assert.True(caughtUp.GetLong("count") >= 10, caughtUp.ToString());

        await writing;
        var stored = (await PgQueries.MessagesAsync(db, roomId)).Select(m => m.Id).ToList();
        Assert.Equal(2 * each, stored.Count);
        await second.WaitForAsync(f => f.Is("message") && f.GetLong("event_id") == stored[^1], TimeSpan.FromSeconds(30));
        await Task.Delay(300); // nothing more may trickle in
        var seen = before.Concat(MessageIds(second)).ToList();
        Assert.True(stored.SequenceEqual(seen), $"seen [{string.Join(",", seen)}]\nstored [{string.Join(",", stored)}]\ncursor {cursor}");
        await first.DisposeAsync();
    }

    [Fact]
    public async Task A_ticket_works_on_either_node_but_only_once_across_both()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsticket");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);
        var cookies = await nodes.Node1.SignInAsync("tina");

        foreach (var (issuer, redeemer, replayer) in new[] { (nodes.Node1, nodes.Node2, nodes.Node1), (nodes.Node2, nodes.Node1, nodes.Node2) })
        {
            var ticket = await TicketThroughAsync(issuer.BaseUri, cookies);
            await using var used = await WsClient.ConnectAsync(redeemer.BaseUri, V1);
            var welcome = await used.AuthAsync(ticket: ticket);
            Assert.True(welcome.Is("welcome"), welcome.ToString());
            Assert.Equal("tina", welcome.Get("user.name"));

            // Replayed on the other node: refused, and the socket closed with 1008.
            await using var replay = await WsClient.ConnectAsync(replayer.BaseUri, V1);
            var refused = await replay.AuthAsync(ticket: ticket);
            Assert.Equal("ticket_invalid", refused.Get("code"));
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await replay.WaitClosedAsync());
            // And on the node that took it.
            await using var again = await WsClient.ConnectAsync(redeemer.BaseUri, V1);
            Assert.Equal("ticket_invalid", (await again.AuthAsync(ticket: ticket)).Get("code"));
        }
    }

    [Fact]
    public async Task Revoking_an_api_token_on_one_node_closes_its_sockets_on_the_other_and_only_those()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsrevoke");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);
        var revoked = await nodes.Node1.TokenAsync("rita");
        var kept = await nodes.Node1.TokenAsync("rita");
        await using var onNode2 = await WsClient.ConnectAsync(nodes.Node2.BaseUri, V1);
        Assert.True((await onNode2.AuthAsync(token: revoked)).Is("welcome"));
        await onNode2.JoinAsync("lobby");
        await using var onNode1 = await WsClient.ConnectAsync(nodes.Node1.BaseUri, V1);
        Assert.True((await onNode1.AuthAsync(token: revoked)).Is("welcome"));
        await using var otherToken = await WsClient.ConnectAsync(nodes.Node2.BaseUri, V1);
        Assert.True((await otherToken.AuthAsync(token: kept)).Is("welcome"));
        await otherToken.JoinAsync("lobby");

        // Revoked through node 1's API: the token's sockets close with 1008 token_revoked on both nodes.
        using (var http = new HttpClient { BaseAddress = nodes.Node1.BaseUri })
        using (var revoke = new HttpRequestMessage(HttpMethod.Delete, "/api/auth/token"))
        {
            revoke.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", revoked);
            Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(revoke)).StatusCode);
        }
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await onNode2.WaitClosedAsync());
        Assert.Equal("token_revoked", onNode2.CloseReason);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await onNode1.WaitClosedAsync());
        Assert.Equal("token_revoked", onNode1.CloseReason);

        // The same user's socket with another token stays and still posts; the revoked token is refused on node 2.
        var ack = await otherToken.RequestAsync("send", ("room", "lobby"), ("text", "still here with the other token"), ("client_id", "rita-2"));
        Assert.True(ack.Is("ack"), ack.ToString());
        await using var again = await WsClient.ConnectAsync(nodes.Node2.BaseUri, V1);
        Assert.Equal("token_invalid", (await again.AuthAsync(token: revoked)).Get("code"));
    }

    [Fact]
    public async Task Ticket_nonces_are_claimed_once_across_nodes_in_redis_and_once_per_node_while_redis_is_down()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsnonce");
        await using var a = await ClusterNode.StartAsync("a", db, redis.Configuration);
        await using var b = await ClusterNode.StartAsync("b", db, redis.Configuration);
        var onA = a.Services.GetRequiredService<ITicketReplayGuard>();
        var onB = b.Services.GetRequiredService<ITicketReplayGuard>();
        Assert.IsType<RedisTicketReplayGuard>(onA);
        var expires = DateTimeOffset.UtcNow.AddSeconds(30);

        Assert.True(await onA.TryClaimAsync("n1", expires));
        Assert.False(await onB.TryClaimAsync("n1", expires));
        Assert.False(await onA.TryClaimAsync("n1", expires));
        Assert.True(await onB.TryClaimAsync("n2", expires));
        Assert.False(await onA.TryClaimAsync("n2", expires));

        // Redis down: each node still refuses what it has seen itself, and goes on accepting new tickets.
        await redis.StopAsync();
        await a.WaitUntilAsync(() => !a.Link.IsUp, "a notices Redis is down");
        Assert.False(await onA.TryClaimAsync("n1", expires));
        Assert.True(await onA.TryClaimAsync("n3", expires));
        Assert.False(await onA.TryClaimAsync("n3", expires));

        // Back: claims are shared again.
        await redis.StartAgainAsync();
        await a.WaitUntilAsync(() => a.Link.IsUp, "a reconnects");
        await b.WaitUntilAsync(() => b.Link.IsUp, "b reconnects");
        Assert.True(await onA.TryClaimAsync("n4", expires));
        Assert.False(await onB.TryClaimAsync("n4", expires));
    }

    [Fact]
    public async Task Through_nginx_plain_and_v1_sockets_and_a_web_user_on_different_nodes_chat()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("wsnginx");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);
        await using var nginx = await NginxServer.StartAsync(nodes.Node1.Port, nodes.Node2.Port);
        var routes = await FindRoutesAsync(nginx);

        // Sign in and get a ticket through nginx (on node 2); the v1 socket goes to node 1 with it.
        var viaCookies = Pinned(nginx, routes["node2"]);
        await SignInThroughAsync(nginx.BaseUri, viaCookies, "vic");
        string ticket;
        using (var http = Client(nginx.BaseUri, viaCookies))
        using (var r = await http.PostAsync("/api/ws/ticket", null))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var body = await r.Content.ReadFromJsonAsync<JsonElement>();
            // The URL the page should use is nginx's, not the node's.
            Assert.Equal($"ws://127.0.0.1:{nginx.Port}/ws", body.GetProperty("url").GetString());
            ticket = body.GetProperty("ticket").GetString()!;
        }
        await using var vic = await WsClient.ConnectAsync(nginx.BaseUri, V1, cookies: Pinned(nginx, routes["node1"]));
        var welcome = await vic.AuthAsync(ticket: ticket);
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        await vic.JoinAsync("lobby");

        // A plain socket through nginx, on node 2; a web user through nginx, on node 1.
        await using var plain = await WsClient.ConnectAsync(nginx.BaseUri, cookies: Pinned(nginx, routes["node2"]));
        var guest = (await plain.WaitForAsync(f => f.Is("openSuccess"))).Get("user.name")!;
        var pia = await OpenLobbyAsync(browser, nginx.BaseUri, "pia", ctx => ctx.AddCookiesAsync(
            [new Microsoft.Playwright.Cookie { Name = "chatportal_node", Value = routes["node1"], Domain = "127.0.0.1", Path = "/" }]));
        await ExpectOnline(pia, "vic");
        await ExpectOnline(pia, guest);
        // Each socket is where its route says.
        await WaitForSocketGaugesAsync(nodes.Node1, plain: 0, v1: 1, guest: 0);
        await WaitForSocketGaugesAsync(nodes.Node2, plain: 1, v1: 0, guest: 1);

        Assert.True((await vic.RequestAsync("send", ("room", "lobby"), ("text", "v1 through nginx"))).Is("ack"));
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == "v1 through nginx");
        await Expect(pia, "v1 through nginx");

        await plain.SendTextAsync("plain through nginx");
        await vic.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "plain through nginx");
        await Expect(pia, "plain through nginx");

        await SayAsync(pia, "web through nginx");
        await vic.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "web through nginx");
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == "web through nginx");

        Assert.Equal(["v1 through nginx", "plain through nginx", "web through nginx"], (await PgQueries.MessagesAsync(db)).Select(m => m.Text));
        Assert.DoesNotContain("[error]", nginx.ReadErrorLog(), StringComparison.Ordinal);
        await pia.Context.CloseAsync();
    }

    private static List<long> MessageIds(WsClient ws) => ws.Where(f => f.Is("message")).Select(f => f.GetLong("event_id")).ToList();

    private static HttpClient Client(Uri baseUri, CookieContainer cookies) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies, UseCookies = true })
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(30),
        };

    private static CookieContainer Pinned(NginxServer nginx, string route)
    {
        var c = new CookieContainer();
        c.Add(nginx.BaseUri, new System.Net.Cookie("chatportal_node", route));
        return c;
    }

    private static async Task<string> TicketThroughAsync(Uri baseUri, CookieContainer cookies)
    {
        using var http = Client(baseUri, cookies);
        using var r = await http.PostAsync("/api/ws/ticket", null);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;
    }

    /// <summary>Signs in through the real form at <paramref name="baseUri"/> (a node or nginx).</summary>
    private static async Task SignInThroughAsync(Uri baseUri, CookieContainer cookies, string name)
    {
        using var http = Client(baseUri, cookies);
        var page = await http.GetStringAsync("/login");
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "no antiforgery token on /login");
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["__RequestVerificationToken"] = token,
            ["Input.Name"] = name,
            ["Input.Password"] = "secret-pw-1",
            ["Input.RememberMe"] = "true",
            ["Input.ReturnUrl"] = "/",
        });
        using var r = await http.PostAsync("/login", form);
        Assert.True(r.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther,
            $"sign-in of {name} answered {(int)r.StatusCode}");
    }

    /// <summary>A route cookie value for each node: /healthz through nginx names the node that answered.</summary>
    private static async Task<Dictionary<string, string>> FindRoutesAsync(NginxServer nginx)
    {
        var routes = new Dictionary<string, string>();
        using var http = new HttpClient { BaseAddress = nginx.BaseUri };
        for (var i = 0; i < 64 && routes.Count < 2; i++)
        {
            var route = $"r{i}";
            using var req = new HttpRequestMessage(HttpMethod.Get, "/healthz");
            req.Headers.Add("Cookie", $"chatportal_node={route}");
            using var res = await http.SendAsync(req);
            using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
            routes.TryAdd(doc.RootElement.GetProperty("checks").GetProperty("redis").GetProperty("data").GetProperty("node").GetString()!, route);
        }
        Assert.True(routes.ContainsKey("node1") && routes.ContainsKey("node2"), $"routes found: {string.Join(", ", routes.Keys)}");
        return routes;
    }

    /// <summary>
    /// Polls the node's /metrics until <c>chatportal_ws_connections</c> shows these counts by kind
    /// (closing a socket takes a moment to be counted).
    /// </summary>
    internal static async Task WaitForSocketGaugesAsync(PortalProcess node, int plain, int v1, int guest)
    {
        using var http = node.CreateClient();
        var want = new Dictionary<string, double> { ["plain"] = plain, ["v1"] = v1, ["guest"] = guest };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var text = "";
        while (DateTime.UtcNow < deadline)
        {
            text = await http.GetStringAsync("/metrics");
            var got = new Dictionary<string, double>();
            foreach (Match m in Regex.Matches(text, "^chatportal_ws_connections\\{([^}]*)\\} (\\S+)", RegexOptions.Multiline))
            {
                var kind = Regex.Match(m.Groups[1].Value, "kind=\"([^\"]+)\"").Groups[1].Value;
                got[kind] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
            if (want.All(w => got.TryGetValue(w.Key, out var v) && v == w.Value)) return;
            await Task.Delay(200);
        }
        var lines = string.Join("\n", text.Split('\n').Where(l => l.Contains("chatportal_ws_connections", StringComparison.Ordinal)));
        throw new TimeoutException($"/metrics of port {node.Port} never showed plain={plain} v1={v1} guest={guest}:\n{lines}");
    }
}
