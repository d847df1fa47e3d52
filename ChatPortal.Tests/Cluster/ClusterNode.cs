using ChatPortal.Chat;
using ChatPortal.Cluster;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatPortal.Tests.Cluster;

/// <summary>
/// One node of a cluster in this process: the chat core with the Redis backplane and PostgreSQL,
/// as the portal wires them (AddChatPortalData + AddChatCore + AddChatCluster), without HTTP.
/// </summary>
public sealed class ClusterNode : IChatCore, IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string _dir;
    private bool _stopped;

    private ClusterNode(IHost host, string dir, string name)
    {
        _host = host;
        _dir = dir;
        Name = name;
    }

    public string Name { get; }
    public IServiceProvider Services => _host.Services;
    public RedisBackplane Backplane => Services.GetRequiredService<RedisBackplane>();
    public RedisLink Link => Services.GetRequiredService<RedisLink>();

    public static async Task<ClusterNode> StartAsync(string name, string postgres, string? redis, Dictionary<string, string?>? extra = null)
    {
        var dir = TempDir.Create("node");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Testing",
            ContentRootPath = dir,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portal:DataPath"] = dir,
            ["Portal:DatabaseProvider"] = "Postgres",
            ["Portal:ConnectionString"] = postgres,
            ["Redis:Configuration"] = redis,
            ["Redis:NodeId"] = name,
            ["Redis:PresenceHeartbeatSeconds"] = "0.5",
            ["Redis:PresenceTtlSeconds"] = "3",
            ["Chat:RateLimitBurst"] = "100000",
            ["Chat:RateLimitPerSecond"] = "100000",
        });
        if (extra is not null) builder.Configuration.AddInMemoryCollection(extra);
        builder.Services.AddLogging();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.AddChatCluster();
        var host = builder.Build();
        await host.Services.InitializeDatabaseAsync();
        await host.StartAsync();
        var node = new ClusterNode(host, dir, name);
        if (redis is not null) await node.WaitUntilAsync(() => node.Link.IsUp, $"{name} connects to Redis");
        return node;
    }

    public async Task<UserRef> CreateUserAsync(string name)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var u = new ChatUser
        {
            Name = name, NormalizedName = UserNames.Normalize(name), Kind = UserKind.Member, CreatedAt = DateTimeOffset.UtcNow,
            SecurityStamp = Guid.NewGuid().ToString("N"),
        };
        db.Users.Add(u);
        await db.SaveChangesAsync();
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    public async Task<RoomInfo> CreateRoomAsync(string slug)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var r = new Room { Slug = slug, Name = slug, AllowGuests = true, InviteCode = ChatRooms.NewInviteCode(), CreatedAt = DateTimeOffset.UtcNow };
        db.Rooms.Add(r);
        await db.SaveChangesAsync();
        return RoomInfo.From(r);
    }

    public async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting until {what}.");
            await Task.Delay(50);
        }
    }

    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await _host.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
        TempDir.Delete(_dir);
    }
}
