using ChatPortal.Tests.Governance;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Sec20;

/// <summary>
/// Issue 20, item 1: post, edit to a secret, delete: the secret must be gone from the stored
/// rows (history, catch-up, search, the database every export reads), for an own delete and a
/// moderator's alike, and a later v1 <c>join</c> with <c>since</c> must not replay it.
/// </summary>
public sealed class DeletePurgeTests
{
    private static readonly Dictionary<string, string?> IndexAtOnce = new() { ["Chat:SearchIndexDelay"] = "00:00:00" };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_delete_purges_the_text_of_the_message_and_of_its_edits_from_history_catch_up_search_and_storage(bool byModerator)
    {
        var dir = TempDir.Create("purge");
        await using var h = await CoreHarness.StartAsync(dir, IndexAtOnce);
        var alice = await h.CreateUserAsync("alice");
        var mod = await h.CreateUserAsync("moderator");
        var room = await h.CreateRoomAsync("purge", false, alice, mod);
        var secret = "hunter2x" + Guid.NewGuid().ToString("N")[..8];
        var before = await h.History.LatestIdAsync(room.Id);

        var post = await h.PostAsync(alice, room, "my login is below");
        Assert.True((await h.Commands.EditAsync(alice, post.Id, $"oops password={secret}")).Ok);
        Assert.True((await h.Commands.EditAsync(alice, post.Id, $"second try {secret} again")).Ok);
        await WaitIndexedAsync(dir); // the edited post is in the FTS index before the delete
        Assert.Single(await h.Search.SearchAsync(alice, secret));

        var deleted = byModerator ? await h.Commands.DeleteAsync(mod, post.Id, asModerator: true) : await h.Commands.DeleteAsync(alice, post.Id);
        Assert.True(deleted.Ok, deleted.Error?.Message);

        // History, catch-up (rows and events), search, the FTS index and the raw table: no trace.
        Assert.DoesNotContain(await h.History.GetHistoryAsync(room.Id), m => m.Text.Contains(secret, StringComparison.Ordinal));
        var rows = (await h.RowsAsync(room.Id)).Where(m => m.Id > before).ToList();
        Assert.Equal(4, rows.Count); // post, two edits, the delete: the events stay, their text goes
        Assert.DoesNotContain(rows, m => m.Text.Contains(secret, StringComparison.Ordinal));
        var events = await h.History.GetStoredEventsAfterAsync(room.Id, before);
        Assert.DoesNotContain(events.OfType<MessageEdited>(), e => e.Message.Text.Contains(secret, StringComparison.Ordinal));
        Assert.Contains(events, e => e is MessageDeleted d && d.MessageId == post.Id);
        Assert.Empty(await h.Search.SearchAsync(alice, secret));
        Assert.Empty(await h.Search.SearchAsync(alice, "password"));
        Assert.Empty(await FtsAsync(dir, secret));
        Assert.False(await h.WithDbAsync(db => db.Messages.AnyAsync(m => m.Text.Contains(secret))));
    }

    [Fact]
    public async Task An_edit_and_a_delete_in_one_group_commit_leave_no_text_behind()
    {
        var dir = TempDir.Create("purge");
        await using var h = await CoreHarness.StartAsync(dir);
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("burst", false, alice);
        var secret = "hunter2y" + Guid.NewGuid().ToString("N")[..8];
        var posts = new List<ChatMessage>();
        for (var i = 0; i < 20; i++) posts.Add(await h.PostAsync(alice, room, $"line {i}"));
        // Edits and deletes of the same messages queued at once: many land in the same batch.
        var work = posts.SelectMany(p => new Func<Task>[]
        {
            () => h.Commands.EditAsync(alice, p.Id, $"{secret} {p.Id}"),
            () => h.Commands.DeleteAsync(alice, p.Id),
        }).Select(f => f()).ToList();
        await Task.WhenAll(work);
        Assert.False(await h.WithDbAsync(db => db.Messages.AnyAsync(m => m.Text.Contains(secret))));
    }

    private static async Task<List<long>> FtsAsync(string dir, string phrase)
    {
        await using var c = new SqliteConnection($"Data Source={Path.Combine(dir, "chatportal.db")};Pooling=False");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT rowid FROM MessageSearch WHERE MessageSearch MATCH $q";
        cmd.Parameters.AddWithValue("$q", "\"" + phrase + "\"");
        var ids = new List<long>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) ids.Add(r.GetInt64(0));
        return ids;
    }

    private static async Task WaitIndexedAsync(string dir)
    {
        for (var i = 0; i < 200; i++)
        {
            await using var c = new SqliteConnection($"Data Source={Path.Combine(dir, "chatportal.db")};Pooling=False");
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT (SELECT LastId FROM SearchProgress WHERE Id = 1) >= IFNULL((SELECT MAX(Id) FROM Messages), 0)";
            if ((long)(await cmd.ExecuteScalarAsync())! == 1) return;
            await Task.Delay(50);
        }
        Assert.Fail("the writer did not index the stored messages within 10 s");
    }
}

/// <summary>The same defect over the wire: a v1 client that catches up after the delete must not get the edited text.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class DeletePurgeSocketTests(WsPortalFixture fx)
{
    [Fact]
    public async Task A_v1_join_with_since_after_a_delete_does_not_replay_the_deleted_edit_text()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("purge").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var owner = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("owner"), room);
        var marker = await owner.RequestAsync("send", ("room", room), ("text", "before everything"));
        var since = marker.GetLong("event_id");
        var secret = "hunter2z" + Guid.NewGuid().ToString("N")[..8];

        var ack = await owner.RequestAsync("send", ("room", room), ("text", "my password is"));
        var id = ack.GetLong("message_id");
        Assert.True((await owner.RequestAsync("edit", ("message_id", id), ("text", $"…password={secret}"))).Is("edited"));
        Assert.True((await owner.RequestAsync("delete", ("message_id", id))).Is("deleted"));

        await using var late = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("late"), join: null);
        await late.JoinAsync(room, since);
        var done = await late.WaitForAsync(f => f.Is("caught_up"));
        Assert.True(done.GetLong("count") >= 3, done.ToString()); // post, edit, delete: the events are there
        Assert.Contains(late.Frames, f => f.Is("message_deleted") && f.GetLong("message_id") == id);
        Assert.DoesNotContain(late.Frames, f => f.Text.Contains(secret, StringComparison.Ordinal));

        // History over the socket: nothing either.
        var history = await late.RequestAsync("history", ("room", room));
        Assert.DoesNotContain(secret, history.Text, StringComparison.Ordinal);
    }
}
