using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;

namespace ChatPortal.Integrations;

/// <summary>Slash commands, incoming and outgoing webhooks, custom commands (issue 16; docs/webhooks.md).</summary>
public static class IntegrationsSetup
{
    public static IHostApplicationBuilder AddChatPortalIntegrations(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<IntegrationOptions>(builder.Configuration.GetSection(IntegrationOptions.Section));
        Security.SafeHttpSetup.AddSafeHttp(s, builder.Configuration); // outgoing posts and custom commands go through the SSRF-safe client
        s.AddSingleton<CustomCommands>();
        s.AddSingleton<ICustomSlashCommands>(sp => sp.GetRequiredService<CustomCommands>());
        s.AddSingleton<SlashCommands>();
        s.AddSingleton<IntegrationUsers>();
        s.AddSingleton<IncomingHooks>();
        s.AddSingleton<HookIcons>();
        s.AddSingleton<AdminIntegrations>();
        // Outgoing webhooks: the single writer adds the outbox rows in each post's transaction, the worker sends them.
        s.AddSingleton<OutgoingOutbox>();
        s.AddSingleton<IPostOutbox>(sp => sp.GetRequiredService<OutgoingOutbox>());
        s.AddSingleton<OutgoingHooks>();
        s.AddSingleton<WebhookDeliveryWorker>();
        s.AddHostedService(sp => sp.GetRequiredService<WebhookDeliveryWorker>());
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalIntegrations(this IEndpointRouteBuilder app)
    {
        HookEndpoints.Map(app);
        HookIcons.Map(app);
        return app;
    }
}
