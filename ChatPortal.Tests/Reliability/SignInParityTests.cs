using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using ChatPortal.Admin;
using ChatPortal.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// Known and unknown names cost the same password work, and where the product keeps existence
/// secret (the back office) they get byte-identical answers. Proven by counting the work of the
/// real app's password hasher (the app hosted in process with a counting <see cref="IPasswordHasher{T}"/>),
/// not by timing; the timing is measured in bench/ChatPortal.Benchmarks (SignInTimingBenchmarks).
/// </summary>
public sealed class SignInParityTests : IAsyncLifetime
{
    private readonly ParityPortal _portal = new();

    public ValueTask InitializeAsync()
    {
        _ = _portal.Server; // starts the app (migrations included)
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _portal.DisposeAsync();

    private HttpClient Client() => _portal.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>Status, redirect target and body, with what differs per response anyway (antiforgery token, CSP nonce, the encrypted component state, the echoed name) masked.</summary>
    private sealed record Answer(HttpStatusCode Status, string? Location, string Body);

    private static async Task<Answer> AnswerOf(HttpResponseMessage r, string name)
    {
        var body = await r.Content.ReadAsStringAsync();
        body = Regex.Replace(body, "name=\"__RequestVerificationToken\" value=\"[^\"]*\"", "name=\"__RequestVerificationToken\" value=\"*\"");
        body = Regex.Replace(body, "nonce=\"[^\"]*\"", "nonce=\"*\"");
        body = Regex.Replace(body, "<!--Blazor-Server-Component-State:[^>]*-->", "<!--Blazor-Server-Component-State:*-->"); // encrypted, fresh IV
        body = body.Replace(name, "NAME", StringComparison.Ordinal);
        return new Answer(r.StatusCode, r.Headers.Location?.ToString(), body);
    }

    /// <summary>Equal answers; else the first place where the bodies part, for the failure message.</summary>
    private static void AssertSame(Answer a, Answer b)
    {
        var i = 0;
        while (i < Math.Min(a.Body.Length, b.Body.Length) && a.Body[i] == b.Body[i]) i++;
        string At(string s) => s.Substring(Math.Max(0, i - 80), Math.Min(s.Length - Math.Max(0, i - 80), 200));
        Assert.True(a == b, $"answers differ: {a.Status}/{b.Status}, {a.Location}/{b.Location}, body at {i}:\n{At(a.Body)}\n---\n{At(b.Body)}");
    }

    private async Task<Answer> PostFormAsync(string page, string handler, string name, string password)
    {
        using var http = Client();
        var get = await http.GetStringAsync(page);
        var token = Regex.Match(get, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);
        using var r = await http.PostAsync(page, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = handler, ["__RequestVerificationToken"] = token,
            ["Input.Name"] = name, ["Input.Password"] = password, ["Input.ReturnUrl"] = "/",
        }));
        return await AnswerOf(r, name);
    }

    private async Task<Answer> PostTokenAsync(string name, string password)
    {
        using var http = Client();
        using var r = await http.PostAsJsonAsync("/api/auth/token", new { name, password });
        return await AnswerOf(r, name);
    }

    [Fact]
    public async Task Admin_sign_in_gives_a_wrong_password_and_an_unknown_name_the_same_answer_after_one_verification_each()
    {
        var known = PortalHelpers.UniqueName("boss");
        var accounts = _portal.Services.GetRequiredService<AdminAccounts>();
        Assert.True((await accounts.CreateAsync(known, "right-admin-password", new AdminActor(0, "test", "local"))).Ok);
        var hasher = _portal.AdminHasher;

        hasher.Reset();
        var wrong = await PostFormAsync("/admin/login", "admin-login", known, "wrong-admin-password");
        Assert.Equal(1, hasher.Verifications);

        hasher.Reset();
        var unknown = await PostFormAsync("/admin/login", "admin-login", PortalHelpers.UniqueName("nobod"), "wrong-admin-password");
        Assert.Equal(1, hasher.Verifications);
        Assert.Equal(0, hasher.Hashes);

        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        Assert.Null(wrong.Location);
        Assert.Contains("admin-login-error", wrong.Body);
        AssertSame(wrong, unknown); // status, redirect and the whole page, byte for byte

        // And the right password does sign in (so the wrong-password answer above is not a broken form).
        hasher.Reset();
        var right = await PostFormAsync("/admin/login", "admin-login", known, "right-admin-password");
        Assert.NotEqual(HttpStatusCode.BadRequest, right.Status);
        Assert.DoesNotContain("admin-login-error", right.Body);
        Assert.Equal(1, hasher.Verifications);
    }

    [Fact]
    public async Task Chat_sign_in_verifies_one_password_for_a_wrong_password_and_for_an_unknown_name_on_form_and_token_alike()
    {
        var hasher = _portal.ChatHasher;
        var known = PortalHelpers.UniqueName("known");
        Assert.Equal(HttpStatusCode.OK, (await PostTokenAsync(known, "right-password-1")).Status); // registers

        // A wrong password for a known name: one verification, no hashing, the same answer for every known name.
        var other = PortalHelpers.UniqueName("other");
        Assert.Equal(HttpStatusCode.OK, (await PostTokenAsync(other, "right-password-2")).Status);
        foreach (var (post, expected) in new (Func<string, string, Task<Answer>> Post, HttpStatusCode Expected)[]
                 {
                     ((n, p) => PostTokenAsync(n, p), HttpStatusCode.Unauthorized),
                     ((n, p) => PostFormAsync("/login", "login", n, p), HttpStatusCode.BadRequest),
                 })
        {
            hasher.Reset();
            var a = await post(known, "wrong-password");
            Assert.Equal((1, 0), (hasher.Verifications, hasher.Hashes));
            hasher.Reset();
            var b = await post(other, "wrong-password");
            Assert.Equal((1, 0), (hasher.Verifications, hasher.Hashes));
            Assert.Equal(expected, a.Status);
            AssertSame(a, b);

            // An unknown name: the same one verification (against a dummy hash) before it is registered —
            // a new nickname creates the account by design, so that answer differs (docs/security.md).
            hasher.Reset();
            var fresh = await post(PortalHelpers.UniqueName("fresh"), "any-password-3");
            Assert.Equal((1, 1), (hasher.Verifications, hasher.Hashes));
            Assert.True(fresh.Status is HttpStatusCode.OK or HttpStatusCode.Redirect, fresh.Status.ToString());
        }
    }
}

/// <summary>The real app in process (its own data folder) with counting password hashers.</summary>
internal sealed class ParityPortal : WebApplicationFactory<Program>
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "rely2-parity-" + Guid.NewGuid().ToString("N"));
    public CountingHasher<ChatUser> ChatHasher { get; } = new();
    public CountingHasher<AdminUser> AdminHasher { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Directory.CreateDirectory(_dataDir);
        builder.UseEnvironment("Production");
        builder.UseSetting("Portal:DataPath", _dataDir);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton<IPasswordHasher<ChatUser>>(ChatHasher);
            s.AddSingleton<IPasswordHasher<AdminUser>>(AdminHasher);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_dataDir, recursive: true); }
        catch (IOException) { /* a file still open: temp, left for the OS */ }
    }
}

/// <summary>Identity's hasher, counting its verifications and hashes.</summary>
internal sealed class CountingHasher<T> : IPasswordHasher<T> where T : class
{
    private readonly PasswordHasher<T> _inner = new();
    private int _verifications;
    private int _hashes;
    public int Verifications => Volatile.Read(ref _verifications);
    public int Hashes => Volatile.Read(ref _hashes);

    public void Reset()
    {
        Interlocked.Exchange(ref _verifications, 0);
        Interlocked.Exchange(ref _hashes, 0);
    }

    public string HashPassword(T user, string password)
    {
        Interlocked.Increment(ref _hashes);
        return _inner.HashPassword(user, password);
    }

    public PasswordVerificationResult VerifyHashedPassword(T user, string hashedPassword, string providedPassword)
    {
        Interlocked.Increment(ref _verifications);
        return _inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
    }
}
