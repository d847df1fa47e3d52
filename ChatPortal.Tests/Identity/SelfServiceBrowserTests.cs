using System.Text.RegularExpressions;
using ChatPortal.Tests.Browser;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Identity;

/// <summary>Self-service (issue 21, item 7) and profiles (issue 17), clicked through in Chromium on the real portal.</summary>
public sealed class SelfServiceBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>Names the elements that reach past the right edge (for the failure message).</summary>
    private const string WidestScript = """
        () => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(' | ')
        """;

    private Task<IBrowserContext> ContextAsync(Uri baseUri, int width = 1280, int height = 800, string locale = "en-US") =>
        browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUri.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = locale,
            TimezoneId = "Asia/Shanghai",
        });

    [Fact]
    public async Task A_user_sets_name_status_zone_and_picture_others_see_them_and_a_password_change_signs_out_the_other_sessions()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var aliceCtx = await ContextAsync(portal.BaseUri);
        await using var aliceElsewhere = await ContextAsync(portal.BaseUri);
        await using var bobCtx = await ContextAsync(portal.BaseUri);
        var alice = await aliceCtx.NewPageAsync();
        var other = await aliceElsewhere.NewPageAsync();
        var bob = await bobCtx.NewPageAsync();

        await alice.SignInAsync("Alice", "alice-old-pw", "/account/profile");
        await ProfileSteps.ProfileReadyAsync(alice);
        await alice.Locator("#display-name").FillAsync("Alice Wonder");
        await alice.Locator("#status-text").FillAsync("On holiday 🏖");
        await alice.Locator("#time-zone-browser").ClickAsync();
        await Expect(alice.Locator("#time-zone")).ToHaveValueAsync("Asia/Shanghai");
        await alice.Locator("#profile-save").ClickAsync();
        await Expect(alice.Locator("#profile-message")).ToHaveTextAsync("Saved.");

        // A picture with text metadata in it: stored re-encoded, without the metadata.
        await alice.Locator("#avatar-file").SetInputFilesAsync(new FilePayload
        {
            Name = "me.png",
            MimeType = "image/png",
            Buffer = TestIdentityProvider.PictureWithMetadata(),
        });
        await Expect(alice.Locator("#profile-message")).ToHaveTextAsync("Your picture was updated.");
        await Expect(alice.Locator("#avatar-preview")).ToBeVisibleAsync();
        await Screenshots.SaveAsync(alice, "profile.png");
        // Not an image: a clear error, nothing changed.
        var before = await alice.Locator("#avatar-preview").GetAttributeAsync("src");
        await alice.Locator("#avatar-file").SetInputFilesAsync(new FilePayload { Name = "x.png", MimeType = "image/png", Buffer = "<html>not a picture</html>"u8.ToArray() });
        await Expect(alice.Locator("#profile-message")).ToHaveTextAsync("Only PNG, JPEG, GIF and WebP images are accepted.");
        Assert.Equal(before, await alice.Locator("#avatar-preview").GetAttributeAsync("src"));

        // Bob sees her in the online list with her display name, picture and (on hover) status and local time.
        await other.SignInAsync("Alice", "alice-old-pw", "/rooms/lobby");
        await other.WaitForChatAsync("# Lobby");
        await bob.SignInAsync("Bob", "secret-pw-1", "/rooms/lobby");
        await bob.WaitForChatAsync("# Lobby");
        var chip = bob.Locator("#online-list [data-user-chip='Alice']");
        await Expect(chip.Locator(".online-name")).ToHaveTextAsync("Alice Wonder (@Alice)");
        await Expect(chip.Locator("img.user-avatar")).ToHaveAttributeAsync("src", new Regex("^/avatars/[0-9a-f]{32}$"));
        await Expect(chip).ToHaveAttributeAsync("title", new Regex(@"On holiday 🏖 · Local time \d{2}:\d{2}"));
        var avatar = await bob.APIRequest.GetAsync(await chip.Locator("img.user-avatar").GetAttributeAsync("src") ?? "");
        Assert.Equal("image/png", avatar.Headers["content-type"]);
        Assert.DoesNotContain(TestIdentityProvider.PictureMarker, System.Text.Encoding.Latin1.GetString(await avatar.BodyAsync()), StringComparison.Ordinal);

        // chatportal.v1 carries the profile in user objects.
        await using (var ws = await portal.MemberSocketAsync("Bob", join: null))
        {
            var joined = await ws.RequestAsync(new() { ["type"] = "join", ["id"] = 7, ["room"] = "lobby" });
            var online = joined.Json.GetProperty("online").EnumerateArray().Single(u => u.GetProperty("name").GetString() == "Alice");
            Assert.Equal("Alice Wonder", online.GetProperty("display_name").GetString());
            Assert.Equal("On holiday 🏖", online.GetProperty("status").GetString());
            Assert.Matches("^/avatars/[0-9a-f]{32}$", online.GetProperty("avatar").GetString());
        }

        // The password: the current one is required.
        await alice.GotoAsync("/account/password");
        await alice.FillAsync("#current-password", "not-my-password");
        await alice.FillAsync("#new-password", "alice-new-pw");
        await alice.FillAsync("#repeat-password", "alice-new-pw");
        await alice.ClickAsync("#password-submit");
        await Expect(alice.Locator("#password-error")).ToHaveTextAsync("The current password is wrong.");
        await alice.FillAsync("#current-password", "alice-old-pw");
        await alice.FillAsync("#new-password", "alice-new-pw");
        await alice.FillAsync("#repeat-password", "alice-new-pw");
        await alice.ClickAsync("#password-submit");
        await Expect(alice.Locator("#password-changed")).ToBeVisibleAsync();

        // Her other session is signed out (the open page goes to sign-in); this one goes on.
        await other.WaitForURLAsync(u => new Uri(u).AbsolutePath == "/login", new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await other.GotoAsync("/rooms/lobby");
        Assert.Equal("/login", new Uri(other.Url).AbsolutePath);
        await alice.GotoAsync("/rooms/lobby");
        await alice.WaitForChatAsync("# Lobby");

        // The old password no longer works, the new one does.
        await other.FillAsync("#name", "Alice");
        await other.FillAsync("#password", "alice-old-pw");
        await other.ClickAsync("#login-submit");
        await Expect(other.Locator("#login-error")).ToContainTextAsync("Wrong password");
        await other.SignInAsync("Alice", "alice-new-pw", "/rooms/lobby");
        await other.WaitForChatAsync("# Lobby");
    }

    [Fact]
    public async Task The_notification_settings_are_saved_and_the_account_pages_work_at_phone_width_in_both_languages()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var desktop = await ContextAsync(portal.BaseUri);
        var page = await desktop.NewPageAsync();
        await page.SignInAsync("Nora", "nora-password", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");

        await page.Locator("#account-link").ClickAsync();
        await page.WaitForURLAsync("**/account/profile");
        await page.Locator("#nav-notifications").ClickAsync();
        await page.WaitForURLAsync("**/account/notifications");
        await page.WaitForFunctionAsync("() => window.chatPortalCircuitUp === true && document.querySelector('#notifications-save')", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await page.Locator("#level-all").ClickAsync();
        await page.Locator("#sound-on").ClickAsync();
        await page.Locator("#quiet-on").ClickAsync();
        await Expect(page.Locator("#quiet-from")).ToBeVisibleAsync();
        await page.Locator("tr[data-room='lobby'] select").SelectOptionAsync("None");
        await Expect(page.Locator("#notifications-message")).ToHaveTextAsync("Saved.");
        await page.Locator("#notifications-save").ClickAsync();
        // The page hands the sound switch to the open tabs (localStorage) once the settings are stored.
        await page.WaitForFunctionAsync("() => localStorage.getItem('chatportal.sound') === '0'", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Expect(page.Locator("#notifications-message")).ToHaveTextAsync("Saved.");
        await Screenshots.SaveAsync(page, "notifications.png");

        await using (var db = portal.OpenDb())
        {
            var nora = await db.Users.SingleAsync(u => u.Name == "Nora");
            var pref = await db.NotificationPreferences.SingleAsync(p => p.UserId == nora.Id);
            Assert.Equal(Data.NotifyLevel.All, pref.Level);
            Assert.False(pref.Sound);
            Assert.Equal(22 * 60, pref.QuietFromMinute);
            Assert.Equal(7 * 60, pref.QuietToMinute);
            var lobbyLevel = await db.RoomNotificationSettings.SingleAsync(r => r.UserId == nora.Id);
            Assert.Equal(Data.NotifyLevel.None, lobbyLevel.Level);
        }

        // Reloaded, the page shows what was saved.
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => window.chatPortalCircuitUp === true && document.querySelector('#notifications-save')", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Expect(page.Locator("tr[data-room='lobby'] select")).ToHaveValueAsync("None");
        await Expect(page.Locator("#quiet-from")).ToBeVisibleAsync();

        // Phone width (390 px): nothing wider than the screen.
        await using var phone = await ContextAsync(portal.BaseUri, 390, 844);
        var p = await phone.NewPageAsync();
        await p.SignInAsync("Nora", "nora-password", "/account/notifications");
        await p.WaitForFunctionAsync("() => window.chatPortalCircuitUp === true && document.querySelector('#notifications-save')", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Screenshots.SaveAsync(p, "notifications-phone.png");
        Assert.True(await p.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"),
            "the notification page scrolls sideways on a phone: " + await p.EvaluateAsync<string>(WidestScript));
        await p.GotoAsync("/account/profile");
        await ProfileSteps.ProfileReadyAsync(p);
        await Screenshots.SaveAsync(p, "profile-phone.png");
        Assert.True(await p.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"),
            "the profile page scrolls sideways on a phone: " + await p.EvaluateAsync<string>(WidestScript));
        await p.GotoAsync("/account/password");
        Assert.True(await p.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "the password page scrolls sideways on a phone");

        // In Chinese (picked from the browser): the account pages speak it.
        await using var zh = await ContextAsync(portal.BaseUri, 390, 844, "zh-CN");
        var z = await zh.NewPageAsync();
        await z.SignInAsync("Nora", "nora-password", "/account/notifications");
        await z.WaitForFunctionAsync("() => window.chatPortalCircuitUp === true && document.querySelector('#notifications-save')", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Expect(z.Locator("#notifications-page h5")).ToHaveTextAsync("通知");
        await Expect(z.Locator("#notifications-save")).ToHaveTextAsync("保存");
        await z.GotoAsync("/account/password");
        await Expect(z.Locator("h1")).ToHaveTextAsync("修改密码");
    }
}
