using System.Net;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Web;

/// <summary>Chat-user sign-in against the real portal process, as a browser speaks to it.</summary>
public sealed partial class SignInHttpTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private PortalHttp NewBrowser() => new(fixture.Portal);

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 8)];

    [Fact]
    public async Task A_new_nickname_registers_and_lands_signed_in()
    {
        using var http = NewBrowser();
        var name = Unique("reg");
        using var r = await http.SignInAsync(name, "secret-1", returnUrl: "/rooms/lobby");

        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        Assert.Equal("/rooms/lobby", http.RedirectTarget(r).AbsolutePath);
        Assert.NotNull(http.SignInCookie);
        Assert.Equal(name, await CurrentUserAsync(http));
    }

    [Fact]
    public async Task A_known_nickname_signs_in_again_ignoring_case_and_surrounding_spaces()
    {
        var name = "Mix" + Unique("");
        using (var first = NewBrowser())
        {
            using var r = await first.SignInAsync($"  {name} ", "pass-word");
            Assert.Equal(HttpStatusCode.Found, r.StatusCode);
            Assert.Equal(name, await CurrentUserAsync(first)); // stored trimmed
        }

        using var again = NewBrowser();
        using var r2 = await again.SignInAsync(name.ToUpperInvariant(), "pass-word");
        Assert.Equal(HttpStatusCode.Found, r2.StatusCode);
        Assert.Equal(name, await CurrentUserAsync(again)); // the same account, not a new one

        // A case variant with another password is the same (taken) name: wrong password, not a new account.
        using var other = NewBrowser();
        using var r3 = await other.SignInAsync(name.ToLowerInvariant(), "different-pw");
        Assert.Equal(HttpStatusCode.BadRequest, r3.StatusCode);
        Assert.Contains("Wrong password", await PortalHttp.LoginErrorAsync(r3), StringComparison.Ordinal);
        Assert.Null(other.SignInCookie);
    }

    [Fact]
    public async Task A_wrong_password_gets_a_clear_error_and_no_cookie()
    {
        var name = Unique("pw");
        using (var owner = NewBrowser())
            Assert.Equal(HttpStatusCode.Found, (await owner.SignInAsync(name, "right-one")).StatusCode);

        using var http = NewBrowser();
        using var r = await http.SignInAsync(name, "wrong-one");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("Wrong password for this nickname. (A new nickname creates a new account.)", await PortalHttp.LoginErrorAsync(r));
        Assert.Null(http.SignInCookie);
        // The form comes back with the name kept, ready to retry.
        Assert.Contains($"value=\"{name}\"", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var page = await http.GetAsync("/rooms/lobby");
        Assert.Equal(HttpStatusCode.Found, page.StatusCode);
    }

    [Theory]
    [InlineData("x", "The nickname must be at least 2 characters.")]
    [InlineData("   y   ", "The nickname must be at least 2 characters.")]
    [InlineData("abcdefghijabcdefghijabcdefghijabc", "The nickname must be at most 32 characters.")]
    [InlineData("bad<name>", "The nickname may contain letters (any script), digits, spaces, '_', '-' and '.'.")]
    [InlineData("two  spaces", "The nickname may not contain two spaces in a row.")]
    [InlineData("", "Enter a nickname.")]
    public async Task Bad_nicknames_get_a_clear_message(string name, string message)
    {
        using var http = NewBrowser();
        using var r = await http.SignInAsync(name, "good-password");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains(message, WebUtility.HtmlDecode(await r.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.Null(http.SignInCookie);
    }

    [Fact]
    public async Task A_too_short_password_gets_a_clear_message()
    {
        using var http = NewBrowser();
        using var r = await http.SignInAsync(Unique("short"), "12345");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("The password must be at least 6 characters.", await PortalHttp.LoginErrorAsync(r));
        Assert.Null(http.SignInCookie);
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_with_429_even_for_the_right_password()
    {
        var name = Unique("lock");
        using (var owner = NewBrowser())
            Assert.Equal(HttpStatusCode.Found, (await owner.SignInAsync(name, "the-right-one")).StatusCode);

        using var attacker = NewBrowser();
        for (var i = 1; i < 5; i++)
        {
            using var r = await attacker.SignInAsync(name, $"guess-{i}");
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        }
        using var fifth = await attacker.SignInAsync(name, "guess-5");
        Assert.Equal(HttpStatusCode.TooManyRequests, fifth.StatusCode);
        Assert.Equal("Too many failed attempts. Try again later.", await PortalHttp.LoginErrorAsync(fifth));

        using var owner2 = NewBrowser();
        using var locked = await owner2.SignInAsync(name, "the-right-one");
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Null(owner2.SignInCookie);
    }

    [Fact]
    public async Task Remember_me_gives_a_persistent_cookie_and_unchecked_a_session_cookie()
    {
        using var remembered = NewBrowser();
        using var r1 = await remembered.SignInAsync(Unique("rem"), "secret-1", remember: true);
        var persistent = SetCookie(r1, PortalHttp.UserCookie);
        Assert.Matches(ExpiresAttribute(), persistent);
        var expires = remembered.SignInCookie!.Expires;
        Assert.True(expires > DateTime.Now.AddDays(7), $"expires {expires:u}");
        Assert.Contains("httponly", persistent, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", persistent, StringComparison.OrdinalIgnoreCase);

        using var once = NewBrowser();
        using var r2 = await once.SignInAsync(Unique("ses"), "secret-1", remember: false);
        var session = SetCookie(r2, PortalHttp.UserCookie);
        Assert.DoesNotMatch(ExpiresAttribute(), session);
        Assert.DoesNotContain("max-age", session, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(DateTime.MinValue, once.SignInCookie!.Expires);
        Assert.NotNull(await CurrentUserAsync(once)); // still a working sign-in
    }

    [Theory]
    [InlineData("/rooms/lobby")]
    [InlineData("/dm/x")]
    [InlineData("/")]
    public async Task Anonymous_requests_are_sent_to_sign_in_and_back_after_it(string path)
    {
        using var http = NewBrowser();
        using var r = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        var target = http.RedirectTarget(r);
        Assert.Equal("/login", target.AbsolutePath);
        var returnUrl = System.Web.HttpUtility.ParseQueryString(target.Query)["ReturnUrl"];
        Assert.Equal(path, returnUrl);

        // The sign-in page carries the return URL and goes there afterwards.
        using var page = await http.GetAsync(target.PathAndQuery);
        Assert.Contains($"name=\"Input.ReturnUrl\" value=\"{path}\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var signIn = await http.SignInAsync(Unique("back"), "secret-1", returnUrl: returnUrl);
        Assert.Equal(path, http.RedirectTarget(signIn).AbsolutePath);
    }

    [Theory]
    [InlineData("//evil.example")]
    [InlineData("//evil.example/rooms/lobby")]
    [InlineData("https://evil.example")]
    [InlineData("http://evil.example/rooms/lobby")]
    [InlineData("/\\evil.example")]
    [InlineData("\\\\evil.example")]
    [InlineData("/\t/evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData(" //evil.example")]
    public async Task Open_redirect_attempts_end_on_a_local_page(string returnUrl)
    {
        using var http = NewBrowser();
        using var signIn = await http.SignInAsync(Unique("redir"), "secret-1", returnUrl: returnUrl);
        AssertLocal(http, signIn);

        // Already signed in: the sign-in page forwards at once, again only locally.
        using var again = await http.GetAsync($"/login?returnUrl={Uri.EscapeDataString(returnUrl)}");
        AssertLocal(http, again);
    }

    [Fact]
    public async Task Sign_out_is_a_post_that_needs_the_antiforgery_token()
    {
        using var http = NewBrowser();
        Assert.Equal(HttpStatusCode.Found, (await http.SignInAsync(Unique("out"), "secret-1")).StatusCode);

        // A link or image cannot sign anyone out.
        using (var get = await http.GetAsync("/logout"))
            Assert.NotEqual(HttpStatusCode.Found, get.StatusCode);
        Assert.NotNull(await CurrentUserAsync(http));

        // A cross-site form without the token is refused.
        using (var forged = await http.PostFormAsync("/logout", [new("returnUrl", "/login")]))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
            Assert.Contains("Reload the page", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.NotNull(await CurrentUserAsync(http));

        // The page's own sign-out form (with its token) works.
        var token = await http.FormTokenAsync("/rooms/lobby");
        using var signOut = await http.PostFormAsync("/logout", [new("__RequestVerificationToken", token), new("returnUrl", "https://evil.example")]);
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        Assert.Equal("/login", http.RedirectTarget(signOut).AbsolutePath);
        Assert.Null(http.SignInCookie);
        using var after = await http.GetAsync("/rooms/lobby");
        Assert.Equal(HttpStatusCode.Found, after.StatusCode);
        Assert.Equal("/login", http.RedirectTarget(after).AbsolutePath);
    }

    [Fact]
    public async Task A_sign_in_form_without_a_valid_token_is_refused_with_a_message_and_a_fresh_form()
    {
        using var http = NewBrowser();
        var name = Unique("csrf");
        using var forged = await http.PostFormAsync("/login",
        [
            new("_handler", "login"), new("__RequestVerificationToken", "not-a-token"),
            new("Input.Name", name), new("Input.Password", "secret-1"), new("Input.ReturnUrl", "/dm/x"),
        ]);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("This form has expired. Please sign in again.", await PortalHttp.LoginErrorAsync(forged));
        Assert.Null(http.SignInCookie);
        var html = await forged.Content.ReadAsStringAsync();
        Assert.Contains("name=\"Input.ReturnUrl\" value=\"/dm/x\"", html, StringComparison.Ordinal);

        // No account was made: the name is still free for anyone, with any password.
        using var someoneElse = NewBrowser();
        using var r = await someoneElse.SignInAsync(name, "another-pw");
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
    }

    private static void AssertLocal(PortalHttp http, HttpResponseMessage r)
    {
        var target = http.RedirectTarget(r);
        Assert.Equal(http.BaseUri.Host, target.Host);
        Assert.Equal(http.BaseUri.Port, target.Port);
        Assert.Equal("http", target.Scheme);
        Assert.DoesNotContain("evil", target.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The signed-in user's name as the chat page shows it, or null when the page sends to sign-in.</summary>
    internal static async Task<string?> CurrentUserAsync(PortalHttp http)
    {
        using var r = await http.GetAsync("/rooms/lobby");
        if (r.StatusCode != HttpStatusCode.OK) return null;
        var m = CurrentUser().Match(await r.Content.ReadAsStringAsync());
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value).Trim() : throw new InvalidOperationException("Chat page without #current-user.");
    }

    private static string SetCookie(HttpResponseMessage r, string name)
    {
        Assert.True(r.Headers.TryGetValues("Set-Cookie", out var values), "No Set-Cookie header.");
        return Assert.Single(values, v => v.StartsWith(name + "=", StringComparison.Ordinal));
    }

    [GeneratedRegex("id=\"current-user\"[^>]*>([^<]*)<")]
    private static partial Regex CurrentUser();

    [GeneratedRegex("(?i);\\s*expires=")]
    private static partial Regex ExpiresAttribute();
}

/// <summary>"Remember me" across a server restart: the cookie keys live in the data folder.</summary>
public sealed class SignInRestartTests
{
    [Fact]
    public async Task The_sign_in_cookie_survives_a_server_restart()
    {
        await using var portal = await PortalProcess.StartAsync();
        using var http = new PortalHttp(portal);
        using (var r = await http.SignInAsync("Restarter", "secret-1", remember: true))
            Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        Assert.Equal("Restarter", await SignInHttpTests.CurrentUserAsync(http));
        Assert.True(Directory.EnumerateFiles(Path.Combine(portal.DataDir, "keys"), "*.xml").Any(), "no DataProtection keys in the data folder");

        var pidBefore = portal.Pid;
        await portal.RestartAsync();
        Assert.NotEqual(pidBefore, portal.Pid);

        Assert.Equal("Restarter", await SignInHttpTests.CurrentUserAsync(http));
    }
}
