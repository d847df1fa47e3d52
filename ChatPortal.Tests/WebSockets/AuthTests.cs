using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using ChatPortal.Auth;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>How a chatportal.v1 socket proves who it is: ticket, token or guest — never the cookie alone.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class AuthTests(WsPortalFixture fx)
{
    private const string V1 = "chatportal.v1";

    [Fact]
    public async Task Hello_comes_first_and_nothing_but_ping_works_before_auth()
    {
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        Assert.Equal("chatportal.v1", ws.Socket.SubProtocol);
        var hello = await ws.WaitForAsync(f => f.Is("hello"));
        Assert.Equal("hello", ws.Frames[0].Type);
        Assert.Equal("chatportal.v1", hello.Get("protocol"));
        Assert.Equal(WsPortalFixture.MaxText.ToString(System.Globalization.CultureInfo.InvariantCulture), hello.Get("limits.max_text_bytes"));

        var pong = await ws.RequestAsync("ping");
        Assert.True(pong.Is("pong"), pong.ToString());
        var refused = await ws.RequestAsync("join", ("room", "lobby"));
        Assert.Equal("not_authenticated", refused.Get("code"));
        var refusedSend = await ws.RequestAsync("send", ("room", "lobby"), ("text", "sneaky"));
        Assert.Equal("not_authenticated", refusedSend.Get("code"));
    }

    [Fact]
    public async Task A_client_may_send_auth_and_join_at_once_without_waiting_for_hello_or_welcome()
    {
        // A socket's frames are handled in order, so a bot can send its auth and its join in the same breath
        // (one round trip instead of three; bench/compare.sh connect-token measures it as --pipeline=1).
        var name = PortalHelpers.UniqueName("pipe");
        var token = await fx.Portal.TokenAsync(name);
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        await ws.SendTextAsync($$"""{"type":"auth","id":1,"token":"{{token}}"}""");
        await ws.SendTextAsync("""{"type":"join","id":2,"room":"lobby"}""");
        await ws.SendTextAsync("""{"type":"rooms","id":3}""");

        var rooms = await ws.WaitForAsync(f => f.Is("rooms"));
        Assert.Equal(["hello", "welcome", "joined", "caught_up", "rooms"],
            ws.Frames.Select(f => f.Type).Where(t => t is "hello" or "welcome" or "joined" or "caught_up" or "rooms" or "error"));
        var welcome = ws.Frames.Single(f => f.Is("welcome"));
        Assert.Equal(name, welcome.Get("user.name"));
        Assert.Equal("1", welcome.Get("reply_to"));
        Assert.Equal("2", ws.Frames.Single(f => f.Is("joined")).Get("reply_to"));
        Assert.Equal("3", rooms.Get("reply_to"));

        // A join sent along with a refused auth is refused too, not taken as anyone's.
        await using var bad = await WsClient.ConnectAsync(fx.BaseUri, V1);
        await bad.SendTextAsync("""{"type":"auth","id":1,"token":"cpt_not-a-real-token"}""");
        await bad.SendTextAsync("""{"type":"join","id":2,"room":"lobby"}""");
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await bad.WaitClosedAsync());
        Assert.Equal("token_invalid", bad.Frames.Single(f => f.Is("error")).Get("code"));
        Assert.DoesNotContain(bad.Frames, f => f.Is("joined") || f.Is("welcome"));
    }

    [Fact]
    public async Task A_bot_may_present_its_token_on_the_upgrade_and_is_welcomed_right_after_hello()
    {
        // Authorization: Bearer on the upgrade request (as Mattermost's bots): no auth frame, one round trip less.
        var name = PortalHelpers.UniqueName("hdr");
        var token = await fx.Portal.TokenAsync(name);
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, authorization: "Bearer " + token);
        // A join sent at once, before anything was read, is taken as this user's (frames are handled after the welcome).
        await ws.SendTextAsync("""{"type":"join","id":2,"room":"lobby"}""");
        var joined = await ws.WaitForAsync(f => f.Is("joined") || f.Is("error"));
        Assert.True(joined.Is("joined"), joined.ToString());
        Assert.Equal(["hello", "welcome", "joined"], ws.Frames.Select(f => f.Type).Where(t => t is "hello" or "welcome" or "joined" or "error"));
        // The hello says the token was taken (a client whose header a proxy dropped sees it missing and sends auth).
        Assert.True(ws.Frames.First(f => f.Is("hello")).Json.GetProperty("authenticated").GetBoolean());
        var welcome = ws.Frames.Single(f => f.Is("welcome"));
        Assert.Equal(name, welcome.Get("user.name"));
        Assert.Equal("member", welcome.Get("user.kind"));
        Assert.Null(welcome.Get("reply_to")); // it answers no request
        Assert.Contains(welcome.Json.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("slug").GetString() == "lobby");

        var ack = await ws.RequestAsync("send", ("room", "lobby"), ("text", "beep over a header"), ("client_id", "h1"));
        Assert.True(ack.Is("ack"), ack.ToString());
        Assert.Equal("already_authenticated", (await ws.AuthAsync(token: token)).Get("code"));

        // It is that token's socket: revoking the token closes it, as for a token sent in an auth frame.
        await RevokeClosesAsync(token, ws);
        // Revoked: the next upgrade with it is answered 401, and no socket opens.
        Assert.Equal(HttpStatusCode.Unauthorized, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, authorization: "Bearer " + token));
    }

    [Fact]
    public async Task A_bad_token_on_the_upgrade_gets_an_HTTP_answer_and_other_authorization_headers_are_not_credentials()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, authorization: "Bearer cpt_not-a-real-token"));
        using (var http = fx.Portal.CreateClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/ws");
            foreach (var (k, v) in new[] { ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
                         ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Protocol", V1) })
                request.Headers.TryAddWithoutValidation(k, v);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "cpt_not-a-real-token");
            using var answer = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
            Assert.Contains("invalid_token", answer.Headers.WwwAuthenticate.ToString());
            Assert.Contains("unknown, revoked or expired", await answer.Content.ReadAsStringAsync());
        }

        // The plain protocol is for guests: a token there is refused rather than ignored.
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("hdrplain"));
        Assert.Equal(HttpStatusCode.BadRequest, await WsClient.UpgradeStatusAsync(fx.BaseUri, null, authorization: "Bearer " + token));

        // A proxy's basic auth or another issuer's bearer token is not ours: the socket opens unauthenticated, as without it.
        foreach (var other in new[] { "Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln" })
        {
            await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, authorization: other);
            var hello = await ws.WaitForAsync(f => f.Is("hello"));
            Assert.False(hello.Json.TryGetProperty("authenticated", out _), hello.ToString());
            Assert.Equal("not_authenticated", (await ws.RequestAsync("join", ("room", "lobby"))).Get("code"));
            Assert.True((await ws.AuthAsync(token: token)).Is("welcome"));
        }
    }

    [Fact]
    public async Task A_ticket_from_a_signed_in_web_session_authenticates_exactly_once()
    {
        var name = PortalHelpers.UniqueName("tick");
        var cookies = await fx.Portal.SignInAsync(name);
        var ticket = await fx.Portal.TicketAsync(cookies);

        await using var first = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var welcome = await first.AuthAsync(ticket: ticket);
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        Assert.Equal(name, welcome.Get("user.name"));
        Assert.Equal("member", welcome.Get("user.kind"));
        Assert.Contains(welcome.Json.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("slug").GetString() == "lobby");

        // Reuse: refused, with a code, then closed with 1008.
        await using var second = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var reused = await second.AuthAsync(ticket: ticket);
        Assert.Equal("ticket_invalid", reused.Get("code"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await second.WaitClosedAsync());
    }

    [Fact]
    public async Task An_expired_ticket_is_refused()
    {
        var cookies = await fx.Portal.SignInAsync(PortalHelpers.UniqueName("expire"));
        var ticket = await fx.Portal.TicketAsync(cookies);
        await Task.Delay(TimeSpan.FromSeconds(WsPortalFixture.TicketSeconds + 1)); // the fixture shortens tickets to a few seconds

        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var answer = await ws.AuthAsync(ticket: ticket);
        Assert.Equal("ticket_invalid", answer.Get("code"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
    }

    [Fact]
    public async Task Tickets_need_a_signed_in_session_and_forged_ones_fail()
    {
        using var http = fx.Portal.CreateClient();
        using var r = await http.PostAsync("/api/ws/ticket", null);
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);

        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var forged = await ws.AuthAsync(ticket: "CfDJ8-not-a-real-ticket");
        Assert.Equal("ticket_invalid", forged.Get("code"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
    }

    [Fact]
    public async Task The_session_cookie_alone_gets_nothing_and_the_auth_deadline_closes_with_1008()
    {
        // Cross-site WebSocket hijacking: a socket that carries the victim's cookie but no ticket is anonymous.
        var cookies = await fx.Portal.SignInAsync(PortalHelpers.UniqueName("victim"));
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, cookies: cookies);
        var denied = await ws.RequestAsync("join", ("room", "lobby"));
        Assert.Equal("not_authenticated", denied.Get("code"));

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("auth_timeout", ws.CloseReason);
        Assert.DoesNotContain(ws.Frames, f => f.Is("message") || f.Is("welcome"));
    }

    [Fact]
    public async Task A_token_from_name_and_password_authenticates_and_revoking_it_closes_its_socket()
    {
        var name = PortalHelpers.UniqueName("bot");
        var (status, body) = await fx.Portal.PostTokenAsync(name, "bot-password-1", "my bot");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("registered").GetBoolean()); // a new nickname creates the account, as on the web
        var token = body.GetProperty("token").GetString()!;
        Assert.StartsWith(ApiTokens.Prefix, token);

        // Only the hash is stored.
        await using (var db = fx.Portal.OpenDb())
        {
            var row = await db.ApiTokens.AsNoTracking().SingleAsync(t => t.Id == body.GetProperty("token_id").GetInt64());
            Assert.Equal(ApiTokens.Hash(token), row.TokenHash);
            Assert.DoesNotContain(token, row.TokenHash);
            Assert.Equal("my bot", row.Name);
        }

        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var welcome = await ws.AuthAsync(token: token);
        Assert.Equal(name, welcome.Get("user.name"));
        await ws.JoinAsync("lobby");
        var ack = await ws.RequestAsync("send", ("room", "lobby"), ("text", "beep from a bot"), ("client_id", "b1"));
        Assert.True(ack.Is("ack"), ack.ToString());

        await RevokeClosesAsync(token, ws);
        await using var again = await WsClient.ConnectAsync(fx.BaseUri, V1);
        Assert.Equal("token_invalid", (await again.AuthAsync(token: token)).Get("code"));
    }

    [Fact]
    public async Task A_wrong_password_gets_no_token()
    {
        var name = PortalHelpers.UniqueName("owner");
        await fx.Portal.TokenAsync(name, "right-password");
        var (status, body) = await fx.Portal.PostTokenAsync(name, "wrong-password");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("wrong_password", body.GetProperty("error").GetString());
        Assert.False(body.TryGetProperty("token", out _));

        var (bad, _) = await fx.Portal.PostTokenAsync("x", "");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
    }

    [Fact]
    public async Task A_signed_in_user_lists_and_revokes_tokens_by_id()
    {
        var name = PortalHelpers.UniqueName("lister");
        var cookies = await fx.Portal.SignInAsync(name, "list-password");
        var token = await fx.Portal.TokenAsync(name, "list-password");
        using var http = fx.Portal.CreateClient(cookies: cookies);
        var list = await http.GetFromJsonAsync<JsonElement>("/api/auth/tokens");
        var item = Assert.Single(list.EnumerateArray());
        Assert.False(item.TryGetProperty("revoked_at", out _));
        Assert.DoesNotContain(token, list.GetRawText()); // the token itself is never shown again

        var id = item.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/auth/tokens/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/auth/tokens/{id}")).StatusCode);
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        Assert.Equal("token_invalid", (await ws.AuthAsync(token: token)).Get("code"));

        using var anonymous = fx.Portal.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/auth/tokens")).StatusCode);
    }

    [Fact]
    public async Task When_a_token_was_last_used_is_written_after_the_connect_and_shown_at_once()
    {
        // A token connect does not write "last used" itself (an UPDATE per reconnecting bot after a restart, issue 19):
        // the use is noted and written with the others about a second later; listing the tokens writes it first.
        var name = PortalHelpers.UniqueName("lastused");
        var cookies = await fx.Portal.SignInAsync(name, "used-password");
        var listed = await fx.Portal.TokenAsync(name, "used-password");
        var alone = await fx.Portal.TokenAsync(name, "used-password");
        long IdOf(string token) { using var db = fx.Portal.OpenDb(); return db.ApiTokens.AsNoTracking().Single(t => t.TokenHash == ApiTokens.Hash(token)).Id; }
        var (listedId, aloneId) = (IdOf(listed), IdOf(alone));

        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1))
            Assert.True((await ws.AuthAsync(token: listed)).Is("welcome"));
        using var http = fx.Portal.CreateClient(cookies: cookies);
        var list = await http.GetFromJsonAsync<JsonElement>("/api/auth/tokens");
        var item = Assert.Single(list.EnumerateArray(), t => t.GetProperty("id").GetInt64() == listedId);
        Assert.True(item.TryGetProperty("last_used_at", out var usedAt) && usedAt.ValueKind == JsonValueKind.String, item.ToString());

        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1))
            Assert.True((await ws.AuthAsync(token: alone)).Is("welcome"));
        DateTimeOffset? written = null;
        for (var i = 0; i < 100 && written is null; i++)
        {
            await using (var db = fx.Portal.OpenDb())
                written = (await db.ApiTokens.AsNoTracking().SingleAsync(t => t.Id == aloneId)).LastUsedAt;
            if (written is null) await Task.Delay(100);
        }
        Assert.NotNull(written); // written by itself, nobody listed
        Assert.True(DateTimeOffset.UtcNow - written.Value < TimeSpan.FromMinutes(1), written.ToString());
    }

    [Fact]
    public async Task A_guest_may_join_and_post_only_where_the_room_allows_guests()
    {
        var closed = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("noguests").ToLowerInvariant(), allowGuests: false);
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1);
        var welcome = await ws.AuthAsync(guest: true);
        Assert.Equal("guest", welcome.Get("user.kind"));
        Assert.DoesNotContain(welcome.Json.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("slug").GetString() == closed.Slug);

        await ws.JoinAsync("lobby");
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "hi as guest"))).Is("ack"));

        // A room closed to guests is, to a guest, a room that does not exist.
        Assert.Equal("not_found", (await ws.RequestAsync("join", ("room", closed.Slug))).Get("code"));
        Assert.Equal("not_found", (await ws.RequestAsync("send", ("room", closed.Slug), ("text", "let me in"))).Get("code"));
        Assert.Equal("forbidden", (await ws.RequestAsync("send", ("to", "anyone"), ("text", "dm?"))).Get("code"));
    }

    [Fact]
    public async Task Foreign_origins_are_refused_while_same_origin_listed_origins_and_non_browsers_pass()
    {
        var self = $"http://{fx.BaseUri.Authority}";
        Assert.Equal(HttpStatusCode.Forbidden, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, origin: "http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await WsClient.UpgradeStatusAsync(fx.BaseUri, null, origin: "https://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await WsClient.UpgradeStatusAsync(fx.BaseUri, null, origin: "null"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, origin: self));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, origin: WsPortalFixture.AllowedOrigin));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1));
        Assert.Equal(HttpStatusCode.BadRequest, await WsClient.UpgradeStatusAsync(fx.BaseUri, "some.other.protocol"));
    }

    [Fact]
    public async Task Tokens_tickets_and_passwords_never_appear_in_the_server_log()
    {
        const string password = "pw-that-must-not-leak-7";
        var name = PortalHelpers.UniqueName("secret");
        var token = await fx.Portal.TokenAsync(name, password);
        var cookies = await fx.Portal.SignInAsync(name, password);
        var ticket = await fx.Portal.TicketAsync(cookies);

        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1))
        {
            // A malformed frame that carries the token, then a good auth, then the ticket again (already used on this socket → error).
            await ws.SendTextAsync("{\"type\":\"auth\",\"token\":\"" + token + "\",");
            await ws.WaitForAsync(f => f.Get("code") == "bad_json");
            Assert.True((await ws.AuthAsync(token: token)).Is("welcome"));
            Assert.Equal("already_authenticated", (await ws.AuthAsync(ticket: ticket)).Get("code"));
        }
        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1))
        {
            Assert.True((await ws.AuthAsync(ticket: ticket)).Is("welcome"));
        }
        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1))
        {
            Assert.Equal("token_invalid", (await ws.AuthAsync(token: token + "x")).Get("code"));
        }
        await using (var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, authorization: "Bearer " + token))
        {
            Assert.Equal(name, (await ws.WaitForAsync(f => f.Is("welcome"))).Get("user.name"));
        }
        Assert.Equal(HttpStatusCode.Unauthorized, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, authorization: "Bearer " + token + "x"));

        await Task.Delay(500); // let the log writer flush
        var log = fx.Portal.ReadLog();
        Assert.False(string.IsNullOrWhiteSpace(log));
        Assert.DoesNotContain(token, log);
        Assert.DoesNotContain(token[ApiTokens.Prefix.Length..], log);
        Assert.DoesNotContain(ticket, log);
        Assert.DoesNotContain(password, log);
    }

    /// <summary>The token revokes itself (DELETE /api/auth/token); its socket is closed with 1008 token_revoked.</summary>
    private async Task RevokeClosesAsync(string token, WsClient ws)
    {
        using var http = fx.Portal.CreateClient();
        using var revoke = new HttpRequestMessage(HttpMethod.Delete, "/api/auth/token");
        revoke.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(revoke)).StatusCode);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync());
        Assert.Equal("token_revoked", ws.CloseReason);
    }
}
