using System.IO.Compression;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Governance;

/// <summary>The governance endpoints and the account page over HTTP, against the real portal process.</summary>
public sealed partial class GovernanceHttpTests(AdminPortalFixture fixture) : IClassFixture<AdminPortalFixture>
{
    private PortalProcess Portal => fixture.Portal;

    [Fact]
    public async Task A_signed_in_user_downloads_their_own_data_and_nobody_else_can()
    {
        using (var anonymous = Portal.CreateClient())
        using (var r = await anonymous.GetAsync("/account/export"))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.StartsWith("/login", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }
        var name = PortalHelpers.UniqueName("exp");
        var cookies = await Portal.SignInAsync(name);
        await using (var ws = await Portal.MemberSocketAsync(name))
            Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "my words <b>bold</b>"), ("client_id", "e1"))).Is("ack"));
        using var http = Portal.CreateClient(cookies: cookies);
        using var export = await http.GetAsync("/account/export");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal("application/zip", export.Content.Headers.ContentType!.MediaType);
        Assert.Contains("attachment", export.Content.Headers.ContentDisposition!.ToString());
        using var zip = new ZipArchive(new MemoryStream(await export.Content.ReadAsByteArrayAsync()));
        using var account = JsonDocument.Parse(zip.GetEntry("account.json")!.Open());
        Assert.Equal(name, account.RootElement.GetProperty("name").GetString());
        using var messages = JsonDocument.Parse(zip.GetEntry("messages.json")!.Open());
        Assert.Equal("my words <b>bold</b>", Assert.Single(messages.RootElement.EnumerateArray()).GetProperty("text").GetString());
    }

    [Fact]
    public async Task Only_an_admin_exports_a_room_and_the_export_is_audited()
    {
        await using (var db = Portal.OpenDb())
        {
            var lobby = await db.Rooms.SingleAsync(r => r.Slug == "lobby");
            var path = $"/admin/export/rooms/{lobby.Id}";
            using (var anonymous = Portal.CreateClient())
            using (var r = await anonymous.GetAsync(path))
                Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            using (var chatUser = Portal.CreateClient())
            {
                await FormPosting.SignInChatUserAsync(chatUser, PortalHelpers.UniqueName("nosy"), "nosy-password");
                using var r = await chatUser.GetAsync(path);
                Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
                Assert.StartsWith("/admin/login", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
            }
            using var admin = Portal.CreateClient();
            using (var signIn = await FormPosting.SignInAdminAsync(admin, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword))
                Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
            using var export = await admin.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, export.StatusCode);
            using var zip = new ZipArchive(new MemoryStream(await export.Content.ReadAsByteArrayAsync()));
            using var json = JsonDocument.Parse(zip.GetEntry("room.json")!.Open());
            Assert.Equal("lobby", json.RootElement.GetProperty("room").GetProperty("slug").GetString());
            Assert.NotNull(zip.GetEntry("room.html"));
            using (var missing = await admin.GetAsync("/admin/export/rooms/987654"))
                Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.True(await db.AuditLog.AnyAsync(a => a.Action == "room.export" && a.Target == "/rooms/lobby" && a.AdminName == AdminPortalFixture.AdminName));
        }
    }

    [Fact]
    public async Task A_user_deletes_their_account_with_their_password_and_is_signed_out_everywhere()
    {
        var name = PortalHelpers.UniqueName("leaver");
        var cookies = await Portal.SignInAsync(name, "leaver-pw-1");
        var token = await Portal.TokenAsync(name, "leaver-pw-1");
        var ws = await WsClient.ConnectAsync(Portal.BaseUri, "chatportal.v1");
        Assert.True((await ws.AuthAsync(token: token)).Is("welcome"));
        await ws.JoinAsync("lobby");
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "goodbye all"), ("client_id", "bye"))).Is("ack"));

        using var http = Portal.CreateClient(cookies: cookies);
        var page = await http.GetStringAsync("/account");
        Assert.Contains("download-data", page);
        var formToken = WebUtility.HtmlDecode(TokenField().Match(page).Groups[1].Value);

        using (var wrong = await FormPosting.PostAsync(http, "/account", "delete-account", new() { ["Input.Password"] = "not-my-password" }, formToken))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Contains("delete-error", await wrong.Content.ReadAsStringAsync());
        }
        using (var forged = await FormPosting.PostAsync(http, "/account", "delete-account", new() { ["Input.Password"] = "leaver-pw-1" }, token: null))
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        await using (var db = Portal.OpenDb())
            Assert.Null(await db.Users.Where(u => u.Name == name).Select(u => u.DeletedAt).SingleAsync());

        using (var ok = await FormPosting.PostAsync(http, "/account", "delete-account", new() { ["Input.Password"] = "leaver-pw-1" }, formToken))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Contains("account-deleted", await ok.Content.ReadAsStringAsync());
        }
        // The socket is closed, the token and the cookie are dead, the message stays under the tombstone (site default).
        await ws.Closed.WaitAsync(TimeSpan.FromSeconds(15));
        await ws.DisposeAsync();
        await using (var again = await WsClient.ConnectAsync(Portal.BaseUri, "chatportal.v1"))
            Assert.False((await again.AuthAsync(token: token)).Is("welcome"));
        using (var after = await http.GetAsync("/account"))
            Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        await using (var db = Portal.OpenDb())
        {
            Assert.Equal(0, await db.Users.CountAsync(u => u.Name == name));
            var message = await db.Messages.SingleAsync(m => m.Text == "goodbye all");
            var sender = await db.Users.SingleAsync(u => u.Id == message.SenderId);
            Assert.StartsWith("deleted user #", sender.Name, StringComparison.Ordinal);
            Assert.True(await db.AuditLog.AnyAsync(a => a.Action == "account.delete" && a.Target!.Contains(name)));
        }
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
