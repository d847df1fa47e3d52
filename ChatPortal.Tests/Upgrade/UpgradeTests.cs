using System.Globalization;
using System.Text;
using System.Text.Json;
using ChatPortal.Auth;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Upgrade;

/// <summary>
/// Upgrades keep data: a database file made by the previous release (Fixtures/upgrade, see its
/// README) is migrated to the current schema by the real start-up code, and every row of every
/// table it had is still there with the same values; old messages are still found by search,
/// old passwords and API tokens still work.
/// </summary>
public sealed class UpgradeTests
{
    public static string FixtureDir => Path.Combine(RepoPaths.Root, "ChatPortal.Tests", "Fixtures", "upgrade");
    public static string FixtureDb => Path.Combine(FixtureDir, "chatportal.db");
    private static string FactsPath => Path.Combine(FixtureDir, "facts.json");

    [Fact]
    public async Task A_database_from_the_previous_release_migrates_with_every_row_intact()
    {
        Assert.True(File.Exists(FixtureDb), $"missing fixture {FixtureDb}");
        var facts = JsonSerializer.Deserialize<UpgradeFixtureFacts>(await File.ReadAllTextAsync(FactsPath))!;
        var dir = TempDir.Create("upgrade");
        try
        {
            File.Copy(FixtureDb, Path.Combine(dir, "chatportal.db"));
            var before = await DumpAsync(Path.Combine(dir, "chatportal.db"), columnsFrom: null);
            Assert.True(before.Tables["Messages"].Rows.Count >= 20, "the fixture has a realistic spread of messages");
            var applied = before.Tables["__EFMigrationsHistory"].Rows.Count;

            await using (var h = await CoreHarness.StartAsync(dir, configure: s =>
            {
                s.AddSingleton<ChatAccounts>();
                s.AddSingleton<ApiTokens>();
            }))
            {
                var pending = await h.WithDbAsync(async db => (await db.Database.GetPendingMigrationsAsync()).ToList());
                Assert.Empty(pending);
                var history = await h.WithDbAsync(db => db.Database.GetAppliedMigrationsAsync());
                Assert.True(history.Count() >= applied);

                // Old messages are found by search (the FTS rows survived), in both languages; deleted ones are not.
                var alice = (await h.Users.FindByNameAsync(facts.MemberName))!;
                var en = await h.Search.SearchAsync(alice, facts.EnglishWord);
                Assert.Single(en);
                Assert.Contains(facts.EnglishWord, en[0].Message.Text, StringComparison.Ordinal);
                var zh = await h.Search.SearchAsync(alice, facts.ChineseWord);
                Assert.Single(zh);
                Assert.Contains(facts.ChineseWord, zh[0].Message.Text, StringComparison.Ordinal);
                Assert.Empty(await h.Search.SearchAsync(alice, "mistake"));
                Assert.NotEmpty(await h.Search.SearchAsync(alice, "星期五")); // private room alice belongs to
                var ftsRows = await h.WithDbAsync(db => db.Database
                    .SqlQueryRaw<long>("SELECT COUNT(*) AS Value FROM MessageSearch WHERE MessageSearch MATCH '\"sorry\"'").SingleAsync());
                Assert.Equal(1, ftsRows); // the edited text, not the old one, is indexed

                Assert.NotNull(await h.History.GetImageAsync(facts.ImageId));

                // History reads as before: the latest lobby page has the image and the edit applied.
                var lobby = (await h.Rooms.GetDefaultAsync())!;
                var page = await h.History.GetHistoryAsync(lobby.Id);
                Assert.Contains(page, m => m.Image?.Id == facts.ImageId);
                Assert.Contains(page, m => m.Text == "I will be late, sorry" && m.EditedAt is not null);
            }

            // Every row of every table the old schema had, column by column.
            var after = await DumpAsync(Path.Combine(dir, "chatportal.db"), columnsFrom: before);
            foreach (var (table, old) in before.Tables)
            {
                if (table is "__EFMigrationsHistory") continue;
                Assert.True(after.Tables.ContainsKey(table), $"table {table} is gone after the upgrade");
                var now = after.Tables[table];
                Assert.Equal(old.Rows.Count, now.Rows.Count);
                for (var i = 0; i < old.Rows.Count; i++)
                    Assert.Equal(old.Rows[i], now.Rows[i]);
            }

            // Credentials made by the old release still work (after the comparison: signing in updates the rows).
            await using (var h = await CoreHarness.StartAsync(dir, configure: s =>
            {
                s.AddSingleton<ChatAccounts>();
                s.AddSingleton<ApiTokens>();
            }))
            {
                var alice = (await h.Users.FindByNameAsync(facts.MemberName))!;
                var signIn = await h.Services.GetRequiredService<ChatAccounts>().SignInOrRegisterAsync(facts.MemberName, facts.MemberPassword, "127.0.0.1");
                Assert.Equal(SignInStatus.SignedIn, signIn.Status);
                var token = await h.Services.GetRequiredService<ApiTokens>().ValidateAsync(facts.ApiToken);
                Assert.NotNull(token);
                Assert.Equal(alice.Id, token.Value.User.Id);
            }
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    /// <summary>
    /// The generator still works on today's code and makes the same spread of rows as the committed
    /// fixture. With <c>CHATPORTAL_WRITE_UPGRADE_FIXTURE=1</c> it also replaces the committed
    /// fixture (do that on a release commit, before its successor changes the schema).
    /// </summary>
    [Fact]
    public async Task The_fixture_generator_makes_the_same_spread_of_rows_as_the_committed_fixture()
    {
        var dir = TempDir.Create("fixture");
        try
        {
            var (db, facts) = await UpgradeFixtureMaker.MakeAsync(dir);
            Assert.False(File.Exists(db + "-wal") && new FileInfo(db + "-wal").Length > 0, "the fixture is checkpointed into one file");
            if (Environment.GetEnvironmentVariable("CHATPORTAL_WRITE_UPGRADE_FIXTURE") == "1")
            {
                Directory.CreateDirectory(FixtureDir);
                File.Copy(db, FixtureDb, overwrite: true);
                await File.WriteAllTextAsync(FactsPath, UpgradeFixtureMaker.FactsJson(facts) + "\n");
            }
            var made = await DumpAsync(db, columnsFrom: null);
            var copy = Path.Combine(dir, "committed.db");
            File.Copy(FixtureDb, copy);
            var committed = await DumpAsync(copy, columnsFrom: null);
            foreach (var (table, old) in committed.Tables)
            {
                if (table is "__EFMigrationsHistory") continue;
                Assert.True(made.Tables.ContainsKey(table), $"the generator made no table {table}");
                Assert.True(old.Rows.Count == made.Tables[table].Rows.Count,
                    $"{table}: the fixture has {old.Rows.Count} rows, the generator made {made.Tables[table].Rows.Count}");
            }
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    public sealed record TableDump(IReadOnlyList<string> Columns, List<string> Rows);

    public sealed record DatabaseDump(Dictionary<string, TableDump> Tables);

    /// <summary>Every table (FTS shadow tables aside) as text rows in rowid order; with <paramref name="columnsFrom"/>, only those columns.</summary>
    public static async Task<DatabaseDump> DumpAsync(string path, DatabaseDump? columnsFrom)
    {
        var tables = new Dictionary<string, TableDump>();
        await using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await c.OpenAsync();
        var names = new List<string>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'MessageSearch%' ORDER BY name";
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) names.Add(r.GetString(0));
        }
        foreach (var table in names)
        {
            IReadOnlyList<string> columns;
            if (columnsFrom?.Tables.TryGetValue(table, out var known) == true) columns = known.Columns;
            else
            {
                var list = new List<string>();
                await using var info = c.CreateCommand();
                info.CommandText = $"SELECT name FROM pragma_table_info('{table}') ORDER BY cid";
                await using var r = await info.ExecuteReaderAsync();
                while (await r.ReadAsync()) list.Add(r.GetString(0));
                columns = list;
            }
            var rows = new List<string>();
            await using (var cmd = c.CreateCommand())
            {
                var order = table is "__EFMigrationsHistory" or "Settings" or "RoomMembers" ? "1" : "rowid";
                cmd.CommandText = $"SELECT {string.Join(", ", columns.Select(x => $"\"{x}\""))} FROM \"{table}\" ORDER BY {order}";
                await using var r = await cmd.ExecuteReaderAsync();
                while (await r.ReadAsync())
                {
                    var sb = new StringBuilder("|");
                    for (var i = 0; i < columns.Count; i++)
                        sb.Append(columns[i]).Append('=').Append(r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)).Append('|');
                    rows.Add(sb.ToString());
                }
            }
            tables[table] = new TableDump(columns, rows);
        }
        return new DatabaseDump(tables);
    }
}
