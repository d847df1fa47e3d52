using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Issue 21 item 6: the half-typed message survives a server restart (per room), and the reconnect box speaks the reader's language.</summary>
public sealed class DraftBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task A_half_typed_message_is_kept_per_room_across_a_server_restart_and_the_reconnect_box_is_localized()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var context = await browser.NewContextAsync(portal.BaseUri, locale: "zh-CN");
        var page = await context.NewPageAsync();
        await page.SignInAsync("Lin", "secret-lin", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");

        // Another room with a draft of its own.
        await page.GotoAsync("/browse");
        await Expect(page.Locator(".browse-page[data-interactive='true']")).ToHaveCountAsync(1);
        await page.FillAsync("#new-room-name", "Side");
        await page.ClickAsync("#new-room-create");
        await page.WaitForChatAsync("# Side");
        await page.Locator("#composer-input").PressSequentiallyAsync("side draft");
        await page.Locator("[data-room='lobby']").ClickAsync();
        await page.WaitForChatAsync("# Lobby");
        await Expect(page.Locator("#composer-input")).ToHaveValueAsync(""); // not the other room's draft
        await page.Locator("#composer-input").PressSequentiallyAsync("half-typed 写了一半");

        // The server goes away: the reconnect box says so in Chinese.
        await portal.StopAsync();
        var box = page.Locator("#components-reconnect-modal");
        await Expect(box).ToBeVisibleAsync();
        await Expect(box).ToContainTextAsync("重新连接");
        await Expect(box).Not.ToContainTextAsync("Rejoining");

        // Back again (same data): a reload (as Blazor does when the old page cannot rejoin) shows the draft.
        await portal.StartAgainAsync();
        await page.GotoAsync("/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");
        await Expect(page.Locator("#composer-input")).ToHaveValueAsync("half-typed 写了一半");
        await page.Locator("[data-room='side']").ClickAsync();
        await page.WaitForChatAsync("# Side");
        await Expect(page.Locator("#composer-input")).ToHaveValueAsync("side draft");

        // Sent: the draft is gone, also after a reload.
        await page.Locator("#composer-input").PressAsync("Enter");
        await Expect(page.Locator(".msg .msg-text").Last).ToHaveTextAsync("side draft");
        await Expect(page.Locator("#composer-input")).ToHaveValueAsync("");
        await page.ReloadAsync();
        await page.WaitForChatAsync("# Side");
        await Expect(page.Locator(".msg .msg-text").Last).ToHaveTextAsync("side draft");
        await Expect(page.Locator("#composer-input")).ToHaveValueAsync("");
    }
}
