using System.Net;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Reliability;

/// <summary>Security headers, cookies, antiforgery, the circuit cap, and cross-site WebSocket hijacking.</summary>
[Collection(RelyPortalCollection.Name)]
public sealed class WebHardeningTests(RelyPortalFixture fx, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string Evil = "http://evil.example";

    private HttpClient RawClient() => new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        BaseAddress = fx.Portal.BaseUri,
        Timeout = TimeSpan.FromSeconds(30),
    };

    private static string Cookie(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues("Set-Cookie", out var all) ? all.FirstOrDefault(c => c.StartsWith(name, StringComparison.Ordinal)) ?? "" : "";

    /// <summary>Signs in through the form by hand (no cookie container) so the Set-Cookie attributes can be read.</summary>
    private async Task<HttpResponseMessage> PostSignInAsync(HttpClient http, string name, bool https = false)
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "/login");
        if (https) get.Headers.Add("X-Forwarded-Proto", "https");
        using var page = await http.SendAsync(get);
        var html = await page.Content.ReadAsStringAsync();
        var token = Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        var af = Cookie(page, ".AspNetCore.Antiforgery").Split(';')[0];
        Assert.False(string.IsNullOrEmpty(af), "no antiforgery cookie");
        var post = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["_handler"] = "login",
                ["__RequestVerificationToken"] = token,
                ["Input.Name"] = name,
                ["Input.Password"] = "secret-pw-1",
                ["Input.RememberMe"] = "true",
                ["Input.ReturnUrl"] = "/",
            }),
        };
        post.Headers.Add("Cookie", af);
        if (https) post.Headers.Add("X-Forwarded-Proto", "https");
        return await http.SendAsync(post);
    }

    [Theory]
    [InlineData("/login")]
    [InlineData("/")]
    [InlineData("/not-a-page")]
    [InlineData("/api/auth/tokens")]
    [InlineData("/ws")]
    public async Task Every_response_carries_the_security_headers(string path)
    {
        using var http = RawClient();
        using var r = await http.GetAsync(path);
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("same-origin", r.Headers.GetValues("Referrer-Policy").Single());
        var csp = r.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("object-src 'none'", csp);
        Assert.Matches("script-src 'self' 'nonce-[A-Za-z0-9+/=]{20,}'", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.DoesNotMatch("script-src[^;]*unsafe-inline", csp);
    }

    [Fact]
    public async Task The_csp_nonce_is_fresh_per_response_and_only_the_import_map_uses_it()
    {
        using var http = RawClient();
        using var a = await http.GetAsync("/login");
        using var b = await http.GetAsync("/login");
        string Nonce(HttpResponseMessage r) => Regex.Match(r.Headers.GetValues("Content-Security-Policy").Single(), "'nonce-([^']+)'").Groups[1].Value;
        Assert.NotEqual(Nonce(a), Nonce(b));
        var html = await a.Content.ReadAsStringAsync();
        // Inline scripts: only the import map, and it carries this response's nonce.
        var inline = Regex.Matches(html, "<script(?![^>]*\\ssrc=)[^>]*>").Select(m => m.Value).ToList();
        Assert.NotEmpty(inline);
        Assert.All(inline, s => Assert.Contains($"nonce=\"{Nonce(a)}\"", WebUtility.HtmlDecode(s)));
    }

    [Fact]
    public async Task Session_cookies_are_http_only_and_same_site_and_secure_behind_https()
    {
        using var http = RawClient();
        using var plain = await PostSignInAsync(http, PortalHelpers.UniqueName("ck"));
        Assert.Equal(HttpStatusCode.Redirect, plain.StatusCode);
        var c = Cookie(plain, ".ChatPortal.User").ToLowerInvariant();
        Assert.Contains("httponly", c);
        Assert.Contains("samesite=lax", c);
        Assert.DoesNotContain("secure", c); // plain HTTP on loopback: a Secure cookie would never come back

        using var https = await PostSignInAsync(http, PortalHelpers.UniqueName("cks"), https: true);
        Assert.Equal(HttpStatusCode.Redirect, https.StatusCode);
        var s = Cookie(https, ".ChatPortal.User").ToLowerInvariant();
        Assert.Contains("httponly", s);
        Assert.Contains("samesite=lax", s);
        Assert.Contains("secure", s);

        using var page = await http.GetAsync("/login");
        var af = Cookie(page, ".AspNetCore.Antiforgery").ToLowerInvariant();
        Assert.Contains("httponly", af);
        Assert.Contains("samesite=strict", af);
    }

    [Fact]
    public async Task Every_form_carries_an_antiforgery_token_and_posts_without_one_are_refused()
    {
        var portal = fx.Portal;
        var cookies = await portal.SignInAsync(PortalHelpers.UniqueName("af"));
        using var signedIn = portal.CreateClient(followRedirects: true, cookies: cookies);
        using var anonymous = portal.CreateClient();
        var pages = new List<(string Path, string Html)>
        {
            ("/login", await anonymous.GetStringAsync("/login")),
            ("/", await signedIn.GetStringAsync("/")),
            ("/rooms/lobby", await signedIn.GetStringAsync("/rooms/lobby")),
        };
        var forms = 0;
        foreach (var (path, html) in pages)
        {
            foreach (Match form in Regex.Matches(html, "<form[^>]*method=\"post\"[^>]*>.*?</form>", RegexOptions.Singleline | RegexOptions.IgnoreCase))
            {
                forms++;
                Assert.True(form.Value.Contains("__RequestVerificationToken", StringComparison.Ordinal), $"a form on {path} has no antiforgery token:\n{form.Value}");
            }
        }
        Assert.True(forms >= 2, $"expected the sign-in and sign-out forms, found {forms}");

        using var noToken = new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "login", ["Input.Name"] = "x" + Random.Shared.Next(), ["Input.Password"] = "secret-pw-1" });
        using var login = await anonymous.PostAsync("/login", noToken);
        Assert.Equal(HttpStatusCode.BadRequest, login.StatusCode);
        using var logoutForm = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/" });
        using var logout = await signedIn.PostAsync("/logout", logoutForm);
        Assert.Equal(HttpStatusCode.BadRequest, logout.StatusCode);
        // Still signed in: the forged sign-out did nothing.
        using var home = await signedIn.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
    }

    [Fact]
    public async Task A_signed_in_victims_cookie_from_a_foreign_origin_gets_nothing()
    {
        var portal = fx.Portal;
        var cookies = await portal.SignInAsync(PortalHelpers.UniqueName("victim"));
        var cookieHeader = cookies.GetCookieHeader(portal.BaseUri);

        // The socket upgrade from another site's page is refused before anything is said.
        await using (var hijack = await RawWs.ConnectAsync(portal.BaseUri, "chatportal.v1", origin: Evil, cookie: cookieHeader))
        {
            Assert.StartsWith("HTTP/1.1 403", hijack.ResponseHead, StringComparison.Ordinal);
            Assert.True(await hijack.ServerHungUpAsync(TimeSpan.FromSeconds(10)) || !hijack.Upgraded);
        }
        await using (var plain = await RawWs.ConnectAsync(portal.BaseUri, null, origin: Evil, cookie: cookieHeader))
            Assert.StartsWith("HTTP/1.1 403", plain.ResponseHead, StringComparison.Ordinal);

        // Nor can that page get a ticket with the cookie, nor read one (no CORS).
        using var http = portal.CreateClient(cookies: cookies);
        using var req = new HttpRequestMessage(HttpMethod.Post, "/api/ws/ticket");
        req.Headers.Add("Origin", Evil);
        using var ticket = await http.SendAsync(req);
        Assert.Equal(HttpStatusCode.Forbidden, ticket.StatusCode);
        Assert.False(ticket.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.DoesNotContain("ticket\"", await ticket.Content.ReadAsStringAsync());

        // Even where the upgrade passes (no Origin: not a browser), the cookie alone authenticates nothing.
        await using var bare = await RawWs.ConnectAsync(portal.BaseUri, "chatportal.v1", cookie: cookieHeader);
        Assert.True(bare.Upgraded, bare.ResponseHead);
        await bare.ReadTextContainingAsync("\"hello\"");
        await bare.SendTextAsync("{\"type\":\"join\",\"id\":1,\"room\":\"lobby\"}");
        Assert.Contains("not_authenticated", await bare.ReadTextContainingAsync("\"error\""));

        // The same cookie from the portal's own origin does get a ticket (the check is not "refuse everything").
        using var own = new HttpRequestMessage(HttpMethod.Post, "/api/ws/ticket");
        own.Headers.Add("Origin", portal.BaseUri.GetLeftPart(UriPartial.Authority));
        using var ok = await http.SendAsync(own);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task The_chat_works_under_the_csp_with_no_violation_reported()
    {
        var portal = fx.Portal;
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        await context.AddInitScriptAsync("window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));");
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) console.Add(m.Text); };
        var name = PortalHelpers.UniqueName("csp");
        await page.SignInAsync(name, "secret-pw-1");
        await page.WaitForCircuitAsync();
        var text = "under the csp " + Guid.NewGuid().ToString("N")[..6];
        await page.Locator("#composer-input").PressSequentiallyAsync(text);
        await page.Locator("#composer-input").PressAsync("Enter");
        await Expect(page.Locator(".msg .msg-text").Last).ToHaveTextAsync(text);
        // Open and close something MudBlazor renders with inline styles (the emoji panel, if present).
        var violations = await page.EvaluateAsync<string[]>("() => window.__csp");
        Assert.Empty(violations);
        lock (console) Assert.DoesNotContain(console, l => l.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        var header = (await page.GotoAsync("/"))!.Headers["content-security-policy"];
        Assert.Contains("frame-ancestors 'none'", header);
    }

    [Fact]
    public async Task One_user_gets_at_most_the_configured_number_of_circuits()
    {
        var portal = fx.Portal;
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        var first = await context.NewPageAsync();
        await first.SignInAsync(PortalHelpers.UniqueName("tabs"), "secret-pw-1");
        await first.WaitForCircuitAsync();
        var pages = new List<IPage> { first };
        for (var i = 1; i < RelyPortalFixture.MaxCircuits; i++)
        {
            var p = await context.NewPageAsync();
            await p.GotoAsync("/");
            await p.WaitForCircuitAsync();
            pages.Add(p);
        }
        var extra = await context.NewPageAsync();
        await extra.GotoAsync("/");
        await Assert.ThrowsAsync<System.TimeoutException>(() => extra.WaitForFunctionAsync("() => window.chatPortalReady === true", null, new() { Timeout = 6_000 }));
        await extra.CloseAsync();

        // Closing a tab frees its slot.
        await pages[0].CloseAsync();
        var again = await context.NewPageAsync();
        await again.GotoAsync("/");
        await again.WaitForFunctionAsync("() => window.chatPortalReady === true", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });
    }
}
