using System.Net;
using ChatPortal.Data;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// Who may do what, as one table: pages and HTTP endpoints for anonymous, chat user, banned
/// user and admin; socket actions for guest, chat user, muted, banned, member and non-member
/// of a private room. One portal, its first admin made by the command line.
/// </summary>
public sealed class AuthorizationMatrixTests(AdminPortalFixture fx) : IClassFixture<AdminPortalFixture>
{
    public enum Role { Anonymous, User, Banned, Admin }

    private const string Ok = "200", ToLogin = "302 /login", ToAdminLogin = "302 /admin/login", Unauthorized = "401", Forbidden = "403";

    /// <summary>(method, path) → expected answer per role.</summary>
    public static TheoryData<string, string, string, string, string, string> Http() => new()
    {
        //  method  path                    anonymous      user          banned        admin (no chat cookie)
        { "GET", "/", ToLogin, "302 /rooms/lobby", ToLogin, ToLogin },
        { "GET", "/rooms/lobby", ToLogin, Ok, ToLogin, ToLogin },
        { "GET", "/dm/someone", ToLogin, Ok, ToLogin, ToLogin },
        { "GET", "/login", Ok, "302 /", Ok, Ok },
        { "GET", "/admin", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/users", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/rooms", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/moderation", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/audit", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/bots", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/admins", ToAdminLogin, ToAdminLogin, ToAdminLogin, Ok },
        { "GET", "/admin/login", Ok, Ok, Ok, "302 /admin" },
        { "GET", "/api/auth/tokens", Unauthorized, Ok, Unauthorized, Unauthorized },
        { "POST", "/api/ws/ticket", Unauthorized, Ok, Unauthorized, Unauthorized },
        { "DELETE", "/api/auth/tokens/999999", Unauthorized, "404", Unauthorized, Unauthorized },
        { "GET", "/healthz", Ok, Ok, Ok, Ok },
        { "GET", "/ws", "400", "400", "400", "400" },
    };

    private static readonly SemaphoreSlim Setup = new(1, 1);
    private static readonly Dictionary<PortalProcess, Dictionary<Role, CookieContainer>> Cookies = [];

    private async Task<CookieContainer> CookiesFor(Role role)
    {
        await Setup.WaitAsync();
        try
        {
            if (!Cookies.TryGetValue(fx.Portal, out var all))
            {
                var portal = fx.Portal;
                all = new Dictionary<Role, CookieContainer> { [Role.Anonymous] = new() };
                all[Role.User] = await portal.SignInAsync(PortalHelpers.UniqueName("mxuser"));
                var bannedName = PortalHelpers.UniqueName("mxbanned");
                all[Role.Banned] = await portal.SignInAsync(bannedName);
                await using (var db = portal.OpenDb())
                {
                    var u = await db.Users.SingleAsync(x => x.Name == bannedName);
                    u.BannedAt = DateTimeOffset.UtcNow;
                    await db.SaveChangesAsync();
                }
                var admin = new CookieContainer();
                using (var http = portal.CreateClient(cookies: admin))
                {
                    using var r = await FormPosting.SignInAdminAsync(http, AdminPortalFixture.AdminName, AdminPortalFixture.AdminPassword);
                    Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
                }
                all[Role.Admin] = admin;
                Cookies[portal] = all;
            }
            return all[role];
        }
        finally
        {
            Setup.Release();
        }
    }

    [Theory]
    [MemberData(nameof(Http))]
    public async Task Pages_and_endpoints_answer_each_role_as_the_table_says(string method, string path, string anonymous, string user, string banned, string admin)
    {
        var expected = new Dictionary<Role, string> { [Role.Anonymous] = anonymous, [Role.User] = user, [Role.Banned] = banned, [Role.Admin] = admin };
        foreach (var (role, want) in expected)
        {
            using var http = fx.Portal.CreateClient(cookies: await CookiesFor(role));
            using var r = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            var got = ((int)r.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (r.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found)
                got += " " + (r.Headers.Location?.IsAbsoluteUri == true ? r.Headers.Location.AbsolutePath : r.Headers.Location?.OriginalString.Split('?')[0]);
            Assert.True(want == got, $"{method} {path} as {role}: expected {want}, got {got}");
        }
    }

    public enum SocketRole { Guest, User, Muted, Member, NonMember }

    /// <summary>(action, room) → expected reply type or error code per socket role.</summary>
    public static TheoryData<string, string, string, string, string, string, string> Socket() => new()
    {
        //  action    room        guest                 user                  muted (a member)  member     non-member
        { "join", "lobby", "joined", "joined", "joined", "joined", "joined" },
        { "send", "lobby", "ack", "ack", "muted", "ack", "ack" },
        { "history", "lobby", "history", "history", "history", "history", "history" },
        // A room one may not read answers "not_found", as a room that does not exist (issue 20, item 8).
        { "join", "private", "not_found", "not_found", "joined", "joined", "not_found" },
        { "send", "private", "not_found", "not_found", "muted", "ack", "not_found" },
        { "history", "private", "not_found", "not_found", "history", "history", "not_found" },
        { "join", "members", "not_found", "joined", "joined", "joined", "joined" },
        { "send", "members", "not_found", "ack", "muted", "ack", "ack" },
        { "edit-others", "lobby", "forbidden", "forbidden", "forbidden", "forbidden", "forbidden" },
        { "delete-others", "lobby", "forbidden", "forbidden", "forbidden", "forbidden", "forbidden" },
    };

    private static readonly Dictionary<PortalProcess, (string Private, string Members, long OthersMessage, Dictionary<SocketRole, string?> Tokens)> SocketSetup = [];

    private async Task<(string Private, string Members, long OthersMessage, Dictionary<SocketRole, string?> Tokens)> SocketWorldAsync()
    {
        await Setup.WaitAsync();
        try
        {
            var portal = fx.Portal;
            if (SocketSetup.TryGetValue(portal, out var world)) return world;
            var priv = await portal.CreateRoomAsync(PortalHelpers.UniqueName("priv").ToLowerInvariant(), allowGuests: false, isPrivate: true);
            var members = await portal.CreateRoomAsync(PortalHelpers.UniqueName("memb").ToLowerInvariant(), allowGuests: false);
            var tokens = new Dictionary<SocketRole, string?> { [SocketRole.Guest] = null };
            foreach (var r in new[] { SocketRole.User, SocketRole.Muted, SocketRole.Member, SocketRole.NonMember })
                tokens[r] = await portal.TokenAsync(PortalHelpers.UniqueName("mx" + r.ToString().ToLowerInvariant()));
            // Somebody's message in the lobby, for edit/delete by others.
            var author = PortalHelpers.UniqueName("author");
            await using (var ws = await portal.MemberSocketAsync(author))
            {
                var ack = await ws.RequestAsync("send", ("room", "lobby"), ("text", "mine"));
                world.OthersMessage = ack.GetLong("message_id");
            }
            await using (var db = portal.OpenDb())
            {
                var names = await db.Users.ToListAsync();
                long Id(SocketRole r) => names.Single(u => u.Name.StartsWith("mx" + r.ToString().ToLowerInvariant(), StringComparison.Ordinal)).Id;
                var mutedId = Id(SocketRole.Muted);
                var muted = await db.Users.SingleAsync(u => u.Id == mutedId);
                muted.MutedUntil = DateTimeOffset.UtcNow.AddHours(1);
                db.RoomMembers.Add(new RoomMember { RoomId = priv.Id, UserId = Id(SocketRole.Member), JoinedAt = DateTimeOffset.UtcNow });
                db.RoomMembers.Add(new RoomMember { RoomId = priv.Id, UserId = Id(SocketRole.Muted), JoinedAt = DateTimeOffset.UtcNow });
                await db.SaveChangesAsync();
            }
            world = (priv.Slug, members.Slug, world.OthersMessage, tokens);
            SocketSetup[portal] = world;
            return world;
        }
        finally
        {
            Setup.Release();
        }
    }

    [Theory]
    [MemberData(nameof(Socket))]
    public async Task Socket_actions_answer_each_role_as_the_table_says(string action, string room, string guest, string user, string muted, string member, string nonMember)
    {
        var world = await SocketWorldAsync();
        var slug = room switch { "private" => world.Private, "members" => world.Members, _ => room };
        var expected = new Dictionary<SocketRole, string>
        {
            [SocketRole.Guest] = guest, [SocketRole.User] = user, [SocketRole.Muted] = muted, [SocketRole.Member] = member, [SocketRole.NonMember] = nonMember,
        };
        foreach (var (role, want) in expected)
        {
            await using var ws = await WsClient.ConnectAsync(fx.Portal.BaseUri, "chatportal.v1");
            var welcome = world.Tokens[role] is { } token ? await ws.AuthAsync(token: token) : await ws.AuthAsync(guest: true);
            Assert.True(welcome.Is("welcome"), $"{role}: {welcome}");
            var reply = action switch
            {
                "join" => await ws.RequestAsync("join", ("room", slug)),
                "send" => await ws.RequestAsync("send", ("room", slug), ("text", $"hi from {role}")),
                "history" => await ws.RequestAsync("history", ("room", slug)),
                "edit-others" => await ws.RequestAsync("edit", ("message_id", world.OthersMessage), ("text", "hijacked")),
                "delete-others" => await ws.RequestAsync("delete", ("message_id", world.OthersMessage)),
                _ => throw new ArgumentOutOfRangeException(nameof(action)),
            };
            var got = reply.Is("error") ? reply.Get("code") : reply.Type;
            Assert.True(want == got, $"{action} {room} as {role}: expected {want}, got {reply}");
        }
    }
}
