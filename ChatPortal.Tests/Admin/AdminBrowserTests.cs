using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;

namespace ChatPortal.Tests.Admin;

/// <summary>The back office in a real browser (Debian's Chromium) against the real portal process, next to chat users.</summary>
public sealed class AdminBrowserTests(AdminPortalFixture fixture, BrowserFixture browser)
    : IClassFixture<AdminPortalFixture>, IClassFixture<BrowserFixture>
{
    private const string UserPassword = "chat-password-1";
    private PortalProcess Portal => fixture.Portal;

    /// <summary>Screenshots go to the repo's docs/ with CHATPORTAL_UPDATE_SCREENSHOTS=1 (like the other browser tests), else to the temp folder.</summary>
    private static string ShotPath(string name) =>
        Path.Combine(Environment.GetEnvironmentVariable("CHATPORTAL_UPDATE_SCREENSHOTS") == "1" ? Path.Combine(RepoPaths.Root, "docs") : Path.GetTempPath(), name);

    private async Task<IPage> AdminPageAsync(IBrowserContext ctx, string name = AdminPortalFixture.AdminName, string password = AdminPortalFixture.AdminPassword)
    {
        var page = await ctx.NewPageAsync();
        await page.SignInAdminAsync(name, password);
        return page;
    }

    private static async Task<IPage> ChatPageAsync(IBrowserContext ctx, string name, string room = "lobby")
    {
        var page = await ctx.NewPageAsync();
        await page.SignInAsync(name, UserPassword, $"/rooms/{room}");
        await page.WaitForCircuitAsync();
        return page;
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await page.FillAsync("#composer-input", text);
        await page.ClickAsync("#send-button");
    }

    /// <summary>Opens a chat user's page in the back office through the search.</summary>
    private static async Task OpenUserAsync(IPage admin, string name)
    {
        await admin.OpenAdminAsync("/admin/users");
        await admin.FillAsync("#user-search", name);
        var link = admin.Locator($"[data-user-row='{name}'] a");
        await link.WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await link.ClickAsync();
        await admin.Locator("#user-name").Filter(new() { HasText = name }).WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
    }

    private async Task<int> AuditCountAsync(string action, string targetContains)
    {
        await using var db = PortalDb.Open(Portal.DataDir);
        return await db.AuditLog.CountAsync(a => a.Action == action && a.Target != null && a.Target.Contains(targetContains));
    }

    [Fact]
    public async Task Admin_creates_a_room_a_chat_user_chats_in_it_and_the_dashboard_counts_it_live()
    {
        await using var adminCtx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(adminCtx);
        await admin.OpenAdminAsync("/admin/rooms");
        await admin.ClickAsync("#room-new");
        await admin.FillAsync("#room-name", "Garden 花园");
        await admin.FillAsync("#room-slug", "garden");
        await admin.FillAsync("#room-topic", "Plants and flowers · 花草");
        await admin.ClickAsync("#room-save");
        await admin.Locator("[data-room-row='garden']").WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Assertions.Expect(admin.Locator("#link-web")).ToHaveTextAsync($"{Portal.BaseUri}rooms/garden");
        await Assertions.Expect(admin.Locator("#link-ws")).ToHaveTextAsync($"ws://127.0.0.1:{Portal.Port}/ws?room=garden");
        await Assertions.Expect(admin.Locator("#link-invite")).ToHaveTextAsync(new Regex($"^{Regex.Escape(Portal.BaseUri.ToString())}invite/[0-9a-f]{{24}}$"));
        await admin.ScreenshotAsync(new() { Path = ShotPath("admin-rooms.png") });
        Assert.Equal(1, await AuditCountAsync("room.create", "/rooms/garden"));
        await using (var db = PortalDb.Open(Portal.DataDir))
        {
            var entry = await db.AuditLog.SingleAsync(a => a.Action == "room.create" && a.Target == "/rooms/garden");
            Assert.Equal(AdminPortalFixture.AdminName, entry.AdminName);
            Assert.Equal("127.0.0.1", entry.RemoteIp); // the circuit's own address, not a guess
        }

        await admin.OpenAdminAsync("/admin");
        var before = int.Parse(await admin.Locator("#stat-messages-today").InnerTextAsync());

        await using var userCtx = await browser.NewContextAsync(Portal.BaseUri);
        var user = await ChatPageAsync(userCtx, "gardener", "garden");
        await Assertions.Expect(user.Locator("[data-room='garden']")).ToBeVisibleAsync(); // in the drawer
        await Assertions.Expect(user.Locator("#room-title")).ToContainTextAsync("Garden 花园");
        for (var i = 1; i <= 3; i++)
        {
            await SendAsync(user, $"the roses are out {i} 玫瑰开了");
            await Assertions.Expect(user.Locator(".msg-text", new() { HasText = $"the roses are out {i}" })).ToBeVisibleAsync();
        }

        // The dashboard was not reloaded: its circuit gets the new count pushed.
        await Assertions.Expect(admin.Locator("#stat-messages-today")).ToHaveTextAsync((before + 3).ToString(), new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Assertions.Expect(admin.Locator("#stat-online")).Not.ToHaveTextAsync("0", new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await admin.WaitForTimeoutAsync(500); // let the chart animation settle for the picture
        await admin.ScreenshotAsync(new() { Path = ShotPath("admin-dashboard.png") });
    }

    [Fact]
    public async Task A_ban_sends_the_users_open_page_to_sign_in_within_ten_seconds()
    {
        await using var userCtx = await browser.NewContextAsync(Portal.BaseUri);
        var user = await ChatPageAsync(userCtx, "troll");
        await using var adminCtx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(adminCtx);
        await OpenUserAsync(admin, "troll");
        await admin.FillAsync("#ban-reason", "trolling");
        await admin.ClickAsync("#user-ban");
        await admin.ConfirmDialogAsync("Ban");

        await user.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/login", new() { Timeout = 10_000 });
        await Assertions.Expect(admin.Locator("#user-status")).ToContainTextAsync("trolling");

        // Signing in again is refused, and the old cookie opens nothing.
        await user.FillAsync("#name", "troll");
        await user.FillAsync("#password", UserPassword);
        await user.ClickAsync("#login-submit");
        await Assertions.Expect(user.Locator("#login-error")).ToContainTextAsync("banned");
        // Told why (only after the right password): the reason the back office wrote.
        await Assertions.Expect(user.Locator("#ban-reason")).ToContainTextAsync("Reason: trolling");
        await user.GotoAsync("/rooms/lobby");
        Assert.Equal("/login", new Uri(user.Url).AbsolutePath);
        Assert.Equal(1, await AuditCountAsync("user.ban", "troll"));
    }

    [Fact]
    public async Task A_mute_stops_a_web_user_from_sending()
    {
        await using var userCtx = await browser.NewContextAsync(Portal.BaseUri);
        var user = await ChatPageAsync(userCtx, "chatterbox");
        await SendAsync(user, "before the mute");
        await Assertions.Expect(user.Locator(".msg-text", new() { HasText = "before the mute" })).ToBeVisibleAsync();

        await using var adminCtx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(adminCtx);
        await OpenUserAsync(admin, "chatterbox");
        await admin.FillAsync("#mute-reason", "too many links");
        await admin.ClickAsync("#user-mute");
        await Assertions.Expect(admin.Locator("#user-status")).ToContainTextAsync("muted until");

        await SendAsync(user, "after the mute");
        await Assertions.Expect(user.Locator("#composer-error")).ToContainTextAsync("muted");
        // The composer says until when and why.
        await Assertions.Expect(user.Locator("#mute-notice")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"You are muted until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"));
        await Assertions.Expect(user.Locator("#mute-notice")).ToContainTextAsync("Reason: too many links");
        await Assertions.Expect(user.Locator(".msg-text", new() { HasText = "after the mute" })).ToHaveCountAsync(0);
        await using (var db = PortalDb.Open(Portal.DataDir))
            Assert.False(await db.Messages.AnyAsync(m => m.Text == "after the mute"));
        Assert.Equal(1, await AuditCountAsync("user.mute", "chatterbox"));

        await admin.ClickAsync("#user-unmute");
        await Assertions.Expect(admin.Locator("#user-status")).ToContainTextAsync("active");
        await SendAsync(user, "free to talk");
        await Assertions.Expect(user.Locator(".msg-text", new() { HasText = "free to talk" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_deleted_message_disappears_from_a_live_room_and_stays_gone()
    {
        var text = $"buy my pills {Guid.NewGuid():N}";
        await using var posterCtx = await browser.NewContextAsync(Portal.BaseUri);
        var poster = await ChatPageAsync(posterCtx, "spammer");
        await using var watcherCtx = await browser.NewContextAsync(Portal.BaseUri);
        var watcher = await ChatPageAsync(watcherCtx, "watcher");
        await SendAsync(poster, text);
        var seen = watcher.Locator(".msg", new() { HasText = text });
        await Assertions.Expect(seen).ToBeVisibleAsync();
        var id = await seen.GetAttributeAsync("data-id");

        await using var adminCtx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(adminCtx);
        await admin.OpenAdminAsync("/admin/moderation");
        await admin.FillAsync("#mod-text", text);
        await admin.Locator($"[data-message-id='{id}']").WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await admin.ClickAsync($"[data-delete='{id}']");
        await admin.ConfirmDialogAsync("Delete");
        await Assertions.Expect(admin.Locator($"[data-message-id='{id}']")).ToHaveCountAsync(0);

        // Live: both open rooms drop the text without a reload.
        var removed = watcher.Locator($".msg[data-id='{id}']");
        await Assertions.Expect(removed.Locator(".msg-removed")).ToBeVisibleAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Assertions.Expect(removed).Not.ToContainTextAsync("buy my pills");
        await Assertions.Expect(poster.Locator($".msg[data-id='{id}'] .msg-removed")).ToBeVisibleAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        // From history: a fresh load does not bring it back.
        await watcher.ReloadAsync();
        await watcher.WaitForCircuitAsync();
        await Assertions.Expect(watcher.Locator(".msg", new() { HasText = "buy my pills" })).ToHaveCountAsync(0);
        Assert.Equal(1, await AuditCountAsync("message.delete", $"message #{id} "));
    }

    [Fact]
    public async Task A_disabled_admin_loses_an_open_page_within_ten_seconds()
    {
        var created = await AdminCommandLine.RunAsync(Portal.DataDir, "temp-password-1", "admin", "create", "temp-admin");
        Assert.Equal(0, created.ExitCode);
        await using var ctx = await browser.NewContextAsync(Portal.BaseUri);
        var page = await AdminPageAsync(ctx, "temp-admin", "temp-password-1");
        await page.OpenAdminAsync("/admin/rooms");

        var disabled = await AdminCommandLine.RunAsync(Portal.DataDir, null, "admin", "disable", "temp-admin");
        Assert.Equal(0, disabled.ExitCode);
        // Nothing touches the page: the circuit's periodic re-check of the admin ends it.
        await page.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/admin/login", new() { Timeout = 10_000 });
        await page.GotoAsync("/admin/rooms");
        Assert.Equal("/admin/login", new Uri(page.Url).AbsolutePath);
    }

    [Fact]
    public async Task A_chat_user_never_reaches_the_back_office_in_the_browser()
    {
        await using var ctx = await browser.NewContextAsync(Portal.BaseUri);
        var user = await ChatPageAsync(ctx, "curious");
        // Client-side navigation inside the live circuit...
        // The redirect is a full page load of the back office's sign-in; under a full test run on 2 cores
        // that took longer than 10 s once (clean-clone run, 02:06 UTC), hence 30 s.
        await user.EvaluateAsync("() => Blazor.navigateTo('/admin/users')");
        // The address is the assertion (the sign-in form is checked below): wait for it, not for the page's
        // load event, which a loaded machine delayed past 30 s once (full run beside two builds).
        await user.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/admin/login", new() { Timeout = 30_000, WaitUntil = WaitUntilState.Commit });
        // ...and typed addresses.
        foreach (var path in new[] { "/admin", "/admin/rooms", "/admin/audit" })
        {
            await user.GotoAsync(path);
            Assert.Equal("/admin/login", new Uri(user.Url).AbsolutePath);
        }
        await Assertions.Expect(user.Locator("#admin-login-submit")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_invite_link_lets_a_chat_user_into_a_private_room()
    {
        await using var adminCtx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(adminCtx);
        await admin.OpenAdminAsync("/admin/rooms");
        await admin.ClickAsync("#room-new");
        await admin.FillAsync("#room-name", "Staff");
        await admin.FillAsync("#room-slug", "staff");
        await admin.Locator("[data-field='private'] input").CheckAsync();
        await admin.ClickAsync("#room-save");
        await admin.Locator("[data-room-row='staff']").WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        var invite = new Uri(await admin.Locator("#link-invite").InnerTextAsync());

        await using var userCtx = await browser.NewContextAsync(Portal.BaseUri);
        var user = await ChatPageAsync(userCtx, "newcomer");
        await user.GotoAsync("/rooms/staff");
        await Assertions.Expect(user.Locator("#room-error")).ToBeVisibleAsync(); // private: not yet
        await user.GotoAsync(invite.PathAndQuery);
        await user.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/rooms/staff", new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await user.WaitForCircuitAsync();
        await Assertions.Expect(user.Locator("[data-room='staff']")).ToBeVisibleAsync();
        await SendAsync(user, "hello staff");
        await Assertions.Expect(user.Locator(".msg-text", new() { HasText = "hello staff" })).ToBeVisibleAsync();

        // The admin sees the new member in the room's list.
        await admin.ReloadAsync();
        await admin.WaitForAdminCircuitAsync();
        await admin.ClickAsync("[data-room-row='staff']");
        await Assertions.Expect(admin.Locator("[data-member='newcomer']")).ToBeVisibleAsync();
        await user.GotoAsync("/invite/not-a-real-code");
        await Assertions.Expect(user.Locator("#invite-error")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task The_back_office_speaks_Chinese_when_picked_or_when_the_browser_asks()
    {
        await using var ctx = await browser.NewContextAsync(Portal.BaseUri);
        var admin = await AdminPageAsync(ctx);
        await admin.OpenAdminAsync("/admin/rooms");
        await Assertions.Expect(admin.Locator("#nav-dashboard")).ToContainTextAsync("Dashboard");
        await admin.ClickAsync("#lang-zh");
        await admin.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/admin/rooms");
        await admin.WaitForAdminCircuitAsync();
        await Assertions.Expect(admin.Locator("#nav-dashboard")).ToContainTextAsync("仪表盘");
        await Assertions.Expect(admin.Locator("#room-new")).ToContainTextAsync("新建聊天室");

        await using var zhCtx = await browser.NewContextAsync(Portal.BaseUri, locale: "zh-CN");
        var login = await zhCtx.NewPageAsync();
        await login.GotoAsync("/admin/login");
        await Assertions.Expect(login.Locator("h1")).ToHaveTextAsync("管理员登录");
    }
}
