using ChatPortal.Tests.Browser;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Identity;

/// <summary>
/// The service worker in Chromium: a push message (delivered through the DevTools protocol, since a
/// headless browser has no push service of its own) becomes a notification with the payload's
/// title and text, as text. On the full browser: the headless shell the other browser tests use shows no notification.
/// </summary>
public sealed class PushBrowserTests(FullBrowserFixture browser) : IClassFixture<FullBrowserFixture>
{
    [Fact]
    public async Task The_service_worker_shows_a_pushed_message_as_a_notification()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var context = await browser.NewContextAsync(portal.BaseUri);
        await context.GrantPermissionsAsync(["notifications"], new() { Origin = portal.BaseUri.GetLeftPart(UriPartial.Authority) });
        var page = await context.NewPageAsync();
        await page.SignInAsync("Pia", "pia-password", "/rooms/lobby");
        await page.WaitForChatAsync("# Lobby");

        // The worker is served from our origin under the page's CSP and registers for the whole site.
        var scope = await page.EvaluateAsync<string>("""
            async () => {
              const reg = await navigator.serviceWorker.register('/push-sw.js', { scope: '/' });
              await navigator.serviceWorker.ready;
              return reg.scope;
            }
            """);
        Assert.Equal(portal.BaseUri.ToString(), scope);

        var cdp = await context.NewCDPSessionAsync(page);
        string? registrationId = null;
        cdp.Event("ServiceWorker.workerRegistrationUpdated").OnEvent += (_, e) =>
        {
            foreach (var r in e!.Value.GetProperty("registrations").EnumerateArray())
                if (r.GetProperty("scopeURL").GetString() == scope) registrationId = r.GetProperty("registrationId").GetString();
        };
        await cdp.SendAsync("ServiceWorker.enable");
        for (var i = 0; i < 100 && registrationId is null; i++) await Task.Delay(50);
        Assert.NotNull(registrationId);

        // The worker must be activated before a push reaches it: `ready` can resolve while it is still activating.
        var state = await page.EvaluateAsync<string>("""
            async () => {
              const reg = await navigator.serviceWorker.ready;
              for (let i = 0; i < 200 && reg.active.state !== 'activated'; i++) await new Promise(r => setTimeout(r, 50));
              return reg.active.state;
            }
            """);
        Assert.Equal("activated", state);

        // The DevTools push is fire and forget (it reports no failure, and a busy browser can drop one); it is
        // sent again while nothing is shown. The same tag replaces a notification, so a second push adds none.
        const string payload = """{"title":"Message from bob","body":"<b>hello</b> 你好","url":"/dm/bob","tag":"room-9"}""";
        string[] shown = [];
        for (var attempt = 0; attempt < 5 && shown.Length == 0; attempt++)
        {
            await cdp.SendAsync("ServiceWorker.deliverPushMessage", new Dictionary<string, object>
            {
                ["origin"] = portal.BaseUri.GetLeftPart(UriPartial.Authority),
                ["registrationId"] = registrationId!,
                ["data"] = payload,
            });
            shown = await page.EvaluateAsync<string[]>("""
                async () => {
                  const reg = await navigator.serviceWorker.ready;
                  for (let i = 0; i < 60; i++) {
                    const list = await reg.getNotifications();
                    if (list.length) return [list[0].title, list[0].body, list[0].tag, list[0].data.url, String(list.length)];
                    await new Promise(r => setTimeout(r, 50));
                  }
                  return [];
                }
                """);
        }
        Assert.Equal("1", shown.LastOrDefault());
        shown = shown[..^1];
        Assert.Equal(["Message from bob", "<b>hello</b> 你好", "room-9", "/dm/bob"], shown);
    }
}
