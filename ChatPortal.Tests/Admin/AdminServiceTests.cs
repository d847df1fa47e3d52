using System.Security.Claims;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Admin;

/// <summary>The back office's services on the real core: authorization, effects on the core, one audit entry per action.</summary>
public sealed class AdminServiceTests
{
    [Fact]
    public async Task Every_service_refuses_callers_that_are_not_enabled_admins_and_changes_nothing()
    {
        await using var h = await AdminHarness.StartAsync(new SilentBot("helper"));
        var (admin, good) = await h.CreateAdminAsync();
        var user = await h.CreateUserAsync("target");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        var chatPrincipal = PortalClaims.ForChatUser(new ChatUser { Id = user.Id, Name = user.Name, NormalizedName = "TARGET", SecurityStamp = "x" });
        var staleStamp = new AdminCaller(PortalClaims.ForAdmin(new AdminUser
        {
            Id = admin.Id,
            Name = admin.Name,
            NormalizedName = admin.NormalizedName,
            PasswordHash = "",
            SecurityStamp = "old-stamp",
        }), null);
        AdminCaller[] refused = [AdminHarness.Anonymous, new(chatPrincipal, null), staleStamp, null!];
        var before = await h.AuditCountAsync();

        foreach (var caller in refused)
        {
            var rooms = h.Get<AdminRooms>();
            var users = h.Get<AdminChatUsers>();
            var mod = h.Get<AdminModeration>();
            Func<Task>[] actions =
            [
                () => rooms.ListAsync(caller),
                () => rooms.CreateAsync(caller, new RoomInput { Name = "Nope", Slug = "nope" }),
                () => rooms.UpdateAsync(caller, lobby.Id, new RoomInput { Name = "Hacked", Slug = "lobby" }),
                () => rooms.SetArchivedAsync(caller, lobby.Id, true),
                () => rooms.DeleteAsync(caller, lobby.Id),
                () => rooms.AddMemberAsync(caller, lobby.Id, "target"),
                () => users.SearchAsync(caller, null, 0, 10),
                () => users.BanAsync(caller, user.Id, "no"),
                () => users.MuteAsync(caller, user.Id, TimeSpan.FromHours(1)),
                () => users.KickAsync(caller, user.Id),
                () => users.ResetPasswordAsync(caller, user.Id),
                () => mod.FindAsync(caller, new ModerationFilter()),
                () => mod.DeleteMessageAsync(caller, 1),
                () => mod.SaveWordFilterAsync(caller, WordFilterMode.Reject, "x"),
                () => h.Get<AdminBots>().SetAsync(caller, "helper", null, false),
                () => h.Get<AdminAudit>().SearchAsync(caller, null, 0, 10),
                () => h.Get<AdminAccounts>().CreateAsync(caller, "intruder", "intruder-pass"),
                () => h.Get<AdminAccounts>().ListAsync(caller),
                () => h.Get<DashboardFeed>().GetAsync(caller),
            ];
            foreach (var action in actions) await Assert.ThrowsAsync<AdminAccessDeniedException>(action);
        }

        Assert.Equal(before, await h.AuditCountAsync());
        Assert.False(await h.Db(db => db.Rooms.AnyAsync(r => r.Slug == "nope")));
        Assert.Equal("Lobby", (await h.Db(db => db.Rooms.SingleAsync(r => r.Slug == "lobby"))).Name);
        Assert.False((await h.Users.GetAsync(user.Id))!.Banned);
        Assert.Null(await h.Get<BotSwitches>().GetAsync("helper", null));
        Assert.Equal(1, await h.Db(db => db.Admins.CountAsync()));
        // The good caller is let through.
        Assert.NotEmpty(await h.Get<AdminRooms>().ListAsync(good));
    }

    [Fact]
    public async Task A_disabled_admin_is_refused_at_once_even_with_a_valid_cookie()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync("boss");
        var (helper, helperCaller) = await h.CreateAdminAsync("helper");
        Assert.NotEmpty(await h.Get<AdminRooms>().ListAsync(helperCaller));

        var self = await h.Get<AdminAccounts>().SetDisabledAsync(boss, (await h.Db(db => db.Admins.SingleAsync(a => a.Name == "boss"))).Id, true);
        Assert.Equal("self", self.ErrorCode);
        Assert.True((await h.Get<AdminAccounts>().SetDisabledAsync(boss, helper.Id, true)).Ok);

        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => h.Get<AdminRooms>().ListAsync(helperCaller));
        Assert.False(await AuthSetup.IsAdminValidAsync(h.Get<IDbContextFactory<ChatDbContext>>(), helperCaller.Principal));
        Assert.Equal(AdminSignInStatus.Failed, (await h.Get<AdminAccounts>().SignInAsync("helper", "boss-password-1", "10.0.0.1")).Status);
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.AdminDisable));

        // Enabled again, the old cookie still does not come back (the stamp changed); a new sign-in works.
        Assert.True((await h.Get<AdminAccounts>().SetDisabledAsync(boss, helper.Id, false)).Ok);
        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => h.Get<AdminRooms>().ListAsync(helperCaller));
        Assert.True((await h.Get<AdminAccounts>().SignInAsync("helper", "boss-password-1", "10.0.0.1")).Succeeded);
    }

    [Fact]
    public async Task Admin_sign_in_locks_after_repeated_failures_and_throttles_an_address()
    {
        await using var h = await AdminHarness.StartAsync();
        await h.CreateAdminAsync("boss", "right-password");
        var accounts = h.Get<AdminAccounts>();
        for (var i = 0; i < AdminAccounts.MaxFailures - 1; i++)
            Assert.Equal(AdminSignInStatus.Failed, (await accounts.SignInAsync("boss", "wrong-password", "10.0.0.1")).Status);
        Assert.Equal(AdminSignInStatus.LockedOut, (await accounts.SignInAsync("boss", "wrong-password", "10.0.0.1")).Status);
        // Locked: even the right password is refused for now.
        Assert.Equal(AdminSignInStatus.LockedOut, (await accounts.SignInAsync("boss", "right-password", "10.0.0.2")).Status);
        Assert.Equal(AdminAccounts.MaxFailures, await h.AuditCountAsync(AuditActions.SignInFailed));

        // One address guessing many names is slowed down too (unknown names included).
        var throttled = 0;
        for (var i = 0; i < AdminAccounts.AttemptsPerWindow + 5; i++)
        {
            if ((await accounts.SignInAsync($"guess{i}", "whatever-pass", "10.6.6.6")).Status == AdminSignInStatus.Throttled) throttled++;
        }
        Assert.True(throttled >= 5, $"throttled {throttled}");
        Assert.Equal(AdminSignInStatus.Failed, (await accounts.SignInAsync("guess", "whatever-pass", "10.7.7.7")).Status);
    }

    [Fact]
    public async Task Admin_accounts_are_validated_and_a_chat_account_is_not_an_admin_account()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var accounts = h.Get<AdminAccounts>();
        Assert.Equal("password_invalid", (await accounts.CreateAsync(boss, "newbie", "short")).ErrorCode);
        Assert.Equal("name_invalid", (await accounts.CreateAsync(boss, "<script>", "long-enough-pass")).ErrorCode);
        Assert.True((await accounts.CreateAsync(boss, "newbie", "long-enough-pass")).Ok);
        Assert.Equal("name_taken", (await accounts.CreateAsync(boss, "NEWBIE", "long-enough-pass")).ErrorCode);
        Assert.Equal(2, await h.AuditCountAsync(AuditActions.AdminCreate)); // boss (made by the harness) and newbie; refusals leave none

        await h.CreateUserAsync("chatter", "chatter-pass");
        Assert.Equal(AdminSignInStatus.Failed, (await accounts.SignInAsync("chatter", "chatter-pass", "10.0.0.3")).Status);
        var entry = await h.Db(db => db.AuditLog.OrderByDescending(a => a.Id).FirstAsync());
        Assert.Equal(AuditActions.SignInFailed, entry.Action);
        Assert.Equal("10.0.0.3", entry.RemoteIp);
    }

    [Fact]
    public async Task Rooms_are_created_edited_archived_and_deleted_with_one_audit_entry_each()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var rooms = h.Get<AdminRooms>();
        var alice = await h.CreateUserAsync("alice");

        Assert.Equal("slug_invalid", (await rooms.CreateAsync(boss, new RoomInput { Name = "Bad", Slug = "Has Spaces" })).Status.ErrorCode);
        Assert.Equal("slug_invalid", (await rooms.CreateAsync(boss, new RoomInput { Name = "Bad", Slug = "dm-1-2" })).Status.ErrorCode);
        Assert.Equal("name_required", (await rooms.CreateAsync(boss, new RoomInput { Name = " ", Slug = "ok-slug" })).Status.ErrorCode);
        Assert.Equal("slug_taken", (await rooms.CreateAsync(boss, new RoomInput { Name = "Lobby 2", Slug = "lobby" })).Status.ErrorCode);
        Assert.Equal(1, await h.AuditCountAsync()); // only the harness's admin.create

        var created = await rooms.CreateAsync(boss, new RoomInput { Name = "技术 Tech", Slug = "tech", Topic = "talk", AllowGuests = true });
        Assert.True(created.Ok, created.Status.Message);
        var tech = created.Value!;
        Assert.Equal(tech, await h.Rooms.FindAsync("tech"));
        Assert.True((await h.Rooms.OpenAsync(alice, "tech")).Ok);
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomCreate));

        // Viewers of the room hear about the change through the core.
        var viewer = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(tech.Id, viewer);
        var updated = await rooms.UpdateAsync(boss, tech.Id, new RoomInput { Name = "Tech talk", Slug = "tech-talk", IsPrivate = true, AllowGuests = true });
        Assert.True(updated.Ok);
        Assert.False(updated.Value!.AllowGuests); // private rooms never take guests
        var changed = (await viewer.WaitForAsync<RoomChanged>(1))[0];
        Assert.Equal("tech-talk", changed.Room.Slug);
        Assert.True(changed.Room.IsPrivate);
        Assert.Null(await h.Rooms.FindAsync("tech"));
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomUpdate));

        Assert.True((await rooms.SetArchivedAsync(boss, tech.Id, true)).Ok);
        Assert.Equal(ChatError.Archived, (await h.Commands.PostAsync(alice, tech.Id, "hello")).Error);
        Assert.True((await rooms.SetArchivedAsync(boss, tech.Id, false)).Ok);
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomArchive));
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomUnarchive));

        var lobby = (await h.Rooms.GetDefaultAsync())!;
        Assert.Equal("default_room", (await rooms.DeleteAsync(boss, lobby.Id)).ErrorCode);
        Assert.Equal("default_room", (await rooms.SetArchivedAsync(boss, lobby.Id, true)).ErrorCode);
        Assert.Equal("default_room", (await rooms.UpdateAsync(boss, lobby.Id, new RoomInput { Name = "Lobby", Slug = "hall" })).Status.ErrorCode);

        await h.Rooms.EnsureMemberAsync(tech.Id, alice);
        Assert.True((await h.Commands.PostAsync(alice, tech.Id, "soon gone")).Ok);
        Assert.True((await rooms.DeleteAsync(boss, tech.Id)).Ok);
        Assert.Null(await h.Rooms.GetAsync(tech.Id));
        Assert.False(await h.Db(db => db.Messages.AnyAsync(m => m.RoomId == tech.Id)));
        Assert.False(await h.Db(db => db.RoomMembers.AnyAsync(m => m.RoomId == tech.Id)));
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomDelete));
        var entry = await h.Db(db => db.AuditLog.SingleAsync(a => a.Action == AuditActions.RoomDelete));
        Assert.Equal("boss", entry.AdminName);
        Assert.Equal("10.1.2.3", entry.RemoteIp);
        Assert.Equal("/rooms/tech-talk", entry.Target);
    }

    [Fact]
    public async Task Private_room_members_are_added_and_removed_through_the_core()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var rooms = h.Get<AdminRooms>();
        var bob = await h.CreateUserAsync("bob");
        var secret = (await rooms.CreateAsync(boss, new RoomInput { Name = "Secret", Slug = "secret", IsPrivate = true })).Value!;
        Assert.False(await h.CanReadAsync(bob, secret));
        Assert.Equal("user_not_found", (await rooms.AddMemberAsync(boss, secret.Id, "nobody")).ErrorCode);

        Assert.True((await rooms.AddMemberAsync(boss, secret.Id, "BOB")).Ok);
        Assert.True((await rooms.AddMemberAsync(boss, secret.Id, "bob")).Ok); // already a member: no second entry
        Assert.True(await h.CanReadAsync(bob, secret));
        Assert.Equal(["bob"], (await rooms.MembersAsync(boss, secret.Id)).Select(m => m.User.Name));
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.MemberAdd));

        Assert.True((await rooms.RemoveMemberAsync(boss, secret.Id, bob.Id)).Ok);
        Assert.False(await h.CanReadAsync(bob, secret));
        Assert.Equal("not_found", (await h.Commands.PostAsync(bob, secret.Id, "let me in")).Error!.Code);
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.MemberRemove));

        // The invite link is the other way in; a reset code stops the old link.
        var old = secret.InviteCode;
        var reset = (await rooms.ResetInviteAsync(boss, secret.Id)).Value!;
        Assert.NotEqual(old, reset.InviteCode);
        Assert.False((await h.Rooms.JoinByInviteAsync(bob, old)).Ok);
        Assert.True((await h.Rooms.JoinByInviteAsync(bob, reset.InviteCode)).Ok);
        Assert.True(await h.CanReadAsync(bob, secret));
    }

    [Fact]
    public async Task Mute_ban_kick_and_password_reset_take_effect_in_the_core_at_once()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var users = h.Get<AdminChatUsers>();
        var accounts = h.Get<ChatAccounts>();
        var carol = await h.CreateUserAsync("carol", "carol-pass");
        var lobby = (await h.Rooms.OpenAsync(carol, "lobby")).Value!; // carol becomes a member
        Assert.True((await h.Commands.PostAsync(carol, lobby.Id, "before")).Ok); // the directory has cached carol

        Assert.True((await users.MuteAsync(boss, carol.Id, TimeSpan.FromMinutes(10))).Ok);
        Assert.Equal(ChatError.Muted, (await h.Commands.PostAsync(carol, lobby.Id, "muted?")).Error);
        Assert.True((await users.UnmuteAsync(boss, carol.Id)).Ok);
        Assert.True((await h.Commands.PostAsync(carol, lobby.Id, "free again")).Ok);
        Assert.Equal("mute_duration", (await users.MuteAsync(boss, carol.Id, TimeSpan.Zero)).ErrorCode);

        var channel = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeUser(carol.Id, channel);
        var stampBefore = (await h.Users.GetAsync(carol.Id))!.SecurityStamp;
        Assert.True((await users.BanAsync(boss, carol.Id, "spam")).Ok);
        Assert.Equal("banned", (await channel.WaitForAsync<SessionRevoked>(1))[0].Reason);
        var banned = (await h.Users.GetAsync(carol.Id))!;
        Assert.True(banned.Banned);
        Assert.NotEqual(stampBefore, banned.SecurityStamp);
        Assert.Equal(ChatError.Banned, (await h.Commands.PostAsync(carol, lobby.Id, "still here")).Error);
        Assert.Equal(SignInStatus.Banned, (await accounts.SignInOrRegisterAsync("carol", "carol-pass", null)).Status);
        var details = (await users.GetAsync(boss, carol.Id))!;
        Assert.Equal("spam", details.BanReason);
        Assert.Equal("192.0.2.7", details.LastIp);
        Assert.Contains(details.Rooms, r => r.Slug == "lobby");

        Assert.True((await users.UnbanAsync(boss, carol.Id)).Ok);
        Assert.True((await accounts.SignInOrRegisterAsync("carol", "carol-pass", null)).Succeeded);

        var stamp2 = (await h.Users.GetAsync(carol.Id))!.SecurityStamp;
        Assert.True((await users.KickAsync(boss, carol.Id)).Ok);
        Assert.Equal("kicked", (await channel.WaitForAsync<SessionRevoked>(2))[1].Reason);
        Assert.NotEqual(stamp2, (await h.Users.GetAsync(carol.Id))!.SecurityStamp);

        var reset = await users.ResetPasswordAsync(boss, carol.Id);
        Assert.True(reset.Ok);
        Assert.Equal(SignInStatus.WrongPassword, (await accounts.SignInOrRegisterAsync("carol", "carol-pass", null)).Status);
        Assert.True((await accounts.SignInOrRegisterAsync("carol", reset.Value, null)).Succeeded);
        Assert.Equal(3, (await channel.WaitForAsync<SessionRevoked>(3)).Count);

        foreach (var action in new[] { AuditActions.UserMute, AuditActions.UserUnmute, AuditActions.UserBan, AuditActions.UserUnban, AuditActions.UserKick, AuditActions.UserResetPassword })
            Assert.Equal(1, await h.AuditCountAsync(action));
        var search = await users.SearchAsync(boss, "car", 0, 10);
        Assert.Equal(["carol"], search.Items.Select(u => u.Name));
    }

    [Fact]
    public async Task A_moderator_delete_reaches_live_views_history_and_catch_up()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var mod = h.Get<AdminModeration>();
        var dave = await h.CreateUserAsync("dave");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        var keep = (await h.Commands.PostAsync(dave, lobby.Id, "a fine message")).Value!;
        var bad = (await h.Commands.PostAsync(dave, lobby.Id, "a very rude message")).Value!;
        var seenUpTo = keep.Id;
        var live = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(lobby.Id, live);

        var found = await mod.FindAsync(boss, new ModerationFilter(Text: "rude"));
        Assert.Equal([bad.Id], found.Select(f => f.Message.Id));
        Assert.Equal([bad.Id], (await mod.FindAsync(boss, new ModerationFilter(Sender: "DAVE", BeforeId: bad.Id + 1, RoomId: lobby.Id))).Take(1).Select(f => f.Message.Id));

        Assert.True((await mod.DeleteMessageAsync(boss, bad.Id)).Ok);
        var deleted = (await live.WaitForAsync<MessageDeleted>(1))[0];
        Assert.Equal(bad.Id, deleted.MessageId);
        Assert.Equal(AdminModeration.ModeratorName, deleted.By.Name);

        var history = await h.History.GetHistoryAsync(lobby.Id);
        var gone = history.Single(m => m.Id == bad.Id);
        Assert.True(gone.IsDeleted);
        Assert.Equal("", gone.Text);
        Assert.DoesNotContain(history, m => m.Text.Contains("rude", StringComparison.Ordinal));
        Assert.Equal("a fine message", history.Single(m => m.Id == keep.Id).Text);
        var catchUp = await h.History.GetStoredEventsAfterAsync(lobby.Id, seenUpTo);
        Assert.Contains(catchUp, e => e is MessageDeleted d && d.MessageId == bad.Id);
        Assert.DoesNotContain(catchUp, e => e is MessagePosted p && p.Message.Text.Contains("rude", StringComparison.Ordinal));
        Assert.Empty(await mod.FindAsync(boss, new ModerationFilter(Text: "rude")));

        Assert.Equal("message_not_found", (await mod.DeleteMessageAsync(boss, bad.Id)).ErrorCode);
        Assert.Equal(1, await h.AuditCountAsync(AuditActions.MessageDelete));
        var entry = await h.Db(db => db.AuditLog.SingleAsync(a => a.Action == AuditActions.MessageDelete));
        Assert.Contains("rude", entry.Detail);
    }

    [Fact]
    public async Task Word_filter_masks_or_rejects_posts_and_edits_in_the_core()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var mod = h.Get<AdminModeration>();
        var erin = await h.CreateUserAsync("erin");
        var lobby = (await h.Rooms.GetDefaultAsync())!;

        Assert.Equal("darn it", (await h.Commands.PostAsync(erin, lobby.Id, "darn it")).Value!.Text);
        Assert.True((await mod.SaveWordFilterAsync(boss, WordFilterMode.Mask, "darn\n 坏蛋 \n\nDARN")).Ok);
        Assert.Equal(new[] { "darn", "坏蛋" }, (await mod.GetWordFilterAsync(boss)).Words);
        Assert.Equal("**** it, 你这个**!", (await h.Commands.PostAsync(erin, lobby.Id, "DaRn it, 你这个坏蛋!")).Value!.Text);
        var post = (await h.Commands.PostAsync(erin, lobby.Id, "clean")).Value!;
        Assert.Equal("edited ****", (await h.Commands.EditAsync(erin, post.Id, "edited darn")).Value!.Text);

        Assert.True((await mod.SaveWordFilterAsync(boss, WordFilterMode.Reject, "darn")).Ok);
        var refused = await h.Commands.PostAsync(erin, lobby.Id, "oh darn");
        Assert.Equal("filtered", refused.Error?.Code);
        Assert.Equal("filtered", (await h.Commands.EditAsync(erin, post.Id, "darn again")).Error?.Code);
        Assert.False(await h.Db(db => db.Messages.AnyAsync(m => m.Text == "oh darn")));

        Assert.Equal("filter_invalid", (await mod.SaveWordFilterAsync(boss, WordFilterMode.Mask, new string('x', 51))).ErrorCode);
        Assert.True((await mod.SaveWordFilterAsync(boss, WordFilterMode.Off, "darn")).Ok);
        Assert.Equal("darn", (await h.Commands.PostAsync(erin, lobby.Id, "darn")).Value!.Text);
        Assert.Equal(3, await h.AuditCountAsync(AuditActions.WordFilterUpdate));
    }

    [Fact]
    public async Task Bot_switches_are_set_per_room_and_globally()
    {
        await using var h = await AdminHarness.StartAsync(new SilentBot("小爱同学"), new SilentBot("echo"));
        var (_, boss) = await h.CreateAdminAsync();
        var bots = h.Get<AdminBots>();
        var switches = h.Get<BotSwitches>();
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        Assert.Equal(["echo", "小爱同学"], bots.BotNames);

        // On by default (product feature 6): nothing set, the bots answer.
        Assert.True(await switches.IsEnabledAsync("echo", lobby.Id));
        Assert.True(await switches.AnyEnabledAsync("echo"));
        Assert.True((await bots.SetAsync(boss, "小爱同学", lobby, false)).Ok);
        Assert.False(await switches.IsEnabledAsync("小爱同学", lobby.Id));
        Assert.True((await bots.SetAsync(boss, "echo", null, true)).Ok);
        Assert.True(await switches.IsEnabledAsync("echo", lobby.Id));
        Assert.True(await switches.AnyEnabledAsync("echo"));
        Assert.True((await bots.SetAsync(boss, "echo", null, false)).Ok);
        Assert.False(await switches.IsEnabledAsync("echo", lobby.Id));
        Assert.True((await bots.SetAsync(boss, "echo", lobby, true)).Ok);
        Assert.True(await switches.IsEnabledAsync("echo", lobby.Id)); // the room's setting wins
        Assert.True(await switches.AnyEnabledAsync("echo")); // on in one room: the bot connects
        Assert.Equal("bot_not_found", (await bots.SetAsync(boss, "ghost", null, true)).ErrorCode);

        var rows = await bots.ListAsync(boss, [lobby]);
        Assert.Equal(false, rows.Single(r => r.Bot == "echo").Global);
        Assert.Equal(true, rows.Single(r => r.Bot == "echo").Rooms[lobby.Id]);
        Assert.Equal(4, await h.AuditCountAsync(AuditActions.BotSwitch));
    }

    [Fact]
    public async Task Dashboard_counts_messages_and_pushes_snapshots_to_subscribers()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var feed = h.Get<DashboardFeed>();
        var frank = await h.CreateUserAsync("frank");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        Assert.True((await h.Commands.PostAsync(frank, lobby.Id, "one")).Ok);
        var first = await feed.GetAsync(boss);
        Assert.Equal(1, first.MessagesToday);
        Assert.Equal(1, first.Rooms);
        Assert.Equal(DashboardFeed.Minutes, first.MessagesPerMinute.Count);

        var pushed = new List<DashboardSnapshot>();
        using var sub = await feed.SubscribeAsync(boss, s => { lock (pushed) pushed.Add(s); });
        using var online = h.EnterRoom(lobby.Id, frank);
        Assert.True((await h.Commands.PostAsync(frank, lobby.Id, "two")).Ok);
        Assert.True((await h.Commands.PostAsync(frank, lobby.Id, "three")).Ok);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        DashboardSnapshot? latest = null;
        while (DateTime.UtcNow < deadline)
        {
            lock (pushed) latest = pushed.LastOrDefault();
            if (latest?.MessagesToday == 3) break;
            await Task.Delay(100);
        }
        Assert.NotNull(latest);
        Assert.Equal(3, latest.MessagesToday);
        Assert.Equal(1, latest.OnlineUsers);
        Assert.True(latest.MessagesPerMinute.Sum(m => m.Messages) >= 2);
    }

    [Fact]
    public async Task Audit_log_is_searchable_by_admin_action_target_and_address()
    {
        await using var h = await AdminHarness.StartAsync();
        var (_, boss) = await h.CreateAdminAsync();
        var rooms = h.Get<AdminRooms>();
        for (var i = 0; i < 5; i++)
            Assert.True((await rooms.CreateAsync(boss, new RoomInput { Name = $"Room {i}", Slug = $"room-{i}" })).Ok);
        var audit = h.Get<AdminAudit>();
        var all = await audit.SearchAsync(boss, null, 0, 100);
        Assert.Equal(6, all.Total);
        Assert.True(all.Items[0].Id > all.Items[1].Id); // newest first
        Assert.Equal(1, (await audit.SearchAsync(boss, "/rooms/room-3", 0, 10)).Total);
        Assert.Equal(5, (await audit.SearchAsync(boss, "10.1.2.3", 0, 10)).Total);
        Assert.Equal(5, (await audit.SearchAsync(boss, AuditActions.RoomCreate, 0, 10)).Total);
        Assert.Equal(0, (await audit.SearchAsync(boss, "100%", 0, 10)).Total); // LIKE wildcards are literal
        var page2 = await audit.SearchAsync(boss, null, 1, 4);
        Assert.Equal(2, page2.Items.Count);
    }

    [Fact]
    public void Room_links_use_the_public_settings_or_the_request()
    {
        var room = new RoomInfo(7, "tech", "Tech", null, true, false, false, false, "abc123");
        var fromRequest = RoomLinks.For(room, new Hosting.PortalOptions(), "https://chat.example.com/");
        Assert.Equal("https://chat.example.com/rooms/tech", fromRequest.Web);
        Assert.Equal("wss://chat.example.com/ws?room=tech", fromRequest.WebSocket);
        Assert.Equal("https://chat.example.com/invite/abc123", fromRequest.Invite);

        var configured = RoomLinks.For(room, new Hosting.PortalOptions
        {
            PublicBaseUrl = "https://public.example.org/chat/",
            PublicWebSocketUrl = "wss://ws.example.org/socket",
        }, "http://127.0.0.1:5080/");
        Assert.Equal("https://public.example.org/chat/rooms/tech", configured.Web);
        Assert.Equal("wss://ws.example.org/socket?room=tech", configured.WebSocket);
        Assert.Equal("https://public.example.org/chat/invite/abc123", configured.Invite);
        Assert.Equal("ws://127.0.0.1:5080/ws?room=tech", RoomLinks.For(room, new Hosting.PortalOptions(), "http://127.0.0.1:5080/").WebSocket);
    }
}
