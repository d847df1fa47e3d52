using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Chat;
using ChatPortal.Chat.Notifications;
using ChatPortal.Data;
using ChatPortal.Profiles;
using ChatPortal.Tests.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Identity;

/// <summary>
/// Web Push and the email digest against a fake push service and an SMTP sink on loopback, with
/// the portal hosted in process (real Kestrel, real HTTP to both) so the test can post as Bob and
/// mark Alice present or away.
/// </summary>
public sealed class NotificationTests
{
    internal static Dictionary<string, string?> Settings(SmtpSink? smtp = null)
    {
        var s = new Dictionary<string, string?>
        {
            ["Notifications:AllowHttpPushEndpoints"] = "true",
            ["SafeHttp:AllowedAddresses:0"] = "127.0.0.1",
        };
        if (smtp is not null)
            foreach (var (k, v) in smtp.PortalSettings(digestMinutes: 0.02)) s[k.Replace("__", ":", StringComparison.Ordinal)] = v;
        return s;
    }

    /// <summary>Signs in through the real form; the cookies are in the returned handler's container.</summary>
    internal static async Task<HttpClient> SignedInClientAsync(Uri baseUri, string name)
    {
        var cookies = new CookieContainer();
        var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = baseUri };
        var page = await http.GetStringAsync("/login");
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["__RequestVerificationToken"] = token,
            ["Input.Name"] = name,
            ["Input.Password"] = "secret-pw-1",
            ["Input.RememberMe"] = "true",
            ["Input.ReturnUrl"] = "/",
        });
        using var r = await http.PostAsync("/login", form);
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        return http;
    }

    internal static async Task<HttpResponseMessage> SubscribeAsync(HttpClient http, Uri baseUri, (string Id, string Endpoint, string P256dh, string Auth) s,
        string? origin = null, bool header = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/push/subscriptions")
        {
            Content = JsonContent.Create(new { endpoint = s.Endpoint, keys = new { p256dh = s.P256dh, auth = s.Auth } }),
        };
        request.Headers.Add("Origin", origin ?? baseUri.GetLeftPart(UriPartial.Authority));
        if (header) request.Headers.Add("X-ChatPortal", "1");
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task Mentions_and_direct_messages_are_pushed_encrypted_and_signed_only_while_the_user_is_away_and_as_their_settings_say()
    {
        await using var push = await FakePushService.StartAsync();
        await using var portal = await InProcessPortal.StartAsync(Settings());
        var settings = portal.Services.GetRequiredService<NotificationSettings>();
        var aliceName = PortalHelpers.UniqueName("alice");
        var bobName = PortalHelpers.UniqueName("bob");
        using var aliceHttp = await SignedInClientAsync(portal.BaseUri, aliceName);
        await portal.TokenAsync(bobName);
        var alice = (await portal.Users.FindByNameAsync(aliceName))!;
        var bob = (await portal.Users.FindByNameAsync(bobName))!;
        var lobby = (await portal.Rooms.GetDefaultAsync())!;
        await portal.Rooms.EnsureMemberAsync(lobby.Id, alice);

        // The key the browser subscribes with is the one every push is signed with.
        using (var anon = new HttpClient { BaseAddress = portal.BaseUri })
            push.ExpectedServerKey = (await anon.GetFromJsonAsync<JsonElement>("/api/push/key")).GetProperty("publicKey").GetString();
        Assert.Equal(87, push.ExpectedServerKey!.Length); // 65 bytes, base64url

        // Only the portal's own pages may subscribe: a foreign origin or a missing header is refused.
        var good = push.Subscribe();
        Assert.Equal(HttpStatusCode.Forbidden, (await SubscribeAsync(aliceHttp, portal.BaseUri, good, origin: "http://evil.example")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SubscribeAsync(aliceHttp, portal.BaseUri, good, header: false)).StatusCode);
        using (var anon = new HttpClient { BaseAddress = portal.BaseUri })
            Assert.Equal(HttpStatusCode.Unauthorized, (await SubscribeAsync(anon, portal.BaseUri, good)).StatusCode);
        var malformed = good with { P256dh = "not-a-key" };
        Assert.Equal(HttpStatusCode.BadRequest, (await SubscribeAsync(aliceHttp, portal.BaseUri, malformed)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await SubscribeAsync(aliceHttp, portal.BaseUri, good)).StatusCode);
        var gone = push.Subscribe(status: 410);
        Assert.Equal(HttpStatusCode.NoContent, (await SubscribeAsync(aliceHttp, portal.BaseUri, gone)).StatusCode);

        var dm = (await portal.Rooms.OpenDirectAsync(bob, aliceName)).Value!.Room;

        // Alice has a tab open (present in the lobby) until the dispatcher has looked at the message: no push.
        // Then she closes it: the next DM is pushed.
        var dispatcher = portal.Services.GetRequiredService<NotificationDispatcher>();
        // Posts and waits until the dispatcher has looked at it (it reads presence and settings then).
        async Task PostHandledAsync(long roomId, string text)
        {
            var handled = dispatcher.Handled;
            Assert.True((await portal.Commands.PostAsync(bob, roomId, text)).Ok);
            for (var i = 0; i < 300 && dispatcher.Handled == handled; i++) await Task.Delay(50);
            Assert.True(dispatcher.Handled > handled, "the dispatcher did not get to the message");
        }
        using (portal.EnterRoom(lobby.Id, alice))
            await PostHandledAsync(dm.Id, "while you are here");
        Assert.True((await portal.Commands.PostAsync(bob, dm.Id, "while you are away")).Ok);
        var first = await push.WaitForAsync(good.Id);
        Assert.Equal("while you are away", first.Json.GetProperty("body").GetString());
        Assert.Equal($"Message from {bobName}", first.Json.GetProperty("title").GetString());
        Assert.Equal($"/dm/{bobName}", first.Json.GetProperty("url").GetString());
        Assert.Equal(push.Origin, first.Audience);
        Assert.Single(push.Received, p => p.SubscriptionId == good.Id); // the message sent while she was here was not pushed

        // The expired subscription (410) was tried once and deleted.
        var subscriptions = portal.Services.GetRequiredService<PushSubscriptions>();
        for (var i = 0; i < 100 && (await subscriptions.ListAsync(alice.Id)).Count > 1; i++) await Task.Delay(50);
        Assert.Equal([good.Endpoint], (await subscriptions.ListAsync(alice.Id)).Select(s => s.Endpoint));
        Assert.Equal(1, push.RequestsFor(gone.Id));

        // In a room: a plain message is not pushed at the default level, a mention is.
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, "just chatting")).Ok);
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, $"@{aliceName} look at this")).Ok);
        var mention = await push.WaitForAsync(good.Id, p => p.Payload.Contains("look at this", StringComparison.Ordinal));
        Assert.Equal($"{bobName} mentioned you in #Lobby", mention.Json.GetProperty("title").GetString());
        Assert.DoesNotContain(push.Received, p => p.Payload.Contains("just chatting", StringComparison.Ordinal));

        // Per room "all": every message of that room.
        await settings.SetRoomLevelAsync(alice.Id, lobby.Id, NotifyLevel.All);
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, "everything now")).Ok);
        await push.WaitForAsync(good.Id, p => p.Payload.Contains("everything now", StringComparison.Ordinal));

        // Quiet hours around now (in her time zone): nothing; "none" for the room: nothing; then back on.
        var profiles = portal.Services.GetRequiredService<UserProfiles>();
        Assert.Null(await profiles.UpdateAsync(alice.Id, new ProfileEdit(null, null, "Asia/Shanghai")));
        var shanghai = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"));
        var minute = shanghai.Hour * 60 + shanghai.Minute;
        var pref = (await settings.GetAsync(alice.Id)).Preference;
        pref.QuietFromMinute = (minute + 1440 - 60) % 1440;
        pref.QuietToMinute = (minute + 60) % 1440;
        Assert.Null(await settings.SaveAsync(pref));
        await PostHandledAsync(dm.Id, "during quiet hours");
        pref.QuietFromMinute = pref.QuietToMinute = null;
        Assert.Null(await settings.SaveAsync(pref));
        await settings.SetRoomLevelAsync(alice.Id, lobby.Id, NotifyLevel.None);
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, $"@{aliceName} muted room")).Ok);
        Assert.True((await portal.Commands.PostAsync(bob, dm.Id, "after the quiet hours")).Ok);
        await push.WaitForAsync(good.Id, p => p.Payload.Contains("after the quiet hours", StringComparison.Ordinal));
        Assert.DoesNotContain(push.Received, p => p.Payload.Contains("during quiet hours", StringComparison.Ordinal));
        Assert.DoesNotContain(push.Received, p => p.Payload.Contains("muted room", StringComparison.Ordinal));
        Assert.Empty(push.Failures);

        // Unsubscribing this device removes it.
        using var remove = new HttpRequestMessage(HttpMethod.Post, "/api/push/subscriptions/delete") { Content = JsonContent.Create(new { endpoint = good.Endpoint }) };
        remove.Headers.Add("Origin", portal.BaseUri.GetLeftPart(UriPartial.Authority));
        remove.Headers.Add("X-ChatPortal", "1");
        Assert.Equal(HttpStatusCode.NoContent, (await aliceHttp.SendAsync(remove)).StatusCode);
        Assert.Empty(await subscriptions.ListAsync(alice.Id));
    }

    [Fact]
    public async Task Missed_mentions_and_direct_messages_come_as_one_digest_mail_with_an_unsubscribe_link_that_works_without_signing_in()
    {
        await using var smtp = new SmtpSink();
        await using var portal = await InProcessPortal.StartAsync(Settings(smtp));
        var profiles = portal.Services.GetRequiredService<UserProfiles>();
        var aliceName = PortalHelpers.UniqueName("alice");
        var bobName = PortalHelpers.UniqueName("bob");
        var daveName = PortalHelpers.UniqueName("dave");
        foreach (var n in new[] { aliceName, bobName, daveName }) await portal.TokenAsync(n);
        var alice = (await portal.Users.FindByNameAsync(aliceName))!;
        var bob = (await portal.Users.FindByNameAsync(bobName))!;
        var dave = (await portal.Users.FindByNameAsync(daveName))!;
        var lobby = (await portal.Rooms.GetDefaultAsync())!;
        foreach (var u in new[] { alice, bob, dave }) await portal.Rooms.EnsureMemberAsync(lobby.Id, u);
        Assert.Null(await profiles.SetEmailAsync(alice.Id, "alice@example.test", verified: true));
        Assert.Null(await profiles.SetEmailAsync(dave.Id, "dave@example.test", verified: true));

        var dm = (await portal.Rooms.OpenDirectAsync(bob, aliceName)).Value!.Room;
        var read = await portal.Commands.PostAsync(bob, dm.Id, "one she reads at once");
        await portal.History.MarkReadAsync(alice.Id, dm.Id, read.Value!.Id);
        Assert.True((await portal.Commands.PostAsync(bob, dm.Id, "first <b>direct</b> message")).Ok);
        Assert.True((await portal.Commands.PostAsync(bob, dm.Id, "second direct message")).Ok);
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, $"@{aliceName} are you there?")).Ok);

        var mail = await smtp.WaitForAsync("alice@example.test");
        Assert.Contains("3 message(s)", mail.Subject);
        var text = mail.TextBody!;
        Assert.Contains("first <b>direct</b> message", text);
        Assert.Contains("second direct message", text);
        Assert.Contains("are you there?", text);
        Assert.Contains("mentioned you", text);
        Assert.DoesNotContain("one she reads at once", text);
        Assert.Contains("first &lt;b&gt;direct&lt;/b&gt; message", mail.HtmlBody);
        Assert.Equal("List-Unsubscribe=One-Click", mail.Headers["List-Unsubscribe-Post"]);
        var unsubscribe = Regex.Match(text, @"http\S+/email/unsubscribe\?t=\S+").Value;
        Assert.StartsWith(portal.BaseUri.GetLeftPart(UriPartial.Authority), unsubscribe);
        // Once mailed, nothing is waiting: one mail for the three.
        Assert.Single(smtp.To("alice@example.test"));

        // The link works without a session: the page offers a button (a GET changes nothing), the POST unsubscribes.
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var page = await anonymous.GetStringAsync(unsubscribe);
        Assert.Contains("unsubscribe-submit", page);
        var settings = portal.Services.GetRequiredService<NotificationSettings>();
        Assert.True((await settings.GetAsync(alice.Id)).Preference.EmailDigest);
        var oneClick = (mail.Headers["List-Unsubscribe"] ?? "").Trim('<', '>');
        using (var r = await anonymous.PostAsync(oneClick, new FormUrlEncodedContent(new Dictionary<string, string> { ["List-Unsubscribe"] = "One-Click" })))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.False((await settings.GetAsync(alice.Id)).Preference.EmailDigest);
        using (var r = await anonymous.PostAsync(oneClick.Replace("t=", "t=x", StringComparison.Ordinal), null))
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);

        // A mention of both: Dave (still subscribed) gets his mail; Alice gets none.
        Assert.True((await portal.Commands.PostAsync(bob, lobby.Id, $"@{aliceName} @{daveName} meeting at three")).Ok);
        var daves = await smtp.WaitForAsync("dave@example.test");
        Assert.Contains("meeting at three", daves.TextBody ?? "");
        Assert.Single(smtp.To("alice@example.test"));
    }
}
