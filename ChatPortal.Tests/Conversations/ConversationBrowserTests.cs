using System.Net.WebSockets;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using System.Text;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Conversations;

/// <summary>One real portal (child process) and one Chromium for issue 15's second half (formatting, previews, attachments).</summary>
public sealed class ConversationPortalFixture : IAsyncLifetime
{
    public BrowserFixture Browser { get; } = new();
    public PortalProcess Portal { get; private set; } = default!;
    /// <summary>The "public" site on 127.0.0.1 (allow-listed for the portal) and the "internal" one on 127.0.0.2 (not).</summary>
    public PreviewServers Sites { get; } = new();

    public async ValueTask InitializeAsync()
    {
        await Browser.InitializeAsync();
        await Sites.InitializeAsync();
        Portal = await PortalProcess.StartAsync(new()
        {
            ["Chat__RateLimitBurst"] = "1000",
            ["Chat__RateLimitPerSecond"] = "1000",
            ["SafeHttp__AllowedAddresses__0"] = "127.0.0.1",
            ["SafeHttp__HostAddresses__internal.test"] = "127.0.0.2",
            ["Attachments__MaxBytes"] = "100000",
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null) await Portal.DisposeAsync();
        await Sites.DisposeAsync();
        await Browser.DisposeAsync();
    }
}

/// <summary>What the conversation browser tests share: a signed-in tab, a post that is seen, the screenshot folder.</summary>
internal static class ConversationPages
{
    public const string Password = "secret-pass-1";

    /// <summary>
    /// A fresh browser profile signed in as <paramref name="name"/>, live (circuit up) at <paramref name="path"/>; alert() and dialogs count in window.__xss.
    /// <paramref name="opened"/> gets the profile before it signs in, so that the test can close it however it ends.
    /// </summary>
    public static async Task<IPage> OpenAsync(ConversationPortalFixture f, string name, string path = "/rooms/lobby", int width = 1280, int height = 800,
        string locale = "en-US", List<IBrowserContext>? opened = null)
    {
        var context = await f.Browser.NewContextAsync(f.Portal.BaseUri, width, height, locale);
        opened?.Add(context);
        await context.AddInitScriptAsync("window.__xss = 0; window.alert = () => { window.__xss++; };");
        var page = await context.NewPageAsync();
        page.Dialog += (_, d) => { _ = page.EvaluateAsync("() => window.__xss++"); _ = d.DismissAsync(); };
        await page.SignInAsync(name, Password, path);
        await page.WaitForCircuitAsync();
        return page;
    }

    /// <summary>Sends and waits until the sender's own view shows it (typing during a send would go into the next message).</summary>
    public static async Task SayAsync(IPage page, string text, string marker)
    {
        await page.FillAsync("#composer-input", text);
        await page.ClickAsync("#send-button");
        await Expect(page.Locator(".msg", new() { HasText = marker })).ToHaveCountAsync(1);
    }

    /// <summary>
    /// Closes what a test opened, also when it failed: a page left signed in would stay a reader of the lobby for the
    /// class's next tests (their "Seen by" counts) and keep its circuit running.
    /// </summary>
    public static async ValueTask CloseAllAsync(List<IBrowserContext> opened)
    {
        foreach (var context in opened)
        {
            try { await context.CloseAsync(); }
            catch (PlaywrightException) { /* already gone with the browser */ }
        }
        opened.Clear();
    }

    public static string ScreenshotFolder()
    {
        // The docs' pictures are refreshed on request (CHATPORTAL_UPDATE_SCREENSHOTS=1), so test runs leave the work tree clean.
        var folder = Environment.GetEnvironmentVariable("CHATPORTAL_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(RepoPaths.Root, "docs")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return folder;
    }
}

public sealed class ConversationBrowserTests(ConversationPortalFixture f) : IClassFixture<ConversationPortalFixture>, IAsyncDisposable
{
    private readonly List<IBrowserContext> _opened = [];

    private Task<IPage> OpenAsync(string name, string path = "/rooms/lobby", int width = 1280, int height = 800, string locale = "en-US") =>
        ConversationPages.OpenAsync(f, name, path, width, height, locale, _opened);

    public ValueTask DisposeAsync() => ConversationPages.CloseAllAsync(_opened);

    private static Task SayAsync(IPage page, string text, string marker) => ConversationPages.SayAsync(page, text, marker);

    private static string ScreenshotFolder() => ConversationPages.ScreenshotFolder();

    [Fact]
    public async Task Markdown_renders_for_the_reader_and_javascript_links_and_raw_html_in_markdown_run_nothing()
    {
        var bob = await OpenAsync("bob-md");
        var alice = await OpenAsync("alice-md");
        await SayAsync(alice, "**Release** notes for @bob-md:\n\n```\nif (a < b) return;\n```\n\n- fixed `x`\n- see [docs](https://example.com/docs)", "Release");
        // javascript: links written as Markdown, in every spelling, and raw HTML inside Markdown.
        await SayAsync(alice, "*md-evil* [a](javascript:window.__xss++) [b](JAVASCRIPT:alert(1)) [c](java&#115;cript:window.__xss++) " +
            "[d][r] <javascript:window.__xss++>\n\n[r]: javascript:window.__xss++", "md-evil");
        await SayAsync(alice, "**md-raw** <img src=x onerror=\"window.__xss++\"> <script>window.__xss++</script> " +
            "<a href=\"javascript:window.__xss++\">raw</a>\n\n<div onmouseover=\"window.__xss++\">block</div>\n\n<svg onload=window.__xss++>", "md-raw");

        var release = bob.Locator(".msg", new() { HasText = "Release" });
        await Expect(release.Locator(".md strong")).ToHaveTextAsync("Release");
        await Expect(release.Locator(".md pre code")).ToHaveTextAsync("if (a < b) return;\n");
        await Expect(release.Locator(".md li")).ToHaveCountAsync(2);
        await Expect(release.Locator(".md a[href='https://example.com/docs']")).ToHaveAttributeAsync("rel", "noopener noreferrer nofollow");
        await Expect(release.Locator(".mention-me")).ToHaveTextAsync("@bob-md");
        await Expect(alice.Locator(".msg", new() { HasText = "Release" }).Locator(".mention")).ToHaveClassAsync("mention");

        var evil = bob.Locator(".msg", new() { HasText = "md-evil" });
        await Expect(evil.Locator("em")).ToHaveTextAsync("md-evil");
        var raw = bob.Locator(".msg", new() { HasText = "md-raw" });
        await Expect(raw.Locator("strong")).ToHaveTextAsync("md-raw");
        // The raw HTML is shown as text.
        await Expect(raw).ToContainTextAsync("<img src=x onerror=\"window.__xss++\">");
        await Expect(raw).ToContainTextAsync("<script>window.__xss++</script>");
        await Expect(raw).ToContainTextAsync("<div onmouseover=\"window.__xss++\">block</div>");

        foreach (var page in new[] { alice, bob })
        {
            Assert.Equal(0, await page.Locator("#messages a[href^='javascript' i], #messages a[href*='script:' i]").CountAsync());
            Assert.Equal(0, await page.Locator("#messages script, #messages svg, #messages img[src='x'], #messages [onmouseover], #messages [onerror]").CountAsync());
            // The would-be links are plain text now: click them anyway, and hover the would-be div.
            var evilText = page.Locator(".msg", new() { HasText = "md-evil" }).Locator(".md");
            await Expect(evilText).ToHaveTextAsync("md-evil a b c d javascript:window.__xss++"); // link texts and the autolink's words, as text
            await evilText.ClickAsync();
            await page.Locator(".msg", new() { HasText = "md-raw" }).HoverAsync();
            await page.WaitForTimeoutAsync(300); // let any handler that slipped through fire before looking
            Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__xss"));
            Assert.Single(page.Context.Pages); // no link opened anything
        }

        var docs = ScreenshotFolder();
        await bob.ScreenshotAsync(new() { Path = Path.Combine(docs, "formatting.png") });
        var phone = await OpenAsync("carol-md", width: 390, height: 844, locale: "zh-CN");
        await Expect(phone.Locator(".msg", new() { HasText = "Release" }).Locator(".md pre")).ToBeVisibleAsync();
        // A long code line scrolls inside its block; the page itself never scrolls sideways.
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await phone.ScreenshotAsync(new() { Path = Path.Combine(docs, "formatting-phone.png") });
        await phone.Context.CloseAsync();
        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [Fact]
    public async Task A_posted_link_shows_its_preview_live_with_the_image_from_our_origin_and_internal_links_get_none()
    {
        var bob = await OpenAsync("bob-lp");
        var alice = await OpenAsync("alice-lp");
        var i = f.Sites.InternalPort;
        await SayAsync(alice, $"internal-1 http://127.0.0.2:{i}/ and http://2130706434:{i}/", "internal-1");
        await SayAsync(alice, $"internal-2 {f.Sites.Public}/to/mapped", "internal-2");
        await SayAsync(alice, $"Tea for today: {f.Sites.Public}/page", "Tea for today");

        var card = bob.Locator(".msg", new() { HasText = "Tea for today" }).Locator(".link-preview");
        await Expect(card.Locator(".lp-title")).ToHaveTextAsync("Longjing <script>alert(1)</script> tea"); // as text
        await Expect(card.Locator(".lp-site")).ToHaveTextAsync("Tea Times");
        await Expect(card.Locator(".lp-desc")).ToHaveTextAsync("Green tea from Hangzhou · 西湖龙井");
        await Expect(card).ToHaveAttributeAsync("href", $"{f.Sites.Public}/page");
        await Expect(card).ToHaveAttributeAsync("rel", "noopener noreferrer nofollow");
        var img = card.Locator("img.lp-image");
        var src = await img.GetAttributeAsync("src");
        Assert.StartsWith("/previews/", src);
        await bob.WaitForFunctionAsync("el => el.complete && el.naturalWidth === 480", await img.ElementHandleAsync());
        using (var http = f.Portal.CreateClient())
        {
            using var response = await http.GetAsync(src);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
        }
        // The sender's own tab gets it too (one event for everyone), and a reload reads it from the store.
        await Expect(alice.Locator(".msg", new() { HasText = "Tea for today" }).Locator(".link-preview .lp-title")).ToContainTextAsync("Longjing");
        await bob.ReloadAsync();
        await bob.WaitForCircuitAsync();
        await Expect(card.Locator(".lp-title")).ToContainTextAsync("Longjing");

        // The links inside got no preview and the internal server saw nothing.
        Assert.Equal(0, await bob.Locator(".msg", new() { HasText = "internal-" }).Locator(".link-preview").CountAsync());
        Assert.Equal(0, f.Sites.InternalHits);
        Assert.Equal(0, await bob.EvaluateAsync<int>("() => window.__xss"));

        var docs = ScreenshotFolder();
        await bob.ScreenshotAsync(new() { Path = Path.Combine(docs, "link-preview.png") });
        var phone = await OpenAsync("carol-lp", width: 390, height: 844, locale: "zh-CN");
        await Expect(phone.Locator(".msg", new() { HasText = "Tea for today" }).Locator(".link-preview img")).ToBeVisibleAsync();
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await phone.ScreenshotAsync(new() { Path = Path.Combine(docs, "link-preview-phone.png") });
        await phone.Context.CloseAsync();
        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [Fact]
    public async Task Files_go_up_over_v1_and_the_web_come_down_only_as_downloads_and_plain_clients_get_their_name()
    {
        var bob = await OpenAsync("bob-file");
        await using var plain = await WsClient.ConnectAsync(f.Portal.BaseUri); // the seed's protocol: a guest in the lobby
        await plain.WaitForAsync(x => x.Get("type") == "openSuccess" || x.Text.Contains("openSuccess"));
        await using var ws = await f.Portal.MemberSocketAsync(PortalHelpers.UniqueName("filer"));

        // An HTML page with a hostile name, sent as a file over chatportal.v1.
        var html = Encoding.UTF8.GetBytes("<!doctype html><script>window.__xss++</script><h1>page</h1>");
        const string evilName = "<img src=x onerror=window.__xss++>.html";
        await ws.SendJsonAsync(new { type = "file", id = 31, room = "lobby", client_id = "f-31", name = evilName });
        await ws.SendBytesAsync(html, WebSocketMessageType.Binary);
        var ack = await ws.WaitForAsync(x => x.Get("reply_to") == "31");
        Assert.True(ack.Is("ack"), ack.ToString());
        var msg = await ws.WaitForAsync(x => x.Is("message") && x.Get("message.client_id") == "f-31");
        Assert.Null(msg.Get("message.image"));
        Assert.Equal(evilName, msg.Get("message.file.name"));
        Assert.Equal("application/octet-stream", msg.Get("message.file.content_type"));
        var url = msg.Get("message.file.url")!;

        using (var http = f.Portal.CreateClient())
        {
            using var response = await http.GetAsync(url);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
            Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal(html, await response.Content.ReadAsByteArrayAsync());
        }
        // The plain client gets the name as text (HTML-escaped like every plain message), not an image frame.
        var plainFrame = await plain.WaitForAsync(x => x.Is("message") && x.Json.GetProperty("message").GetString()!.StartsWith("📎", StringComparison.Ordinal));
        Assert.Contains("&lt;img src=x onerror=window.__xss++&gt;.html", plainFrame.Json.GetProperty("message").GetString());
        Assert.DoesNotContain(plain.Frames, x => x.Binary);

        // Too large: a clear error, nothing stored, the socket stays open.
        await ws.SendJsonAsync(new { type = "file", id = 32, room = "lobby", name = "big.bin" });
        await ws.SendBytesAsync(new byte[150_000], WebSocketMessageType.Binary);
        Assert.Equal("file_too_large", (await ws.WaitForAsync(x => x.Get("reply_to") == "32")).Get("code"));

        // The web: a download chip with the name as text; nothing from the file or its name runs or shows inline.
        var chip = bob.Locator(".msg-file", new() { HasText = ".html" });
        await Expect(chip.Locator(".file-name")).ToHaveTextAsync(evilName);
        await Expect(chip).ToHaveAttributeAsync("download", evilName);
        await Expect(chip.Locator(".file-size")).ToContainTextAsync("application/octet-stream");

        // Bob attaches a text file through the composer; it goes out on Send.
        await bob.SetInputFilesAsync("#composer-any-file", new FilePayload { Name = "笔记 notes.txt", MimeType = "text/html", Buffer = Encoding.UTF8.GetBytes("line one\nline two") });
        await Expect(bob.Locator("#composer-attachment")).ToContainTextAsync("笔记 notes.txt");
        await bob.FillAsync("#composer-input", "meeting notes");
        await bob.ClickAsync("#send-button");
        var mine = bob.Locator(".msg", new() { HasText = "meeting notes" });
        await Expect(mine.Locator(".msg-file .file-size")).ToContainTextAsync("text/plain"); // from the content, not the browser's claim
        var sent = await ws.WaitForAsync(x => x.Is("message") && x.Get("message.file.name") == "笔记 notes.txt");
        Assert.Equal("text/plain", sent.Get("message.file.content_type"));
        Assert.Equal(0, await bob.Locator("#messages iframe, #messages object, #messages embed, #messages script").CountAsync());
        await bob.WaitForTimeoutAsync(300);
        Assert.Equal(0, await bob.EvaluateAsync<int>("() => window.__xss"));

        var docs = ScreenshotFolder();
        await bob.ScreenshotAsync(new() { Path = Path.Combine(docs, "attachments.png") });
        var phone = await OpenAsync("carol-file", width: 390, height: 844, locale: "zh-CN");
        await Expect(phone.Locator(".msg-file", new() { HasText = "notes.txt" })).ToBeVisibleAsync();
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await phone.ScreenshotAsync(new() { Path = Path.Combine(docs, "attachments-phone.png") });
        await phone.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }
}
