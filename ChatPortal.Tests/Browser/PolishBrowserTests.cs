using System.Globalization;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Playwright;
using SkiaSharp;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Issue 21 item 8: links, grouped messages, the phone drawer, admin pages at 390 px, /clients/, the demo page's scrolling, search past 50.</summary>
public sealed class PolishBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static byte[] TallPng(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap)) canvas.Clear(new SKColor(30, 120, 200));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public async Task Links_look_like_links_one_authors_run_is_grouped_and_the_phone_menu_button_opens_and_closes_the_drawer()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "100" });
        await using var aliceContext = await browser.NewContextAsync(portal.BaseUri);
        await using var bobContext = await browser.NewContextAsync(portal.BaseUri, width: 390, height: 844);
        var alice = await aliceContext.NewPageAsync();
        var bob = await bobContext.NewPageAsync();
        await alice.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await alice.WaitForChatAsync("# Lobby");
        await bob.SignInAsync("Bob", "secret-bob", "/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");

        await alice.SendAsync("first of three, see https://example.com/page");
        await alice.SendAsync("second of three");
        await alice.SendAsync("third of three");
        await bob.SendAsync("bob answers");
        await alice.SendAsync("alice again");
        var rows = alice.Locator("#messages .msg");
        await Expect(rows).ToHaveCountAsync(5);
        var grouped = await rows.EvaluateAllAsync<bool[]>("rows => rows.map(r => r.classList.contains('msg-grouped'))");
        Assert.Equal([false, true, true, false, false], grouped);
        // The grouped ones show no second name or avatar.
        await Expect(rows.Nth(1).Locator(".msg-sender")).ToBeHiddenAsync();
        await Expect(rows.Nth(0).Locator(".msg-sender")).ToBeVisibleAsync();

        // The link: an anchor that looks like one (underlined, not the text's colour).
        var link = rows.Nth(0).Locator(".msg-text a");
        await Expect(link).ToHaveAttributeAsync("href", "https://example.com/page");
        var look = await link.EvaluateAsync<string[]>("a => { const s = getComputedStyle(a), t = getComputedStyle(a.parentElement); return [s.textDecorationLine, s.color, t.color]; }");
        Assert.Contains("underline", look[0]);
        Assert.NotEqual(look[2], look[1]);

        // Phone: the menu button opens the drawer and, pressed again, closes it.
        var lobbyLink = bob.Locator("[data-room='lobby']");
        await Expect(lobbyLink).Not.ToBeInViewportAsync();
        await bob.ClickAsync("#drawer-toggle");
        await Expect(lobbyLink).ToBeInViewportAsync();
        await bob.ClickAsync("#drawer-toggle");
        await Expect(lobbyLink).Not.ToBeInViewportAsync();
        await Expect(bob.Locator("#composer-input")).ToBeVisibleAsync();
        // Open, it lays a dark overlay over the page beside it: a tap there closes it.
        await Expect(bob.Locator("#drawer-overlay")).ToBeHiddenAsync();
        await bob.ClickAsync("#drawer-toggle");
        await Expect(lobbyLink).ToBeInViewportAsync();
        await Expect(bob.Locator("#drawer-overlay")).ToBeVisibleAsync();
        await bob.Locator("#drawer-overlay").ClickAsync(new() { Position = new() { X = 360, Y = 500 } });
        await Expect(lobbyLink).Not.ToBeInViewportAsync();
        await Expect(bob.Locator("#drawer-overlay")).ToBeHiddenAsync();

        // Wide screen: the drawer starts open beside the page, no overlay; the menu button closes it and the page
        // takes the width, pressed again it opens it.
        var aliceLobby = alice.Locator("[data-room='lobby']");
        await Expect(aliceLobby).ToBeInViewportAsync();
        await Expect(alice.Locator("#drawer-overlay")).ToBeHiddenAsync();
        static string PageLeft() => "() => Math.round(document.querySelector('.main-content').getBoundingClientRect().left)";
        Assert.True(await alice.EvaluateAsync<int>(PageLeft()) >= 200, "the page is not beside the open drawer");
        await alice.ClickAsync("#drawer-toggle");
        await Expect(aliceLobby).Not.ToBeInViewportAsync();
        await alice.WaitForFunctionAsync(PageLeft() + " === 0");
        await Expect(alice.Locator("#drawer-overlay")).ToBeHiddenAsync();
        await alice.ClickAsync("#drawer-toggle");
        await Expect(aliceLobby).ToBeInViewportAsync();
        await alice.WaitForFunctionAsync(PageLeft() + " >= 200");
    }

    [Fact]
    public async Task Admin_pages_fit_a_phone_and_clients_lists_the_kit()
    {
        var dir = TempDir.Create("polish");
        await AdminCommandLine.CreateAdminAsync(dir, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword);
        var portal = await PortalProcess.StartAsync(dataDir: dir);
        try
        {
            // /clients/ is a page that lists the kit (it used to be a 404).
            using var http = portal.CreateClient();
            var index = await http.GetAsync("/clients/");
            Assert.Equal(System.Net.HttpStatusCode.OK, index.StatusCode);
            var html = await index.Content.ReadAsStringAsync();
            foreach (var file in new[] { "chatportal.js", "demo.html", "miniprogram/README.md" })
                Assert.Contains($"href=\"{file}\"", html);
            Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
            await using var kitContext = await browser.NewContextAsync(portal.BaseUri);
            var kit = await kitContext.NewPageAsync();
            await kit.GotoAsync("/clients");
            await kit.Locator("#kit a[href='chatportal.js']").ClickAsync();
            Assert.EndsWith("/clients/chatportal.js", kit.Url);

            await using var context = await browser.NewContextAsync(portal.BaseUri, width: 390, height: 844);
            var page = await context.NewPageAsync();
            await page.SignInAdminAsync(AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword);
            foreach (var path in new[] { "/admin", "/admin/rooms", "/admin/users", "/admin/moderation", "/admin/bots", "/admin/site", "/admin/data", "/admin/audit", "/admin/admins" })
            {
                await page.OpenAdminAsync(path);
                await Expect(page.Locator("h1").First).ToBeVisibleAsync();
                var width = await page.EvaluateAsync<int>("() => document.scrollingElement.scrollWidth");
                Assert.True(width <= 390, $"{path} scrolls sideways at 390 px ({width.ToString(CultureInfo.InvariantCulture)} px wide)");
                // Usable: the page itself is what a tap reaches, not a drawer or its overlay over it.
                var reachable = await page.EvaluateAsync<bool>("""
                    () => { const h = document.querySelector('.admin-main h1'); const r = h.getBoundingClientRect();
                            const hit = document.elementFromPoint(r.left + Math.min(20, r.width / 2), r.top + r.height / 2);
                            return !!hit && h.contains(hit); }
                    """);
                Assert.True(reachable, $"{path}: something covers the page at 390 px");
            }
            // The menu opens the back office's drawer and closes it again.
            var rooms = page.Locator("#nav-rooms");
            await Expect(rooms).Not.ToBeInViewportAsync();
            await page.ClickAsync("#admin-drawer-toggle");
            await Expect(rooms).ToBeInViewportAsync();
            await page.ClickAsync("#admin-drawer-toggle");
            await Expect(rooms).Not.ToBeInViewportAsync();
        }
        finally
        {
            await portal.DisposeAsync();
            TempDir.Delete(dir);
        }
    }

    [Fact]
    public async Task Search_results_page_past_fifty_in_the_browser()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "200", ["Chat__RateLimitPerSecond"] = "200" });
        await using (var poster = await portal.MemberSocketAsync("Poster"))
            for (var i = 1; i <= 62; i++)
            {
                var ack = await poster.RequestAsync("send", ("room", "lobby"), ("text", $"needle {i:D3} 针"));
                Assert.True(ack.Is("ack"), ack.ToString());
            }
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var page = await context.NewPageAsync();
        await page.SignInAsync("Seeker", "secret-seeker", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");

        await page.ClickAsync("#search-toggle");
        await page.FillAsync("#search-input", "needle");
        await page.ClickAsync("#search-run");
        await Expect(page.Locator(".search-hit")).ToHaveCountAsync(50);
        await Expect(page.Locator(".search-hit").First).ToContainTextAsync("needle 062");
        await page.ClickAsync("#search-more");
        await Expect(page.Locator(".search-hit")).ToHaveCountAsync(62);
        await Expect(page.Locator(".search-hit").Last).ToContainTextAsync("needle 001");
        await Expect(page.Locator("#search-more")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task The_demo_page_stays_at_the_bottom_after_images_load()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "100" });
        await using var webContext = await browser.NewContextAsync(portal.BaseUri);
        var web = await webContext.NewPageAsync();
        await web.SignInAsync("Painter", "secret-painter", "/rooms/lobby");
        await web.WaitForChatAsync("# Lobby");
        for (var i = 0; i < 12; i++) await web.SendAsync($"text before the pictures {i}");
        for (var i = 0; i < 3; i++)
        {
            await web.SetInputFilesAsync("#composer-file", new FilePayload { Name = $"tall{i}.png", MimeType = "image/png", Buffer = TallPng(200, 600) });
            await Expect(web.Locator("#composer-attachment")).ToBeVisibleAsync();
            await web.ClickAsync("#send-button");
            await Expect(web.Locator("#composer-attachment")).ToHaveCountAsync(0);
        }
        await web.SendAsync("the last word");

        // The demo page, with images arriving late (as on a slow network).
        await using var demoContext = await browser.NewContextAsync(portal.BaseUri);
        var demo = await demoContext.NewPageAsync();
        await demo.RouteAsync("**/images/**", async route =>
        {
            await Task.Delay(1500);
            await route.ContinueAsync();
        });
        await demo.GotoAsync("/clients/demo.html?room=lobby");
        await demo.WaitForFunctionAsync("() => window.demoClient && window.demoClient.state === 'ready'");
        await Expect(demo.Locator("#messages .msg").Last).ToContainTextAsync("the last word");
        await demo.WaitForFunctionAsync("() => [...document.querySelectorAll('#messages img')].length === 3 && [...document.querySelectorAll('#messages img')].every(i => i.complete && i.naturalHeight > 0)",
            null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        // Bounded wait for the page to settle its scroll after the last load event.
        await demo.WaitForFunctionAsync("() => { const m = document.getElementById('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight < 5; }",
            null, new() { Timeout = 5_000 });
    }
}
