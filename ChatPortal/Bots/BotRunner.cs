using System.Threading.Channels;
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
    /// <summary>Messages waiting for bots; beyond this, new ones are dropped (chat is never held up).</summary>
    public int QueueCapacity { get; set; } = 1024;
    /// <summary>Bot calls running at once.</summary>
    public int MaxConcurrency { get; set; } = 16;
}

/// <summary>The bot users (one per <see cref="IChatBot"/>), created at startup.</summary>
public sealed class BotDirectory
{
    private volatile IReadOnlyDictionary<string, UserRef> _users = new Dictionary<string, UserRef>();

    public IReadOnlyCollection<UserRef> Users => [.. _users.Values];

    public UserRef? Get(string botName) => _users.GetValueOrDefault(botName);

    internal void Set(Dictionary<string, UserRef> users) => _users = users;
}

/// <summary>
/// The writer's hook: sees each stored post right after commit and only queues the (bot,
/// message) pairs a bot <see cref="IChatBot.Wants"/>. Never waits: a full queue drops the work.
/// </summary>
public sealed class BotInbox(IServiceProvider services, IOptions<BotOptions> options, ILogger<BotInbox> log) : IStoredEventObserver
{
    private readonly Channel<(IChatBot Bot, ChatMessage Message)> _queue = Channel.CreateBounded<(IChatBot, ChatMessage)>(
        new BoundedChannelOptions(Math.Max(1, options.Value.QueueCapacity)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    // Resolved on first use: bots may depend on the core's services, which depend on the writer that holds this observer.
    private IChatBot[]? _bots;
    private long _dropped;

    internal ChannelReader<(IChatBot Bot, ChatMessage Message)> Reader => _queue.Reader;

    public long Dropped => Interlocked.Read(ref _dropped);

    public void OnStored(ChatEvent evt)
    {
        if (evt is not MessagePosted { Message: { Sender.IsBot: false, Text.Length: > 0 } m }) return;
        _bots ??= services.GetServices<IChatBot>().ToArray();
        foreach (var bot in _bots)
        {
            bool wants;
            try { wants = bot.Wants(m); }
            catch (Exception ex)
            {
                log.LogWarning(ex, "Bot {Bot} failed in Wants()", bot.Name);
                continue;
            }
            if (wants && !_queue.Writer.TryWrite((bot, m)) && Interlocked.Increment(ref _dropped) % 100 == 1)
                log.LogWarning("Bot queue full: dropped work for {Bot} ({Dropped} so far)", bot.Name, Dropped);
        }
    }

    internal void Complete() => _queue.Writer.TryComplete();
}

/// <summary>
/// Runs bots off the hot path: each call on its own task, with a timeout, its exceptions caught
/// and logged. A reply is posted through the core as the bot user (so every client sees it); its
/// client id is derived from the message answered, so a reply is never posted twice.
/// </summary>
public sealed class BotRunner(BotInbox inbox, BotDirectory directory, BotSwitches switches, ChatRooms rooms, ChatCommands commands,
    ChatHistory history, ChatSessions sessions,
    IDbContextFactory<ChatDbContext> dbFactory, IEnumerable<IChatBot> bots, IOptions<BotOptions> options, TimeProvider time,
    ILogger<BotRunner> log) : BackgroundService
{
    private long _replied;
    private long _failed;
    private long _timedOut;
    private long _handled;

    /// <summary>Bot calls finished in any way (answered, silent, switched off, failed, timed out).</summary>
    public long Handled => Interlocked.Read(ref _handled);
    public long Replied => Interlocked.Read(ref _replied);
    public long Failed => Interlocked.Read(ref _failed);
    public long TimedOut => Interlocked.Read(ref _timedOut);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await EnsureBotUsersAsync(stoppingToken);
        var slots = new SemaphoreSlim(Math.Max(1, options.Value.MaxConcurrency));
        var reader = inbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (reader.TryRead(out var work))
                {
                    await slots.WaitAsync(stoppingToken);
                    _ = Task.Run(async () =>
                    {
                        try { await AnswerAsync(work.Bot, work.Message, stoppingToken); }
                        finally { slots.Release(); }
                    }, CancellationToken.None);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        inbox.Complete();
        await base.StopAsync(cancellationToken);
    }

    private async Task AnswerAsync(IChatBot bot, ChatMessage message, CancellationToken stopping)
    {
        try
        {
            var me = directory.Get(bot.Name);
            if (me is null) return;
            var room = await rooms.GetAsync(message.RoomId, stopping);
            // Rooms only: joining a direct conversation would turn it into a three-way one.
            if (room is null || room.IsArchived || room.IsDirect) return;
            if (!await switches.IsEnabledAsync(bot.Name, room.Id, stopping)) return;

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(options.Value.ReplyTimeout);
            string? reply;
            try
            {
                var context = new BotContext(message, room, sessions.Online(room.Id), history);
                // WaitAsync: a bot that ignores its token is abandoned, not waited for.
                reply = await bot.ReplyAsync(context, timeout.Token).WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                Interlocked.Increment(ref _timedOut);
                log.LogWarning("Bot {Bot} did not answer message {Id} within {Timeout}", bot.Name, message.Id, options.Value.ReplyTimeout);
                return;
            }
            if (string.IsNullOrWhiteSpace(reply)) return;
            if (reply.Length > commands.Options.MaxMessageLength) reply = reply[..commands.Options.MaxMessageLength];
            if (room.IsPrivate) await rooms.EnsureMemberAsync(room.Id, me, stopping);
            var posted = await commands.PostAsync(me, room.Id, reply, clientMsgId: $"bot-{message.Id}", ct: stopping);
            if (posted.Ok) Interlocked.Increment(ref _replied);
            else log.LogInformation("Bot {Bot} could not reply in room {Room}: {Error}", bot.Name, room.Id, posted.Error!.Code);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            log.LogError(ex, "Bot {Bot} failed on message {Id}", bot.Name, message.Id);
        }
        finally
        {
            Interlocked.Increment(ref _handled);
        }
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
    /// <summary>The bot runner and the built-in bot 小爱同学. Another bot is one more <c>AddSingleton&lt;IChatBot, T&gt;()</c>.</summary>
    public static IHostApplicationBuilder AddChatPortalBots(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<BotOptions>(builder.Configuration.GetSection(BotOptions.Section));
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton<BotSwitches>(s);
        s.AddSingleton<BotDirectory>();
        s.AddSingleton<BotInbox>();
        s.AddSingleton<IStoredEventObserver>(sp => sp.GetRequiredService<BotInbox>());
        s.AddSingleton<BotRunner>();
        s.AddHostedService(sp => sp.GetRequiredService<BotRunner>());
        s.AddSingleton<IChatBot, XiaoAiBot>();
        return builder;
    }
}
