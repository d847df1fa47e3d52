using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ChatPortal.LoadGen;

public sealed record WebSummary(
    string Label, int Pages, int Ready, int Probes, long Expected, long Seen,
    long ServerRssEmptyKiB, long ServerRssWithPagesKiB, double KibPerCircuit,
    double P50Ms, double P99Ms, double MaxMs, double SetupSeconds, string? Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(WebSummary))]
internal sealed partial class WebSummaryJson : JsonSerializerContext;

/// <summary>
/// Scenario 4: N signed-in web users (one headless Chromium, one browser context and page per
/// user, each a Blazor Server circuit on /rooms/lobby). Server memory per circuit is the RSS
/// growth from opening the pages; delivery latency is from a v1 socket's send to the moment the
/// message's text appears in each page's DOM (a MutationObserver stamps Date.now()).
/// </summary>
internal static partial class WebUsers
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private const string Observer = """
        () => {
          window.__seen = {};
          const scan = () => {
            for (const el of document.querySelectorAll('.msg-text')) {
              const m = /wprobe-(\d+)-/.exec(el.textContent || '');
              if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
            }
          };
          new MutationObserver(scan).observe(document.body, { childList: true, subtree: true, characterData: true });
          scan();
        }
        """;

    public static async Task<WebSummary> RunAsync(LoadOptions o)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(o.TimeoutSeconds));
        var ct = timeout.Token;
        var server = new ServerSampler(o.Pid);
        var baseUri = new UriBuilder(o.Url) { Scheme = "http", Path = "/", Query = "" }.Uri;
        var watch = Stopwatch.StartNew();
        var run = Guid.NewGuid().ToString("N")[..6];
        string? error = null;

        // Sign in (registers) every user through the real form; cookies go to the browser.
        var cookies = new CookieContainer[o.Conns];
        using (var gate = new SemaphoreSlim(4))
        {
            await Task.WhenAll(Enumerable.Range(0, o.Conns).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try { cookies[i] = await SignInAsync(baseUri, $"w{run}u{i}", ct); }
                finally { gate.Release(); }
            }));
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-renderer-backgrounding", "--disable-background-timer-throttling", "--renderer-process-limit=8",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        });
        var pages = new IPage?[o.Conns];
        // The first pages warm the server up (JIT, caches, first-render allocations); memory per
        // circuit is measured over the rest.
        var warm = Math.Min(10, Math.Max(1, o.Conns / 10));
        await OpenAsync(0, warm);
        await Task.Delay(1000, ct);
        var rssEmpty = server.RssKiB();
        await OpenAsync(warm, o.Conns - warm);

        async Task OpenAsync(int from, int count)
        {
            using var gate = new SemaphoreSlim(4);
            await Task.WhenAll(Enumerable.Range(from, count).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUri.ToString() });
                    await context.AddCookiesAsync(cookies[i].GetAllCookies().Select(c => new Microsoft.Playwright.Cookie
                    {
                        Name = c.Name, Value = c.Value, Domain = baseUri.Host, Path = "/",
                    }));
                    var page = await context.NewPageAsync();
                    await page.GotoAsync("/rooms/lobby", new PageGotoOptions { Timeout = 60_000 });
                    // Interactive: the composer exists once the circuit rendered the room.
                    await page.WaitForSelectorAsync(".msg, textarea", new PageWaitForSelectorOptions { Timeout = 60_000 });
                    await page.EvaluateAsync(Observer);
                    pages[i] = page;
                }
                catch (Exception ex) when (ex is PlaywrightException or TimeoutException)
                {
                    error ??= $"page {i}: {ex.Message.Split('\n')[0]}";
                }
                finally { gate.Release(); }
            }));
        }
        var live = pages.Where(p => p is not null).Cast<IPage>().ToArray();

        // The sender: a v1 guest in the lobby.
        var sender = new Client(-1, new V1Driver(), new LatencyHistogram());
        await sender.ConnectAsync(o with { Room = "lobby" }, ct);
        sender.StartReceiving(ct);

        async Task<long> Probe(int k)
        {
            var sent = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await sender.SendTextAsync($"{{\"type\":\"send\",\"id\":{k + 100},\"room\":\"lobby\",\"text\":\"wprobe-{k}-{run}\"}}", ct);
            return sent;
        }

        // Warm-up probe 0: proves every circuit is live before memory is read.
        await Probe(0);
        await WaitSeenAsync(live, 0, TimeSpan.FromSeconds(60), ct);
        await Task.Delay(2000, ct);
        var rssPages = server.RssKiB();
        var setup = watch.Elapsed.TotalSeconds;

        var probes = Math.Max(1, o.Msgs);
        var sentAt = new long[probes + 1];
        for (var k = 1; k <= probes; k++)
        {
            sentAt[k] = await Probe(k);
            await Task.Delay(1000, ct);
        }
        await WaitSeenAsync(live, probes, TimeSpan.FromSeconds(30), ct);
        if (o.Hold > 0)
        {
            // --hold: pages stay open (e.g. for a heap snapshot of the server); said on stderr.
            await Console.Error.WriteLineAsync($"holding {live.Length} pages for {o.Hold} s");
            await Task.Delay(TimeSpan.FromSeconds(o.Hold), ct);
        }

        var latencies = new List<double>();
        foreach (var page in live)
        {
            var seen = await page.EvaluateAsync<Dictionary<string, double>>("() => window.__seen");
            for (var k = 1; k <= probes; k++)
                if (seen.TryGetValue(k.ToString(System.Globalization.CultureInfo.InvariantCulture), out var at)) latencies.Add(at - sentAt[k]);
        }
        latencies.Sort();
        double Pct(double p) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
        await sender.CloseAsync();

        return new WebSummary(o.Label, o.Conns, live.Length, probes, (long)live.Length * probes, latencies.Count,
            rssEmpty, rssPages, Math.Round((rssPages - rssEmpty) / (double)Math.Max(1, live.Length - warm), 1),
            Math.Round(Pct(0.5), 1), Math.Round(Pct(0.99), 1), latencies.Count == 0 ? 0 : latencies[^1],
            Math.Round(setup, 1), error);
    }

    private static async Task WaitSeenAsync(IPage[] pages, int k, TimeSpan limit, CancellationToken ct)
    {
        var until = DateTime.UtcNow + limit;
        foreach (var page in pages)
        {
            while (DateTime.UtcNow < until && !ct.IsCancellationRequested)
            {
                var has = await page.EvaluateAsync<bool>($"() => '{k}' in (window.__seen || {{}})");
                if (has) break;
                await Task.Delay(100, ct);
            }
        }
    }

    internal static async Task<CookieContainer> SignInAsync(Uri baseUri, string name, CancellationToken ct)
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = baseUri };
        var login = await http.GetStringAsync("/login", ct);
        var token = TokenPattern().Match(login).Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
            ["Input.Name"] = name,
            ["Input.Password"] = "web-load-pw-1",
            ["Input.RememberMe"] = "true",
            ["Input.ReturnUrl"] = "/",
        });
        using var r = await http.PostAsync("/login", form, ct);
        if ((int)r.StatusCode is < 300 or >= 400) throw new InvalidOperationException($"sign-in of {name}: {(int)r.StatusCode}");
        return cookies;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
