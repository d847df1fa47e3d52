using System.Security.Claims;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatPortal.Tests.Admin;

/// <summary>
/// The chat core and the back office's services on a real SQLite file (migrated), without
/// HTTP: the admin services are called as the pages call them, with a real admin principal.
/// </summary>
public sealed class AdminHarness : IChatCore, IAsyncDisposable
{
    private readonly IHost _host;

    private AdminHarness(IHost host, string dataDir)
    {
        _host = host;
        DataDir = dataDir;
    }

    public string DataDir { get; }
    public IServiceProvider Services => _host.Services;
    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public static async Task<AdminHarness> StartAsync(params IChatBot[] bots)
    {
        var dir = TempDir.Create("adminsvc");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Testing",
            ContentRootPath = dir,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portal:DataPath"] = dir,
            ["Chat:RateLimitBurst"] = "100000",
            ["Chat:RateLimitPerSecond"] = "100000",
        });
        builder.Services.AddLogging();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.Services.AddSingleton<BotSwitches>();
        builder.Services.AddSingleton<ChatAccounts>();
        builder.Services.AddSingleton<ApiTokens>();
        foreach (var bot in bots) builder.Services.AddSingleton(bot);
        builder.AddChatPortalAdmin();
        var host = builder.Build();
        await host.Services.InitializeDatabaseAsync();
        await host.StartAsync();
        return new AdminHarness(host, dir);
    }

    /// <summary>An admin row plus the principal its cookie would carry.</summary>
    public async Task<(AdminUser Admin, AdminCaller Caller)> CreateAdminAsync(string name = "boss", string password = "boss-password-1")
    {
        var r = await Get<AdminAccounts>().CreateAsync(name, password, new AdminActor(0, "(test)", null));
        Assert.True(r.Ok, r.Message);
        var admin = await Db(db => db.Admins.AsNoTracking().SingleAsync(a => a.Name == name));
        return (admin, new AdminCaller(PortalClaims.ForAdmin(admin), "10.1.2.3"));
    }

    public async Task<UserRef> CreateUserAsync(string name, string? password = null)
    {
        if (password is not null)
        {
            var o = await Get<ChatAccounts>().SignInOrRegisterAsync(name, password, "192.0.2.7");
            Assert.True(o.Succeeded, o.Error);
            return new UserRef(o.User!.Id, o.User.Name, o.User.Kind);
        }
        await using var db = await Get<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        var u = new ChatUser
        {
            Name = name,
            NormalizedName = UserNames.Normalize(name),
            Kind = UserKind.Member,
            CreatedAt = DateTimeOffset.UtcNow,
            SecurityStamp = Guid.NewGuid().ToString("N"),
            LastIp = "192.0.2.7",
        };
        db.Users.Add(u);
        await db.SaveChangesAsync();
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    public async Task<T> Db<T>(Func<ChatDbContext, Task<T>> action)
    {
        await using var db = await Get<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        return await action(db);
    }

    public Task<int> AuditCountAsync(string? action = null) =>
        Db(db => db.AuditLog.CountAsync(a => action == null || a.Action == action));

    public static AdminCaller Anonymous => new(new ClaimsPrincipal(new ClaimsIdentity()), "10.9.9.9");

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        TempDir.Delete(DataDir);
    }
}

/// <summary>A bot that never answers: enough to have a name on the Bots page.</summary>
public sealed class SilentBot(string name) : IChatBot
{
    public string Name => name;
    public bool Wants(ChatMessage message) => false;
    public Task<string?> ReplyAsync(BotContext context, CancellationToken ct) => Task.FromResult<string?>(null);
}
