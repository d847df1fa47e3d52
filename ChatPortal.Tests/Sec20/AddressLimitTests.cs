using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, items 2 and 4: one address rotating guests (or fresh accounts) must not get a fresh
/// budget with each: guest creation, posts, image uploads and registrations are limited per
/// address (IPv6: per /64) on top of the per-user limits. Each test starts a portal with a
/// small limit for what it checks (the test portals switch the per-address limits off otherwise).
/// </summary>
public sealed class AddressLimitTests
{
    private static Dictionary<string, string> Env(params (string Key, string Value)[] settings) =>
        settings.ToDictionary(s => s.Key, s => s.Value);

    [Fact]
    public async Task Guest_creation_is_limited_per_address_on_plain_sockets_and_v1_guest_auth()
    {
        await using var portal = await PortalProcess.StartAsync(Env(
            ("Limits__GuestBurstPerAddress", "4"), ("Limits__GuestsPerMinutePerAddress", "0.01")));
        var guests = new List<WsClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var ws = await WsClient.ConnectAsync(portal.BaseUri);
                guests.Add(ws);
                await ws.WaitForAsync(f => f.Is("openSuccess"));
            }
            // The fifth guest from the same address: refused with a clear error, no user row made.
            await using var fifth = await WsClient.ConnectAsync(portal.BaseUri);
            var refused = await fifth.WaitForAsync(f => f.Is("error"));
            Assert.Equal("rate_limited", refused.Get("code"));
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await fifth.WaitClosedAsync(TimeSpan.FromSeconds(10)));
            Assert.DoesNotContain(fifth.Frames, f => f.Is("openSuccess"));

            await using var v1 = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
            var answer = await v1.AuthAsync(guest: true);
            Assert.Equal("rate_limited", answer.Get("code"));

            await using var db = portal.OpenDb();
            Assert.Equal(4, await db.Users.CountAsync(u => u.Kind == UserKind.Guest));
            // A member with a token is not a guest: still welcome from the same address.
            await using var member = await portal.MemberSocketAsync(PortalHelpers.UniqueName("member"), join: null);
            Assert.True((await member.RequestAsync("ping")).Is("pong"));
        }
        finally
        {
            foreach (var g in guests) await g.DisposeAsync();
        }
    }

    [Fact]
    public async Task Posts_are_limited_per_address_across_users_on_top_of_the_per_user_limit()
    {
        await using var portal = await PortalProcess.StartAsync(Env(
            ("Chat__RateLimitBurst", "100000"), ("Chat__RateLimitPerSecond", "100000"),
            ("Limits__PostBurstPerAddress", "12"), ("Limits__PostsPerSecondPerAddress", "0.01")));
        var users = new List<WsClient>();
        try
        {
            for (var i = 0; i < 3; i++) users.Add(await portal.MemberSocketAsync(PortalHelpers.UniqueName("rotor"), join: null));
            var replies = new List<WsFrame>();
            for (var round = 0; round < 6; round++)
                foreach (var u in users)
                    replies.Add(await u.RequestAsync("send", ("room", "lobby"), ("text", $"flood {round}")));
            var acks = replies.Count(r => r.Is("ack"));
            Assert.InRange(acks, 12, 13); // the address's burst (plus at most one refill), not 3 users × 6
            Assert.All(replies.Where(r => !r.Is("ack")), r => Assert.Equal("rate_limited", r.Get("code")));
        }
        finally
        {
            foreach (var u in users) await u.DisposeAsync();
        }
    }

    [Fact]
    public async Task Image_uploads_are_limited_per_address_across_guests()
    {
        await using var portal = await PortalProcess.StartAsync(Env(
            ("Limits__ImageBurstPerAddress", "3"), ("Limits__ImagesPerMinutePerAddress", "0.01")));
        var guests = new List<WsClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var g = await WsClient.ConnectAsync(portal.BaseUri);
                guests.Add(g);
                await g.WaitForAsync(f => f.Is("openSuccess"));
            }
            foreach (var g in guests)
            {
                await g.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
                await g.SendBytesAsync(PortalHelpers.TinyPng(), WebSocketMessageType.Binary);
            }
            // Each guest is within its own per-user upload budget (20), so only the address stops them.
            var refused = 0;
            foreach (var g in guests)
            {
                try { await g.WaitForAsync(f => f.Is("error") && f.Get("code") == "rate_limited", TimeSpan.FromSeconds(3)); refused++; }
                catch (TimeoutException) { }
            }
            Assert.True(refused >= 1, "no upload was refused");
            await using var db = portal.OpenDb();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (await db.Messages.CountAsync(m => m.Kind == MessageKind.Image) < 3 && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.Equal(3, await db.Messages.CountAsync(m => m.Kind == MessageKind.Image));
            Assert.Equal(3, await db.Images.CountAsync());
        }
        finally
        {
            foreach (var g in guests) await g.DisposeAsync();
        }
    }

    [Fact]
    public async Task Registration_is_limited_per_address_and_another_address_may_still_register()
    {
        await using var portal = await PortalProcess.StartAsync(Env(
            ("Limits__RegistrationBurstPerAddress", "3"), ("Limits__RegistrationsPerHourPerAddress", "0.01")));
        async Task<HttpStatusCode> Register(string name, string? forwardedFor = null)
        {
            using var http = portal.CreateClient();
            using var req = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token") { Content = JsonContent.Create(new { name, password = "right-password-1" }) };
            if (forwardedFor is not null) req.Headers.Add("X-Forwarded-For", forwardedFor);
            using var r = await http.SendAsync(req);
            return r.StatusCode;
        }
        var first = PortalHelpers.UniqueName("reg");
        Assert.Equal(HttpStatusCode.OK, await Register(first));
        Assert.Equal(HttpStatusCode.OK, await Register(PortalHelpers.UniqueName("reg")));
        Assert.Equal(HttpStatusCode.OK, await Register(PortalHelpers.UniqueName("reg")));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Register(PortalHelpers.UniqueName("reg")));
        // Signing in to an existing account is not a registration.
        Assert.Equal(HttpStatusCode.OK, await Register(first));
        // Another client (behind the trusted proxy) has its own budget.
        Assert.Equal(HttpStatusCode.OK, await Register(PortalHelpers.UniqueName("reg"), "203.0.113.61"));
        // The sign-in form is held to the same budget.
        using var web = new Web.PortalHttp(portal);
        var form = await web.SignInAsync(PortalHelpers.UniqueName("webreg"), "right-password-1");
        Assert.Equal(HttpStatusCode.TooManyRequests, form.StatusCode);
    }

    [Fact]
    public async Task Auto_registration_can_be_switched_off_and_existing_accounts_still_sign_in()
    {
        var dir = TempDir.Create("noreg");
        try
        {
            var known = PortalHelpers.UniqueName("known");
            await using (var open = await PortalProcess.StartAsync(dataDir: dir))
                await open.TokenAsync(known);
            await using var closed = await PortalProcess.StartAsync(Env(("Accounts__AutoRegister", "false")), dataDir: dir);
            Assert.Equal(HttpStatusCode.Forbidden, (await closed.PostTokenAsync(PortalHelpers.UniqueName("newbie"), "right-password-1")).Status);
            Assert.Equal(HttpStatusCode.OK, (await closed.PostTokenAsync(known, "secret-pw-1")).Status);
            using var web = new Web.PortalHttp(closed);
            var form = await web.SignInAsync(PortalHelpers.UniqueName("webnewbie"), "right-password-1");
            Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
            await using var db = closed.OpenDb();
            Assert.Equal(1, await db.Users.CountAsync(u => u.Kind == UserKind.Member));
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }
}
