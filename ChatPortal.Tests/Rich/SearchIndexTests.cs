using ChatPortal.Chat;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Rich;

/// <summary>
/// The search index is filled by the writer after the commit (SearchDeferred migration): the
/// rows up to SearchProgress.LastId are in the FTS index, newer ones are read directly. These
/// tests pin both halves, and the edit/delete triggers on either side of the watermark.
/// </summary>
public sealed class SearchIndexTests
{
    private static readonly Dictionary<string, string?> NeverIdle = new() { ["Chat:SearchIndexDelay"] = "01:00:00" };
    private static readonly Dictionary<string, string?> IndexAtOnce = new() { ["Chat:SearchIndexDelay"] = "00:00:00" };

    [Fact]
    public async Task Messages_not_yet_indexed_are_found_edited_and_deleted_and_then_indexed_as_they_are_now()
    {
        var dir = TempDir.Create("searchidx");
        long kept, edited, deleted;
        await using (var h = await CoreHarness.StartAsync(dir, NeverIdle))
        {
            var u = await h.CreateUserAsync("erin");
            var room = await h.CreateRoomAsync("tail");
            kept = (await h.PostAsync(u, room, "春眠不觉晓 the spring morning")).Id;
            edited = (await h.PostAsync(u, room, "meet at the library 图书馆见")).Id;
            deleted = (await h.PostAsync(u, room, "secret plans 秘密计划")).Id;

            // Nothing is in the FTS index yet: these answers come from the unindexed tail.
            Assert.True(await LastIndexedAsync(dir) < kept);
            Assert.Empty(await FtsAsync(dir, "spring"));
            Assert.Equal([kept], await IdsAsync(h, u, "春眠不觉"));
            Assert.Equal([kept], await IdsAsync(h, u, "SPRING morning"));

            Assert.True((await h.Commands.EditAsync(u, edited, "meet at the station 车站见")).Ok);
            Assert.True((await h.Commands.DeleteAsync(u, deleted)).Ok);
            Assert.Empty(await IdsAsync(h, u, "library"));
            Assert.Equal([edited], await IdsAsync(h, u, "station"));
            Assert.Empty(await IdsAsync(h, u, "秘密计划"));
        }

        // Reopened with indexing on: the writer indexes the rows as they are now.
        await using (var h = await CoreHarness.StartAsync(dir, IndexAtOnce))
        {
            var u = await h.Services.GetRequiredService<UserDirectory>().FindByNameAsync("erin") ?? throw new InvalidOperationException("erin is gone");
            await WaitIndexedAsync(dir);
            Assert.Equal([kept], await FtsAsync(dir, "spring"));
            Assert.Equal([edited], await FtsAsync(dir, "station"));
            Assert.Empty(await FtsAsync(dir, "library"));
            Assert.Empty(await FtsAsync(dir, "秘密计划"));
            Assert.Equal([edited], await FtsAsync(dir, "meet")); // the post as edited, not its edit row
            Assert.Equal([kept], await IdsAsync(h, u, "春眠不觉"));
            Assert.Equal([edited], await IdsAsync(h, u, "车站见"));
        }
    }

    [Fact]
    public async Task Indexed_messages_follow_their_edits_and_deletes_in_the_index()
    {
        var dir = TempDir.Create("searchidx");
        await using var h = await CoreHarness.StartAsync(dir, IndexAtOnce);
        var u = await h.CreateUserAsync("frank");
        var room = await h.CreateRoomAsync("indexed");
        var a = await h.PostAsync(u, room, "lunch at noon 中午吃饭");
        var b = await h.PostAsync(u, room, "dinner at eight 晚上吃饭");
        await WaitIndexedAsync(dir);
        Assert.Equal([a.Id], await FtsAsync(dir, "noon"));
        Assert.Equal([b.Id, a.Id], await IdsAsync(h, u, "吃饭"));

        Assert.True((await h.Commands.EditAsync(u, a.Id, "brunch at ten 早午饭")).Ok);
        Assert.True((await h.Commands.DeleteAsync(u, b.Id)).Ok);
        Assert.Empty(await FtsAsync(dir, "noon"));
        Assert.Equal([a.Id], await FtsAsync(dir, "brunch"));
        Assert.Empty(await FtsAsync(dir, "dinner"));
        Assert.Empty(await IdsAsync(h, u, "吃饭"));
        Assert.Equal([a.Id], await IdsAsync(h, u, "早午饭"));

        // Later posts join the index too; the edit and delete rows never do.
        var c = await h.PostAsync(u, room, "brunch again tomorrow");
        await WaitIndexedAsync(dir);
        Assert.Equal([c.Id, a.Id], await FtsAsync(dir, "brunch"));
    }

    private static async Task<List<long>> IdsAsync(CoreHarness h, UserRef u, string query) =>
        (await h.Search.SearchAsync(u, query)).Select(x => x.Message.Id).ToList();

    private static SqliteConnection Open(string dir)
    {
        var c = new SqliteConnection($"Data Source={Path.Combine(dir, "chatportal.db")};Pooling=False");
        c.Open();
        return c;
    }

    private static async Task<long> LastIndexedAsync(string dir)
    {
        await using var c = Open(dir);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT LastId FROM SearchProgress WHERE Id = 1";
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Row ids the FTS index itself matches (newest first), bypassing the unindexed tail.</summary>
    private static async Task<List<long>> FtsAsync(string dir, string phrase)
    {
        await using var c = Open(dir);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT rowid FROM MessageSearch WHERE MessageSearch MATCH $q ORDER BY rowid DESC";
        cmd.Parameters.AddWithValue("$q", "\"" + phrase + "\"");
        var ids = new List<long>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) ids.Add(r.GetInt64(0));
        return ids;
    }

    /// <summary>Until the writer's watermark reaches the last row (bounded; the writer indexes when idle).</summary>
    private static async Task WaitIndexedAsync(string dir)
    {
        for (var i = 0; i < 200; i++)
        {
            await using var c = Open(dir);
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT (SELECT LastId FROM SearchProgress WHERE Id = 1) >= IFNULL((SELECT MAX(Id) FROM Messages), 0)";
            if ((long)(await cmd.ExecuteScalarAsync())! == 1) return;
            await Task.Delay(50);
        }
        Assert.Fail("the writer did not index the stored messages within 10 s");
    }
}
