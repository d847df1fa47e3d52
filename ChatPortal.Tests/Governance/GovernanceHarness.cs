using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Governance;

/// <summary>The core on a real SQLite file plus the governance services (and what they lean on), without HTTP.</summary>
public static class GovernanceHarness
{
    public static async Task<CoreHarness> StartAsync(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Governance:PurgeBatchSize"] = "7",
            ["Governance:PurgePause"] = "00:00:00.005",
            ["Governance:RetentionInterval"] = "00:00:00",
            ["Chat:SearchIndexDelay"] = "00:00:00.020",
        };
        foreach (var (k, v) in settings ?? []) all[k] = v;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        return await CoreHarness.StartAsync(settings: all, configure: s =>
        {
            s.AddChatGovernanceServices(configuration);
            s.AddSingleton<ChatAccounts>();
            s.AddSingleton<ApiTokens>();
            s.AddSingleton<AdminGuard>();
            s.AddSingleton<AdminAudit>();
            s.AddSingleton<AdminAccounts>();
            s.AddSingleton<AdminChatUsers>();
            configure?.Invoke(s);
        });
    }

    public static T Get<T>(this CoreHarness h) where T : notnull => h.Services.GetRequiredService<T>();

    /// <summary>Waits until the writer's search index covers every stored row.</summary>
    public static async Task WaitForSearchIndexAsync(this CoreHarness h)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var (last, max) = await h.WithDbAsync(async db => (
                await db.Database.SqlQueryRaw<long>("SELECT LastId AS Value FROM SearchProgress").SingleAsync(),
                await db.Messages.MaxAsync(m => (long?)m.Id) ?? 0));
            if (last >= max) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"search index at {last}, table at {max}");
            await Task.Delay(20);
        }
    }

    /// <summary>Rows of the FTS index that match a phrase (what search can still find).</summary>
    public static Task<long> FtsCountAsync(this CoreHarness h, string phrase) =>
        h.WithDbAsync(db => db.Database.SqlQueryRaw<long>(
            "SELECT COUNT(*) AS Value FROM MessageSearch WHERE MessageSearch MATCH {0}", "\"" + phrase + "\"").SingleAsync());

    /// <summary>Moves rows back in time (tests of retention need old messages).</summary>
    public static Task AgeAsync(this CoreHarness h, IReadOnlyCollection<long> ids, TimeSpan age)
    {
        var at = DateTimeOffset.UtcNow - age;
        return h.WithDbAsync(db => db.Messages.Where(m => ids.Contains(m.Id)).ExecuteUpdateAsync(s => s.SetProperty(m => m.CreatedAt, at)));
    }

    public static async Task SetPolicyAsync(this CoreHarness h, GovernancePolicy policy)
    {
        await using var db = await h.Db();
        await GovernanceSettings.StageAsync(db, policy);
        await db.SaveChangesAsync();
    }

    public static async Task SetRoomRetentionAsync(this CoreHarness h, long roomId, int? days)
    {
        await using var db = await h.Db();
        await db.Rooms.Where(r => r.Id == roomId).ExecuteUpdateAsync(s => s.SetProperty(r => r.RetentionDays, days));
    }

    public static async Task<Chat.UserRef> RegisterAsync(this CoreHarness h, string name, string password = "secret-pw-1")
    {
        var o = await h.Get<ChatAccounts>().SignInOrRegisterAsync(name, password, "192.0.2.5");
        Assert.True(o.Succeeded, o.Error);
        return new Chat.UserRef(o.User!.Id, o.User.Name, o.User.Kind);
    }

    public static Task<List<ChatPortal.Data.Message>> RowsAsync(this CoreHarness h, long roomId) =>
        h.WithDbAsync(db => db.Messages.AsNoTracking().Where(m => m.RoomId == roomId).OrderBy(m => m.Id).ToListAsync());
}
