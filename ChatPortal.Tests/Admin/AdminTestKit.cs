using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ChatPortal.Tests.Admin;

/// <summary>Runs the real portal's command line (<c>dotnet ChatPortal.dll admin ...</c>) against a data folder.</summary>
public static class AdminCommandLine
{
    public sealed record Outcome(int ExitCode, string Output, string Error);

    public static async Task<Outcome> RunAsync(string dataDir, string? stdin, params string[] args)
    {
        var psi = RepoPaths.PortalStartInfo(args);
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.Environment["Portal__DataPath"] = dataDir;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteLineAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"admin {string.Join(' ', args)} did not finish: {await output} {await error}");
        }
        return new Outcome(p.ExitCode, await output, await error);
    }

    public static async Task CreateAdminAsync(string dataDir, string name, string password)
    {
        var r = await RunAsync(dataDir, password, "admin", "create", name);
        if (r.ExitCode != 0) throw new InvalidOperationException($"admin create failed ({r.ExitCode}): {r.Output} {r.Error}");
    }
}

/// <summary>
/// A portal (the built app as a child process) whose first admin was made through the command
/// line, as the README says. Shared by the tests of one class.
/// </summary>
public sealed class AdminPortalFixture : IAsyncLifetime
{
    public const string AdminName = "root";
    public const string AdminPassword = "root-password-1";
    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        var dir = TempDir.Create("admin");
        await AdminCommandLine.CreateAdminAsync(dir, AdminName, AdminPassword);
        Portal = await PortalProcess.StartAsync(dataDir: dir);
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

/// <summary>HTTP helpers for the static sign-in forms (antiforgery token included, as a browser would).</summary>
public static partial class FormPosting
{
    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenRegex();

    public static async Task<string> TokenAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path);
        var m = TokenRegex().Match(html);
        if (!m.Success) throw new InvalidOperationException($"No antiforgery token on {path}.");
        return WebUtility.HtmlDecode(m.Groups[1].Value);
    }

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string formName, Dictionary<string, string> fields, string? token)
    {
        var all = new Dictionary<string, string>(fields) { ["_handler"] = formName };
        if (token is not null) all["__RequestVerificationToken"] = token;
        return await client.PostAsync(path, new FormUrlEncodedContent(all));
    }

    /// <summary>Signs a chat user in (registering the nickname) through the real form; the client keeps the cookie.</summary>
    public static async Task SignInChatUserAsync(HttpClient client, string name, string password)
    {
        var token = await TokenAsync(client, "/login");
        using var r = await PostAsync(client, "/login", "login",
            new() { ["Input.Name"] = name, ["Input.Password"] = password, ["Input.RememberMe"] = "true" }, token);
        if (r.StatusCode != HttpStatusCode.Redirect) throw new InvalidOperationException($"Chat sign-in failed: {(int)r.StatusCode}");
    }

    public static async Task<HttpResponseMessage> SignInAdminAsync(HttpClient client, string name, string password)
    {
        var token = await TokenAsync(client, "/admin/login");
        return await PostAsync(client, "/admin/login", "admin-login", new() { ["Input.Name"] = name, ["Input.Password"] = password }, token);
    }
}

public static class AdminPageExtensions
{
    /// <summary>Signs in through /admin/login and waits until the back office is live.</summary>
    public static async Task SignInAdminAsync(this IPage page, string name, string password, string returnUrl = "/admin")
    {
        await page.GotoAsync($"/admin/login?returnUrl={Uri.EscapeDataString(returnUrl)}");
        await page.FillAsync("#admin-name", name);
        await page.FillAsync("#admin-password", password);
        await page.ClickAsync("#admin-login-submit");
        await page.WaitForURLAsync(u => !u.Contains("/admin/login", StringComparison.Ordinal), new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await page.WaitForAdminCircuitAsync();
    }

    public static async Task WaitForAdminCircuitAsync(this IPage page) =>
        await page.WaitForFunctionAsync("() => document.body.getAttribute('data-admin-ready') === '1'", null, new() { Timeout = BrowserFixture.ExpectTimeoutMs });

    /// <summary>Goes to an admin page with a full load and waits for its circuit.</summary>
    public static async Task OpenAdminAsync(this IPage page, string path)
    {
        await page.GotoAsync(path);
        await page.WaitForAdminCircuitAsync();
    }

    /// <summary>Confirms the MudBlazor message box that the last click opened.</summary>
    public static async Task ConfirmDialogAsync(this IPage page, string yesText)
    {
        var dialog = page.Locator(".mud-dialog");
        await dialog.WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        await dialog.GetByRole(AriaRole.Button, new() { Name = yesText, Exact = true }).ClickAsync();
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = BrowserFixture.ExpectTimeoutMs });
    }
}
