using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Cluster;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace ChatPortal.Tests.Cluster;

public sealed class ClusterUnitTests
{
    private static readonly UserRef Ann = new(7, "安妮 ann", UserKind.Member);
    private static readonly RoomInfo Room = new(3, "lobby", "Lobby", "topic", false, true, false, false, "inv");
    private static readonly ChatMessage Msg = new(42, 3, Ann, MessageKind.Image, "看 this", DateTimeOffset.UnixEpoch.AddDays(20000),
        "c-1", new ImageRef("img1", "image/png", 10, 20, 300), DateTimeOffset.UnixEpoch.AddDays(20001), null, null);

    /// <summary>One sample per event type. A new ChatEvent type fails this test until it has one (and so is known to cross Redis).</summary>
    private static readonly ChatEvent[] Samples =
    [
        new MessagePosted(Msg),
        new MessageEdited(Msg with { Text = "edited" }, 43),
        new MessageDeleted(3, 42, 44, Ann, "0123456789abcdef0123456789abcdef"),
        new PresenceChanged(3, Ann, Joined: true),
        new PresenceSummary(3, 1234), // made by each node, but the JSON would carry it
        new UserTyping(3, Ann),
        new DirectActivity(9, Ann, new DirectConversation(Room with { Id = 9, IsDirect = true }, Ann with { Id = 8, Name = "ben" }), 45),
        new SessionRevoked(7, "signed_out", "feedfacefeedfacefeedfacefeedface"),
        new RoomChanged(Room),
        new RoomDeleted(3),
        new RoomListed(Room),
        new MemberAdded(3, Ann),
        new MemberRemoved(3, Ann),
        new MembershipSummary(3, [Ann], 12, [Ann with { Id = 8, Name = "ben" }], 1), // made by each node, as PresenceSummary
        new LinkPreviewReady(3, 42, new LinkPreview("https://example.com/茶", "Tea <b>", "desc", "Site", "0123456789abcdef0123456789abcdef", 480, 240)),
        new ReactionChanged(3, 42, 46, Ann, "👍", true, [new ReactionSummary("👍", 2, [Ann, Ann with { Id = 8, Name = "ben" }])]),
        new PinChanged(3, 42, 47, Ann, Pinned: true),
        new ReadReceipt(3, Ann, 47),
        new ReceiptsMoved(3, [new ChatPortal.Chat.Conversations.ReceiptCursor(Ann, 47), new(Ann with { Id = 8, Name = "ben" }, 48)]),
        new SavedChanged(7, 42, 3, Saved: true),
        new ThreadFollowChanged(7, 42, 3, Following: false),
        new ChatPortal.Chat.Integrations.EphemeralReply(3, 7, "invited", "ben was added to Lobby.", IsError: false, From: "deploy", Arg: "ben"),
        new MessagePosted(Msg with { Id = 48, Image = null, Kind = MessageKind.Text, IsAction = true,
            PostedAs = new PostedAs("CI 机器人", "https://example.com/ci.png", "webhook:5") }),
    ];

    [Fact]
    public void Every_chat_event_type_round_trips_through_the_cluster_json()
    {
        Assert.Equal(ClusterEventJson.EventTypes.OrderBy(t => t.Name), Samples.Select(s => s.GetType()).Distinct().OrderBy(t => t.Name));
        foreach (var evt in Samples)
        {
            var bytes = evt.Encoded(ClusterEventJson.Format);
            Assert.Same(bytes, evt.Encoded(ClusterEventJson.Format)); // serialized once, then shared
            var back = ClusterEventJson.Deserialize(bytes);
            Assert.IsType(evt.GetType(), back);
            Assert.Equal(evt.RoomId, back.RoomId);
            // Same content: re-serializing the copy gives the same bytes.
            Assert.Equal(JsonSerializer.Serialize(evt, ClusterEventJson.Options), JsonSerializer.Serialize(back, ClusterEventJson.Options));
        }
        // A preview taken away by an edit crosses as such.
        Assert.Null(((LinkPreviewReady)ClusterEventJson.Deserialize(ClusterEventJson.Serialize(new LinkPreviewReady(3, 42, null)))).Preview);
        var posted = (MessagePosted)ClusterEventJson.Deserialize(Samples[0].Encoded(ClusterEventJson.Format));
        Assert.Equal(Msg with { Image = Msg.Image }, posted.Message with { Image = posted.Message.Image });
        Assert.Equal(Msg.Image, posted.Message.Image);
        Assert.Throws<JsonException>(() => ClusterEventJson.Deserialize("""{"$type":"NoSuchEvent","roomId":1}"""u8));
    }

    [Fact]
    public void Remote_presence_takes_newer_news_only_and_forgets_silent_nodes()
    {
        var time = new ManualTime();
        var cache = new RemotePresenceCache(time);
        Assert.True(cache.Apply("n1", 5, 3, Ann, joined: true));
        Assert.False(cache.Apply("n1", 4, 3, Ann, joined: false)); // older than what is known
        Assert.True(cache.IsOnline(3, Ann.Id));
        // A snapshot taken before event 5 must not undo it.
        Assert.Empty(cache.ApplySnapshots([new RemotePresenceCache.Snapshot("n1", 4, [])]));
        Assert.True(cache.IsOnline(3, Ann.Id));
        var changes = cache.ApplySnapshots([new RemotePresenceCache.Snapshot("n1", 9, [])]);
        Assert.Equal([new RemotePresenceCache.Change(3, Ann, Joined: false)], changes);
        cache.Apply("n2", 1, 3, Ann, joined: true);
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal([new RemotePresenceCache.Change(3, Ann, Joined: false)], cache.ExpireOlderThan(TimeSpan.FromSeconds(15)));
        Assert.DoesNotContain("n2", cache.Nodes());
        Assert.False(cache.IsOnline(3, Ann.Id));
    }

    [Fact]
    public async Task Forwarded_headers_are_believed_from_known_proxies_only()
    {
        static async Task<string> AskAsync(Dictionary<string, string?> settings)
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(settings);
            builder.AddChatPortalForwardedHeaders();
            await using var app = builder.Build();
            app.UseChatPortalForwardedHeaders();
            app.MapGet("/who", (HttpContext c) => $"{c.Connection.RemoteIpAddress}|{c.Request.Scheme}|{c.Request.Host}");
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            using var req = new HttpRequestMessage(HttpMethod.Get, "/who");
            req.Headers.Add("X-Forwarded-For", "203.0.113.9");
            req.Headers.Add("X-Forwarded-Proto", "https");
            req.Headers.Add("X-Forwarded-Host", "chat.example.com");
            using var res = await http.SendAsync(req);
            var body = await res.Content.ReadAsStringAsync();
            await app.StopAsync();
            return body;
        }

        // Default: the loopback proxy (nginx on this machine) is believed.
        Assert.Equal("203.0.113.9|https|chat.example.com", await AskAsync([]));
        // Configured proxies elsewhere: a loopback caller is no longer trusted, the headers are ignored.
        var untrusted = await AskAsync(new() { ["ForwardedHeaders:KnownProxies:0"] = "10.1.2.3", ["ForwardedHeaders:KnownProxies:1"] = "192.168.7.0/24" });
        Assert.StartsWith("127.0.0.1|http|127.0.0.1:", untrusted);
    }

    [Fact]
    public void The_health_probe_turns_wildcard_listen_addresses_into_loopback()
    {
        Assert.Equal("http://127.0.0.1:8080", HealthProbe.LocalUrl("http://0.0.0.0:8080"));
        Assert.Equal("http://127.0.0.1:8080", HealthProbe.LocalUrl("http://+:8080;https://+:8443"));
        Assert.Equal("http://127.0.0.1:5080", HealthProbe.LocalUrl(null));
    }

    [Fact]
    public async Task Both_migration_sets_match_the_one_model()
    {
        List<string> sqliteTables;
        // SQLite: the migrations the app applies leave nothing pending.
        await using (var core = await CoreHarness.StartAsync())
        {
            Assert.False(await core.WithDbAsync(db => Task.FromResult(db.Database.HasPendingModelChanges())),
                "the SQLite migrations are behind the model: dotnet dotnet-ef migrations add <Name> -c ChatDbContext -o Data/Migrations");
            sqliteTables = await core.WithDbAsync(db => Task.FromResult(Tables(db)));
        }
        // PostgreSQL: its own migrations describe the same model (no server needed to compare).
        await using var pgDb = new PostgresDesignTimeFactory().CreateDbContext([]);
        Assert.False(pgDb.Database.HasPendingModelChanges(),
            "the PostgreSQL migrations are behind the model: dotnet dotnet-ef migrations add <Name> -c PostgresChatDbContext -o Data/Migrations/Postgres");
        Assert.Equal(sqliteTables, Tables(pgDb));
    }

    private static List<string> Tables(ChatDbContext db) => db.Model.GetEntityTypes().Select(e => e.GetTableName()!).Order().ToList();

    /// <summary>
    /// The link's checks run in one loop with its watchers' ticks. A tick whose Redis reply never comes (CI once saw a
    /// node report Redis healthy for 30 s after it was killed) must not freeze the status: it is abandoned after a few
    /// seconds, and a status whose last passed check is too old is not reported as connected.
    /// </summary>
    [Fact]
    public async Task A_tick_that_never_finishes_does_not_keep_the_link_reporting_redis_healthy_after_redis_dies()
    {
        await using var redis = await RedisServer.StartAsync();
        var link = new RedisLink(Microsoft.Extensions.Options.Options.Create(new RedisOptions { Configuration = redis.Configuration, NodeId = "stuck" }),
            new RemotePresenceCache(TimeProvider.System), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisLink>.Instance);
        var watcher = new StuckWatcher();
        link.Watch(watcher);
        await link.StartAsync(CancellationToken.None);
        try
        {
            await Until(() => link.Status.Connected, "the link never connected");
            watcher.Stuck = true;
            await Until(() => watcher.StuckTicks > 0, "no tick started");
            await redis.StopAsync();
            await Until(() => !link.Status.Connected, "Redis is gone, but the link still says connected");
            Assert.NotNull(link.Status.LastError);

            watcher.Stuck = false;
            await redis.StartAgainAsync();
            await Until(() => link.Status.Connected && link.IsUp, "the link did not come back with Redis");
        }
        finally
        {
            watcher.Stuck = false;
            using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await link.StopAsync(giveUp.Token);
        }
    }

    private static async Task Until(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(failure);
            await Task.Delay(100);
        }
    }

    /// <summary>A watcher whose ticks, once stuck, never complete (as a Redis reply that never arrives).</summary>
    private sealed class StuckWatcher : IRedisLinkWatcher
    {
        public volatile bool Stuck;
        public int StuckTicks;
        public Task CameUpAsync(CancellationToken stop) => Task.CompletedTask;
        public void WentDown() { }
        public Task StoppingAsync(CancellationToken ct) => Task.CompletedTask;

        public Task TickAsync(bool up, CancellationToken stop)
        {
            if (!Stuck) return Task.CompletedTask;
            Interlocked.Increment(ref StuckTicks);
            return new TaskCompletionSource().Task;
        }
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UnixEpoch.AddDays(20000);
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
}
