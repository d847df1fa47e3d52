using Microsoft.Playwright;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>
/// One headless Debian Chromium per test class, driven by Playwright: the headless shell, or the full browser for
/// <see cref="FullBrowserFixture"/>. Playwright's own browser download cannot work here; the test command installs
/// the chromium and chromium-headless-shell packages.
/// </summary>
public class BrowserFixture : IAsyncLifetime
{
    /// <summary>Debian's full Chromium (package chromium), for the tests that need what only it has (<see cref="FullBrowserFixture"/>).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>
    /// Debian's Chromium headless shell (package chromium-headless-shell): the same Blink and V8 built as Chromium's own
    /// headless browser, the one Playwright runs by default for headless tests. Without the full browser's machinery it
    /// needs about half the CPU for the same pages (bench/results.md, twenty-fourth session), and the suite is CPU-bound.
    /// </summary>
    public const string HeadlessShellPath = "/usr/lib/chromium/chromium-headless-shell";

    /// <summary>The full browser instead of the headless shell (the push service worker's notifications need it).</summary>
    protected virtual bool FullBrowser => false;

    /// <summary>
    /// How long a browser test's expectations wait (Playwright's default for <c>Expect</c>, process-wide; set here for
    /// every browser test). Generous on purpose: a full run keeps both cores busy (CPU pressure ~90 %), and a page's
    /// answer then took over 15 s a few times; a real failure still fails, only later.
    /// </summary>
    public const int ExpectTimeoutMs = 30_000;
    private IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout(ExpectTimeoutMs);
        var path = FullBrowser ? ChromiumPath : HeadlessShellPath;
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: run ./test.sh (it installs Debian's chromium and chromium-headless-shell packages).");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = path,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        });
    }

    /// <summary>A fresh browser profile (cookies, storage), like a second person on another machine.</summary>
    public Task<IBrowserContext> NewContextAsync(Uri baseUri, int width = 1280, int height = 800, string locale = "en-US", string? timezoneId = null) =>
        Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUri.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = locale,
            TimezoneId = timezoneId,
        });

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>A browser fixture on Debian's full Chromium: a pushed message shown as a notification by the service worker.</summary>
public sealed class FullBrowserFixture : BrowserFixture
{
    protected override bool FullBrowser => true;
}

public static class PageExtensions
{
    /// <summary>Signs in (or registers) through the real form.</summary>
    public static async Task SignInAsync(this IPage page, string name, string password, string returnUrl = "/", bool remember = true)
    {
        await page.GotoAsync($"/login?returnUrl={Uri.EscapeDataString(returnUrl)}");
        await page.FillAsync("#name", name);
        await page.FillAsync("#password", password);
        if (!remember) await page.UncheckAsync("#remember");
        await page.ClickAsync("#login-submit");
        // A new nickname: the form asks "create a new account?" (issue 21), confirmed with the password again.
        var confirm = page.Locator("#create-account");
        var left = page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal), new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        var asked = confirm.WaitForAsync(new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        if (await Task.WhenAny(left, asked) == asked && await confirm.IsVisibleAsync())
        {
            await page.FillAsync("#password", password);
            await confirm.ClickAsync();
        }
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal), new() { Timeout = BrowserFixture.ExpectTimeoutMs });
        _ = left.ContinueWith(t => t.Exception, TaskScheduler.Default); // whichever lost is observed
        _ = asked.ContinueWith(t => t.Exception, TaskScheduler.Default);
    }

    /// <summary>A prerendered page only reacts once its circuit is up: wait for Blazor's interactive marker.</summary>
    public static async Task WaitForCircuitAsync(this IPage page)
    {
        await page.WaitForFunctionAsync("() => window.Blazor && document.querySelector('#composer-input') && window.chatPortalReady === true", null,
            new() { Timeout = BrowserFixture.ExpectTimeoutMs });
    }
}
