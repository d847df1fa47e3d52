using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Api;

/// <summary>
/// The real portal (child process on loopback) for the REST API tests: an admin made through the command line, the
/// per-user chat rate raised, and a small per-token API burst so the 429 test needs few requests.
/// </summary>
public sealed class ApiPortalFixture : IAsyncLifetime
{
    public const string AdminName = "apiroot";
    public const string AdminPassword = "api-root-password-1";
    public const int Burst = 40;

    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        var dir = TempDir.Create("api");
        await AdminCommandLine.CreateAdminAsync(dir, AdminName, AdminPassword);
        Portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Chat__RateLimitBurst"] = "100000",
            ["Chat__RateLimitPerSecond"] = "100000",
            ["Api__RateLimitBurst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Api__RateLimitPerMinute"] = "6",
        }, dataDir: dir);
    }

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null)
        {
            await Portal.DisposeAsync();
            TempDir.Delete(Portal.DataDir);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ApiPortalCollection : ICollectionFixture<ApiPortalFixture>
{
    public const string Name = "api-portal";
}

/// <summary>What the tests do with the API: tokens made through the account page, bearer requests, problem bodies.</summary>
public static partial class ApiKit
{
    [GeneratedRegex("<pre id=\"new-token\" class=\"token-value\">(cpt_[A-Za-z0-9_-]+)</pre>")]
    private static partial Regex NewTokenRegex();

    /// <summary>A signed-in chat user's client (cookie kept).</summary>
    public static async Task<HttpClient> ChatUserAsync(this PortalProcess portal, string name, string password = "api-user-pw-1")
    {
        var http = portal.CreateClient();
        await FormPosting.SignInChatUserAsync(http, name, password);
        return http;
    }

    /// <summary>Posts the account page's "create token" form; the page's answer and the token it shows (null if none).</summary>
    public static async Task<(HttpResponseMessage Response, string Html, string? Token)> CreateTokenAsync(HttpClient signedIn, string scopes,
        string? label = null, int? days = null)
    {
        var antiforgery = await FormPosting.TokenAsync(signedIn, "/account/tokens");
        var fields = new Dictionary<string, string> { ["Input.Label"] = label ?? "test" };
        foreach (var s in scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            fields[$"Input.{char.ToUpperInvariant(s[0])}{s[1..]}"] = "True";
        if (days is not null) fields["Input.ExpiresInDays"] = days.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var r = await FormPosting.PostAsync(signedIn, "/account/tokens", "token-create", fields, antiforgery);
        var html = await r.Content.ReadAsStringAsync();
        var m = NewTokenRegex().Match(html);
        return (r, html, m.Success ? m.Groups[1].Value : null);
    }

    /// <summary>A token with <paramref name="scopes"/> for a new chat user (made through the account page).</summary>
    public static async Task<string> TokenAsync(this PortalProcess portal, string name, string scopes = "read write")
    {
        using var http = await portal.ChatUserAsync(name);
        var (r, html, token) = await CreateTokenAsync(http, scopes);
        Assert.True(token is not null, $"no token shown ({(int)r.StatusCode}): {html[..Math.Min(html.Length, 2000)]}");
        return token!;
    }

    /// <summary>A token with the admin scope: the chat user's browser is also signed in as the fixture's admin.</summary>
    public static async Task<string> AdminTokenAsync(this PortalProcess portal, string chatName, string scopes = "read write admin")
    {
        using var http = await portal.ChatUserAsync(chatName);
        using (var signIn = await FormPosting.SignInAdminAsync(http, ApiPortalFixture.AdminName, ApiPortalFixture.AdminPassword))
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var (r, html, token) = await CreateTokenAsync(http, scopes);
        Assert.True(token is not null, $"no admin token shown ({(int)r.StatusCode}): {html[..Math.Min(html.Length, 2000)]}");
        return token!;
    }

    public static HttpClient Bearer(this PortalProcess portal, string token)
    {
        var http = portal.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(this HttpClient http, HttpMethod method,
        string path, object? json = null, string? raw = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = JsonContent.Create(json);
        if (raw is not null) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        var r = await http.SendAsync(request);
        var text = await r.Content.ReadAsStringAsync();
        var body = text.Length > 0 && (r.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? false)
            ? JsonDocument.Parse(text).RootElement.Clone()
            : default;
        return (r.StatusCode, body, r);
    }

    /// <summary>Asserts a problem+json answer with the status and the stable code.</summary>
    public static void AssertProblem(this (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response) answer, HttpStatusCode status, string code)
    {
        Assert.True(answer.Status == status, $"expected {(int)status} {code}, got {(int)answer.Status}: {answer.Body}");
        Assert.Equal("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, answer.Body.GetProperty("code").GetString());
        Assert.Equal("urn:chatportal:problem:" + code, answer.Body.GetProperty("type").GetString());
        Assert.Equal((int)status, answer.Body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(answer.Body.GetProperty("detail").GetString()));
    }
}
