using Bunit;
using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;
using ChatPortal.Components.Admin.Integrations;
using ChatPortal.Data;
using ChatPortal.Integrations;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatPortal.Tests.Integrations;

/// <summary>The back office's integration service over the real core and database: admin checked, every change audited (issue 16).</summary>
public sealed class AdminIntegrationTests : IAsyncLifetime
{
    private IHost _host = default!;
    private T Get<T>() where T : notnull => _host.Services.GetRequiredService<T>();

    public async ValueTask InitializeAsync()
    {
        var dir = TempDir.Create("adminint");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", ContentRootPath = dir, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portal:DataPath"] = dir,
            ["Chat:RateLimitBurst"] = "100000",
            ["Chat:RateLimitPerSecond"] = "100000",
        });
        builder.Services.AddLogging();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.Services.AddSingleton<BotSwitches>();
        builder.Services.AddSingleton<SignInGuard>();
        builder.Services.AddSingleton<ChatAccounts>();
        builder.Services.AddSingleton<ApiTokens>();
        builder.AddChatPortalAdmin();
        IntegrationsSetup.AddChatPortalIntegrations(builder);
        _host = builder.Build();
        await _host.Services.InitializeDatabaseAsync();
        await _host.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private async Task<AdminCaller> AdminAsync()
    {
        var r = await Get<AdminAccounts>().CreateAsync("root", "root-password-1", new AdminActor(0, "(test)", null));
        Assert.True(r.Ok, r.Message);
        await using var db = await Get<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        return new AdminCaller(PortalClaims.ForAdmin(await db.Admins.AsNoTracking().SingleAsync(a => a.Name == "root")), "10.0.0.9");
    }

    private async Task<List<AuditEntry>> AuditAsync()
    {
        await using var db = await Get<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync();
        return await db.AuditLog.AsNoTracking().OrderBy(a => a.Id).ToListAsync();
    }

    [Fact]
    public async Task Incoming_webhooks_are_created_tested_regenerated_and_deleted_with_audit_entries_and_the_test_posts_through_the_core()
    {
        var caller = await AdminAsync();
        var room = await Get<ChatRooms>().CreateAsync(new RoomSpec("ops", "Ops", null, IsPrivate: false, AllowGuests: false, IsArchived: false));
        var admin = Get<AdminIntegrations>();
        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => admin.ListIncomingAsync(new AdminCaller(new System.Security.Claims.ClaimsPrincipal(), null)));

        Assert.Equal("name_required", (await admin.CreateIncomingAsync(caller, room!.Id, " ", false)).Status.ErrorCode);
        var created = await admin.CreateIncomingAsync(caller, room.Id, "Grafana", false);
        Assert.True(created.Ok, created.Status.Message);
        var hook = created.Value!;
        Assert.True(hook.Token.Length >= 40);

        Assert.True((await admin.TestIncomingAsync(caller, hook.Id)).Ok);
        var page = await Get<ChatHistory>().GetHistoryAsync(room.Id, null, 10);
        var test = Assert.Single(page);
        Assert.Contains("Grafana", test.Text);
        Assert.Equal(new PostedAs("Grafana", null, $"webhook:{hook.Id}"), test.PostedAs);
        Assert.True(test.Sender.IsBot);

        var renewed = await admin.RegenerateIncomingAsync(caller, hook.Id);
        Assert.NotEqual(hook.Token, renewed.Value!.Token);
        Assert.Equal(IncomingHooks.UnknownHook, (await Get<IncomingHooks>().PostAsync(hook.Token, new IncomingPost("old url", null, null, null))).Error);
        Assert.True((await admin.DeleteIncomingAsync(caller, hook.Id)).Ok);
        Assert.Empty(await admin.ListIncomingAsync(caller));

        var actions = (await AuditAsync()).Select(a => a.Action).ToList();
        Assert.Equal(["webhook.create", "webhook.test", "webhook.regenerate", "webhook.delete"], actions.Where(a => a.StartsWith("webhook.")));
    }

    [Fact]
    public async Task Outgoing_webhooks_are_checked_created_switched_and_deleted_with_audit_entries()
    {
        var caller = await AdminAsync();
        var admin = Get<AdminIntegrations>();
        Assert.Equal("bad_url", (await admin.CreateOutgoingAsync(caller, new OutgoingHookSpec("x", [], null, "ftp://example.com/"))).Status.ErrorCode);
        Assert.Equal("bad_url", (await admin.CreateOutgoingAsync(caller, new OutgoingHookSpec("x", [], null, "not a url"))).Status.ErrorCode);
        var created = await admin.CreateOutgoingAsync(caller, new OutgoingHookSpec("Jenkins", [], "build, deploy", "https://ci.example/hook"));
        Assert.True(created.Ok, created.Status.Message);
        Assert.Equal(["build", "deploy"], created.Value!.TriggerWords);
        Assert.True(created.Value.Secret.Length >= 40);

        Assert.True((await admin.SetOutgoingEnabledAsync(caller, created.Value.Id, false)).Ok);
        Assert.False((await admin.ListOutgoingAsync(caller)).Single().Enabled);
        Assert.True((await admin.SetOutgoingEnabledAsync(caller, created.Value.Id, true)).Ok);
        Assert.Empty(await admin.AttemptsAsync(caller, created.Value.Id));
        Assert.True((await admin.DeleteOutgoingAsync(caller, created.Value.Id)).Ok);
        Assert.Equal("not_found", (await admin.DeleteOutgoingAsync(caller, created.Value.Id)).ErrorCode);
        Assert.Equal(["outgoing.create", "outgoing.update", "outgoing.update", "outgoing.delete"],
            (await AuditAsync()).Select(a => a.Action).Where(a => a.StartsWith("outgoing.")));
    }

    [Fact]
    public async Task Custom_commands_need_a_free_valid_name_and_a_url_and_show_in_the_autocomplete_list()
    {
        var caller = await AdminAsync();
        var admin = Get<AdminIntegrations>();
        Assert.Equal("command_taken", (await admin.CreateCommandAsync(caller, "/me", "https://x.example/", null)).Status.ErrorCode);
        Assert.Equal("bad_command_name", (await admin.CreateCommandAsync(caller, "no spaces", "https://x.example/", null)).Status.ErrorCode);
        Assert.Equal("bad_url", (await admin.CreateCommandAsync(caller, "weather", "file:///etc/passwd", null)).Status.ErrorCode);
        var created = await admin.CreateCommandAsync(caller, "/Weather", "https://x.example/cmd", "Today's weather");
        Assert.True(created.Ok, created.Status.Message);
        Assert.Equal("weather", created.Value!.Name);
        Assert.Equal("command_taken", (await admin.CreateCommandAsync(caller, "weather", "https://x.example/", null)).Status.ErrorCode);
        Assert.Contains(Get<CustomCommands>().List(), c => c.Name == "weather" && !c.BuiltIn && c.Description == "Today's weather");
        Assert.True((await admin.DeleteCommandAsync(caller, created.Value.Id)).Ok);
        Assert.Empty(await admin.ListCommandsAsync(caller));
        Assert.Equal(["command.create", "command.delete"], (await AuditAsync()).Select(a => a.Action).Where(a => a.StartsWith("command.")));
    }

    [Fact]
    public async Task The_integrations_page_creates_an_incoming_hook_shows_its_url_with_a_copy_button_and_its_test_button_posts()
    {
        var caller = await AdminAsync();
        var room = await Get<ChatRooms>().CreateAsync(new RoomSpec("alerts", "Alerts", null, IsPrivate: false, AllowGuests: false, IsArchived: false));
        await using var ctx = Admin.AdminPagesTests.NewContext(_host.Services, caller.Principal);
        ctx.Render<MudBlazor.MudPopoverProvider>();
        var page = ctx.Render<IntegrationsPage>();
        page.WaitForAssertion(() => Assert.Contains("No incoming webhooks yet.", page.Markup), TimeSpan.FromSeconds(10));

        // Create: a name, the room (the select's first room is preselected; pick ours), then the button.
        await page.Find("#incoming-name").ChangeAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "Grafana" });
        var select = page.FindComponents<MudBlazor.MudSelect<long>>().Single(s => Equals(s.Instance.UserAttributes.GetValueOrDefault("id"), "incoming-room"));
        await page.InvokeAsync(() => select.Instance.SelectOption(room!.Id));
        await page.Find("#incoming-create").ClickAsync(new());
        var hook = Assert.Single(await Get<AdminIntegrations>().ListIncomingAsync(caller));
        Assert.Equal("Grafana", hook.Name);
        Assert.Equal(room!.Id, hook.RoomId);

        // The row: its secret URL and a copy button that copies exactly that URL.
        page.WaitForAssertion(() => Assert.NotNull(page.Find($"[data-hook='{hook.Id}']")), TimeSpan.FromSeconds(10));
        var url = page.Find(".incoming-url").TextContent;
        Assert.EndsWith("/hooks/" + hook.Token, url);
        await page.Find(".incoming-copy").ClickAsync(new());
        Assert.Contains(ctx.JSInterop.Invocations, i => i.Identifier == "navigator.clipboard.writeText" && Equals(i.Arguments[0], url));

        // The test button posts through the core, as the hook, into its room.
        await page.Find(".incoming-test").ClickAsync(new());
        var posted = Assert.Single(await Get<ChatHistory>().GetHistoryAsync(room.Id, null, 10));
        Assert.Equal(new PostedAs("Grafana", null, $"webhook:{hook.Id}"), posted.PostedAs);
        Assert.True(posted.Sender.IsBot);
    }
}
