using ChatPortal.Tests.Browser;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Signing out ends that browser sign-in's open tabs at once (the core ends their sessions), while
/// the same user's tabs of another sign-in keep chatting; "sign out everywhere" ends those too.
/// An ended tab goes to the sign-in page.
/// </summary>
public sealed class SignOutBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Signing_out_ends_that_sign_ins_other_tabs_and_leaves_another_sign_in_chatting()
    {
        await using var portal = await PortalProcess.StartAsync();
        await using var laptop = await browser.NewContextAsync(portal.BaseUri);
        await using var phone = await browser.NewContextAsync(portal.BaseUri);
        var first = await laptop.NewPageAsync();
        await first.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await first.WaitForChatAsync("# Lobby");
        var second = await laptop.NewPageAsync(); // another tab of the same sign-in
        await second.GotoAsync("/rooms/lobby");
        await second.WaitForChatAsync("# Lobby");
        var other = await phone.NewPageAsync(); // the same user, signed in on another device
        await other.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await other.WaitForChatAsync("# Lobby");

        await first.Locator("#logout").ClickAsync();
        await first.WaitForURLAsync("**/login**");

        // The laptop's other tab is told at once; the phone is not and still posts and receives.
        await second.WaitForURLAsync("**/login**"); // its drawer takes it to the sign-in page
        await other.SendAsync("still here on the phone");
        await Expect(other.Locator(".msg .msg-text").Last).ToHaveTextAsync("still here on the phone");
        Assert.EndsWith("/rooms/lobby", other.Url, StringComparison.Ordinal);

        // Signing out everywhere from a new sign-in ends the phone's tab too.
        var again = await laptop.NewPageAsync();
        await again.SignInAsync("Alice", "secret-alice", "/rooms/lobby");
        await again.WaitForChatAsync("# Lobby");
        await again.Locator("#logout-everywhere").ClickAsync();
        await other.WaitForURLAsync("**/login**");
    }
}
