using System.Net;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Browser;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Identity;

/// <summary>OpenID Connect sign-in end to end: Chromium, the portal, and a provider on loopback.</summary>
public sealed class OidcBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static async Task SignInAtProviderAsync(IPage page, string login, string password)
    {
        await page.Locator("#oidc-signin").ClickAsync();
        await Expect(page.Locator("#idp-login")).ToBeVisibleAsync();
        await page.FillAsync("#idp-login", login);
        await page.FillAsync("#idp-password", password);
        await page.ClickAsync("#idp-submit");
    }

    [Fact]
    public async Task A_new_person_signs_in_through_the_provider_and_lands_in_the_lobby_with_name_picture_and_group_room()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        idp.Add(new IdpUser("erin", "erin-pass", "sub-erin-1", "Erin Example", "erin@example.test", true, ["team-red"], WithPicture: true));
        await using var portal = await PortalProcess.StartAsync(idp.PortalSettings());
        await portal.CreateRoomAsync("red-room", allowGuests: false, isPrivate: true);
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var page = await context.NewPageAsync();

        await page.GotoAsync("/login?returnUrl=%2Frooms%2Flobby");
        await Expect(page.Locator("#oidc-signin")).ToHaveTextAsync("Sign in with TestID");
        await SignInAtProviderAsync(page, "erin", "erin-pass");

        // Back at the portal, signed in, in the lobby.
        await page.WaitForURLAsync("**/rooms/lobby", new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await page.WaitForChatAsync("# Lobby");
        await Expect(page.Locator("#current-user")).ToHaveTextAsync("erin");
        Assert.True(idp.PkceVerified >= 1, "the token request carried a code verifier that matched the challenge");
        Assert.Equal(0, idp.PkceRejected);

        // The display name came from the provider; the online list shows it with the nickname.
        await Expect(page.Locator("#online-list [data-user-chip='erin'] .online-name")).ToHaveTextAsync(new Regex(@"Erin Example \(@erin\)"));

        // The group made her a member of the private room.
        await page.GotoAsync("/rooms/red-room");
        await page.WaitForChatAsync("# red-room");

        // The provider's picture became her avatar: re-encoded, served from our origin, without its metadata.
        await using var db = portal.OpenDb();
        var user = await db.Users.SingleAsync(u => u.Name == "erin");
        Assert.Null(user.PasswordHash);
        string? avatarId = null;
        for (var i = 0; i < 100 && avatarId is null; i++)
        {
            await using var check = portal.OpenDb();
            avatarId = (await check.Profiles.SingleAsync(p => p.UserId == user.Id)).AvatarId;
            if (avatarId is null) await Task.Delay(100);
        }
        Assert.NotNull(avatarId);
        var profile = await db.Profiles.SingleAsync(p => p.UserId == user.Id);
        Assert.Equal("erin@example.test", profile.Email);
        Assert.True(profile.EmailVerified);
        using var http = portal.CreateClient();
        var png = await http.GetByteArrayAsync($"/avatars/{avatarId}");
        Assert.Equal(0x89, png[0]);
        Assert.DoesNotContain(TestIdentityProvider.PictureMarker, System.Text.Encoding.Latin1.GetString(png), StringComparison.Ordinal);
        Assert.Contains(TestIdentityProvider.PictureMarker, System.Text.Encoding.Latin1.GetString(TestIdentityProvider.PictureWithMetadata()), StringComparison.Ordinal);

        // A second sign-in finds the same account through the link (no second account).
        await context.ClearCookiesAsync();
        await page.GotoAsync("/login");
        await SignInAtProviderAsync(page, "erin", "erin-pass");
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal) && !u.Contains("127.0.0.1:" + new Uri(idp.Issuer).Port, StringComparison.Ordinal));
        await using var after = portal.OpenDb();
        Assert.Equal(1, await after.Users.CountAsync(u => u.Name.StartsWith("erin")));
        Assert.Equal(1, await after.ExternalLogins.CountAsync());
        Assert.DoesNotContain("error", portal.ReadLog(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_first_sign_in_links_to_an_account_with_the_same_confirmed_email_only_when_the_provider_verified_it()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var smtp = new SmtpSink();
        idp.Add(new IdpUser("carol-sso", "pw-carol", "sub-carol", "Carol", "carol@example.test", EmailVerified: true, []));
        idp.Add(new IdpUser("mallory", "pw-mallory", "sub-mallory", "Mallory", "carol@example.test", EmailVerified: false, []));
        var settings = idp.PortalSettings();
        foreach (var (k, v) in smtp.PortalSettings()) settings[k] = v;
        await using var portal = await PortalProcess.StartAsync(settings);
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var page = await context.NewPageAsync();

        // Carol has a password account and confirms her address through the mailed link.
        await page.SignInAsync("Carol", "carol-password", "/account/profile");
        await ProfileSteps.ConfirmEmailAsync(page, smtp, "carol@example.test");
        await context.ClearCookiesAsync();

        // Someone whose provider has NOT verified that address is refused: no link, no account.
        await page.GotoAsync("/login");
        await SignInAtProviderAsync(page, "mallory", "pw-mallory");
        await page.WaitForURLAsync("**/login?oidc=email_unverified");
        await Expect(page.Locator("#oidc-error")).ToContainTextAsync("has not verified your email address");
        await using (var db = portal.OpenDb())
        {
            Assert.False(await db.Users.AnyAsync(u => u.Name.StartsWith("mallory")));
            Assert.Equal(0, await db.ExternalLogins.CountAsync());
        }

        // Carol at her provider (address verified) lands in her existing account.
        await SignInAtProviderAsync(page, "carol-sso", "pw-carol");
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal) && !u.Contains("/authorize", StringComparison.Ordinal));
        await page.GotoAsync("/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");
        await Expect(page.Locator("#current-user")).ToHaveTextAsync("Carol");
        await using (var db = portal.OpenDb())
        {
            var carol = await db.Users.SingleAsync(u => u.Name == "Carol");
            var link = await db.ExternalLogins.SingleAsync();
            Assert.Equal(carol.Id, link.LocalId);
            Assert.False(link.ForAdmin);
            Assert.Equal(1, await db.Users.CountAsync(u => u.Kind == Data.UserKind.Member));
        }
        // Her password still works too.
        await context.ClearCookiesAsync();
        await page.SignInAsync("Carol", "carol-password", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");
    }

    [Fact]
    public async Task Admins_sign_in_through_the_provider_only_from_the_admin_group_and_password_sign_in_can_be_switched_off()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        idp.Add(new IdpUser("olga", "pw-olga", "sub-olga", "Olga Ops", "olga@example.test", true, ["chat-admins"]));
        idp.Add(new IdpUser("pete", "pw-pete", "sub-pete", "Pete", "pete@example.test", true, ["staff"]));
        var settings = idp.PortalSettings(adminGroup: "chat-admins");
        settings["Auth__PasswordSignIn"] = "false";
        await using var portal = await PortalProcess.StartAsync(settings);
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var page = await context.NewPageAsync();

        // Pete is not in the group: refused, no admin made.
        await page.GotoAsync("/admin/login");
        await page.Locator("#admin-oidc-signin").ClickAsync();
        await page.FillAsync("#idp-login", "pete");
        await page.FillAsync("#idp-password", "pw-pete");
        await page.ClickAsync("#idp-submit");
        await page.WaitForURLAsync("**/admin/login?oidc=not_admin");
        await Expect(page.Locator("#oidc-error")).ToContainTextAsync("not in the administrators' group");

        // Olga is: she reaches the dashboard (the Strict admin cookie works after the provider's redirect).
        await page.Locator("#admin-oidc-signin").ClickAsync();
        await page.FillAsync("#idp-login", "olga");
        await page.FillAsync("#idp-password", "pw-olga");
        await page.ClickAsync("#idp-submit");
        await page.WaitForURLAsync(u => u.EndsWith("/admin", StringComparison.Ordinal), new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await Expect(page.Locator("text=olga").First).ToBeVisibleAsync();
        await using (var db = portal.OpenDb())
        {
            var admin = await db.Admins.SingleAsync();
            Assert.Equal("olga", admin.Name);
            Assert.True(await db.ExternalLogins.AnyAsync(l => l.ForAdmin && l.LocalId == admin.Id));
            Assert.False(await db.Users.AnyAsync(u => u.Name == "olga"), "an admin sign-in makes no chat account");
        }

        // Password sign-in is off: no form, a posted form is refused, and so is the token endpoint.
        await page.GotoAsync("/login");
        await Expect(page.Locator("#oidc-signin")).ToBeVisibleAsync();
        await Expect(page.Locator("#name")).ToHaveCountAsync(0);
        var (status, body) = await portal.PostTokenAsync("someone", "password-1");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("password_sign_in_off", body.GetProperty("error").GetString());
    }
}

/// <summary>Steps on the profile page shared by the identity tests.</summary>
internal static class ProfileSteps
{
    /// <summary>Saves the address on the profile page, then opens the mailed link and confirms.</summary>
    public static async Task ConfirmEmailAsync(IPage page, SmtpSink smtp, string email)
    {
        await page.GotoAsync("/account/profile");
        await ProfileReadyAsync(page);
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#email-save").ClickAsync();
        await Expect(page.Locator("#email-unverified")).ToBeVisibleAsync();
        var mail = await smtp.WaitForAsync(email, m => m.Subject?.Contains("Confirm", StringComparison.Ordinal) == true);
        var link = Regex.Match(mail.TextBody ?? "", @"http\S+/account/confirm-email\?t=\S+").Value;
        Assert.False(string.IsNullOrEmpty(link), mail.TextBody);
        await page.GotoAsync(link);
        await Expect(page.Locator("#email-confirmed")).ToHaveCountAsync(0); // a GET confirms nothing
        await page.Locator("#email-confirm-submit").ClickAsync();
        await Expect(page.Locator("#email-confirmed")).ToBeVisibleAsync();
    }

    /// <summary>The profile page is interactive once its circuit is up.</summary>
    public static async Task ProfileReadyAsync(IPage page) =>
        await page.WaitForFunctionAsync("() => window.Blazor && document.querySelector('#profile-save') && window.chatPortalCircuitUp === true", null,
            new() { Timeout = BrowserFixture.ExpectTimeoutMs });
}
