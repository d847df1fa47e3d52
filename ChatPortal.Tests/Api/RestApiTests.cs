using System.Net;
using System.Text.Json;
using ChatPortal.Auth;
using ChatPortal.Data;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Api;

/// <summary>The REST API against the real portal: scopes, revocation, the core's rules, problem+json, rate limits, OpenAPI.</summary>
[Collection(ApiPortalCollection.Name)]
public sealed class RestApiTests(ApiPortalFixture fx)
{
    private static readonly HttpMethod Get = HttpMethod.Get, Post = HttpMethod.Post, Patch = HttpMethod.Patch, Delete = HttpMethod.Delete;

    [Fact]
    public async Task The_account_page_shows_a_new_token_once_stores_only_its_hash_and_its_scopes()
    {
        var name = PortalHelpers.UniqueName("pat");
        using var http = await fx.Portal.ChatUserAsync(name);
        var (r, html, token) = await ApiKit.CreateTokenAsync(http, "read", "my script", days: 30);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.NotNull(token);
        Assert.DoesNotContain("id=\"scope-admin\"", html); // not an admin: no admin scope offered

        var again = await http.GetStringAsync("/account/tokens");
        Assert.DoesNotContain(token, again);
        Assert.Contains("my script", again);

        await using var db = fx.Portal.OpenDb();
        var row = await db.ApiTokens.AsNoTracking().SingleAsync(t => t.TokenHash == ApiTokens.Hash(token!));
        Assert.Equal("read", row.Scopes);
        Assert.NotNull(row.ExpiresAt);
        Assert.Null(row.AdminId);
        Assert.False(await db.ApiTokens.AnyAsync(t => t.TokenHash == token));
    }

    [Fact]
    public async Task A_chat_user_who_is_not_an_admin_cannot_grant_the_admin_scope()
    {
        var name = PortalHelpers.UniqueName("sneak");
        using var http = await fx.Portal.ChatUserAsync(name);
        var (r, html, token) = await ApiKit.CreateTokenAsync(http, "read admin");
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Null(token);
        Assert.Contains("id=\"token-error\"", html);
        await using var db = fx.Portal.OpenDb();
        var user = await db.Users.SingleAsync(u => u.Name == name);
        Assert.False(await db.ApiTokens.AnyAsync(t => t.UserId == user.Id));
    }

    [Fact]
    public async Task A_token_without_the_write_scope_may_read_but_not_post()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("reader"), "read");
        using var http = fx.Portal.Bearer(token);
        var rooms = await http.SendAsync(Get, "/api/v1/rooms");
        Assert.Equal(HttpStatusCode.OK, rooms.Status);
        Assert.Contains(rooms.Body.EnumerateArray(), r => r.GetProperty("room").GetProperty("slug").GetString() == "lobby");

        var before = await CountMessagesAsync();
        var refused = await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text = "I should not be stored" });
        refused.AssertProblem(HttpStatusCode.Forbidden, "insufficient_scope");
        Assert.Contains("write", refused.Body.GetProperty("detail").GetString());
        Assert.Equal(before, await CountMessagesAsync());
    }

    [Fact]
    public async Task A_revoked_or_expired_token_and_a_cookie_alone_get_401()
    {
        var name = PortalHelpers.UniqueName("revoke");
        using var browser = await fx.Portal.ChatUserAsync(name);
        var (_, _, token) = await ApiKit.CreateTokenAsync(browser, "read write");
        using var http = fx.Portal.Bearer(token!);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Get, "/api/v1/users/me")).Status);

        // The signed-in browser's cookie opens nothing in the API: another site cannot ride on it.
        (await browser.SendAsync(Get, "/api/v1/users/me")).AssertProblem(HttpStatusCode.Unauthorized, "token_required");

        // Revoke it on the account page.
        long id;
        await using (var db = fx.Portal.OpenDb())
            id = (await db.ApiTokens.SingleAsync(t => t.TokenHash == ApiTokens.Hash(token!))).Id;
        var antiforgery = await Admin.FormPosting.TokenAsync(browser, "/account/tokens");
        using (var revoke = await Admin.FormPosting.PostAsync(browser, "/account/tokens", $"token-revoke-{id}", [], antiforgery))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
            Assert.Contains("id=\"token-revoked\"", await revoke.Content.ReadAsStringAsync());
        }
        var refused = await http.SendAsync(Get, "/api/v1/users/me");
        refused.AssertProblem(HttpStatusCode.Unauthorized, "token_invalid");
        Assert.Equal("Bearer", refused.Response.Headers.WwwAuthenticate.ToString());

        // An expired token is refused the same way.
        var expired = ApiTokens.Prefix + "expired" + Guid.NewGuid().ToString("N");
        await using (var db = fx.Portal.OpenDb())
        {
            var user = await db.Users.SingleAsync(u => u.Name == name);
            db.ApiTokens.Add(new ApiToken
            {
                UserId = user.Id,
                TokenHash = ApiTokens.Hash(expired),
                CreatedAt = DateTimeOffset.UtcNow.AddDays(-2),
                ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1),
                Scopes = "read write",
            });
            await db.SaveChangesAsync();
        }
        using var old = fx.Portal.Bearer(expired);
        (await old.SendAsync(Get, "/api/v1/users/me")).AssertProblem(HttpStatusCode.Unauthorized, "token_invalid");
    }

    [Fact]
    public async Task A_rest_post_reaches_a_v1_socket_and_a_second_rest_reader()
    {
        var writer = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("restw"));
        var reader = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("restr"), "read");
        await using var socket = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("sock"));
        using var w = fx.Portal.Bearer(writer);
        using var r = fx.Portal.Bearer(reader);

        var page = await r.SendAsync(Get, "/api/v1/rooms/lobby/messages?limit=1");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        var after = page.Body.GetProperty("after").ValueKind == JsonValueKind.Number ? page.Body.GetProperty("after").GetInt64() : 0;

        var text = "hello over REST " + Guid.NewGuid().ToString("N")[..8];
        var posted = await w.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text, client_id = "rest-1" });
        Assert.Equal(HttpStatusCode.Created, posted.Status);
        var id = posted.Body.GetProperty("id").GetInt64();
        Assert.Equal(text, posted.Body.GetProperty("text").GetString());
        Assert.False(posted.Body.GetProperty("sender").GetProperty("bot").GetBoolean());

        var live = await socket.WaitForAsync(f => f.Is("message") && f.Get("message.text") == text);
        Assert.Equal(id, live.GetLong("message.id"));

        var newer = await r.SendAsync(Get, $"/api/v1/rooms/lobby/messages?after={after}&limit=200");
        Assert.Equal(HttpStatusCode.OK, newer.Status);
        Assert.Contains(newer.Body.GetProperty("messages").EnumerateArray(), m => m.GetProperty("id").GetInt64() == id && m.GetProperty("text").GetString() == text);

        // A retry with the same client id is the same message (the core's idempotency).
        var retry = await w.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text, client_id = "rest-1" });
        Assert.Equal(id, retry.Body.GetProperty("id").GetInt64());

        var found = await r.SendAsync(Get, $"/api/v1/messages/{id}");
        Assert.Equal(text, found.Body.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Editing_or_deleting_someone_elses_message_is_refused_with_the_ui_rule()
    {
        var owner = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("owner"));
        var other = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("other"));
        using var o = fx.Portal.Bearer(owner);
        using var x = fx.Portal.Bearer(other);
        var posted = await o.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text = "mine to edit" });
        var id = posted.Body.GetProperty("id").GetInt64();

        (await x.SendAsync(Patch, $"/api/v1/messages/{id}", new { text = "hijacked" })).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        (await x.SendAsync(Delete, $"/api/v1/messages/{id}")).AssertProblem(HttpStatusCode.Forbidden, "forbidden");

        var edited = await o.SendAsync(Patch, $"/api/v1/messages/{id}", new { text = "mine, edited" });
        Assert.Equal(HttpStatusCode.OK, edited.Status);
        Assert.Equal("mine, edited", edited.Body.GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await o.SendAsync(Delete, $"/api/v1/messages/{id}")).Status);
        (await o.SendAsync(Patch, $"/api/v1/messages/{id}", new { text = "again" })).AssertProblem(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Bad_json_and_missing_fields_get_400_problems_and_store_nothing()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("badjson"));
        using var http = fx.Portal.Bearer(token);
        var before = await CountMessagesAsync();

        (await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", raw: "{\"text\": \"unterminated")).AssertProblem(HttpStatusCode.BadRequest, "bad_json");
        (await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", raw: "{\"text\": 42}")).AssertProblem(HttpStatusCode.BadRequest, "bad_json");
        (await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { client_id = "x" })).AssertProblem(HttpStatusCode.BadRequest, "empty");
        (await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text = "   " })).AssertProblem(HttpStatusCode.BadRequest, "empty");
        (await http.SendAsync(Post, "/api/v1/rooms", new { topic = "no name" })).AssertProblem(HttpStatusCode.BadRequest, "name_required");
        (await http.SendAsync(Post, "/api/v1/rooms/no-such-room-here/messages", new { text = "lost" })).AssertProblem(HttpStatusCode.NotFound, "not_found");
        (await http.SendAsync(Get, "/api/v1/no/such/endpoint")).AssertProblem(HttpStatusCode.NotFound, "no_such_endpoint");

        Assert.Equal(before, await CountMessagesAsync());
        // The server is fine afterwards.
        Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(Post, "/api/v1/rooms/lobby/messages", new { text = "still here" })).Status);
    }

    [Fact]
    public async Task Rooms_members_and_search_go_through_the_core()
    {
        var me = PortalHelpers.UniqueName("roomy");
        var token = await fx.Portal.TokenAsync(me);
        using var http = fx.Portal.Bearer(token);
        var created = await http.SendAsync(Post, "/api/v1/rooms", new { name = "Api Room " + me, topic = "t", @private = true });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var roomId = created.Body.GetProperty("id").GetInt64();
        Assert.True(created.Body.GetProperty("private").GetBoolean());

        var members = await http.SendAsync(Get, $"/api/v1/rooms/{roomId}/members");
        Assert.Contains(members.Body.EnumerateArray(), m => m.GetProperty("name").GetString() == me);

        // A private room is, to someone else, a room that does not exist.
        var stranger = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("stranger"));
        using var s = fx.Portal.Bearer(stranger);
        (await s.SendAsync(Get, $"/api/v1/rooms/{roomId}")).AssertProblem(HttpStatusCode.NotFound, "not_found");
        (await s.SendAsync(Get, $"/api/v1/rooms/{roomId}/messages")).AssertProblem(HttpStatusCode.NotFound, "not_found");
        (await s.SendAsync(Post, $"/api/v1/rooms/{roomId}/join", new { })).AssertProblem(HttpStatusCode.Forbidden, "not_public");
        // Adding members is the back office's action: a write token may not.
        (await s.SendAsync(Post, $"/api/v1/rooms/{roomId}/members", new { name = me })).AssertProblem(HttpStatusCode.Forbidden, "insufficient_scope");

        var word = "zebrafish" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(Post, $"/api/v1/rooms/{roomId}/messages", new { text = $"a {word} here" })).Status);
        var hits = await http.SendAsync(Get, $"/api/v1/messages/search?q={word}");
        Assert.Single(hits.Body.GetProperty("hits").EnumerateArray());
        var none = await s.SendAsync(Get, $"/api/v1/messages/search?q={word}");
        Assert.Empty(none.Body.GetProperty("hits").EnumerateArray());

        Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(Post, $"/api/v1/rooms/{roomId}/leave")).Status);
        (await http.SendAsync(Get, $"/api/v1/rooms/{roomId}")).AssertProblem(HttpStatusCode.NotFound, "not_found");
        (await http.SendAsync(Post, "/api/v1/rooms/lobby/leave")).AssertProblem(HttpStatusCode.Conflict, "default_room");
    }

    [Fact]
    public async Task Admin_endpoints_need_the_admin_scope_and_an_enabled_admin()
    {
        var member = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("plain"), "read write");
        using var plain = fx.Portal.Bearer(member);
        (await plain.SendAsync(Get, "/api/v1/admin/rooms")).AssertProblem(HttpStatusCode.Forbidden, "insufficient_scope");
        (await plain.SendAsync(Post, "/api/v1/admin/users/1/ban", new { reason = "x" })).AssertProblem(HttpStatusCode.Forbidden, "insufficient_scope");

        var adminToken = await fx.Portal.AdminTokenAsync(PortalHelpers.UniqueName("ops"));
        using var admin = fx.Portal.Bearer(adminToken);
        var rooms = await admin.SendAsync(Get, "/api/v1/admin/rooms");
        Assert.Equal(HttpStatusCode.OK, rooms.Status);
        Assert.Contains(rooms.Body.EnumerateArray(), r => r.GetProperty("room").GetProperty("slug").GetString() == "lobby");

        // Ban through the API: the same service as the back office (audit entry; the victim's token stops at once).
        var victimName = PortalHelpers.UniqueName("victim");
        var victimToken = await fx.Portal.TokenAsync(victimName);
        long victimId;
        await using (var db = fx.Portal.OpenDb()) victimId = (await db.Users.SingleAsync(u => u.Name == victimName)).Id;
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(Post, $"/api/v1/admin/users/{victimId}/ban", new { reason = "spam" })).Status);
        using (var victim = fx.Portal.Bearer(victimToken))
            (await victim.SendAsync(Get, "/api/v1/users/me")).AssertProblem(HttpStatusCode.Unauthorized, "token_invalid");
        await using (var db = fx.Portal.OpenDb())
            Assert.True(await db.AuditLog.AnyAsync(a => a.Action == "user.ban" && a.AdminName == ApiPortalFixture.AdminName));

        // Archive a room, and a bad admin request is refused by the service's own validation.
        var slug = "api-arch-" + Guid.NewGuid().ToString("N")[..6];
        var made = await admin.SendAsync(Post, "/api/v1/admin/rooms", new { name = "Archive me", slug });
        Assert.Equal(HttpStatusCode.Created, made.Status);
        var roomId = made.Body.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(Post, $"/api/v1/admin/rooms/{roomId}/archive")).Status);
        Assert.True((await admin.SendAsync(Get, $"/api/v1/admin/rooms/{roomId}")).Body.GetProperty("archived").GetBoolean());
        var bad = await admin.SendAsync(Post, "/api/v1/admin/rooms", new { name = "x", slug = "NOT A SLUG" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("application/problem+json", bad.Response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_disabled_admin_ends_the_admin_rights_of_tokens_it_granted()
    {
        // A second admin, made by the first through the API, grants a token; disabling that admin ends its admin rights.
        var rootToken = await fx.Portal.AdminTokenAsync(PortalHelpers.UniqueName("root"));
        using var root = fx.Portal.Bearer(rootToken);
        var adminName = "sub" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(HttpStatusCode.NoContent, (await root.SendAsync(Post, "/api/v1/admin/admins", new { name = adminName, password = "sub-admin-password-1" })).Status);

        using var browser = await fx.Portal.ChatUserAsync(PortalHelpers.UniqueName("subchat"));
        using (var signIn = await Admin.FormPosting.SignInAdminAsync(browser, adminName, "sub-admin-password-1"))
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var (_, _, subToken) = await ApiKit.CreateTokenAsync(browser, "read admin");
        using var sub = fx.Portal.Bearer(subToken!);
        Assert.Equal(HttpStatusCode.OK, (await sub.SendAsync(Get, "/api/v1/admin/site")).Status);

        var admins = await root.SendAsync(Get, "/api/v1/admin/admins");
        var subId = admins.Body.EnumerateArray().Single(a => a.GetProperty("name").GetString() == adminName).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.NoContent, (await root.SendAsync(Post, $"/api/v1/admin/admins/{subId}/disable")).Status);

        (await sub.SendAsync(Get, "/api/v1/admin/site")).AssertProblem(HttpStatusCode.Forbidden, "not_admin");
        Assert.Equal(HttpStatusCode.OK, (await sub.SendAsync(Get, "/api/v1/users/me")).Status); // still a chat user's token
    }

    [Fact]
    public async Task Too_many_requests_from_one_token_get_429_with_retry_after_and_other_tokens_are_not_affected()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("flood"), "read");
        var calm = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("calm"), "read");
        using var http = fx.Portal.Bearer(token);
        (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)? limited = null;
        for (var i = 0; i < ApiPortalFixture.Burst + 10 && limited is null; i++)
        {
            var answer = await http.SendAsync(Get, "/api/v1/users/me");
            if (answer.Status == HttpStatusCode.TooManyRequests) limited = answer;
        }
        Assert.NotNull(limited);
        limited.Value.AssertProblem(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(limited.Value.Response.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, limited.Value.Response.Headers.ToString());

        using var other = fx.Portal.Bearer(calm);
        Assert.Equal(HttpStatusCode.OK, (await other.SendAsync(Get, "/api/v1/users/me")).Status);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_paths_and_the_bearer_scheme()
    {
        using var http = fx.Portal.CreateClient();
        using var r = await http.GetAsync("/api/v1/openapi.json");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        var paths = doc.GetProperty("paths");
        foreach (var p in new[]
        {
            "/api/v1/rooms", "/api/v1/rooms/{room}", "/api/v1/rooms/{room}/join", "/api/v1/rooms/{room}/leave", "/api/v1/rooms/{room}/members",
            "/api/v1/rooms/{room}/messages", "/api/v1/messages/{id}", "/api/v1/messages/search", "/api/v1/users/me", "/api/v1/users/{id}",
            "/api/v1/admin/users/{id}/ban", "/api/v1/admin/rooms/{id}/archive", "/api/v1/admin/bot-accounts",
        })
        {
            Assert.True(paths.TryGetProperty(p, out _), $"missing {p}");
        }
        Assert.False(paths.TryGetProperty("/api/ws/ticket", out _)); // only the v1 API is in this document
        var scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var post = paths.GetProperty("/api/v1/rooms/{room}/messages").GetProperty("post");
        Assert.False(string.IsNullOrEmpty(post.GetProperty("summary").GetString()));
        Assert.True(post.GetProperty("security")[0].TryGetProperty("Bearer", out var scopes));
        Assert.Equal("write", scopes[0].GetString());
        Assert.True(post.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(post.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
    }

    private async Task<int> CountMessagesAsync()
    {
        await using var db = fx.Portal.OpenDb();
        return await db.Messages.CountAsync();
    }

    [Fact]
    public async Task The_user_list_comes_from_the_database_in_pages_not_only_from_who_is_online()
    {
        // Three people who signed up but have no tab or socket open: offline everywhere.
        var names = new[] { PortalHelpers.UniqueName("dir"), PortalHelpers.UniqueName("dir"), PortalHelpers.UniqueName("dir") };
        foreach (var n in names) (await fx.Portal.ChatUserAsync(n)).Dispose();
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("lister"));
        using var http = fx.Portal.Bearer(token);
        await using var db = fx.Portal.OpenDb();
        var ids = await db.Users.Where(u => names.Contains(u.Name)).OrderBy(u => u.Id).Select(u => u.Id).ToListAsync();
        Assert.Equal(3, ids.Count);

        // Ordered by id, `after` the last id of the previous page, `limit` per page.
        var first = await http.SendAsync(Get, $"/api/v1/users?after={ids[0] - 1}&limit=2");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var page1 = first.Body.EnumerateArray().Select(u => (Id: u.GetProperty("id").GetInt64(), Name: u.GetProperty("name").GetString())).ToList();
        Assert.Equal([(ids[0], names[0]), (ids[1], names[1])], page1);
        var second = await http.SendAsync(Get, $"/api/v1/users?after={page1[^1].Id}&limit=2");
        var page2 = second.Body.EnumerateArray().Select(u => u.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(ids[2], page2[0]);
        Assert.All(page2, id => Assert.True(id > ids[1]));
        // The old meaning is still there, asked for: who is online on this node (nobody of these three).
        var online = await http.SendAsync(Get, "/api/v1/users?online=true");
        Assert.DoesNotContain(online.Body.EnumerateArray(), u => names.Contains(u.GetProperty("name").GetString()));
        (await http.SendAsync(Get, "/api/v1/users?after=-5")).AssertProblem(HttpStatusCode.BadRequest, "bad_request");
    }
}
