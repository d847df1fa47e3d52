using System.Net;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Web;

/// <summary>One real portal process shared by a test class (tests use their own nicknames).</summary>
public sealed class PortalFixture : IAsyncLifetime
{
    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync() => Portal = await PortalProcess.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null) await Portal.DisposeAsync();
    }
}

/// <summary>A browser-like HTTP client: keeps cookies, does not follow redirects, fills the real forms.</summary>
public sealed partial class PortalHttp(PortalProcess portal) : IDisposable
{
    public const string UserCookie = ".ChatPortal.User";

    public CookieContainer Cookies { get; } = new();
    private HttpClient? _client;
    private HttpClient Http => _client ??= portal.CreateClient(followRedirects: false, Cookies);

    public Uri BaseUri => portal.BaseUri;

    public Task<HttpResponseMessage> GetAsync(string path) => Http.GetAsync(path);

    /// <summary>The antiforgery token of the first form on a page (and its cookie, kept in <see cref="Cookies"/>).</summary>
    public async Task<string> FormTokenAsync(string path)
    {
        using var r = await Http.GetAsync(path);
        var html = await r.Content.ReadAsStringAsync();
        var m = TokenInput().Match(html);
        Assert.True(m.Success, $"No antiforgery token on {path} ({(int)r.StatusCode}).");
        return WebUtility.HtmlDecode(m.Groups[1].Value);
    }

    /// <summary>Posts the sign-in form as a browser does (an unchecked box sends nothing).</summary>
    public async Task<HttpResponseMessage> SignInAsync(string name, string password, bool remember = true, string? returnUrl = null)
    {
        var token = await FormTokenAsync("/login");
        var fields = new List<KeyValuePair<string, string>>
        {
            new("_handler", "login"),
            new("__RequestVerificationToken", token),
            new("Input.Name", name),
            new("Input.Password", password),
            new("Input.ReturnUrl", returnUrl ?? ""),
        };
        if (remember) fields.Add(new("Input.RememberMe", "True"));
        return await Http.PostAsync("/login", new FormUrlEncodedContent(fields));
    }

    public async Task<HttpResponseMessage> PostFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields) =>
        await Http.PostAsync(path, new FormUrlEncodedContent(fields));

    public Cookie? SignInCookie => Cookies.GetCookies(BaseUri)[UserCookie];

    /// <summary>The error shown on the sign-in page, as text.</summary>
    public static async Task<string> LoginErrorAsync(HttpResponseMessage r)
    {
        var html = await r.Content.ReadAsStringAsync();
        var m = LoginError().Match(html);
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value).Trim() : "";
    }

    /// <summary>The redirect target as an absolute URI (relative Locations are resolved against the portal).</summary>
    public Uri RedirectTarget(HttpResponseMessage r)
    {
        Assert.True((int)r.StatusCode is >= 300 and < 400, $"Expected a redirect, got {(int)r.StatusCode}.");
        var location = r.Headers.Location ?? throw new InvalidOperationException("Redirect without Location.");
        return location.IsAbsoluteUri ? location : new Uri(BaseUri, location);
    }

    public void Dispose() => _client?.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex TokenInput();

    [GeneratedRegex("id=\"login-error\"[^>]*>([^<]*)<")]
    private static partial Regex LoginError();
}
