using System.Text.Json;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Images;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.WebSockets;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Upgrade;

/// <summary>What the upgrade test needs to know about a fixture beyond its rows (secrets the database only holds hashed).</summary>
public sealed record UpgradeFixtureFacts(string MemberName, string MemberPassword, string ApiToken, string EnglishWord, string ChineseWord,
    string ImageId);

/// <summary>
/// Makes the upgrade fixture: a fresh data folder filled through the real services (sign-up,
/// guests, bots, admins and their audited actions, rooms public and private, a DM, posts in
/// English and Chinese, an edit, deletes, an image, an API token, read positions, bot and word
/// filter settings, the search index), then stopped cleanly and checkpointed into one file.
/// The release after this one runs it at its own commit to make the next fixture (see
/// Fixtures/README.md); the tests run it on every build to check it still works.
/// </summary>
public static class UpgradeFixtureMaker
{
    public const string MemberPassword = "alice-password-1";
    public const string EnglishWord = "rhubarb";
    public const string ChineseWord = "天气预报";

    /// <summary>Fills <paramref name="dataDir"/> and returns the database file (checkpointed, no WAL beside it) and the facts.</summary>
    public static async Task<(string DbPath, UpgradeFixtureFacts Facts)> MakeAsync(string dataDir)
    {
        UpgradeFixtureFacts facts;
        await using (var h = await CoreHarness.StartAsync(dataDir, configure: s =>
        {
            s.AddSingleton<SignInGuard>();
            s.AddSingleton<ChatAccounts>();
            s.AddSingleton<ApiTokens>();
            s.AddOptions<WebSocketEndpointOptions>();
            s.AddSingleton<GuestAccounts>();
            s.AddDataProtection(); // the guest resume key is kept encrypted with it
            s.AddSingleton<GuestResumeTokens>();
            s.AddSingleton<AdminGuard>();
            s.AddSingleton<AdminAudit>();
            s.AddSingleton<AdminAccounts>();
            s.AddSingleton<AdminRooms>();
            s.AddSingleton<AdminChatUsers>();
            s.AddSingleton<AdminModeration>();
            s.AddSingleton<AdminBots>();
        }))
        {
            facts = await FillAsync(h);
        }
        SqliteConnection.ClearAllPools();
        var db = Path.Combine(dataDir, "chatportal.db");
        await using (var c = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            // One self-contained file: readers of the committed fixture leave no -wal/-shm beside it.
            cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;";
            await cmd.ExecuteNonQueryAsync();
        }
        return (db, facts);
    }

    private static async Task<UpgradeFixtureFacts> FillAsync(CoreHarness h)
    {
        T Get<T>() where T : notnull => h.Services.GetRequiredService<T>();


        // People: members through the real sign-up, a guest, the bot (made by the bot runner at start).
        async Task<UserRef> Member(string name, string password)
        {
            var o = await Get<ChatAccounts>().SignInOrRegisterAsync(name, password, "192.0.2.10");
            Assert.True(o.Succeeded, o.Error);
            return new UserRef(o.User!.Id, o.User.Name, o.User.Kind);
        }
        var alice = await Member("alice", MemberPassword);
        var bob = await Member("bob", "bob-password-1");
        var li = await Member("李雷", "lilei-password-1");
        var carol = await Member("carol", "carol-password-1");
        var guest = (await Get<GuestAccounts>().CreateAsync("192.0.2.20"))!;
        var (token, _) = await Get<ApiTokens>().IssueAsync(alice.Id, "mini-program");
        var (old, _) = await Get<ApiTokens>().IssueAsync(bob.Id, "old script");
        Assert.True(await Get<ApiTokens>().RevokeAsync(old));

        // Admins through their own service; each action below writes an audit entry.
        var accounts = Get<AdminAccounts>();
        Assert.True((await accounts.CreateAsync("root", "root-password-1", new AdminActor(0, "(command line: fixture)", "local"))).Ok);
        Assert.True((await accounts.CreateAsync("helper", "helper-password-1", new AdminActor(0, "(command line: fixture)", "local"))).Ok);
        Assert.True((await accounts.SignInAsync("root", "root-password-1", "192.0.2.1")).Succeeded);
        Assert.False((await accounts.SignInAsync("root", "wrong-password", "192.0.2.66")).Succeeded);
        var rootRow = await h.WithDbAsync(db => db.Admins.AsNoTracking().SingleAsync(a => a.Name == "root"));
        var admin = new AdminCaller(PortalClaims.ForAdmin(rootRow), "192.0.2.1");
        var helperRow = await h.WithDbAsync(db => db.Admins.AsNoTracking().SingleAsync(a => a.Name == "helper"));
        Assert.True((await accounts.SetDisabledAsync(admin, helperRow.Id, true)).Ok);

        var rooms = Get<AdminRooms>();
        var team = (await rooms.CreateAsync(admin, new RoomInput { Slug = "team", Name = "Team 团队", Topic = "Work talk", AllowGuests = false })).Value!;
        var secret = (await rooms.CreateAsync(admin, new RoomInput { Slug = "secret", Name = "Secret 秘密", IsPrivate = true })).Value!;
        Assert.True((await rooms.AddMemberAsync(admin, secret.Id, "alice")).Ok);
        Assert.True((await rooms.AddMemberAsync(admin, secret.Id, "李雷")).Ok);
        var old2 = (await rooms.CreateAsync(admin, new RoomInput { Slug = "old-news", Name = "Old news" })).Value!;
        Assert.True((await rooms.SetArchivedAsync(admin, old2.Id, true)).Ok);
        var lobby = (await h.Rooms.GetDefaultAsync())!;

        Assert.True((await Get<AdminBots>().SetAsync(admin, "小爱同学", secret, false)).Ok);
        Assert.True((await Get<AdminBots>().SetAsync(admin, "小爱同学", null, true)).Ok);
        Assert.True((await Get<AdminModeration>().SaveWordFilterAsync(admin, WordFilterMode.Mask, "badword\n坏词")).Ok);

        // Messages through the core (writer, search indexing), in English and Chinese.
        foreach (var u in new[] { alice, bob, li }) Assert.True((await h.Rooms.OpenAsync(u, "lobby")).Ok);
        await h.PostAsync(alice, lobby, $"Good morning everyone, the {EnglishWord} pie is ready");
        await h.PostAsync(bob, lobby, "@alice thanks! 👍");
        await h.PostAsync(li, lobby, $"今天的{ChineseWord}说会下雨");
        await h.PostAsync(guest, lobby, "hello from a guest");
        var typo = await h.PostAsync(bob, lobby, "I will be late, sory");
        Assert.True((await h.Commands.EditAsync(bob, typo.Id, "I will be late, sorry")).Ok);
        var oops = await h.PostAsync(alice, lobby, "this was a mistake");
        Assert.True((await h.Commands.DeleteAsync(alice, oops.Id)).Ok);
        var rude = await h.PostAsync(carol, lobby, "something rude");
        Assert.True((await Get<AdminModeration>().DeleteMessageAsync(admin, rude.Id)).Ok);
        await h.PostAsync(alice, lobby, "this badword gets masked");
        await h.PostAsync(alice, lobby, "@小爱 help");

        var png = WebSockets.PortalHelpers.TinyPng();
        var image = await h.Images.SaveAsync(png, alice.Id, "cat.png");
        Assert.True(image.Ok, image.Error?.Message);
        var pic = await h.Commands.PostAsync(alice, lobby.Id, null, clientMsgId: "img-1", imageId: image.Value!.Id);
        Assert.True(pic.Ok, pic.Error?.Message);

        Assert.True((await h.Rooms.OpenAsync(alice, "team")).Ok);
        await h.PostAsync(alice, team, "Stand-up at ten · 十点站会");
        await h.PostAsync(bob, team, "ok");
        var secretRoom = (await h.Rooms.GetAsync(secret.Id))!;
        await h.PostAsync(alice, secretRoom, "the surprise party is on Friday 星期五");
        await h.PostAsync(li, secretRoom, "我带蛋糕");

        var dm = await h.Rooms.OpenDirectAsync(alice, "bob");
        Assert.True(dm.Ok, dm.Error?.Message);
        await h.PostAsync(alice, dm.Value!, "private hello, bob");
        await h.PostAsync(bob, dm.Value!.Room, "hi alice 你好");
        await h.History.MarkReadAsync(bob.Id, lobby.Id, typo.Id);

        // More audited user actions.
        var users = Get<AdminChatUsers>();
        Assert.True((await users.MuteAsync(admin, carol.Id, TimeSpan.FromDays(1))).Ok);

        // The bot answers through the bot API (a chatportal.v1 socket to the server since issue 16), which this
        // harness has no server for: its reply is posted as its bot account, the row it would write.
        var bot = await h.Services.GetRequiredService<UserDirectory>().FindByNameAsync("小爱同学");
        Assert.NotNull(bot);
        await h.PostAsync(bot, lobby, "我是小爱同学 — try: time, date, who, stats, roll, echo");
        await WaitAsync(async () => await h.WithDbAsync(db => db.Messages.AnyAsync(m => m.SenderId != alice.Id && m.Text.Contains("小爱"))),
            "the bot's reply");
        // Then the writer indexes everything for search.
        await WaitAsync(async () => await h.WithDbAsync(async db =>
            await db.Database.SqlQueryRaw<long>("SELECT LastId AS Value FROM SearchProgress").SingleAsync()
            == await db.Messages.MaxAsync(m => m.Id)), "the search index");
        Assert.NotEmpty(await h.Search.SearchAsync(alice, ChineseWord));

        return new UpgradeFixtureFacts("alice", MemberPassword, token, EnglishWord, ChineseWord, image.Value.Id);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waiting for {what} timed out.");
            await Task.Delay(50);
        }
    }

    public static string FactsJson(UpgradeFixtureFacts facts) =>
        JsonSerializer.Serialize(facts, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
