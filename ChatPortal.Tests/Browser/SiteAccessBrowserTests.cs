using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using ChatPortal.Data;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Browser;

/// <summary>Issue 21 item 5: "create a new account?" on sign-in, and registration / guests as site settings.</summary>
public sealed class SiteAccessBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static async Task<bool> UserExistsAsync(PortalProcess portal, string name)
    {
        await using var db = PortalDb.Open(portal.DataDir);
        return await db.Users.AnyAsync(u => u.NormalizedName == name.ToUpperInvariant());
    }

    private static async Task TryNewNameAsync(IPage page, string name, string password, string? query = null)
    {
        await page.GotoAsync("/login" + (query is null ? "" : "?" + query));
        await page.FillAsync("#name", name);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#login-submit");
    }

    [Fact]
    public async Task A_mistyped_nickname_asks_before_creating_an_account_and_creates_nothing_until_confirmed()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var page = await context.NewPageAsync();
        await page.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");
        await context.ClearCookiesAsync();

        // "Alcie" instead of "Alice": asked, nothing created; "no" goes back to the form.
        await TryNewNameAsync(page, "Alcie", "secret-alice");
        await Expect(page.Locator("#create-account-prompt")).ToContainTextAsync("There is no account named “Alcie” yet.");
        Assert.Equal("/login", new Uri(page.Url).AbsolutePath);
        Assert.Empty(await page.Locator("#password").InputValueAsync()); // never sent back in the page
        Assert.False(await UserExistsAsync(portal, "Alcie"));
        await page.ClickAsync("#create-account-cancel");
        await Expect(page.Locator("#login-submit")).ToBeVisibleAsync();
        Assert.False(await UserExistsAsync(portal, "Alcie"));

        // In Chinese too; confirming (the password typed again) creates the account and signs in.
        await using var zhContext = await browser.NewContextAsync(portal.BaseUri, locale: "zh-CN");
        var zh = await zhContext.NewPageAsync();
        await TryNewNameAsync(zh, "小明", "secret-ming");
        await Expect(zh.Locator("#create-account-prompt")).ToContainTextAsync("还没有名为“小明”的账号");
        await zh.FillAsync("#password", "secret-ming");
        await zh.ClickAsync("#create-account");
        await zh.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal));
        await zh.WaitForChatAsync("# Lobby");
        Assert.True(await UserExistsAsync(portal, "小明"));

        // A known name signs in at once, without the question.
        await page.FillAsync("#name", "Alice");
        await page.FillAsync("#password", "secret-alice");
        await page.ClickAsync("#login-submit");
        await page.WaitForChatAsync("# Lobby");
    }

    [Fact]
    public async Task Registration_and_guests_are_site_settings_that_apply_at_once()
    {
        var dir = TempDir.Create("site");
        await AdminCommandLine.CreateAdminAsync(dir, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword);
        var portal = await PortalProcess.StartAsync(dataDir: dir);
        try
        {
            await using var adminContext = await browser.NewContextAsync(portal.BaseUri);
            var admin = await adminContext.NewPageAsync();
            await admin.SignInAdminAsync(AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword, "/admin/site");
            await Expect(admin.Locator("[data-registration='open'] input")).ToBeCheckedAsync();
            await using (var before = await WsClient.ConnectAsync(portal.BaseUri, query: "room=lobby"))
                await before.WaitForAsync(f => f.Is("openSuccess")); // guests on by default

            // Closed: a new name is refused (form and token endpoint); an existing account still signs in.
            await using var userContext = await browser.NewContextAsync(portal.BaseUri);
            var user = await userContext.NewPageAsync();
            await user.SignInAsync("Olga", "secret-olga", "/rooms/lobby");
            // Signed out only once the lobby is up: a circuit still starting without the cookie sends the page to the
            // login form itself, and that navigation raced the test's own (CI once).
            await user.WaitForChatAsync("# Lobby");
            await userContext.ClearCookiesAsync();
            await admin.ClickAsync("[data-registration='closed']");
            await admin.ClickAsync("#site-save");
            await Expect(admin.Locator(".mud-snackbar")).ToContainTextAsync("Site access saved.");
            await TryNewNameAsync(user, "Newcomer", "secret-new");
            await Expect(user.Locator("#login-error")).ToContainTextAsync("New accounts cannot be created here.");
            await Expect(user.Locator("#login-hint")).ToContainTextAsync("does not take new accounts");
            using var http = portal.CreateClient();
            var token = await http.PostAsJsonAsync("/api/auth/token", new { name = "Scripted", password = "secret-script" });
            Assert.Equal(HttpStatusCode.Forbidden, token.StatusCode);
            Assert.Contains("registration_closed", await token.Content.ReadAsStringAsync());
            Assert.False(await UserExistsAsync(portal, "Newcomer"));
            Assert.False(await UserExistsAsync(portal, "Scripted"));
            await user.SignInAsync("Olga", "secret-olga", "/rooms/lobby");
            await user.WaitForChatAsync("# Lobby");
            await userContext.ClearCookiesAsync();

            // Invite only: the link lets a new account in (after the question); without it, no.
            await admin.ClickAsync("[data-registration='invite']");
            await admin.ClickAsync("#site-save");
            var link = await admin.Locator("#site-invite-link").InnerTextAsync();
            Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(portal.BaseUri.ToString())}login\\?invite=[0-9a-f]{{32}}$", link);
            await TryNewNameAsync(user, "Newcomer", "secret-new");
            await Expect(user.Locator("#login-error")).ToContainTextAsync("New accounts need an invitation here.");
            await TryNewNameAsync(user, "Newcomer", "secret-new", "invite=" + new string('0', 32));
            await Expect(user.Locator("#login-error")).ToContainTextAsync("New accounts need an invitation here.");
            await user.GotoAsync(link);
            await user.FillAsync("#name", "Newcomer");
            await user.FillAsync("#password", "secret-new");
            await user.ClickAsync("#login-submit");
            await user.FillAsync("#password", "secret-new");
            await user.ClickAsync("#create-account");
            await user.WaitForChatAsync("# Lobby");
            Assert.True(await UserExistsAsync(portal, "Newcomer"));
            // A new link: the old one stops working.
            await admin.ClickAsync("#site-invite-new");
            await Expect(admin.Locator("#site-invite-link")).Not.ToHaveTextAsync(link);
            await userContext.ClearCookiesAsync();
            await TryNewNameAsync(user, "Latecomer", "secret-late", new Uri(link).Query.TrimStart('?'));
            await Expect(user.Locator("#login-error")).ToContainTextAsync("New accounts need an invitation here.");

            // Guests off: a plain client is refused at once; the audit log has each change.
            // The invite-only save's "Site access saved." may still be up: MudBlazor shows no second notice with the same
            // text while one is (its PreventDuplicates), and once that one went the check below saw none (CI, once).
            await Expect(admin.Locator(".mud-snackbar").Filter(new() { HasText = "Site access saved." })).ToHaveCountAsync(0);
            await admin.Locator("[data-field='site-guests'] input").UncheckAsync();
            await admin.ClickAsync("#site-save");
            // Several notices may be up (the new link's too), newest not necessarily last: wait for the setting itself.
            await Expect(admin.Locator(".mud-snackbar").Filter(new() { HasText = "Site access saved." }).First).ToBeVisibleAsync();
            var saved = false;
            for (var tries = 0; tries < 150 && !saved; tries++)
            {
                await using (var db = PortalDb.Open(portal.DataDir))
                    saved = (await db.Settings.SingleOrDefaultAsync(s => s.Key == "site.guests"))?.Value == "false";
                if (!saved) await Task.Delay(100);
            }
            Assert.True(saved, "guests off was not saved");
            await using (var refused = await WsClient.ConnectAsync(portal.BaseUri, query: "room=lobby"))
            {
                Assert.Equal(WebSocketCloseStatus.PolicyViolation, await refused.WaitClosedAsync());
                Assert.Equal("guests_not_allowed", refused.CloseReason);
            }
            await using (var db = PortalDb.Open(portal.DataDir))
            {
                Assert.Equal(4, await db.AuditLog.CountAsync(a => a.Action == "site.access"));
                // Another node (or an admin elsewhere) opens registration again: no restart; registration reads
                // the database each time, the guest check within SiteAccess.CacheFor (5 s).
                (await db.Settings.SingleAsync(s => s.Key == "site.registration")).Value = "Open";
                (await db.Settings.SingleAsync(s => s.Key == "site.guests")).Value = "true";
                await db.SaveChangesAsync();
            }
            var welcomed = false;
            for (var tries = 0; tries < 30 && !welcomed; tries++)
            {
                await using var again = await WsClient.ConnectAsync(portal.BaseUri, query: "room=lobby");
                try
                {
                    await again.WaitForAsync(f => f.Is("openSuccess"));
                    welcomed = true;
                }
                catch (TimeoutException) when (again.CloseReason == "guests_not_allowed")
                {
                    await Task.Delay(500); // still the copy from before the change
                }
            }
            Assert.True(welcomed, "guests were not let in again after the setting changed in the database");
            await user.SignInAsync("Latecomer", "secret-late", "/rooms/lobby");
            await user.WaitForChatAsync("# Lobby");
        }
        finally
        {
            await portal.DisposeAsync();
            TempDir.Delete(dir);
        }
    }
}
