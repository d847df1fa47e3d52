using ChatPortal.Admin;
using ChatPortal.Auth;
using ChatPortal.Auth.Oidc;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Chat.Notifications;
using ChatPortal.Cluster;
using ChatPortal.Components;
using ChatPortal.Data;
using ChatPortal.Images;
using ChatPortal.Localization;
using ChatPortal.Profiles;
using ChatPortal.Search;
using ChatPortal.Security;
using ChatPortal.WebSockets;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;

namespace ChatPortal.Hosting;

/// <summary>Composition of the portal: each feature folder owns its own Add*/Map* methods.</summary>
public static class ChatPortalSetup
{
    public static WebApplicationBuilder AddChatPortal(this WebApplicationBuilder builder)
    {
        // Static web assets (MudBlazor's files) also when run from the build output outside Development.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.Configure<PortalOptions>(builder.Configuration.GetSection(PortalOptions.Section));
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<PortalOptions>>((socket, portal) => socket.Backlog = Math.Max(1, portal.Value.ListenBacklog));
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.AddChatPortalCluster();
        builder.AddChatPortalAuth();
        builder.AddChatPortalImages();
        Chat.LinkPreviews.LinkPreviewSetup.AddLinkPreviews(builder); // issue 15: link previews
        builder.AddChatPortalLocalization();
        builder.AddChatPortalWebSockets();
        builder.Services.AddSingleton<Bots.BotSwitches>();
        builder.AddChatPortalBots();
        builder.AddChatPortalSearch();
        builder.AddChatPortalSecurity();
        builder.AddChatPortalAdmin();
        builder.AddChatPortalProfiles();
        builder.AddChatPortalOidc();
        builder.AddChatPortalNotifications();
        builder.AddChatPortalGovernance();
        Integrations.IntegrationsSetup.AddChatPortalIntegrations(builder); // issue 16: slash commands, webhooks
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.AddScoped<Components.Chat.ChatCircuit>();
        builder.Services.AddScoped<Components.Chat.ViewerClock>();
        builder.Services.AddScoped<Components.Chat.RoomMuteSignal>();
        builder.Services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler, Components.Chat.ChatCircuitHandler>();
        // The client's address in the circuit, for the per-address limits (Chat/Safeguards/AddressLimits).
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<Components.Chat.ClientAddress>();
        builder.Services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler, Components.Chat.ClientAddressCircuitHandler>();
        return builder;
    }

    public static WebApplication MapChatPortal(this WebApplication app)
    {
        app.UseChatPortalForwardedHeaders();
        app.UseShutdownGate();
        app.UseChatPortalSocketEndpoint();
        app.UseChatPortalSecurity();
        if (!app.Environment.IsDevelopment())
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);

        app.UseRequestLocalization();
        app.UseAuthentication();
        app.UseAdminIdentity();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets();
        MapClientKit(app);
        app.MapChatPortalAuth();
        app.MapChatPortalImages();
        Chat.LinkPreviews.LinkPreviewSetup.MapLinkPreviews(app);
        app.MapChatPortalLocalization();
        app.MapChatPortalCluster();
        app.MapChatPortalWebSockets();
        app.MapChatPortalAdmin();
        app.MapChatPortalProfiles();
        app.MapChatPortalOidc();
        app.MapChatPortalNotifications();
        app.MapAccountData();
        Integrations.IntegrationsSetup.MapChatPortalIntegrations(app);
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    /// <summary>Applies migrations and creates the lobby before the first request.</summary>
    public static async Task InitializeChatPortalAsync(this WebApplication app)
    {
        await app.Services.InitializeDatabaseAsync();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatPortal");
            foreach (var url in app.Urls)
                log.LogInformation("ChatPortal is serving at {Url}  (web UI; WebSocket at {Ws})", url,
                    url.Replace("http", "ws", StringComparison.Ordinal) + "/ws");
            log.LogInformation("First admin: dotnet run --project ChatPortal -- admin create <name>");
        });
    }

    /// <summary>The JS client kit, demo page and mini-program sample, served under /clients/.</summary>
    private static void MapClientKit(WebApplication app)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "wwwroot-assets");
        if (!Directory.Exists(folder)) return;
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(folder),
            RequestPath = "/clients",
            OnPrepareResponse = c => c.Context.Response.Headers.XContentTypeOptions = "nosniff",
        });
        ClientKitIndex.Map(app, folder);
    }
}
