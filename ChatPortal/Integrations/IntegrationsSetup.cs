using ChatPortal.Chat.Integrations;

namespace ChatPortal.Integrations;

/// <summary>Slash commands, incoming and outgoing webhooks, custom commands (issue 16; docs/webhooks.md).</summary>
public static class IntegrationsSetup
{
    public static IHostApplicationBuilder AddChatPortalIntegrations(this IHostApplicationBuilder builder)
    {
        var s = builder.Services;
        s.Configure<IntegrationOptions>(builder.Configuration.GetSection(IntegrationOptions.Section));
        s.AddSingleton<SlashCommands>();
        s.AddSingleton<IntegrationUsers>();
        s.AddSingleton<IncomingHooks>();
        s.AddSingleton<AdminIntegrations>();
        return builder;
    }

    public static IEndpointRouteBuilder MapChatPortalIntegrations(this IEndpointRouteBuilder app)
    {
        HookEndpoints.Map(app);
        return app;
    }
}
