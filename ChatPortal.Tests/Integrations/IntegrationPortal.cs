using ChatPortal.Chat.Integrations;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Integrations;

/// <summary>
/// A real portal for the webhook tests: short retry delays (options, never asserted as timings), a low incoming rate,
/// auto-disable after 4 failures, and SafeHttp's test-only loopback allow-list so the test's receivers on 127.0.0.1 are reachable.
/// </summary>
public sealed class IntegrationPortalFixture : IAsyncLifetime
{
    public const int IncomingBurst = 3;
    public const int DisableAfter = 4;

    public static Dictionary<string, string> Settings() => new()
    {
        ["Chat__RateLimitBurst"] = "100000",
        ["Chat__RateLimitPerSecond"] = "100000",
        ["SafeHttp__AllowedAddresses__0"] = "127.0.0.1",
        ["Integrations__IncomingBurst"] = IncomingBurst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Integrations__IncomingPerMinute"] = "1",
        ["Integrations__RetryBaseDelay"] = "00:00:00.200",
        ["Integrations__RetryMaxDelay"] = "00:00:00.500",
        ["Integrations__DisableAfterFailures"] = DisableAfter.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Integrations__OutgoingMaxAttempts"] = "20",
        ["Integrations__OutgoingTimeout"] = "00:00:05",
        ["Integrations__WorkerPollInterval"] = "00:00:00.200",
        ["Integrations__HookCacheTime"] = "00:00:00", // hooks the tests add to the database apply to the next post
        ["Integrations__CommandTimeout"] = "00:00:01",
    };

    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync() => Portal = await PortalProcess.StartAsync(Settings());

    public async ValueTask DisposeAsync() => await Portal.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class IntegrationPortalCollection : ICollectionFixture<IntegrationPortalFixture>
{
    public const string Name = "integration-portal";
}

/// <summary>Integrations made straight in the portal's database (the back office does this in production; its service is tested apart).</summary>
public static class IntegrationRows
{
    public static async Task<IncomingWebhook> AddIncomingAsync(this PortalProcess portal, long roomId, string name, bool anyChannel = false)
    {
        await using var db = portal.OpenDb();
        var user = BotUser(db, "webhook");
        await db.SaveChangesAsync();
        var hook = new IncomingWebhook
        {
            RoomId = roomId,
            Name = name,
            Token = IntegrationUsers.NewToken(),
            PostAsUserId = user.Id,
            AnyChannel = anyChannel,
            CreatedAt = DateTimeOffset.UtcNow,
            CreatedBy = "test",
        };
        db.Add(hook);
        await db.SaveChangesAsync();
        return hook;
    }

    public static async Task<OutgoingWebhook> AddOutgoingAsync(this PortalProcess portal, string url, long? roomId, string triggerWords = "",
        string secret = "s3cret-for-tests")
    {
        await using var db = portal.OpenDb();
        var user = BotUser(db, "outgoing");
        await db.SaveChangesAsync();
        var hook = new OutgoingWebhook
        {
            Name = PortalHelpers.UniqueName("out"),
            RoomIds = roomId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
            TriggerWords = triggerWords,
            Url = url,
            Secret = secret,
            Token = "tok-" + Guid.NewGuid().ToString("N"),
            PostAsUserId = user.Id,
            CreatedAt = DateTimeOffset.UtcNow,
            CreatedBy = "test",
        };
        db.Add(hook);
        await db.SaveChangesAsync();
        return hook;
    }

    public static async Task<CustomCommand> AddCommandAsync(this PortalProcess portal, string name, string url)
    {
        await using var db = portal.OpenDb();
        var user = BotUser(db, "command");
        await db.SaveChangesAsync();
        var command = new CustomCommand
        {
            Name = name,
            Url = url,
            Description = "test command",
            Token = "ctok-" + Guid.NewGuid().ToString("N"),
            PostAsUserId = user.Id,
            CreatedAt = DateTimeOffset.UtcNow,
            CreatedBy = "test",
        };
        db.Add(command);
        await db.SaveChangesAsync();
        return command;
    }

    public static ChatUser BotUser(ChatDbContext db, string kind)
    {
        var name = PortalHelpers.UniqueName(kind);
        var user = new ChatUser
        {
            Name = name,
            NormalizedName = ChatPortal.Chat.UserNames.Normalize(name),
            Kind = UserKind.Bot,
            CreatedAt = DateTimeOffset.UtcNow,
            SecurityStamp = Guid.NewGuid().ToString("N"),
        };
        db.Users.Add(user);
        return user;
    }
}
