using System.Net;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Admin;

/// <summary>The back office over HTTP against the real portal process: who is refused, antiforgery, the command line.</summary>
public sealed class AdminHttpTests(AdminPortalFixture fixture) : IClassFixture<AdminPortalFixture>
{
    private PortalProcess Portal => fixture.Portal;

    /// <summary>Every routed admin page (the router's pages, found by reflection, so a new page cannot be forgotten).</summary>
    public static TheoryData<string> AdminPages() => new(PagePaths());

    private static List<string> PagePaths() =>
        typeof(ChatPortal.Components.Admin.AdminText).Assembly.GetTypes()
            .Where(t => t.Namespace == "ChatPortal.Components.Admin")
            .SelectMany(t => t.GetCustomAttributes(typeof(Microsoft.AspNetCore.Components.RouteAttribute), false).Cast<Microsoft.AspNetCore.Components.RouteAttribute>())
            .Select(r => r.Template.Replace("{Id:long}", "1", StringComparison.Ordinal))
            .Where(t => t != "/admin/login")
            .Order(StringComparer.Ordinal)
            .ToList();

    [Fact]
    public void The_page_list_covers_every_screen()
    {
        var pages = PagePaths();
        Assert.Equal(["/admin", "/admin/admins", "/admin/audit", "/admin/bots", "/admin/data", "/admin/moderation", "/admin/rooms", "/admin/site", "/admin/users", "/admin/users/1"], pages);
    }

    [Theory]
    [MemberData(nameof(AdminPages))]
    public async Task Anonymous_requests_to_admin_pages_go_to_the_admin_sign_in(string path)
    {
        using var http = Portal.CreateClient();
        using var r = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        Assert.StartsWith("/admin/login", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AdminPages))]
    public async Task Chat_users_are_refused_on_every_admin_page(string path)
    {
        using var http = Portal.CreateClient();
        await FormPosting.SignInChatUserAsync(http, $"visitor{Math.Abs(path.GetHashCode()) % 10000}", "visitor-password");
        using (var home = await http.GetAsync("/rooms/lobby"))
            Assert.Equal(HttpStatusCode.OK, home.StatusCode); // the chat cookie works...
        using var r = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode); // ...but opens no admin page
        Assert.StartsWith("/admin/login", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_out_endpoint_refuses_anonymous_and_chat_users_and_needs_antiforgery()
    {
        using (var anonymous = Portal.CreateClient())
        using (var r = await anonymous.PostAsync("/admin/logout", new FormUrlEncodedContent([])))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Contains("ReturnUrl", r.Headers.Location!.OriginalString, StringComparison.Ordinal); // a challenge, not a sign-out
        }
        using (var chat = Portal.CreateClient())
        {
            await FormPosting.SignInChatUserAsync(chat, "logout-visitor", "visitor-password");
            using var r = await chat.PostAsync("/admin/logout", new FormUrlEncodedContent([]));
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Contains("ReturnUrl", r.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        using var admin = Portal.CreateClient();
        using (var signIn = await FormPosting.SignInAdminAsync(admin, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword))
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        using (var noToken = await admin.PostAsync("/admin/logout", new FormUrlEncodedContent([])))
            Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        using (var still = await admin.GetAsync("/admin/rooms"))
            Assert.Equal(HttpStatusCode.OK, still.StatusCode); // a forged sign-out did nothing

        // With the token the layout's form carries, sign-out works and the pages close.
        var html = await admin.GetStringAsync("/admin/rooms");
        var token = System.Text.RegularExpressions.Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"");
        Assert.True(token.Success, "the admin layout renders an antiforgery token for its sign-out form");
        using (var ok = await admin.PostAsync("/admin/logout", new FormUrlEncodedContent([new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value))])))
        {
            Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
            Assert.Equal("/admin/login", ok.Headers.Location!.IsAbsoluteUri ? ok.Headers.Location.AbsolutePath : ok.Headers.Location.OriginalString);
        }
        using var after = await admin.GetAsync("/admin/rooms");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Admin_sign_in_needs_the_antiforgery_token_and_the_admin_table()
    {
        using var http = Portal.CreateClient();
        using (var r = await FormPosting.PostAsync(http, "/admin/login", "admin-login",
                   new() { ["Input.Name"] = AdminPortalFixture.AdminName, ["Input.Password"] = AdminPortalFixture.AdminPassword }, token: null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.DoesNotContain(r.Headers.TryGetValues("Set-Cookie", out var c) ? c : [], v => v.StartsWith(".ChatPortal.Admin=", StringComparison.Ordinal));
        }
        using (var admin = await http.GetAsync("/admin"))
            Assert.Equal(HttpStatusCode.Redirect, admin.StatusCode);

        // A chat account's name and password do not open the back office.
        using var chat = Portal.CreateClient();
        await FormPosting.SignInChatUserAsync(chat, "mallory", "mallory-password");
        using (var r = await FormPosting.SignInAdminAsync(chat, "mallory", "mallory-password"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("Wrong name or password", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var r = await FormPosting.SignInAdminAsync(http, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Equal("/admin", r.Headers.Location!.AbsolutePath);
        }
        using var page = await http.GetAsync("/admin");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Dashboard", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_command_line_creates_lists_and_disables_admins_and_each_change_is_audited()
    {
        var dir = Portal.DataDir; // the running portal's own database
        var created = await AdminCommandLine.RunAsync(dir, "cli-password-1", "admin", "create", "operator");
        Assert.True(created.ExitCode == 0, created.Error);
        Assert.Contains("created", created.Output, StringComparison.Ordinal);
        var again = await AdminCommandLine.RunAsync(dir, "cli-password-1", "admin", "create", "OPERATOR");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("exists already", again.Error, StringComparison.Ordinal);
        var weak = await AdminCommandLine.RunAsync(dir, "short", "admin", "create", "weakling");
        Assert.Equal(1, weak.ExitCode);
        var usage = await AdminCommandLine.RunAsync(dir, null, "admin", "create");
        Assert.Equal(2, usage.ExitCode);
        var list = await AdminCommandLine.RunAsync(dir, null, "admin", "list");
        Assert.Contains("operator\tenabled", list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("weakling", list.Output, StringComparison.Ordinal);

        using var http = Portal.CreateClient();
        using (var r = await FormPosting.SignInAdminAsync(http, "operator", "cli-password-1"))
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        using (var r = await http.GetAsync("/admin/audit"))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        var disabled = await AdminCommandLine.RunAsync(dir, null, "admin", "disable", "operator");
        Assert.Equal(0, disabled.ExitCode);
        using (var r = await http.GetAsync("/admin/audit"))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode); // the cookie is checked against the table
            Assert.StartsWith("/admin/login", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }

        await using var db = PortalDb.Open(dir);
        Assert.Equal(1, await db.AuditLog.CountAsync(a => a.Action == "admin.create" && a.Target == "operator"));
        Assert.Equal(1, await db.AuditLog.CountAsync(a => a.Action == "admin.disable" && a.Target == "operator"));
        Assert.Equal(1, await db.AuditLog.CountAsync(a => a.Action == "admin.sign_in" && a.AdminName == "operator"));
    }

    [Fact]
    public async Task Repeated_wrong_passwords_lock_the_admin_account()
    {
        var created = await AdminCommandLine.RunAsync(Portal.DataDir, "lock-password-1", "admin", "create", "locky");
        Assert.Equal(0, created.ExitCode);
        using var http = Portal.CreateClient();
        for (var i = 0; i < 4; i++)
        {
            using var wrong = await FormPosting.SignInAdminAsync(http, "locky", "not-the-password");
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        }
        using (var fifth = await FormPosting.SignInAdminAsync(http, "locky", "not-the-password"))
            Assert.Equal(HttpStatusCode.TooManyRequests, fifth.StatusCode);
        using var right = await FormPosting.SignInAdminAsync(http, "locky", "lock-password-1");
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Contains("locked", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

/// <summary>Opens a portal's SQLite database from a test (read-mostly; the portal keeps running).</summary>
public static class PortalDb
{
    public static ChatDbContext Open(string dataDir) => new(new DbContextOptionsBuilder<ChatDbContext>()
        .UseSqlite($"Data Source={Path.Combine(dataDir, "chatportal.db")};Pooling=False").Options);
}
