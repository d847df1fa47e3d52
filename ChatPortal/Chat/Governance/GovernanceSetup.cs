using ChatPortal.Data.Backup;
using ChatPortal.Hosting;

namespace ChatPortal.Chat.Governance;

public static class GovernanceSetup
{
    /// <summary>Retention (and its schedule), exports, account deletion, Slack import; the server's hold on its data folder.</summary>
    public static WebApplicationBuilder AddChatPortalGovernance(this WebApplicationBuilder builder)
    {
        builder.Services.AddChatGovernanceServices(builder.Configuration);
        builder.Services.AddHostedService<RetentionScheduler>();
        var portal = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        if (!Cluster.PostgresData.IsPostgres(portal.DatabaseProvider))
        {
            // Restore refuses while this is held (see DataBackup); taken now, before the database is opened.
            var hold = ServerLock.HoldShared(portal.ResolveDataPath(builder.Environment.ContentRootPath));
            builder.Services.AddHostedService(_ => hold); // released on stop, and disposed with the container
        }
        return builder;
    }

    /// <summary>The services alone (also for the command line and the back office); adding them twice is harmless.</summary>
    public static IServiceCollection AddChatGovernanceServices(this IServiceCollection s, IConfiguration configuration)
    {
        if (s.Any(d => d.ServiceType == typeof(MessagePurge))) return s;
        s.Configure<GovernanceOptions>(configuration.GetSection(GovernanceOptions.Section));
        s.AddSingleton<GovernanceSettings>();
        s.AddSingleton<MessagePurge>();
        s.AddSingleton<Retention>();
        s.AddSingleton<DataExport>();
        s.AddSingleton<AccountDeletion>();
        s.AddSingleton<SlackImport>();
        return s;
    }
}
