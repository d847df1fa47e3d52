using System.Globalization;
using System.Security.Claims;
using Bunit;
using Bunit.TestDoubles;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Components.Admin;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace ChatPortal.Tests.Admin;

/// <summary>Each admin page rendered with bUnit over the real services and database: it renders, validates, and calls the core.</summary>
public sealed class AdminPagesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A bUnit context whose singletons come from the harness and whose circuit belongs to <paramref name="principal"/>.</summary>
    private static BunitContext NewContext(AdminHarness h, ClaimsPrincipal principal) => NewContext(h.Services, principal);

    /// <summary>The same over any host's services (the integrations page's tests have a host of their own).</summary>
    internal static BunitContext NewContext(IServiceProvider services, ClaimsPrincipal principal)
    {
        CultureInfo.CurrentUICulture = CultureInfo.CurrentCulture = new CultureInfo("en");
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.Services.AddLocalization();
        ctx.Services.AddSingleton<AuthenticationStateProvider>(new FixedAuthState(principal));
        ctx.Services.AddScoped(_ => new ClientAddress { RemoteIp = "203.0.113.5" });
        ctx.Services.AddScoped<AdminSession>();
        ctx.Services.AddFallbackServiceProvider(services);
        ctx.SetRendererInfo(new RendererInfo("Server", isInteractive: true)); // after the services: it builds the renderer
        return ctx;
    }

    private static async Task<(AdminHarness H, BunitContext Ctx, AdminUser Admin)> StartAsync(params IChatBot[] bots)
    {
        var h = await AdminHarness.StartAsync(bots);
        var (admin, caller) = await h.CreateAdminAsync();
        var ctx = NewContext(h, caller.Principal);
        ctx.Render<MudPopoverProvider>();
        return (h, ctx, admin);
    }

    private static async Task DisposeAsync(AdminHarness h, BunitContext ctx)
    {
        await ctx.DisposeAsync();
        await h.DisposeAsync();
    }

    [Fact]
    public async Task Dashboard_shows_the_counters_and_updates_live()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var user = await h.CreateUserAsync("gina");
            var lobby = (await h.Rooms.GetDefaultAsync())!;
            Assert.True((await h.Commands.PostAsync(user, lobby.Id, "hi")).Ok);
            var cut = ctx.Render<DashboardPage>();
            cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("#stat-messages-today").TextContent), Wait);
            Assert.Equal("1", cut.Find("#stat-rooms").TextContent);
            Assert.Contains("Messages per minute", cut.Markup);
            Assert.NotEmpty(cut.FindComponents<MudChart<double>>());

            using var online = h.EnterRoom(lobby.Id, user);
            Assert.True((await h.Commands.PostAsync(user, lobby.Id, "again")).Ok);
            cut.WaitForAssertion(() =>
            {
                Assert.Equal("2", cut.Find("#stat-messages-today").TextContent);
                Assert.Equal("1", cut.Find("#stat-online").TextContent);
            }, TimeSpan.FromSeconds(20));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Rooms_page_validates_then_creates_a_room_and_shows_its_links()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<RoomsPage>();
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-room-row=lobby]")), Wait);

            await cut.Find("#room-new").ClickAsync(new());
            await cut.Find("#room-name").InputAsync(new ChangeEventArgs { Value = "Tech 技术" });
            await cut.Find("#room-slug").InputAsync(new ChangeEventArgs { Value = "Bad Slug" });
            await cut.Find("#room-editor form").SubmitAsync();
            cut.WaitForAssertion(() => Assert.Contains("lowercase letters", cut.Find("#room-editor").TextContent), Wait);
            Assert.Equal(1, await h.Db(db => db.Rooms.CountAsync()));

            await cut.Find("#room-slug").InputAsync(new ChangeEventArgs { Value = "tech" });
            await cut.Find("#room-editor form").SubmitAsync();
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-room-row=tech]")), Wait);
            var room = await h.Rooms.FindAsync("tech");
            Assert.NotNull(room);
            Assert.Equal("Tech 技术", room.Name);
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomCreate));
            Assert.Equal("203.0.113.5", (await h.Db(db => db.AuditLog.SingleAsync(a => a.Action == AuditActions.RoomCreate))).RemoteIp);

            cut.WaitForAssertion(() =>
            {
                Assert.Equal("http://localhost/rooms/tech", cut.Find("#link-web").TextContent);
                Assert.Equal("ws://localhost/ws?room=tech", cut.Find("#link-ws").TextContent);
                Assert.Equal($"http://localhost/invite/{room.InviteCode}", cut.Find("#link-invite").TextContent);
            }, Wait);
            await cut.Find("#copy-invite").ClickAsync(new());
            Assert.Contains(ctx.JSInterop.Invocations, i => i.Identifier == "navigator.clipboard.writeText" && Equals(i.Arguments[0], $"http://localhost/invite/{room.InviteCode}"));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Rooms_page_archives_after_confirmation_and_manages_private_members()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var caller = await h.Get<AdminGuard>().RequireAsync(await ctx.Services.GetRequiredService<AdminSession>().CallerAsync());
            var session = await ctx.Services.GetRequiredService<AdminSession>().CallerAsync();
            var secret = (await h.Get<AdminRooms>().CreateAsync(session, new RoomInput { Name = "Secret", Slug = "secret", IsPrivate = true })).Value!;
            var hal = await h.CreateUserAsync("hal");
            var dialogs = ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<RoomsPage>();
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-room-row=secret]")), Wait);
            await cut.Find("[data-room-row=secret]").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#member-name")), Wait);

            await cut.Find("#member-name").InputAsync(new ChangeEventArgs { Value = "hal" });
            await cut.Find("#member-add").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-member=hal]")), Wait);
            Assert.True(await h.CanReadAsync(hal, secret));

            _ = cut.Find("#room-archive").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("read-only", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Contains("Archive", StringComparison.Ordinal)).ClickAsync(new());
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#room-unarchive")), Wait);
            Assert.True((await h.Rooms.GetAsync(secret.Id))!.IsArchived);
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.RoomArchive));

            // Cancelling the delete dialog deletes nothing.
            _ = cut.Find("#room-delete").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("cannot be undone", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Contains("Cancel", StringComparison.Ordinal)).ClickAsync(new());
            Assert.NotNull(await h.Rooms.GetAsync(secret.Id));
            Assert.Equal(0, await h.AuditCountAsync(AuditActions.RoomDelete));
            Assert.Equal("boss", caller.Name);
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Chat_users_page_lists_and_searches()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            await h.CreateUserAsync("ivy");
            await h.CreateUserAsync("jack");
            var cut = ctx.Render<ChatUsersPage>();
            cut.WaitForAssertion(() =>
            {
                Assert.NotNull(cut.Find("[data-user-row=ivy]"));
                Assert.NotNull(cut.Find("[data-user-row=jack]"));
            }, Wait);
            await cut.Find("#user-search").InputAsync(new ChangeEventArgs { Value = "iv" });
            cut.WaitForAssertion(() =>
            {
                Assert.NotNull(cut.Find("[data-user-row=ivy]"));
                Assert.Empty(cut.FindAll("[data-user-row=jack]"));
            }, Wait);
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Chat_user_page_shows_details_mutes_and_bans_through_the_core()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var kim = await h.CreateUserAsync("kim", "kim-password");
            var lobby = (await h.Rooms.OpenAsync(kim, "lobby")).Value!;
            var revoked = new RecordingSubscriber();
            using var sub = h.Fanout.SubscribeUser(kim.Id, revoked);
            var dialogs = ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<ChatUserPage>(p => p.Add(x => x.Id, kim.Id));
            cut.WaitForAssertion(() => Assert.Equal("kim", cut.Find("#user-name").TextContent), Wait);
            Assert.Equal("192.0.2.7", cut.Find("#user-ip").TextContent);
            Assert.Contains("Lobby", cut.Find("#user-rooms").TextContent);

            await cut.Find("#user-mute").ClickAsync(new()); // default choice: one hour
            cut.WaitForAssertion(() => Assert.Contains("muted until", cut.Find("#user-status").TextContent), Wait);
            Assert.Equal(ChatError.Muted, (await h.Commands.PostAsync(kim, lobby.Id, "hello")).Error);

            await cut.Find("#ban-reason").ChangeAsync(new ChangeEventArgs { Value = "flooding" });
            _ = cut.Find("#user-ban").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("cannot sign in", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Ban").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Contains("flooding", cut.Find("#user-status").TextContent), Wait);
            Assert.Single(await revoked.WaitForAsync<SessionRevoked>(1));
            Assert.Equal(ChatError.Banned, (await h.Commands.PostAsync(kim, lobby.Id, "hello")).Error);
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.UserBan));
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.UserMute));

            var missing = ctx.Render<ChatUserPage>(p => p.Add(x => x.Id, 999_999));
            missing.WaitForAssertion(() => Assert.NotNull(missing.Find("#user-missing")), Wait);
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Moderation_page_deletes_a_message_and_saves_the_word_filter()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var leo = await h.CreateUserAsync("leo");
            var lobby = (await h.Rooms.GetDefaultAsync())!;
            var msg = (await h.Commands.PostAsync(leo, lobby.Id, "buy cheap pills")).Value!;
            var dialogs = ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<ModerationPage>();
            cut.WaitForAssertion(() => Assert.Contains("buy cheap pills", cut.Find($"[data-message-id='{msg.Id}']").TextContent), Wait);

            _ = cut.Find($"[data-delete='{msg.Id}']").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("removed for everyone", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Delete").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Empty(cut.FindAll($"[data-message-id='{msg.Id}']")), Wait);
            Assert.True((await h.History.GetHistoryAsync(lobby.Id)).Single(m => m.Id == msg.Id).IsDeleted);

            await cut.FindComponent<MudRadioGroup<WordFilterMode>>().InvokeAsync(() =>
                cut.FindComponent<MudRadioGroup<WordFilterMode>>().Instance.ValueChanged.InvokeAsync(WordFilterMode.Reject));
            await cut.Find("#filter-words").InputAsync(new ChangeEventArgs { Value = "pills\nspam" });
            await cut.Find("#filter-save").ClickAsync(new());
            await cut.WaitForAssertionAsync(async () => Assert.Equal(WordFilterMode.Reject, (await h.Get<WordFilter>().GetSettingsAsync()).Mode), Wait);
            Assert.Equal("filtered", (await h.Commands.PostAsync(leo, lobby.Id, "more PILLS")).Error?.Code);

            await cut.Find("#filter-words").InputAsync(new ChangeEventArgs { Value = new string('x', 60) });
            await cut.Find("#filter-save").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Contains("too long", cut.Find("#filter-error").TextContent), Wait);
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.WordFilterUpdate));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Bots_page_lists_bots_and_switches_one_in_a_room()
    {
        var (h, ctx, _) = await StartAsync(new SilentBot("小爱同学"));
        try
        {
            var cut = ctx.Render<BotsPage>();
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-bot='小爱同学']")), Wait);
            var lobby = (await h.Rooms.GetDefaultAsync())!;
            var select = cut.FindComponents<MudSelect<string>>().Single(s => Equals(s.Instance.UserAttributes.GetValueOrDefault("data-switch"), "小爱同学|lobby"));
            await cut.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync("off"));
            await cut.WaitForAssertionAsync(async () => Assert.False(await h.Get<BotSwitches>().IsEnabledAsync("小爱同学", lobby.Id)), Wait);
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.BotSwitch));
        }
        finally { await DisposeAsync(h, ctx); }

        var (h2, ctx2, _) = await StartAsync();
        try
        {
            var none = ctx2.Render<BotsPage>();
            Assert.NotNull(none.Find("#bots-none"));
        }
        finally { await DisposeAsync(h2, ctx2); }
    }

    [Fact]
    public async Task Bots_page_creates_a_bot_account_shows_its_token_once_and_disables_it()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var cut = ctx.Render<BotsPage>();
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#bot-accounts-none")), Wait);
            var field = cut.FindComponents<MudTextField<string>>().Single(f => Equals(f.Instance.UserAttributes.GetValueOrDefault("id"), "bot-name"));
            await cut.InvokeAsync(() => field.Instance.ValueChanged.InvokeAsync("buildbot"));
            cut.WaitForAssertion(() => Assert.False(cut.Find("#bot-create").HasAttribute("disabled")), Wait);
            await cut.InvokeAsync(() => cut.Find("#bot-create").Click());
            cut.WaitForAssertion(() => Assert.StartsWith(ApiTokens.Prefix, cut.Find("#bot-token").TextContent), Wait);
            var token = cut.Find("#bot-token").TextContent;
            Assert.Equal("BOT", cut.Find("[data-bot-account='buildbot'] .bot-badge").TextContent);
            var grant = await h.Get<ApiTokens>().AuthenticateAsync(token);
            Assert.NotNull(grant);
            Assert.True(grant!.User.IsBot);
            Assert.Equal(ApiScopes.Read | ApiScopes.Write, grant.Scopes);

            await cut.InvokeAsync(() => cut.Find("[data-bot-account='buildbot']").ParentElement!.QuerySelector("[data-action='toggle']")!.Click());
            await cut.WaitForAssertionAsync(async () => Assert.Null(await h.Get<ApiTokens>().AuthenticateAsync(token)), Wait);
            Assert.Equal(1, await h.AuditCountAsync(AdminBotAccounts.Create));
            Assert.Equal(1, await h.AuditCountAsync(AuditActions.UserBan));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Audit_page_shows_entries_read_only_and_searches()
    {
        var (h, ctx, _) = await StartAsync();
        try
        {
            var caller = await ctx.Services.GetRequiredService<AdminSession>().CallerAsync();
            Assert.True((await h.Get<AdminRooms>().CreateAsync(caller, new RoomInput { Name = "Music", Slug = "music" })).Ok);
            var cut = ctx.Render<AuditPage>();
            cut.WaitForAssertion(() =>
            {
                Assert.NotEmpty(cut.FindAll($"[data-action='{AuditActions.RoomCreate}']"));
                Assert.NotEmpty(cut.FindAll($"[data-action='{AuditActions.AdminCreate}']"));
            }, Wait);
            Assert.Contains("203.0.113.5", cut.Markup);
            Assert.Empty(cut.FindAll("#audit-table tbody button, #audit-table tbody input")); // nothing to edit or delete

            await cut.Find("#audit-search").InputAsync(new ChangeEventArgs { Value = "music" });
            cut.WaitForAssertion(() =>
            {
                Assert.NotEmpty(cut.FindAll($"[data-action='{AuditActions.RoomCreate}']"));
                Assert.Empty(cut.FindAll($"[data-action='{AuditActions.AdminCreate}']"));
            }, Wait);
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Admins_page_validates_creates_and_disables_admins()
    {
        var (h, ctx, admin) = await StartAsync();
        try
        {
            var dialogs = ctx.Render<MudDialogProvider>();
            var principal = PortalClaims.ForAdmin(admin);
            var cut = ctx.Render<AdminsPage>(p => p.AddCascadingValue(Task.FromResult(new AuthenticationState(principal))));
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-admin=boss]")), Wait);
            Assert.Empty(cut.FindAll("[data-disable=boss]")); // nobody disables themselves

            await cut.Find("#new-admin-name").InputAsync(new ChangeEventArgs { Value = "mia" });
            await cut.Find("#new-admin-password").InputAsync(new ChangeEventArgs { Value = "mia-password-1" });
            await cut.Find("#new-admin-password2").InputAsync(new ChangeEventArgs { Value = "something-else" });
            await cut.Find("#new-admin-save").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Contains("differ", cut.Find("#new-admin-error").TextContent), Wait);
            Assert.False(await h.Db(db => db.Admins.AnyAsync(a => a.Name == "mia")));

            await cut.Find("#new-admin-password2").InputAsync(new ChangeEventArgs { Value = "mia-password-1" });
            await cut.Find("#new-admin-save").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-disable=mia]")), Wait);
            Assert.True((await h.Get<AdminAccounts>().SignInAsync("mia", "mia-password-1", null)).Succeeded);

            _ = cut.Find("[data-disable=mia]").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("close within seconds", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Disable").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-enable=mia]")), Wait);
            Assert.True(await h.Db(db => db.Admins.AnyAsync(a => a.Name == "mia" && a.Disabled)));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Data_page_counts_what_retention_would_delete_and_runs_it_with_an_audit_entry()
    {
        var (h, ctx, admin) = await StartAsync();
        try
        {
            var kim = await h.CreateUserAsync("kim");
            var lobby = (await h.Rooms.GetDefaultAsync())!;
            var ids = new List<long>();
            for (var i = 0; i < 5; i++) ids.Add((await h.Commands.PostAsync(kim, lobby.Id, $"old {i}")).Value!.Id);
            await h.Commands.PostAsync(kim, lobby.Id, "new");
            var at = DateTimeOffset.UtcNow.AddDays(-10);
            await h.Db(db => db.Messages.Where(m => ids.Contains(m.Id)).ExecuteUpdateAsync(x => x.SetProperty(m => m.CreatedAt, at)));
            var caller = await ctx.Services.GetRequiredService<AdminSession>().CallerAsync();
            Assert.True((await h.Get<AdminGovernance>().SavePolicyAsync(caller, new(7, AccountDeletionMode.KeepAsDeletedUser))).Ok);
            Assert.Equal("retention_days", (await h.Get<AdminGovernance>().SavePolicyAsync(caller, new(-1, AccountDeletionMode.KeepAsDeletedUser))).ErrorCode);

            var dialogs = ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<DataPage>();
            cut.WaitForAssertion(() => Assert.Equal("5", cut.Find("[data-expired=lobby]").TextContent.Trim()), Wait);
            Assert.Contains("/admin/export/rooms/" + lobby.Id, cut.Find("[data-export=lobby]").GetAttribute("href"));
            _ = cut.Find("#run-retention").ClickAsync(new()); // the handler waits for the dialog
            dialogs.WaitForAssertion(() => Assert.Contains("cannot be undone", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Run retention now").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Contains("Deleted 5 messages", cut.Find("#retention-result").TextContent), Wait);
            cut.WaitForAssertion(() => Assert.Equal("0", cut.Find("[data-expired=lobby]").TextContent.Trim()), Wait);
            Assert.Equal(1, await h.Db(db => db.Messages.CountAsync(m => m.RoomId == lobby.Id)));
            Assert.Equal(1, await h.AuditCountAsync(AdminGovernance.PolicyUpdate));
            Assert.True(await h.Db(db => db.AuditLog.AnyAsync(a => a.Action == Retention.AuditAction && a.AdminId == admin.Id)));
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task Chat_user_page_deletes_an_account_after_confirmation()
    {
        var (h, ctx, admin) = await StartAsync();
        try
        {
            var kim = await h.CreateUserAsync("kim", "kim-password");
            var lobby = (await h.Rooms.GetDefaultAsync())!;
            var posted = (await h.Commands.PostAsync(kim, lobby.Id, "still here")).Value!;
            var revoked = new RecordingSubscriber();
            using var sub = h.Fanout.SubscribeUser(kim.Id, revoked);
            var dialogs = ctx.Render<MudDialogProvider>();
            var cut = ctx.Render<ChatUserPage>(p => p.Add(x => x.Id, kim.Id));
            cut.WaitForAssertion(() => Assert.Equal("kim", cut.Find("#user-name").TextContent), Wait);
            _ = cut.Find("#user-delete").ClickAsync(new());
            dialogs.WaitForAssertion(() => Assert.Contains("cannot be undone", dialogs.Markup), Wait);
            await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Delete account").ClickAsync(new());
            cut.WaitForAssertion(() => Assert.Equal($"deleted user #{kim.Id}", cut.Find("#user-name").TextContent), Wait);
            Assert.Single(await revoked.WaitForAsync<SessionRevoked>(1));
            Assert.Equal(posted.Id, (await h.History.GetHistoryAsync(lobby.Id)).Single().Id);
            Assert.True(await h.Db(db => db.AuditLog.AnyAsync(a => a.Action == AccountDeletion.AuditAction && a.AdminId == admin.Id)));
            Assert.Empty(cut.FindAll("#user-delete")); // a tombstone has nothing left to delete
        }
        finally { await DisposeAsync(h, ctx); }
    }

    [Fact]
    public async Task A_page_opened_by_a_chat_user_gets_nothing_from_the_services_and_goes_to_the_admin_sign_in()
    {
        await using var h = await AdminHarness.StartAsync();
        var user = await h.CreateUserAsync("nosy", "nosy-password");
        var chatPrincipal = PortalClaims.ForChatUser(await h.Db(db => db.Users.SingleAsync(u => u.Id == user.Id)));
        await using var ctx = NewContext(h, chatPrincipal);
        ctx.Render<MudPopoverProvider>();
        var nav = ctx.Services.GetRequiredService<NavigationManager>();

        var rooms = ctx.Render<RoomsPage>();
        rooms.WaitForAssertion(() => Assert.EndsWith("/admin/login", nav.Uri, StringComparison.Ordinal), Wait);
        Assert.Empty(rooms.FindAll("[data-room-row]"));
        var users = ctx.Render<ChatUsersPage>();
        users.WaitForAssertion(() => Assert.Empty(users.FindAll("[data-user-row]")), Wait);
        Assert.DoesNotContain("nosy", users.Markup);
        var audit = ctx.Render<AuditPage>();
        audit.WaitForAssertion(() => Assert.Empty(audit.FindAll("[data-action]")), Wait);
    }

    private sealed class FixedAuthState(ClaimsPrincipal principal) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(principal));
    }
}
