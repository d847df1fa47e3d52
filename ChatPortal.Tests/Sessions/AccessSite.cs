using System.Security.Claims;
using Bunit;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Components.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Sessions;

/// <summary>
/// One or two real portal nodes in this process (Kestrel on loopback): alone on SQLite, or a
/// cluster of two sharing a real PostgreSQL database and a real Redis. The back office acts on
/// node A; the affected user has a socket and a tab on every node.
/// </summary>
public sealed class AccessSite : IAsyncDisposable
{
    private readonly RedisServer? _redis;
    private readonly List<BunitContext> _tabs = [];

    private AccessSite(InProcessPortal a, InProcessPortal b, RedisServer? redis, AdminCaller admin)
    {
        A = a;
        B = b;
        _redis = redis;
        Admin = admin;
    }

    public InProcessPortal A { get; }
    /// <summary>The second node, or A itself on a single-node site.</summary>
    public InProcessPortal B { get; }
    public IReadOnlyList<InProcessPortal> Nodes => ReferenceEquals(A, B) ? [A] : [A, B];
    public AdminCaller Admin { get; }

    public T OnA<T>() where T : notnull => A.Services.GetRequiredService<T>();

    public static async Task<AccessSite> StartAsync(PostgresFixture? pg)
    {
        if (pg is null)
        {
            var single = await InProcessPortal.StartAsync();
            return new AccessSite(single, single, null, await AdminAsync(single));
        }
        var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("access");
        Dictionary<string, string?> Node(string id) => new()
        {
            ["Portal:DatabaseProvider"] = "Postgres",
            ["Portal:ConnectionString"] = db,
            ["Redis:Configuration"] = redis.Configuration,
            ["Redis:NodeId"] = id,
            ["Redis:PresenceHeartbeatSeconds"] = "0.5",
            ["Redis:PresenceTtlSeconds"] = "3",
        };
        var a = await InProcessPortal.StartAsync(Node("a"));
        var b = await InProcessPortal.StartAsync(Node("b"));
        return new AccessSite(a, b, redis, await AdminAsync(a));
    }

    private static async Task<AdminCaller> AdminAsync(InProcessPortal node)
    {
        var accounts = node.Services.GetRequiredService<AdminAccounts>();
        var created = await accounts.CreateAsync("warden", "warden-password-1", new AdminActor(0, "(test)", null));
        Assert.True(created.Ok, created.ToString());
        await using var db = await node.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var admin = await db.Admins.SingleAsync(x => x.Name == "warden");
        return new AdminCaller(PortalClaims.ForAdmin(admin), "127.0.0.1");
    }

    /// <summary>A v1 socket of a (new or known) chat user on a node, authenticated with an API token.</summary>
    public static async Task<(WsClient Socket, long UserId)> SocketAsync(InProcessPortal node, string name)
    {
        var ws = await WsClient.ConnectAsync(node.BaseUri, "chatportal.v1");
        var welcome = await ws.AuthAsync(token: await node.TokenAsync(name));
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        return (ws, welcome.GetLong("user.id"));
    }

    /// <summary>
    /// A browser tab of a chat user on a node: the room page rendered by bUnit against that node's
    /// own services, signed in with the claims the sign-in cookie carries, interactive as a live circuit.
    /// </summary>
    public async Task<IRenderedComponent<RoomPage>> TabAsync(InProcessPortal node, long userId, string slug)
    {
        await using var db = await node.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var entity = await db.Users.AsNoTracking().SingleAsync(u => u.Id == userId);
        var ctx = ComponentServices.NewContext(node.Services);
        _tabs.Add(ctx);
        var auth = ctx.AddAuthorization();
        auth.SetAuthorized(entity.Name);
        auth.SetClaims(PortalClaims.ForChatUser(entity).Claims.Where(c => c.Type != ClaimTypes.Name).ToArray());
        auth.SetAuthenticationType(PortalClaims.ChatScheme);
        auth.SetPolicies(Policies.ChatUser);
        ctx.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        return ctx.Render<RoomPage>(p => p.Add(x => x.Slug, slug));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var tab in _tabs) await tab.DisposeAsync();
        foreach (var node in Nodes) await node.DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
    }
}
