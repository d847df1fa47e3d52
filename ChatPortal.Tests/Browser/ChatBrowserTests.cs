using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Two people in two browser profiles, on the real portal, through Debian's Chromium.</summary>
public sealed class ChatBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Two_users_chat_live_in_the_lobby_and_in_private_and_keep_it_across_a_restart()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var aliceContext = await browser.NewContextAsync(portal.BaseUri);
        await using var bobContext = await browser.NewContextAsync(portal.BaseUri);
        var alice = await aliceContext.NewPageAsync();
        var bob = await bobContext.NewPageAsync();

        await alice.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await alice.WaitForChatAsync("# Lobby");
        await bob.SignInAsync("Bob", "secret-bob", "/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");

        // Alice sees Bob arrive: a join notice and his name in the online list, without reloading.
        await Expect(alice.Locator(".notice", new() { HasText = "Bob joined" })).ToBeVisibleAsync();
        await Expect(alice.Locator("#online-list [data-user]")).ToHaveCountAsync(2);
        await Expect(bob.Locator("#online-list [data-user='Alice']")).ToBeVisibleAsync();

        // Enter sends; each sees the other's message live.
        await alice.SendAsync("Hello Bob 👋 <b>not bold</b>");
        await Expect(bob.Locator(".msg .msg-text").Last).ToHaveTextAsync("Hello Bob 👋 <b>not bold</b>");
        await Expect(bob.Locator(".msg").Last.Locator(".msg-sender")).ToHaveTextAsync("Alice");
        await Expect(bob.Locator(".msg-text b")).ToHaveCountAsync(0);

        // Shift+Enter is a new line, not a send.
        var box = bob.Locator("#composer-input");
        await box.PressSequentiallyAsync("Hi Alice");
        await box.PressAsync("Shift+Enter");
        await box.PressSequentiallyAsync("second line");
        await Expect(bob.Locator(".msg")).ToHaveCountAsync(1);
        await box.PressAsync("Enter");
        await Expect(alice.Locator(".msg .msg-text").Last).ToHaveTextAsync("Hi Alice\nsecond line");
        await Expect(box).ToHaveValueAsync("");
        await Expect(alice.Locator(".msg")).ToHaveCountAsync(2);
        // Sender, avatar and time on every message.
        foreach (var msg in await alice.Locator(".msg").AllAsync())
        {
            await Expect(msg.Locator(".msg-sender")).Not.ToBeEmptyAsync();
            await Expect(msg.Locator(".mud-avatar")).ToBeVisibleAsync();
            await Expect(msg.Locator("time.msg-time")).ToHaveTextAsync(new Regex(@"^\d{2}:\d{2}$"));
        }

        // Alice opens a private chat from the online list.
        await alice.Locator("#online-list a[data-user='Bob']").ClickAsync();
        await alice.WaitForURLAsync("**/dm/Bob");
        await alice.WaitForChatAsync("@ Bob");
        await alice.SendAsync("just between us");
        await Expect(alice.Locator(".msg .msg-text")).ToHaveTextAsync(["just between us"]);

        // Bob, still in the lobby, sees the conversation appear in his drawer with one unread, then reads it.
        var dmLink = bob.Locator("[data-dm='Alice']");
        await Expect(dmLink).ToBeVisibleAsync();
        await Expect(dmLink.Locator(".unread-badge")).ToHaveTextAsync("1");
        Assert.EndsWith("/rooms/lobby", bob.Url, StringComparison.Ordinal);
        await dmLink.ClickAsync();
        await bob.WaitForURLAsync("**/dm/Alice");
        await bob.WaitForChatAsync("@ Alice");
        await Expect(bob.Locator(".msg .msg-text")).ToHaveTextAsync(["just between us"]);
        await Expect(dmLink.Locator(".unread-badge")).ToHaveCountAsync(0);
        await bob.SendAsync("got it");
        await Expect(alice.Locator(".msg .msg-text")).ToHaveTextAsync(["just between us", "got it"]);

        // The server goes away: the pages say so with the reconnect overlay.
        await portal.StopAsync();
        // A clean exit, not a kill: tabs reconnecting during the shutdown must not hold the process open.
        Assert.Equal(0, portal.ExitCode);
        await Expect(alice.Locator("#components-reconnect-modal")).ToBeVisibleAsync();
        await Expect(alice.Locator("#components-reconnect-modal")).ToContainTextAsync(new Regex("Could not reconnect yet")); // our text (issue 21), in the reader's language
        // After a failed attempt it says when it tries again (one line, not the first-attempt line too).
        await Expect(alice.Locator("#components-reconnect-modal .components-reconnect-repeated-attempt-visible")).ToBeVisibleAsync();
        await Expect(alice.Locator("#components-reconnect-modal .components-reconnect-first-attempt-visible")).ToBeHiddenAsync();
        await Expect(alice.Locator("#blazor-error-ui")).ToBeHiddenAsync();
        await Screenshots.SaveAsync(alice, "reconnect.png", toDocs: false);

        // Same data folder and port. Alice's page comes back by itself (the old circuit is gone, so
        // the reconnect handler reloads it); Bob reloads. Both are still signed in, with the history.
        await portal.StartAgainAsync();
        await Expect(alice.Locator("#components-reconnect-modal")).ToBeHiddenAsync(new() { Timeout = 45_000 });
        try
        {
            await bob.ReloadAsync();
        }
        catch (PlaywrightException ex) when (ex.Message.Contains("ERR_ABORTED", StringComparison.Ordinal))
        {
            // Bob's own reconnect handler reloaded the page at the same moment; that navigation won.
            await bob.WaitForLoadStateAsync(LoadState.Load);
        }
        foreach (var (page, me, other, title) in new[] { (alice, "Alice", "Bob", "@ Bob"), (bob, "Bob", "Alice", "@ Alice") })
        {
            await page.WaitForChatAsync(title);
            Assert.DoesNotContain("/login", page.Url, StringComparison.Ordinal);
            await Expect(page.Locator("#current-user")).ToHaveTextAsync(me);
            await Expect(page.Locator(".msg .msg-text")).ToHaveTextAsync(["just between us", "got it"]);
            await Expect(page.Locator($"[data-dm='{other}']")).ToBeVisibleAsync();
        }
        await alice.Locator("[data-room='lobby']").ClickAsync();
        await alice.WaitForChatAsync("# Lobby");
        await bob.GotoAsync("/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");
        foreach (var page in new[] { alice, bob })
            await Expect(page.Locator(".msg .msg-text")).ToHaveTextAsync(["Hello Bob 👋 <b>not bold</b>", "Hi Alice\nsecond line"]);
        // Bob was online all along (a member with a tab open): no "joined" for coming back to the room.
        await Expect(alice.Locator("#online-list [data-user='Bob']")).ToBeVisibleAsync();
        await Expect(alice.Locator("#online-list [data-user]")).ToHaveCountAsync(2);

        // The room page as people see it (README screenshot).
        await alice.SendAsync("Back after the restart, everything is still here. 重启之后，记录都还在。");
        await Expect(bob.Locator(".msg")).ToHaveCountAsync(3);
        await Screenshots.SaveAsync(alice, "room.png");
    }

    [Fact]
    public async Task Scrolling_to_the_top_loads_older_messages_and_keeps_the_reading_position()
    {
        // History made by the real core over the same data folder, before the portal starts.
        var dir = TempDir.Create("paging");
        try
        {
            await using (var core = await CoreHarness.StartAsync(dir))
            {
                var lobby = (await core.Rooms.GetDefaultAsync())!;
                var historian = await core.CreateUserAsync("historian");
                for (var i = 1; i <= 120; i++)
                    Assert.True((await core.Commands.PostAsync(historian, lobby.Id, $"old message {i}")).Ok);
            }
            await using var portal = await PortalProcess.StartAsync(dataDir: dir);
            await using var context = await browser.NewContextAsync(portal.BaseUri);
            var page = await context.NewPageAsync();
            await page.SignInAsync("Reader", "secret-reader", "/rooms/lobby");
            await page.WaitForChatAsync("# Lobby");

            var texts = page.Locator(".msg .msg-text");
            await Expect(texts).ToHaveCountAsync(50);
            await Expect(texts.First).ToHaveTextAsync("old message 71");
            await Expect(texts.Last).ToHaveTextAsync("old message 120");
            // Opened at the newest message.
            await Expect(texts.Last).ToBeInViewportAsync();

            await ScrollToTopAsync(page);
            await Expect(texts).ToHaveCountAsync(100);
            await Expect(texts.First).ToHaveTextAsync("old message 21");
            // The message that was on top is still in view: the list did not jump.
            await Expect(page.Locator(".msg-text", new() { HasTextRegex = new Regex("^old message 71$") })).ToBeInViewportAsync();

            // Straight back to the top, while the last page has only just landed.
            await ScrollToTopAsync(page);
            await Expect(texts).ToHaveCountAsync(120);
            await Expect(texts.First).ToHaveTextAsync("old message 1");
            await Expect(page.Locator(".chat-top")).ToContainTextAsync("beginning of the conversation");
            var all = await texts.AllTextContentsAsync();
            Assert.Equal(Enumerable.Range(1, 120).Select(i => $"old message {i}"), all);

            // New messages still arrive at the bottom.
            await page.SendAsync("a new one");
            await Expect(texts.Last).ToHaveTextAsync("a new one");
            await Expect(texts.Last).ToBeInViewportAsync();
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    // Paging starts once the first page has been shown at the bottom (chat.js arms the list then);
    // a scroll before that is taken back by the jump to the newest message, so wait for it as a reader would.
    private static async Task ScrollToTopAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => document.querySelector('#messages')?._armed === true", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await page.Locator("#messages").EvaluateAsync("el => el.scrollTo(0, 0)");
    }
}

internal static class ChatPage
{
    /// <summary>Waits until the chat view with this title is live (circuit up, composer wired).</summary>
    public static async Task WaitForChatAsync(this IPage page, string title)
    {
        await Expect(page.Locator("#room-title")).ToHaveTextAsync(title);
        try
        {
            await page.WaitForFunctionAsync("() => window.Blazor && document.querySelector('#composer-input')?._chatBound === true",
                null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        }
        catch (TimeoutException e)
        {
            // Say what the view showed instead of a live composer (a lost room, an ended session, no composer at all).
            var shown = await page.EvaluateAsync<string>("() => (document.querySelector('#composer-input') ? 'composer present, not bound; ' : 'no composer; ')"
                + " + (document.querySelector('section.chat-main')?.innerText ?? 'no chat view').slice(0, 600)");
            throw new TimeoutException($"The chat view \"{title}\" did not come live within 15 s. It showed: {shown}", e);
        }
    }

    /// <summary>Types a message and sends it with Enter, as a person does.</summary>
    public static async Task SendAsync(this IPage page, string text)
    {
        var box = page.Locator("#composer-input");
        await box.FillAsync(text);
        await box.PressAsync("Enter");
        await Expect(box).ToHaveValueAsync("");
        await Expect(page.Locator("#send-button")).ToBeEnabledAsync();
    }
}

/// <summary>Screenshots for the docs: always written next to the test binaries; copied into docs/ when asked.</summary>
internal static class Screenshots
{
    public static async Task SaveAsync(IPage page, string name, bool toDocs = true)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        var bytes = await page.ScreenshotAsync(new() { Path = path });
        Assert.True(bytes.Length > 10_000, $"{name} is suspiciously small ({bytes.Length} bytes)");
        // The README's picture is refreshed on request, so test runs leave the work tree clean.
        if (toDocs && Environment.GetEnvironmentVariable("CHATPORTAL_UPDATE_SCREENSHOTS") == "1")
            File.Copy(path, Path.Combine(RepoPaths.Root, "docs", name), overwrite: true);
    }
}
