using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ChatPortal.Tests.Admin;

/// <summary>The back office in a real browser (Debian's Chromium) against the real portal process.</summary>
public sealed class AdminBrowserTests(AdminPortalFixture fixture, BrowserFixture browser)
    : IClassFixture<AdminPortalFixture>, IClassFixture<BrowserFixture>
{
    private PortalProcess Portal => fixture.Portal;

    [Fact]
    public async Task Tour_of_every_admin_page()
    {
        await using var ctx = await browser.NewContextAsync(Portal.BaseUri);
        var page = await ctx.NewPageAsync();
        page.Console += (_, m) => File.AppendAllText("/tmp/admin-shots/console.txt", m.Text + "\n");
        try { await page.SignInAdminAsync(AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword); }
        catch { await page.ScreenshotAsync(new() { Path = "/tmp/admin-shots/fail.png" }); File.WriteAllText("/tmp/admin-shots/log.txt", Portal.ReadLog()); throw; }
        foreach (var path in new[] { "/admin", "/admin/rooms", "/admin/users", "/admin/moderation", "/admin/bots", "/admin/audit", "/admin/admins" })
        {
            await page.OpenAdminAsync(path);
            await page.WaitForTimeoutAsync(1500);
            await page.ScreenshotAsync(new() { Path = $"/tmp/admin-shots/{path.Replace('/', '_')}.png", FullPage = true });
        }
        Assert.True(true);
    }
}
