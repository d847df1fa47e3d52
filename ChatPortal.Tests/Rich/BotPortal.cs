using System.Net;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Rich;

/// <summary>
/// The real app in this process on a real Kestrel loopback port (the built-in bots reach it over HTTP and a
/// <c>chatportal.v1</c> socket, like any bot), with extra test bots and settings.
/// </summary>
public sealed class BotPortal : WebApplicationFactory<Program>, IChatCore
{
    private readonly string _dataDir = TempDir.Create("botportal");
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configure;

    private BotPortal(Dictionary<string, string?> settings, Action<IServiceCollection>? configure)
    {
        _settings = settings;
        _configure = configure;
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
    }

    IServiceProvider IChatCore.Services => Services;

    /// <summary>The address Kestrel listens on (http://127.0.0.1:port/).</summary>
    public Uri BaseUri => new(Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
        .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());

    public BotRunner Bots => Services.GetRequiredService<BotRunner>();

    /// <summary>Starts the portal; bots are on everywhere unless <paramref name="settings"/> says otherwise.</summary>
    public static BotPortal Start(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Bots:EnabledByDefault"] = "true",
            ["Bots:RoomRefreshInterval"] = "00:00:00.200",
            ["Bots:ReconnectMinDelay"] = "00:00:00.100",
            ["Bots:ReconnectMaxDelay"] = "00:00:01",
        };
        foreach (var (k, v) in settings ?? []) all[k] = v;
        var portal = new BotPortal(all, configure);
        portal.StartServer();
        return portal;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Portal:DataPath", _dataDir);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.UseSetting("Chat:RateLimitBurst", "100000");
        builder.UseSetting("Chat:RateLimitPerSecond", "100000");
        foreach (var limit in PortalProcess.PerAddressLimits) builder.UseSetting(limit.Replace("__", ":", StringComparison.Ordinal), "0");
        foreach (var (k, v) in _settings) builder.UseSetting(k, v);
        if (_configure is not null) builder.ConfigureTestServices(_configure);
    }

    public BotClient Client(string bot = XiaoAiBot.BotName) =>
        WaitFor(() => Bots.Clients.GetValueOrDefault(bot), $"the bot client of {bot}");

    /// <summary>Waits until the bot's socket has joined the room (a question before that would go unheard).</summary>
    public async Task WaitJoinedAsync(RoomInfo room, string bot = XiaoAiBot.BotName)
    {
        var client = Client(bot);
        await BotTests.WaitUntil(() => client.JoinedRooms.Contains(room.Id));
    }

    public async Task<UserRef> CreateUserAsync(string name)
    {
        await using var db = await Db();
        var u = new ChatUser
        {
            Name = name,
            NormalizedName = UserNames.Normalize(name),
            Kind = UserKind.Member,
            CreatedAt = DateTimeOffset.UtcNow,
            SecurityStamp = Guid.NewGuid().ToString("N"),
        };
        db.Users.Add(u);
        await db.SaveChangesAsync();
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    public async Task<RoomInfo> CreateRoomAsync(string slug)
    {
        await using var db = await Db();
        var r = new Room { Slug = slug, Name = slug, AllowGuests = true, InviteCode = ChatRooms.NewInviteCode(), CreatedAt = DateTimeOffset.UtcNow };
        db.Rooms.Add(r);
        await db.SaveChangesAsync();
        return RoomInfo.From(r);
    }

    public async Task<ChatMessage> PostAsync(UserRef who, RoomInfo room, string text)
    {
        var r = await this.Commands.PostAsync(who, room.Id, text);
        Assert.True(r.Ok, r.Error?.Message);
        return r.Value!;
    }

    /// <summary>An admin and the principal its cookie would carry (for the back-office services).</summary>
    public async Task<ChatPortal.Admin.AdminCaller> CreateAdminAsync(string name = "boss")
    {
        var r = await Services.GetRequiredService<ChatPortal.Admin.AdminAccounts>().CreateAsync(name, "boss-password-1", new ChatPortal.Admin.AdminActor(0, "(test)", null));
        Assert.True(r.Ok, r.Message);
        await using var db = await Db();
        var admin = await db.Admins.AsNoTracking().SingleAsync(a => a.Name == name);
        return new ChatPortal.Admin.AdminCaller(Auth.PortalClaims.ForAdmin(admin), "10.1.2.3");
    }

    public Task<ChatDbContext> Db() => Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();

    private static T WaitFor<T>(Func<T?> find, string what) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (find() is { } found) return found;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No {what}.");
            Thread.Sleep(20);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        TempDir.Delete(_dataDir);
    }
}
