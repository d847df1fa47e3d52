using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Hosting;
using ChatPortal.Images;
using ChatPortal.Search;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>The chat core on a real SQLite file (migrated) with images, search and bots, without HTTP.</summary>
public sealed class CoreHarness : IChatCore, IAsyncDisposable
{
    private readonly IHost _host;
    private readonly bool _ownsDir;

    private CoreHarness(IHost host, string dataDir, bool ownsDir)
    {
        _host = host;
        DataDir = dataDir;
        _ownsDir = ownsDir;
    }

    public string DataDir { get; }
    public IServiceProvider Services => _host.Services;
    public MessageSearch Search => Services.GetRequiredService<MessageSearch>();
    public BotRunner Bots => Services.GetRequiredService<BotRunner>();
    public ImageStore Images => Services.GetRequiredService<ImageStore>();

    public static async Task<CoreHarness> StartAsync(string? dataDir = null, Dictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configure = null)
    {
        var owns = dataDir is null;
        dataDir ??= TempDir.Create("core");
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
        return new CoreHarness(host, dataDir, owns);
    }

    public async Task<UserRef> CreateUserAsync(string name, UserKind kind = UserKind.Member)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var u = new ChatUser
        {
            Name = name, NormalizedName = UserNames.Normalize(name), Kind = kind, CreatedAt = DateTimeOffset.UtcNow,
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
            Slug = slug, Name = slug, IsPrivate = isPrivate, AllowGuests = true, InviteCode = ChatRooms.NewInviteCode(),
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
        var r = await this.Commands.PostAsync(who, room.Id, text);
        Assert.True(r.Ok, r.Error?.Message);
        return r.Value!;
    }

    public Task<ChatMessage> PostAsync(UserRef who, DirectConversation dm, string text) => PostAsync(who, dm.Room, text);

    public Task<ChatDbContext> Db() => Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();

    public async Task<T> WithDbAsync<T>(Func<ChatDbContext, Task<T>> action)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        return await action(db);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        if (_ownsDir) TempDir.Delete(DataDir);
    }
}

internal sealed class TestEnvironment(string root) : IWebHostEnvironment
{
    public string WebRootPath { get; set; } = root;
    public IFileProvider WebRootFileProvider { get; set; } = new NullFileProvider();
    public string ApplicationName { get; set; } = "ChatPortal";
    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    public string ContentRootPath { get; set; } = root;
    public string EnvironmentName { get; set; } = "Testing";
}

public static class TempDir
{
    public static string Create(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), "chatportal-tests", $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void Delete(string dir)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { /* a file still open by a dying process: the OS temp cleaner gets it */ }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Collects what a subscriber receives, and lets a test wait for it.</summary>
public sealed class RecordingSubscriber(int capacity = 10_000) : IChatSubscriber
{
    private readonly List<ChatEvent> _events = [];
    private readonly SemaphoreSlim _signal = new(0);
    public int Capacity { get; } = capacity;
    public bool Overflowed { get; private set; }

    public IReadOnlyList<ChatEvent> Events
    {
        get { lock (_events) return _events.ToList(); }
    }

    public bool TryDeliver(ChatEvent evt)
    {
        lock (_events)
        {
            if (_events.Count >= Capacity) return false;
            _events.Add(evt);
        }
        _signal.Release();
        return true;
    }

    public void OnOverflow() => Overflowed = true;

    public async Task<IReadOnlyList<T>> WaitForAsync<T>(int count, TimeSpan? timeout = null) where T : ChatEvent
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var got = Events.OfType<T>().ToList();
            if (got.Count >= count) return got;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"Expected {count} {typeof(T).Name}, got {got.Count}.");
            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }
}
