using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Images;
using ChatPortal.Search;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ChatPortal.Tests.Rich;

/// <summary>The chat core on a real SQLite file plus what this feature adds: search, bots, images.</summary>
public sealed class RichHarness : IAsyncDisposable
{
    private readonly IHost _host;

    private RichHarness(IHost host, string dataDir)
    {
        _host = host;
        DataDir = dataDir;
    }

    public string DataDir { get; }
    public IServiceProvider Services => _host.Services;
    public ChatService Chat => Services.GetRequiredService<ChatService>();
    public MessageSearch Search => Services.GetRequiredService<MessageSearch>();
    public BotRunner Bots => Services.GetRequiredService<BotRunner>();
    public ImageStore Images => Services.GetRequiredService<ImageStore>();

    public static async Task<RichHarness> StartAsync(Action<IServiceCollection>? configure = null, Dictionary<string, string?>? settings = null)
    {
        var dataDir = TempDir.Create("rich");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Testing",
            ContentRootPath = dataDir,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portal:DataPath"] = dataDir,
            ["Chat:RateLimitBurst"] = "100000",
            ["Chat:RateLimitPerSecond"] = "100000",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.Services.Configure<PortalOptions>(builder.Configuration.GetSection(PortalOptions.Section));
        builder.Services.Configure<ImageOptions>(builder.Configuration.GetSection(ImageOptions.Section));
        builder.Services.AddSingleton<IWebHostEnvironment>(new TestEnvironment(dataDir));
        builder.Services.AddSingleton<ImageStore>();
        builder.Services.AddSingleton<ImageUrls>();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.AddChatPortalBots();
        builder.AddChatPortalSearch();
        configure?.Invoke(builder.Services);
        var host = builder.Build();
        await host.Services.InitializeDatabaseAsync();
        await host.StartAsync();
        return new RichHarness(host, dataDir);
    }

    public async Task<UserRef> CreateUserAsync(string name, UserKind kind = UserKind.Member)
    {
        await using var db = await Db();
        var u = new ChatUser
        {
            Name = name,
            NormalizedName = UserNames.Normalize(name),
            Kind = kind,
            CreatedAt = DateTimeOffset.UtcNow,
            SecurityStamp = Guid.NewGuid().ToString("N"),
        };
        db.Users.Add(u);
        await db.SaveChangesAsync();
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    public async Task<RoomInfo> CreateRoomAsync(string slug, bool isPrivate = false, params UserRef[] members)
    {
        await using var db = await Db();
        var r = new Room
        {
            Slug = slug,
            Name = slug,
            IsPrivate = isPrivate,
            AllowGuests = true,
            InviteCode = ChatService.NewInviteCode(),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Rooms.Add(r);
        await db.SaveChangesAsync();
        foreach (var m in members)
            db.RoomMembers.Add(new RoomMember { RoomId = r.Id, UserId = m.Id, JoinedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
        return RoomInfo.From(r);
    }

    public async Task<ChatMessage> PostAsync(UserRef who, RoomInfo room, string text)
    {
        var r = await Chat.PostAsync(who, room.Id, text);
        Assert.True(r.Ok, r.Error?.Message);
        return r.Value!;
    }

    public Task<ChatDbContext> Db() => Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        TempDir.Delete(DataDir);
    }

    private sealed class TestEnvironment(string root) : IWebHostEnvironment
    {
        public string WebRootPath { get; set; } = root;
        public IFileProvider WebRootFileProvider { get; set; } = new NullFileProvider();
        public string ApplicationName { get; set; } = "ChatPortal";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
        public string ContentRootPath { get; set; } = root;
        public string EnvironmentName { get; set; } = "Testing";
    }
}

internal static class RichHarnessExtensions
{
    public static Task<ChatMessage> PostAsync(this RichHarness h, UserRef who, DirectConversation dm, string text) =>
        h.PostAsync(who, dm.Room, text);
}
