using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Conversations;

/// <summary>One real portal (child process) and one Chromium for issue 15's second half (formatting, previews, attachments).</summary>
public sealed class ConversationPortalFixture : IAsyncLifetime
{
    public BrowserFixture Browser { get; } = new();
    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        await Browser.InitializeAsync();
        Portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "1000", ["Chat__RateLimitPerSecond"] = "1000" });
    }

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null) await Portal.DisposeAsync();
        await Browser.DisposeAsync();
    }
}

public sealed class ConversationBrowserTests(ConversationPortalFixture f) : IClassFixture<ConversationPortalFixture>
{
    private const string Password = "secret-pass-1";

    private async Task<IPage> OpenAsync(string name, string path = "/rooms/lobby", int width = 1280, int height = 800, string locale = "en-US")
    {
        var context = await f.Browser.NewContextAsync(f.Portal.BaseUri, width, height, locale);
        await context.AddInitScriptAsync("window.__xss = 0; window.alert = () => { window.__xss++; };");
        var page = await context.NewPageAsync();
        page.Dialog += (_, d) => { _ = page.EvaluateAsync("() => window.__xss++"); _ = d.DismissAsync(); };
        await page.SignInAsync(name, Password, path);
        await page.WaitForCircuitAsync();
        return page;
    }

    private static async Task SayAsync(IPage page, string text)
    {
        await page.FillAsync("#composer-input", text);
        await page.ClickAsync("#send-button");
    }

    private static string ScreenshotFolder()
    {
        // The docs' pictures are refreshed on request (CHATPORTAL_UPDATE_SCREENSHOTS=1), so test runs leave the work tree clean.
        var folder = Environment.GetEnvironmentVariable("CHATPORTAL_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(RepoPaths.Root, "docs")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return folder;
    }

    [Fact]
    public async Task Markdown_renders_for_the_reader_and_javascript_links_and_raw_html_in_markdown_run_nothing()
    {
        var bob = await OpenAsync("bob-md");
        var alice = await OpenAsync("alice-md");
        await SayAsync(alice, "**Release** notes for @bob-md:\n\n```\nif (a < b) return;\n```\n\n- fixed `x`\n- see [docs](https://example.com/docs)");
        // javascript: links written as Markdown, in every spelling, and raw HTML inside Markdown.
        await SayAsync(alice, "*md-evil* [a](javascript:window.__xss++) [b](JAVASCRIPT:alert(1)) [c](java&#115;cript:window.__xss++) " +
            "[d][r] <javascript:window.__xss++>\n\n[r]: javascript:window.__xss++");
        await SayAsync(alice, "**md-raw** <img src=x onerror=\"window.__xss++\"> <script>window.__xss++</script> " +
            "<a href=\"javascript:window.__xss++\">raw</a>\n\n<div onmouseover=\"window.__xss++\">block</div>\n\n<svg onload=window.__xss++>");

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
}
