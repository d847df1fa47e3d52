using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Images;
using ChatPortal.Search;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace ChatPortal.Benchmarks;

/// <summary>The chat core on a real SQLite file (migrated, WAL, synchronous=FULL), without HTTP.</summary>
public sealed class BenchCore : IAsyncDisposable
{
    private readonly IHost _host;

    private BenchCore(IHost host, string dataDir)
    {
        _host = host;
        DataDir = dataDir;
    }

    public string DataDir { get; }
    public IServiceProvider Services => _host.Services;
    public ChatCommands Commands => Services.GetRequiredService<ChatCommands>();
    public ChatHistory History => Services.GetRequiredService<ChatHistory>();
    public MessageSearch Search => Services.GetRequiredService<MessageSearch>();
    public IDbContextFactory<ChatDbContext> DbFactory => Services.GetRequiredService<IDbContextFactory<ChatDbContext>>();

    public static async Task<BenchCore> StartAsync(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = dataDir,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portal:DataPath"] = dataDir,
            // Benchmark only: one process posts for 50 users as fast as it can.
            ["Chat:RateLimitBurst"] = "1000000",
            ["Chat:RateLimitPerSecond"] = "1000000",
        });
        builder.Services.AddLogging();
        builder.Services.Configure<PortalOptions>(builder.Configuration.GetSection(PortalOptions.Section));
        builder.Services.Configure<ImageOptions>(builder.Configuration.GetSection(ImageOptions.Section));
        builder.Services.AddSingleton<IWebHostEnvironment>(new BenchEnvironment(dataDir));
        builder.Services.AddSingleton<ImageStore>();
        builder.Services.AddSingleton<ImageUrls>();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.AddChatPortalSearch();
        var host = builder.Build();
        await host.Services.InitializeDatabaseAsync();
        await host.StartAsync();
        return new BenchCore(host, dataDir);
    }

    public async Task<UserRef> UserAsync(string name)
    {
        await using var db = await DbFactory.CreateDbContextAsync();
        var normalized = UserNames.Normalize(name);
        var u = await db.Users.FirstOrDefaultAsync(x => x.NormalizedName == normalized);
        if (u is null)
        {
            u = new ChatUser
            {
                Name = name, NormalizedName = normalized, Kind = UserKind.Member, CreatedAt = DateTimeOffset.UtcNow,
                SecurityStamp = Guid.NewGuid().ToString("N"),
            };
            db.Users.Add(u);
            await db.SaveChangesAsync();
        }
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    public async Task<RoomInfo> RoomAsync(string slug)
    {
        await using var db = await DbFactory.CreateDbContextAsync();
        var r = await db.Rooms.FirstOrDefaultAsync(x => x.Slug == slug);
        if (r is null)
        {
            r = new Room { Slug = slug, Name = slug, AllowGuests = true, InviteCode = ChatRooms.NewInviteCode(), CreatedAt = DateTimeOffset.UtcNow };
            db.Rooms.Add(r);
            await db.SaveChangesAsync();
        }
        return RoomInfo.From(r);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

internal sealed class BenchEnvironment(string root) : IWebHostEnvironment
{
    public string WebRootPath { get; set; } = root;
    public IFileProvider WebRootFileProvider { get; set; } = new NullFileProvider();
    public string ApplicationName { get; set; } = "ChatPortal";
    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    public string ContentRootPath { get; set; } = root;
    public string EnvironmentName { get; set; } = "Production";
}
