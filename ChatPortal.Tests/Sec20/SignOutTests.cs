using System.Net;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 3: signing out ends that session's cookie on the server (a copy of the cookie
/// gets no ticket, no token list, no page), closes the ticket sockets of that session (not the
/// user's other sessions), and "sign out everywhere" ends all of them. Kick revokes API tokens.
/// </summary>
public sealed class SignOutTests
{
    private static async Task<HttpStatusCode> PostLogoutAsync(PortalProcess portal, CookieContainer cookies, bool everywhere = false)
    {
        using var http = portal.CreateClient(cookies: cookies);
        var page = await http.GetStringAsync("/rooms/lobby");
        var token = WebUtility.HtmlDecode(Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value);
        Assert.False(string.IsNullOrEmpty(token), "no sign-out form on the chat page");
        var fields = new Dictionary<string, string> { ["__RequestVerificationToken"] = token, ["returnUrl"] = "/login" };
        if (everywhere) fields["everywhere"] = "true";
        using var r = await http.PostAsync("/logout", new FormUrlEncodedContent(fields));
        return r.StatusCode;
    }

    /// <summary>A second browser that holds a copy of the cookies (another tab, or a stolen cookie).</summary>
    private static CookieContainer Copy(PortalProcess portal, CookieContainer cookies)
    {
        var copy = new CookieContainer();
        foreach (Cookie c in cookies.GetCookies(portal.BaseUri)) copy.Add(portal.BaseUri, new Cookie(c.Name, c.Value));
        return copy;
    }

    private static async Task<HttpStatusCode> TicketStatusAsync(PortalProcess portal, CookieContainer cookies)
    {
        using var http = portal.CreateClient(cookies: cookies);
        using var r = await http.PostAsync("/api/ws/ticket", null);
        return r.StatusCode;
    }

    [Fact]
    public async Task After_sign_out_a_copy_of_the_cookie_gets_no_ticket_no_token_list_and_no_chat_page()
    {
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("leaver");
        var cookies = await portal.SignInAsync(name);
        var stolen = Copy(portal, cookies);
        Assert.Equal(HttpStatusCode.OK, await TicketStatusAsync(portal, stolen)); // the copy works while signed in

        Assert.Equal(HttpStatusCode.Redirect, await PostLogoutAsync(portal, cookies));

        Assert.Equal(HttpStatusCode.Unauthorized, await TicketStatusAsync(portal, stolen));
        using var http = portal.CreateClient(cookies: stolen);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/auth/tokens")).StatusCode);
        using var page = await http.GetAsync("/rooms/lobby");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/login", page.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Sign_out_closes_that_sessions_ticket_socket_only_and_sign_out_everywhere_closes_the_rest()
    {
        await using var portal = await PortalProcess.StartAsync();
        var name = PortalHelpers.UniqueName("twodevices");
        var laptop = await portal.SignInAsync(name);
        var phone = await portal.SignInAsync(name);
        await using var laptopSocket = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        Assert.True((await laptopSocket.AuthAsync(ticket: await portal.TicketAsync(laptop))).Is("welcome"));
        await using var phoneSocket = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        Assert.True((await phoneSocket.AuthAsync(ticket: await portal.TicketAsync(phone))).Is("welcome"));
        await using var botSocket = await portal.MemberSocketAsync(name, join: null); // an API token of the same user

        await PostLogoutAsync(portal, laptop);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await laptopSocket.WaitClosedAsync(TimeSpan.FromSeconds(10)));
        // The other session and the token socket keep working.
        Assert.True((await phoneSocket.RequestAsync("ping")).Is("pong"));
        Assert.True((await botSocket.RequestAsync("ping")).Is("pong"));
        Assert.Equal(HttpStatusCode.OK, await TicketStatusAsync(portal, phone));

        await PostLogoutAsync(portal, phone, everywhere: true);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await phoneSocket.WaitClosedAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HttpStatusCode.Unauthorized, await TicketStatusAsync(portal, Copy(portal, phone)));
    }

    [Fact]
    public async Task A_ticket_issued_before_sign_out_is_refused_after_it()
    {
        await using var portal = await PortalProcess.StartAsync();
        var cookies = await portal.SignInAsync(PortalHelpers.UniqueName("ticketholder"));
        var ticket = await portal.TicketAsync(cookies);
        await PostLogoutAsync(portal, cookies);
        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        var answer = await ws.AuthAsync(ticket: ticket);
        Assert.True(answer.Is("error"), answer.ToString());
        Assert.Equal("ticket_invalid", answer.Get("code"));
    }

    [Fact]
    public async Task Kick_revokes_the_users_api_tokens()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var carol = await h.CreateUserAsync("carol", "carol-pass");
        var tokens = h.Get<ApiTokens>();
        var (token, _) = await tokens.IssueAsync(carol.Id, "bot");
        Assert.NotNull(await tokens.ValidateAsync(token));

        Assert.True((await h.Get<AdminChatUsers>().KickAsync(boss, carol.Id)).Ok);
        Assert.Null(await tokens.ValidateAsync(token));
    }
}
