using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Bots;

/// <summary>Bot runner settings (section <c>Bots</c>).</summary>
public sealed class BotOptions
{
    public const string Section = "Bots";
    /// <summary>A bot that has not answered by then is abandoned (its reply is dropped).</summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Messages waiting for one bot; beyond this, new ones are dropped (chat is never held up).</summary>
    public int QueueCapacity { get; set; } = 1024;
    /// <summary>Bot calls running at once.</summary>
    public int MaxConcurrency { get; set; } = 16;
    /// <summary>With no switch set, a bot is off (it connects only once the back office turns it on somewhere).</summary>
    public bool EnabledByDefault { get; set; } = true;
    /// <summary>The portal's address for the bots' API connection; empty: the first address this server listens on.</summary>
    public string? ServerUrl { get; set; }
    /// <summary>How often a connected bot looks for rooms it should join (new rooms, switches changed on another node).</summary>
    public TimeSpan RoomRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Reconnect backoff: first wait, doubled after each failure up to the max.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Tries to send one reply when the API answers with a transient error (rate limit, storage, a reconnect).</summary>
    public int ReplyAttempts { get; set; } = 4;
}

/// <summary>The bot users (one per <see cref="IChatBot"/>), created at startup.</summary>
public sealed class BotDirectory
{
    private volatile IReadOnlyDictionary<string, UserRef> _users = new Dictionary<string, UserRef>();

    public IReadOnlyCollection<UserRef> Users => [.. _users.Values];

    public UserRef? Get(string botName) => _users.GetValueOrDefault(botName);

    /// <summary>Whether this user is a built-in bot's account (listed in the back office, never deleted there).</summary>
    public bool IsBuiltIn(long userId) => _users.Values.Any(u => u.Id == userId);

    internal void Set(Dictionary<string, UserRef> users) => _users = users;
}

/// <summary>
/// Runs the built-in bots as clients of the public bot API (<see cref="BotClient"/>): each gets its bot account at startup,
/// and, once the back office switches it on somewhere, a token of its own and a <c>chatportal.v1</c> socket to this
/// server's own address (<c>Bots:ServerUrl</c>, or the first address Kestrel listens on, wildcards as 127.0.0.1). Bot calls
/// run off the socket's loop, at most <see cref="BotOptions.MaxConcurrency"/> at once, each with a timeout, its exceptions
/// caught and logged: nothing a bot does reaches chat except its replies, and nothing stops the host.
/// </summary>
public sealed class BotRunner(BotDirectory directory, BotSwitches switches, ApiTokens tokens, UserDirectory users,
    IDbContextFactory<ChatDbContext> dbFactory, IEnumerable<IChatBot> bots, IOptions<BotOptions> options, TimeProvider time,
    IHostApplicationLifetime lifetime, IServiceProvider services, ILoggerFactory logs, ILogger<BotRunner> log) : BackgroundService
{
    private long _replied;
    private long _failed;
    private long _timedOut;
    private long _handled;
    private volatile IReadOnlyDictionary<string, BotClient> _clients = new Dictionary<string, BotClient>();

    /// <summary>Bot calls finished in any way (answered, silent, switched off, failed, timed out).</summary>
    public long Handled => Interlocked.Read(ref _handled);
    public long Replied => Interlocked.Read(ref _replied);
    public long Failed => Interlocked.Read(ref _failed);
    public long TimedOut => Interlocked.Read(ref _timedOut);

    /// <summary>The running bot clients by bot name (empty until the server listens).</summary>
    public IReadOnlyDictionary<string, BotClient> Clients => _clients;

    internal void CountReplied() => Interlocked.Increment(ref _replied);
    internal void CountFailed() => Interlocked.Increment(ref _failed);
    internal void CountTimedOut() => Interlocked.Increment(ref _timedOut);
    internal void CountHandled() => Interlocked.Increment(ref _handled);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await EnsureBotUsersAsync(stoppingToken);
            // The bots talk to the server over HTTP: wait until it listens.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
                await started.Task.WaitAsync(stoppingToken);
            if (ServerUrl() is not { } server)
            {
                log.LogWarning("The built-in bots stay offline: no HTTP address to reach this server (set Bots:ServerUrl)");
                return;
            }
            var slots = new SemaphoreSlim(Math.Max(1, options.Value.MaxConcurrency));
            var clients = new Dictionary<string, BotClient>();
            foreach (var bot in bots)
                if (directory.Get(bot.Name) is { } user)
                    clients[bot.Name] = new BotClient(bot, user, this, switches, tokens, users, options, logs.CreateLogger<BotClient>());
            _clients = clients;
            switches.Changed += OnSwitchChanged;
            try
            {
                await Task.WhenAll(clients.Values.Select(c => c.RunAsync(server, slots, stoppingToken)));
            }
            finally
            {
                switches.Changed -= OnSwitchChanged;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Never take the host down: the bots are an extra.
            log.LogError(ex, "The bot runner failed; the built-in bots are offline until restart");
        }
    }

    private void OnSwitchChanged(string bot)
    {
        if (_clients.TryGetValue(bot, out var client)) client.Wake();
    }

    /// <summary>Where the bots connect: the setting, else the first listening address (http preferred), wildcard hosts as loopback.</summary>
    internal Uri? ServerUrl()
    {
        if (!string.IsNullOrWhiteSpace(options.Value.ServerUrl)) return new Uri(options.Value.ServerUrl);
        var addresses = services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
        if (addresses is null || addresses.Count == 0) return null;
        var pick = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.First();
        return new Uri(Cluster.HealthProbe.LocalUrl(pick).Replace("://localhost", "://127.0.0.1", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Each bot gets a chat user of kind Bot (no password: nobody can sign in as it).</summary>
    private async Task EnsureBotUsersAsync(CancellationToken ct)
    {
        var users = new Dictionary<string, UserRef>();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        foreach (var bot in bots)
        {
            var normalized = UserNames.Normalize(bot.Name);
            var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedName == normalized, ct);
            if (user is null)
            {
                user = new ChatUser
                {
                    Name = bot.Name,
                    NormalizedName = normalized,
                    Kind = UserKind.Bot,
                    CreatedAt = time.GetUtcNow(),
                    SecurityStamp = Auth.ChatAccounts.NewStamp(),
                };
                db.Users.Add(user);
                await db.SaveChangesAsync(ct);
            }
            else if (user.Kind != UserKind.Bot)
            {
                log.LogError("The name {Bot} belongs to a person; the bot stays silent until that account is renamed", bot.Name);
                continue;
            }
            users[bot.Name] = new UserRef(user.Id, user.Name, UserKind.Bot);
        }
        directory.Set(users);
    }
}

public static class BotSetup
{
    /// <summary>The bot runner and the built-in bot 小爱同学 (off until switched on). Another bot is one more <c>AddSingleton&lt;IChatBot, T&gt;()</c>.</summary>
    public static IHostApplicationBuilder AddChatPortalBots(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<BotOptions>(builder.Configuration.GetSection(BotOptions.Section));
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton<BotSwitches>(s);
        s.AddSingleton<BotDirectory>();
        // The bots' tokens (the web host registers the same; a core-only host gets it here).
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton<ApiTokens>(s);
        s.AddSingleton<BotRunner>();
        s.AddHostedService(sp => sp.GetRequiredService<BotRunner>());
        s.AddSingleton<IChatBot, XiaoAiBot>();
        return builder;
    }
}
