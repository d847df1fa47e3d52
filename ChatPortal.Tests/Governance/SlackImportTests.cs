using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Chat.Conversations;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Admin;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Governance;

/// <summary>Importing a Slack export (made here, in Slack's layout): users, channels, messages in time order, threads, reactions; twice adds nothing.</summary>
public sealed class SlackImportTests
{
    private static readonly DateTimeOffset Day1 = new(2024, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static string Ts(DateTimeOffset t, int micro = 0) => $"{t.ToUnixTimeSeconds()}.{micro:D6}";

    /// <summary>A small export: 3 users (one taken here already), a bot, 2 public channels (one archived), a private one, threads, reactions, a file.</summary>
    public static byte[] MakeExport()
    {
        var users = new JsonArray
        {
            new JsonObject { ["id"] = "U01", ["name"] = "alice", ["real_name"] = "Alice A", ["profile"] = new JsonObject { ["display_name"] = "" } },
            new JsonObject { ["id"] = "U02", ["name"] = "bob", ["profile"] = new JsonObject { ["display_name"] = "Bob B" } },
            new JsonObject { ["id"] = "U03", ["name"] = "王芳", ["profile"] = new JsonObject { ["display_name"] = "" } },
        };
        var channels = new JsonArray
        {
            new JsonObject { ["id"] = "C01", ["name"] = "general", ["created"] = Day1.AddDays(-30).ToUnixTimeSeconds(), ["members"] = new JsonArray("U01", "U02", "U03"),
                ["topic"] = new JsonObject { ["value"] = "Company-wide" } },
            new JsonObject { ["id"] = "C02", ["name"] = "old-stuff", ["is_archived"] = true, ["members"] = new JsonArray("U01") },
        };
        var groups = new JsonArray { new JsonObject { ["id"] = "G01", ["name"] = "secret-plans", ["members"] = new JsonArray("U01", "U03") } };
        var parent = Ts(Day1.AddMinutes(1));
        // Day 1 is written out of order on purpose: the import sorts by ts.
        var general1 = new JsonArray
        {
            new JsonObject { ["type"] = "message", ["user"] = "U02", ["text"] = "second: hi <@U01> &amp; welcome", ["ts"] = Ts(Day1.AddMinutes(2)) },
            new JsonObject { ["type"] = "message", ["user"] = "U01", ["text"] = "first: release plan", ["ts"] = parent, ["thread_ts"] = parent,
                ["reply_count"] = 2, ["reactions"] = new JsonArray(
                    new JsonObject { ["name"] = "tada", ["users"] = new JsonArray("U02", "U03"), ["count"] = 2 },
                    new JsonObject { ["name"] = "partyparrot", ["users"] = new JsonArray("U02"), ["count"] = 1 }, // a custom emoji: no Unicode
                    new JsonObject { ["name"] = "+1", ["users"] = new JsonArray("U01"), ["count"] = 1 }) },
            new JsonObject { ["type"] = "message", ["subtype"] = "channel_join", ["user"] = "U03", ["text"] = "<@U03> has joined the channel", ["ts"] = Ts(Day1) },
            new JsonObject { ["type"] = "message", ["user"] = "U03", ["text"] = "回复：我同意 see <https://example.com/doc|the doc>", ["ts"] = Ts(Day1.AddMinutes(3)), ["thread_ts"] = parent },
        };
        var general2 = new JsonArray
        {
            new JsonObject { ["type"] = "message", ["subtype"] = "thread_broadcast", ["user"] = "U02", ["text"] = "late reply in thread", ["ts"] = Ts(Day1.AddDays(1)), ["thread_ts"] = parent,
                ["edited"] = new JsonObject { ["user"] = "U02", ["ts"] = Ts(Day1.AddDays(1).AddMinutes(5)) } },
            new JsonObject { ["type"] = "message", ["subtype"] = "bot_message", ["bot_id"] = "B01", ["username"] = "deploybot", ["text"] = "deployed v1.2", ["ts"] = Ts(Day1.AddDays(1), 1) },
            new JsonObject { ["type"] = "message", ["user"] = "U01", ["text"] = "", ["ts"] = Ts(Day1.AddDays(1), 2),
                ["files"] = new JsonArray(new JsonObject { ["id"] = "F1", ["name"] = "chart.png", ["url_private"] = "https://files.example/chart.png" }) },
        };
        var old = new JsonArray { new JsonObject { ["type"] = "message", ["user"] = "U01", ["text"] = "archived talk", ["ts"] = Ts(Day1.AddDays(-10)) } };
        var secret = new JsonArray { new JsonObject { ["type"] = "message", ["user"] = "U03", ["text"] = "秘密计划 number one", ["ts"] = Ts(Day1.AddHours(2)) } };

        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, JsonNode node)
            {
                using var w = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
                w.Write(node.ToJsonString());
            }
            Add("users.json", users);
            Add("channels.json", channels);
            Add("groups.json", groups);
            Add("general/2024-03-01.json", general1);
            Add("general/2024-03-02.json", general2);
            Add("old-stuff/2024-02-20.json", old);
            Add("secret-plans/2024-03-01.json", secret);
        }
        return ms.ToArray();
    }

    [Fact]
    public async Task An_export_imports_users_channels_messages_threads_and_reactions_and_a_second_run_adds_nothing()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var localAlice = await h.RegisterAsync("alice"); // a local account with the same name is never merged into
        var file = Path.Combine(h.DataDir, "export.zip");
        await File.WriteAllBytesAsync(file, MakeExport());

        var first = await h.Get<SlackImport>().ImportAsync(file, "(test)");
        Assert.Equal((4, 3, 8, 2, 3, 0, 1, 1), (first.UsersAdded, first.RoomsAdded, first.MessagesAdded, first.ThreadReplies, first.Reactions,
            first.AlreadyThere, first.Skipped, first.ReactionsSkipped)); // 3 users + the bot; the join is skipped; partyparrot has no emoji
        Assert.Contains("1 reactions skipped", first.ToString());

        var users = await h.WithDbAsync(db => db.Users.AsNoTracking().ToDictionaryAsync(u => u.Name));
        Assert.True(users.ContainsKey("alice-slack"), string.Join(", ", users.Keys));
        Assert.Null(users["alice-slack"].PasswordHash);
        Assert.Equal(UserKind.Member, users["Bob B"].Kind);
        Assert.Equal(UserKind.Bot, users["deploybot"].Kind);
        Assert.True(users.ContainsKey("王芳"));
        Assert.Equal(localAlice.Id, users["alice"].Id);

        var rooms = await h.WithDbAsync(db => db.Rooms.AsNoTracking().ToDictionaryAsync(r => r.Slug));
        Assert.Equal(("general", "Company-wide", false), (rooms["general"].Name, rooms["general"].Topic, rooms["general"].IsPrivate));
        Assert.True(rooms["old-stuff"].IsArchived);
        Assert.True(rooms["secret-plans"].IsPrivate);
        Assert.True(await h.Rooms.Directory.IsMemberAsync(rooms["secret-plans"].Id, users["王芳"].Id));
        Assert.False(await h.Rooms.Directory.IsMemberAsync(rooms["secret-plans"].Id, users["Bob B"].Id));

        // Messages in ts order with their own times, Slack markup made plain.
        var general = await h.RowsAsync(rooms["general"].Id);
        Assert.Equal(["first: release plan", "second: hi @alice-slack & welcome", "回复：我同意 see the doc (https://example.com/doc)",
            "late reply in thread", "deployed v1.2", "[file: chart.png]"], general.Select(m => m.Text));
        Assert.Equal(Day1.AddMinutes(1), general[0].CreatedAt);
        Assert.Equal(Day1.AddDays(1).AddMinutes(5), general[3].EditedAt);
        Assert.Equal($"slack:C01:{Ts(Day1.AddMinutes(1))}", general[0].ClientMsgId);
        Assert.Equal(users["deploybot"].Id, general[4].SenderId);

        // Slack threads are real threads: replies of the parent, out of the room's page unless broadcast.
        Assert.Equal((null, general[0].Id, general[0].Id), (general[0].ThreadId, general[2].ThreadId, general[3].ThreadId));
        Assert.Equal((false, true), (general[2].AlsoInRoom, general[3].AlsoInRoom));
        var page = await h.Get<ChatHistory>().GetHistoryAsync(rooms["general"].Id);
        Assert.Equal(["first: release plan", "second: hi @alice-slack & welcome", "late reply in thread", "deployed v1.2", "[file: chart.png]"],
            page.Select(m => m.Text));
        Assert.Equal(2, page[0].Thread?.Replies);
        var wang = users["王芳"];
        var wangRef = new Chat.UserRef(wang.Id, wang.Name, wang.Kind);
        var thread = await h.Get<ChatThreads>().ThreadAsync(wangRef, general[0].Id);
        Assert.True(thread.Ok, thread.Error?.Message);
        Assert.Equal(["回复：我同意 see the doc (https://example.com/doc)", "late reply in thread"], thread.Value.Replies.Select(m => m.Text));
        // The parent's author and the repliers follow it; the imported replies count as read.
        var followers = await h.WithDbAsync(db => db.ThreadFollowers.AsNoTracking().Where(f => f.ThreadId == general[0].Id).ToListAsync());
        Assert.Equal(new[] { users["alice-slack"].Id, users["Bob B"].Id, wang.Id }.Order(), followers.Select(f => f.UserId).Order());
        Assert.All(followers, f => Assert.Equal(general[3].Id, f.LastReadId));
        var followed = Assert.Single(await h.Get<ChatThreads>().ThreadsAsync(wangRef));
        Assert.Equal((general[0].Id, 2, 0), (followed.Root.Id, followed.Replies, followed.Unread));

        // Slack reactions are real reactions (Slack's order), the unmapped name kept aside in the mapping, not as text.
        Assert.Equal([("🎉", new[] { "Bob B", "王芳" }), ("👍", new[] { "alice-slack" })],
            page[0].Reactions!.Select(r => (r.Emoji, r.Users.Select(u => u.Name).ToArray())));
        Assert.Equal(3, await h.WithDbAsync(db => db.Reactions.CountAsync()));
        var mappings = await h.WithDbAsync(db => db.ImportMappings.AsNoTracking().Where(m => m.Kind == "message").ToDictionaryAsync(m => m.LocalId));
        Assert.Equal(general[0].Id, JsonNode.Parse(mappings[general[2].Id].Data!)!["thread_parent"]!.GetValue<long>());
        Assert.Equal("partyparrot", JsonNode.Parse(mappings[general[0].Id].Data!)!["skipped_reactions"]![0]!["name"]!.GetValue<string>());

        // Search finds imported messages; the import is in the audit log.
        Assert.Single(await h.Search.SearchAsync(wangRef, "秘密计划"));
        Assert.Equal(1, await h.WithDbAsync(db => db.AuditLog.CountAsync(a => a.Action == SlackImport.AuditAction)));

        // Twice: nothing new.
        static async Task<(int, int, int, int, int, int)> Count(ChatDbContext db) => (await db.Users.CountAsync(), await db.Rooms.CountAsync(),
            await db.Messages.CountAsync(), await db.RoomMembers.CountAsync(), await db.Reactions.CountAsync(), await db.ThreadFollowers.CountAsync());
        var counts = await h.WithDbAsync(Count);
        var second = await h.Get<SlackImport>().ImportAsync(file, "(test)");
        Assert.Equal((0, 0, 0, 0, 0, 8), (second.UsersAdded, second.RoomsAdded, second.MessagesAdded, second.ThreadReplies, second.Reactions, second.AlreadyThere));
        Assert.Equal(counts, await h.WithDbAsync(Count));

        // An imported user signs in once an admin has set a password.
        Assert.False((await h.Get<ChatAccounts>().SignInOrRegisterAsync("alice-slack", "whatever-1", null)).Succeeded);
        Assert.True((await h.Get<AdminAccounts>().CreateAsync("root", "root-password-1", new AdminActor(0, "(test)", null))).Ok);
        var root = await h.WithDbAsync(db => db.Admins.AsNoTracking().SingleAsync());
        var reset = await h.Get<AdminChatUsers>().ResetPasswordAsync(new AdminCaller(PortalClaims.ForAdmin(root), "127.0.0.1"), users["alice-slack"].Id);
        Assert.True(reset.Ok, reset.Status.Message);
        Assert.Equal(SignInStatus.SignedIn, (await h.Get<ChatAccounts>().SignInOrRegisterAsync("alice-slack", reset.Value!, null)).Status);
    }

    [Fact]
    public async Task A_file_that_is_not_a_slack_export_is_refused_with_a_reason_and_changes_nothing()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var notZip = Path.Combine(h.DataDir, "junk.zip");
        await File.WriteAllTextAsync(notZip, "hello");
        var e1 = await Assert.ThrowsAsync<SlackImportException>(() => h.Get<SlackImport>().ImportAsync(notZip, "(test)"));
        Assert.Contains("not a ZIP", e1.Message);

        var noUsers = Path.Combine(h.DataDir, "other.zip");
        using (var zip = ZipFile.Open(noUsers, ZipArchiveMode.Create))
        {
            using var w = new StreamWriter(zip.CreateEntry("readme.txt").Open());
            w.Write("hi");
        }
        var e2 = await Assert.ThrowsAsync<SlackImportException>(() => h.Get<SlackImport>().ImportAsync(noUsers, "(test)"));
        Assert.Contains("users.json", e2.Message);

        var badJson = Path.Combine(h.DataDir, "bad.zip");
        using (var zip = ZipFile.Open(badJson, ZipArchiveMode.Create))
        {
            using (var w = new StreamWriter(zip.CreateEntry("users.json").Open())) w.Write("[{\"id\": \"U1\"");
            using (var w = new StreamWriter(zip.CreateEntry("channels.json").Open())) w.Write("[]");
        }
        var e3 = await Assert.ThrowsAsync<SlackImportException>(() => h.Get<SlackImport>().ImportAsync(badJson, "(test)"));
        Assert.Contains("not valid JSON", e3.Message);
        Assert.Equal(0, await h.WithDbAsync(db => db.ImportMappings.CountAsync()));
    }

    [Fact]
    public async Task The_import_slack_command_imports_and_a_second_run_adds_nothing()
    {
        var dir = TempDir.Create("slackcli");
        try
        {
            var file = Path.Combine(dir, "export.zip");
            await File.WriteAllBytesAsync(file, MakeExport());
            var first = await AdminCommandLine.RunAsync(dir, null, "import-slack", file);
            Assert.True(first.ExitCode == 0, first.Output + first.Error);
            Assert.Contains("4 users, 3 rooms, 8 messages", first.Output);
            var second = await AdminCommandLine.RunAsync(dir, null, "import-slack", file);
            Assert.True(second.ExitCode == 0, second.Output + second.Error);
            Assert.Contains("0 users, 0 rooms, 0 messages", second.Output);
            Assert.Contains("8 messages were already imported", second.Output);
            var missing = await AdminCommandLine.RunAsync(dir, null, "import-slack", Path.Combine(dir, "nope.zip"));
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("does not exist", missing.Error);
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    [Fact]
    public void Slack_reaction_names_map_to_one_emoji_each_and_unknown_names_to_none()
    {
        Assert.All(SlackEmoji.Table, kv => Assert.True(Emoji.IsEmoji(kv.Value), $"{kv.Key} → {kv.Value}"));
        Assert.Equal(("👍", "👍", "❤️", "🎉"), (SlackEmoji.Map("+1"), SlackEmoji.Map("thumbsup"), SlackEmoji.Map("heart"), SlackEmoji.Map(":tada:")));
        Assert.Equal("👍🏽", SlackEmoji.Map("thumbsup::skin-tone-4"));
        Assert.True(Emoji.IsEmoji(SlackEmoji.Map("thumbsup::skin-tone-4")));
        Assert.Null(SlackEmoji.Map("partyparrot"));
        Assert.Null(SlackEmoji.Map(""));
        Assert.Null(SlackEmoji.Map(null));
    }
}
