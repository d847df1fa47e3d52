using System.Net;
using System.Text.Json;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ChatPortal.Tests.Cluster;

/// <summary>
/// The real portal as child processes (PortalProcess) sharing real Redis and PostgreSQL, driven
/// through Debian's Chromium, directly and through real nginx.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterWebTests(PostgresFixture pg, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>Two portal nodes with their own data folders sharing one DataProtection key ring (as a shared volume would).</summary>
    internal sealed class TwoNodes : IAsyncDisposable
    {
        private readonly List<string> _dirs = [];
        public PortalProcess Node1 { get; private set; } = default!;
        public PortalProcess Node2 { get; private set; } = default!;

        public static async Task<TwoNodes> StartAsync(string db, string redis, Dictionary<string, string>? extra = null)
        {
            var t = new TwoNodes();
            var d1 = TempDir.Create("node1");
            var d2 = TempDir.Create("node2");
            t._dirs.AddRange([d1, d2]);
            Directory.CreateDirectory(Path.Combine(d1, "keys"));
            Directory.CreateDirectory(Path.Combine(d1, "images"));
            Directory.CreateSymbolicLink(Path.Combine(d2, "keys"), Path.Combine(d1, "keys"));
            Directory.CreateSymbolicLink(Path.Combine(d2, "images"), Path.Combine(d1, "images"));
            Directory.CreateDirectory(Path.Combine(d1, "previews")); // link previews' images (issue 15): one data folder, as deployed
            Directory.CreateSymbolicLink(Path.Combine(d2, "previews"), Path.Combine(d1, "previews"));
            // One after the other: the first migrates the database and creates the key.
            t.Node1 = await PortalProcess.StartAsync(Env("node1"), d1);
            t.Node2 = await PortalProcess.StartAsync(Env("node2"), d2);
            return t;

            Dictionary<string, string> Env(string name) =>
                new[] { NodeEnv(name, db, redis), extra ?? [] }.SelectMany(d => d).ToDictionary();
        }

        public async ValueTask DisposeAsync()
        {
            if (Node2 is not null) await Node2.DisposeAsync();
            if (Node1 is not null) await Node1.DisposeAsync();
            foreach (var d in _dirs) TempDir.Delete(d);
        }
    }

    internal static Dictionary<string, string> NodeEnv(string name, string db, string? redis)
    {
        var env = new Dictionary<string, string>
        {
            ["Portal__DatabaseProvider"] = "Postgres",
            ["Portal__ConnectionString"] = db,
            ["Redis__NodeId"] = name,
            ["Redis__PresenceHeartbeatSeconds"] = "1",
            ["Redis__PresenceTtlSeconds"] = "4",
        };
        if (redis is not null) env["Redis__Configuration"] = redis;
        return env;
    }

    internal static async Task<IPage> OpenLobbyAsync(BrowserFixture browser, Uri baseUri, string name, Func<IBrowserContext, Task>? prepare = null)
    {
        var ctx = await browser.NewContextAsync(baseUri);
        if (prepare is not null) await prepare(ctx);
        var page = await ctx.NewPageAsync();
        await page.SignInAsync(name, "secret-" + name, "/rooms/lobby");
        await page.WaitForCircuitAsync();
        return page;
    }

    internal static async Task SayAsync(IPage page, string text)
    {
        await page.FillAsync("#composer-input", text);
        await page.ClickAsync("#send-button");
        await Expect(page, text);
    }

    internal static Task Expect(IPage page, string text) =>
        page.Locator("#messages .msg-text", new() { HasText = text }).First.WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });

    internal static Task ExpectOnline(IPage page, string name, bool online = true) =>
        page.Locator($"#online-list [data-user='{name}']").First.WaitForAsync(new()
        {
            Timeout = BrowserFixture.ExpectTimeoutMs,
            State = online ? WaitForSelectorState.Visible : WaitForSelectorState.Detached,
        });

    [Fact]
    public async Task Web_users_on_two_nodes_chat_both_ways_share_presence_and_survive_a_redis_outage()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("web");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);

        var ann = await OpenLobbyAsync(browser, nodes.Node1.BaseUri, "ann");
        var ben = await OpenLobbyAsync(browser, nodes.Node2.BaseUri, "ben");
        var cat = await OpenLobbyAsync(browser, nodes.Node1.BaseUri, "cat");

        // Presence spans the nodes.
        await ExpectOnline(ann, "ben");
        await ExpectOnline(ben, "ann");
        await ExpectOnline(ben, "cat");

        // Both ways.
        await SayAsync(ann, "hello from node one");
        await Expect(ben, "hello from node one");
        await SayAsync(ben, "hi back from node two");
        await Expect(ann, "hi back from node two");
        await Expect(cat, "hi back from node two");

        // Redis goes away: node one keeps serving its own users, and its health says so.
        await redis.StopAsync();
        await WaitForHealthAsync(nodes.Node1, "redis", "Degraded");
        await SayAsync(ann, "said while redis was down");
        await Expect(cat, "said while redis was down");

        // Redis comes back: the nodes reconnect by themselves, and ben gets what he missed, then new messages.
        await redis.StartAgainAsync();
        await WaitForHealthAsync(nodes.Node1, "redis", "Healthy");
        await WaitForHealthAsync(nodes.Node2, "redis", "Healthy");
        await Expect(ben, "said while redis was down");
        await SayAsync(ann, "and now redis is back");
        await Expect(ben, "and now redis is back");
        await SayAsync(ben, "node two hears you");
        await Expect(ann, "node two hears you");

        // Every acknowledged message is stored exactly once.
        var stored = (await PgQueries.MessagesAsync(db)).Select(m => m.Text).ToList();
        Assert.Equal(["hello from node one", "hi back from node two", "said while redis was down", "and now redis is back", "node two hears you"], stored);

        // A node that crashes (kill -9): its users leave the other node's list when its heartbeat expires.
        await ExpectOnline(ann, "ben");
        await nodes.Node2.KillAsync();
        await ExpectOnline(ann, "ben", online: false);
        await ExpectOnline(ann, "cat");
        foreach (var page in new[] { ann, ben, cat }) await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Through_nginx_the_web_ui_loads_and_users_on_different_nodes_chat()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("nginx");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration);
        await using var nginx = await NginxServer.StartAsync(nodes.Node1.Port, nodes.Node2.Port);

        // Find a route cookie for each node: /healthz through nginx names the node that answered.
        var routes = new Dictionary<string, string>();
        using (var http = new HttpClient { BaseAddress = nginx.BaseUri })
        {
            for (var i = 0; i < 64 && routes.Count < 2; i++)
            {
                var route = $"r{i}";
                using var req = new HttpRequestMessage(HttpMethod.Get, "/healthz");
                req.Headers.Add("Cookie", $"chatportal_node={route}");
                using var res = await http.SendAsync(req);
                Assert.Equal(HttpStatusCode.OK, res.StatusCode);
                Assert.False(res.Headers.Contains("Set-Cookie"), "a browser with a route keeps it");
                using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
                routes.TryAdd(doc.RootElement.GetProperty("checks").GetProperty("redis").GetProperty("data").GetProperty("node").GetString()!, route);
            }
            // A browser without a route gets one.
            using var first = await http.GetAsync("/login");
            Assert.Contains(first.Headers.GetValues("Set-Cookie"), c => c.StartsWith("chatportal_node=", StringComparison.Ordinal));
        }
        Assert.True(routes.ContainsKey("node1") && routes.ContainsKey("node2"), $"routes found: {string.Join(", ", routes.Keys)}");

        Task Pin(IBrowserContext ctx, string node) => ctx.AddCookiesAsync(
            [new Microsoft.Playwright.Cookie { Name = "chatportal_node", Value = routes[node], Domain = "127.0.0.1", Path = "/" }]);
        var dan = await OpenLobbyAsync(browser, nginx.BaseUri, "dan", c => Pin(c, "node1"));
        var eva = await OpenLobbyAsync(browser, nginx.BaseUri, "eva", c => Pin(c, "node2"));
        await ExpectOnline(dan, "eva");
        await SayAsync(dan, "through nginx to node one");
        await Expect(eva, "through nginx to node one");
        await SayAsync(eva, "through nginx from node two");
        await Expect(dan, "through nginx from node two");
        Assert.Equal(2, (await PgQueries.MessagesAsync(db)).Count);
        Assert.DoesNotContain("[error]", nginx.ReadErrorLog(), StringComparison.Ordinal);
        await dan.Context.CloseAsync();
        await eva.Context.CloseAsync();
    }

    [Fact]
    public async Task Healthz_reports_a_stopped_redis_and_a_stopped_database_and_recovers()
    {
        await using var redis = await RedisServer.StartAsync();
        // A PostgreSQL server of its own: this test stops it.
        await using var ownPg = await PostgresServer.StartAsync();
        var db = await ownPg.CreateDatabaseAsync("health");
        await using var node = await PortalProcess.StartAsync(NodeEnv("solo", db, redis.Configuration));
        using var http = node.CreateClient();

        var healthy = await WaitForHealthAsync(node, "redis", "Healthy");
        Assert.Equal("Healthy", healthy.GetProperty("status").GetString());
        Assert.Equal("PostgreSQL", healthy.GetProperty("checks").GetProperty("database").GetProperty("data").GetProperty("provider").GetString());
        Assert.Equal(0, await ProbeAsync(node));

        // Redis down: degraded but still serving (200), with the reason.
        await redis.StopAsync();
        var degraded = await WaitForHealthAsync(node, "redis", "Degraded");
        Assert.Equal("Degraded", degraded.GetProperty("status").GetString());
        Assert.Contains("unreachable", degraded.GetProperty("checks").GetProperty("redis").GetProperty("description").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        // Database down: unhealthy, 503 with JSON details; the probe the container image runs fails.
        await ownPg.StopAsync();
        try
        {
            var down = await WaitForHealthAsync(node, "database", "Unhealthy");
            using var res = await http.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, res.StatusCode);
            Assert.Equal("application/json; charset=utf-8", res.Content.Headers.ContentType?.ToString());
            Assert.Equal("Unhealthy", down.GetProperty("status").GetString());
            Assert.Contains("unreachable", down.GetProperty("checks").GetProperty("database").GetProperty("description").GetString());
            Assert.Equal(1, await ProbeAsync(node));
        }
        finally
        {
            await ownPg.StartAgainAsync();
        }
        await redis.StartAgainAsync();
        await WaitForHealthAsync(node, "database", "Healthy");
        var back = await WaitForHealthAsync(node, "redis", "Healthy");
        Assert.Equal("Healthy", back.GetProperty("status").GetString());

        // Metrics in Prometheus text, from the ChatPortal meter.
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("chatportal_writer_queue_depth", metrics);
        Assert.Contains("chatportal_cluster_redis_up{otel_scope_name=\"ChatPortal\"} 1", metrics);
    }

    /// <summary>Polls /healthz until the named check has the wanted status; returns the whole report.</summary>
    internal static async Task<JsonElement> WaitForHealthAsync(PortalProcess node, string check, string status)
    {
        using var http = node.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync("/healthz").ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                using var res = await http.GetAsync("/healthz");
                last = await res.Content.ReadAsStringAsync();
            }
            var doc = JsonDocument.Parse(last).RootElement.Clone();
            if (doc.GetProperty("checks").GetProperty(check).GetProperty("status").GetString() == status) return doc;
            await Task.Delay(200);
        }
        throw new TimeoutException($"{check} never became {status}; last report: {last}");
    }

    /// <summary>The container's HEALTHCHECK command, run against the node.</summary>
    private static async Task<int> ProbeAsync(PortalProcess node)
    {
        var psi = RepoPaths.PortalStartInfo("healthcheck", node.BaseUri.ToString());
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = System.Diagnostics.Process.Start(psi)!;
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return p.ExitCode;
    }

}
