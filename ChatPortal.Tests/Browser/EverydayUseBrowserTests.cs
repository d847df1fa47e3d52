using System.Globalization;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Issue 21 (everyday use): the unread marker, the reader's time zone, and who is online.</summary>
public sealed class EverydayUseBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>Makes a page look like a background tab: hidden and without focus, from its first script on.</summary>
    private const string HiddenTab = """
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.hasFocus = () => false;
        """;

    [Fact]
    public async Task A_fresh_tab_shows_the_new_messages_line_and_a_background_tab_does_not_mark_them_read()
    {
        await using var portal = await PortalProcess.StartAsync(new() { ["Chat__RateLimitBurst"] = "100" });
        await using var aliceContext = await browser.NewContextAsync(portal.BaseUri);
        await using var bobContext = await browser.NewContextAsync(portal.BaseUri);
        var alice = await aliceContext.NewPageAsync();
        var bob = await bobContext.NewPageAsync();

        await bob.SignInAsync("Bob", "secret-bob", "/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");
        await alice.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await alice.WaitForChatAsync("# Lobby");
        await alice.SendAsync("before you left");
        await Expect(bob.Locator(".msg .msg-text").Last).ToHaveTextAsync("before you left");

        // Bob goes elsewhere (a conversation with Alice); 30 messages arrive in the lobby.
        await bob.Locator("#online-list a[data-user='Alice']").ClickAsync();
        await bob.WaitForChatAsync("@ Alice");
        for (var i = 1; i <= 30; i++) await alice.SendAsync($"unread {i}");
        await Expect(bob.Locator("[data-room='lobby'] .unread-badge")).ToHaveTextAsync("30");

        // A background tab opens the lobby and gets one more message live: it shows them, but nobody looked.
        var background = await bobContext.NewPageAsync();
        await background.AddInitScriptAsync(HiddenTab);
        await background.GotoAsync("/rooms/lobby");
        await background.WaitForChatAsync("# Lobby");
        await alice.SendAsync("unread 31");
        await Expect(background.Locator(".msg .msg-text").Last).ToHaveTextAsync("unread 31");
        // The view saves its read position every other second: give a wrong save its chance.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await background.CloseAsync();

        // On a phone the jump button fits in the header: nothing scrolls sideways (a hidden tab: it looks without reading).
        var phone = await bobContext.NewPageAsync();
        await phone.AddInitScriptAsync(HiddenTab);
        await phone.SetViewportSizeAsync(390, 844);
        await phone.GotoAsync("/rooms/lobby");
        await phone.WaitForChatAsync("# Lobby");
        await Expect(phone.Locator("#jump-unread")).ToBeVisibleAsync();
        Assert.True(await phone.EvaluateAsync<bool>("() => document.scrollingElement.scrollWidth <= 390"),
            $"the page scrolls sideways at 390 px: {await phone.EvaluateAsync<int>("() => document.scrollingElement.scrollWidth")} px");
        var jump = await phone.Locator("#jump-unread").BoundingBoxAsync();
        Assert.True(jump is { } j && j.X >= 0 && j.X + j.Width <= 390, "the jump button is outside the screen");
        await phone.CloseAsync();

        // A new tab (as a bookmark or a reload would): the line sits above the first unread, with the jump button.
        var fresh = await bobContext.NewPageAsync();
        await fresh.GotoAsync("/rooms/lobby");
        await fresh.WaitForChatAsync("# Lobby");
        await Expect(fresh.Locator("#first-unread")).ToHaveCountAsync(1);
        await Expect(fresh.Locator("#first-unread + .msg .msg-text")).ToHaveTextAsync("unread 1");
        await Expect(fresh.Locator(".msg:has(+ #first-unread) .msg-text")).ToHaveTextAsync("before you left");
        await Expect(fresh.Locator("#jump-unread")).ToBeVisibleAsync();
        await fresh.Locator("#jump-unread").ClickAsync();
        await Expect(fresh.Locator("#first-unread")).ToBeInViewportAsync();
        await Expect(fresh.Locator("#jump-unread")).ToHaveCountAsync(0);

        // That tab was visible and focused, so now everything is read: the next fresh tab has no line.
        var later = await bobContext.NewPageAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            await later.GotoAsync("/rooms/lobby");
            await later.WaitForChatAsync("# Lobby");
            if (await later.Locator("#first-unread").CountAsync() == 0 || DateTime.UtcNow > deadline) break;
            await Task.Delay(500);
        }
        await Expect(later.Locator("#first-unread")).ToHaveCountAsync(0);
        await Expect(later.Locator("#jump-unread")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Message_times_are_shown_in_the_browsers_time_zone()
    {
        // The server runs in another zone than the reader, so the server's clock cannot pass for the reader's.
        await using var portal = await PortalProcess.StartAsync(new() { ["TZ"] = "America/Los_Angeles" });
        await using var context = await browser.NewContextAsync(portal.BaseUri, timezoneId: "Asia/Shanghai");
        var page = await context.NewPageAsync();
        await page.SignInAsync("Lin", "secret-lin", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");
        await page.SendAsync("what time is it for me?");

        var time = page.Locator(".msg").Last.Locator("time.msg-time");
        var utc = DateTimeOffset.Parse((await time.GetAttributeAsync("datetime"))!, CultureInfo.InvariantCulture);
        var shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        var local = TimeZoneInfo.ConvertTime(utc, shanghai);
        var today = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, shanghai).Date;
        var expected = local.ToString(local.Date == today ? "HH:mm" : "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        await Expect(time).ToHaveTextAsync(expected);

        // A reload (prerendered first, then live) shows the same.
        await page.ReloadAsync();
        await page.WaitForChatAsync("# Lobby");
        await Expect(page.Locator(".msg").Last.Locator("time.msg-time")).ToHaveTextAsync(expected);
    }

    [Fact]
    public async Task Opening_a_direct_message_keeps_the_user_online_in_the_lobby_until_all_tabs_close()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var aliceContext = await browser.NewContextAsync(portal.BaseUri);
        var bobContext = await browser.NewContextAsync(portal.BaseUri);
        try
        {
            var alice = await aliceContext.NewPageAsync();
            var bob = await bobContext.NewPageAsync();
            await alice.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
            await alice.WaitForChatAsync("# Lobby");
            await bob.SignInAsync("Bob", "secret-bob", "/rooms/lobby");
            await bob.WaitForChatAsync("# Lobby");
            await Expect(alice.Locator("#online-list [data-user='Bob']")).ToBeVisibleAsync();

            // Bob opens a conversation with Alice and writes to her: he is still online, and nobody "left".
            await bob.Locator("#online-list a[data-user='Alice']").ClickAsync();
            await bob.WaitForChatAsync("@ Alice");
            await bob.SendAsync("psst");
            await Expect(alice.Locator("[data-dm='Bob'] .unread-badge")).ToHaveTextAsync("1");
            await Expect(alice.Locator(".notice", new() { HasTextRegex = new Regex("Bob left") })).ToHaveCountAsync(0);
            await Expect(alice.Locator("#online-list [data-user='Bob']")).ToBeVisibleAsync();
            await Expect(alice.Locator("#online-toggle")).ToHaveTextAsync("2");

            // Back to the lobby and to the conversation again: no notices either way.
            await bob.Locator("[data-room='lobby']").ClickAsync();
            await bob.WaitForChatAsync("# Lobby");
            await bob.Locator("#online-list a[data-user='Alice']").ClickAsync();
            await bob.WaitForChatAsync("@ Alice");
            await bob.SendAsync("still here");
            await Expect(alice.Locator("[data-dm='Bob'] .unread-badge")).ToHaveTextAsync("2");
            await Expect(alice.Locator(".notice", new() { HasTextRegex = new Regex("Bob left") })).ToHaveCountAsync(0);
            // The one "joined" is from his first visit (he became a member), not from coming back.
            await Expect(alice.Locator(".notice", new() { HasTextRegex = new Regex("Bob joined") })).ToHaveCountAsync(1);

            // A second tab, then both close: Bob is offline.
            var bob2 = await bobContext.NewPageAsync();
            await bob2.GotoAsync("/rooms/lobby");
            await bob2.WaitForChatAsync("# Lobby");
            await bob.CloseAsync();
            await Expect(alice.Locator("#online-list [data-user='Bob']")).ToBeVisibleAsync();
            await bob2.CloseAsync();
            await Expect(alice.Locator("#online-list [data-user='Bob']")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
            await Expect(alice.Locator("#online-toggle")).ToHaveTextAsync("1");
        }
        finally
        {
            await bobContext.DisposeAsync();
        }
    }
}
