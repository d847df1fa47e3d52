using System.Net;
using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.WebSockets;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;

namespace ChatPortal.Cluster;

/// <summary>Scale-out and operations: Redis backplane, forwarded headers, /healthz, /metrics.</summary>
public static class ClusterSetup
{
    /// <summary>
    /// The Redis backplane and shared presence, when <c>Redis:Configuration</c> is set; otherwise
    /// nothing changes (in-process fan-out). No HTTP here, so core-only hosts can use it too.
    /// </summary>
    public static IHostApplicationBuilder AddChatCluster(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(RedisOptions.Section);
        builder.Services.Configure<RedisOptions>(section);
        if (section.Get<RedisOptions>() is not { Enabled: true }) return builder;

        var s = builder.Services;
        s.AddSingleton<RemotePresenceCache>();
        s.AddSingleton<IRemotePresence>(sp => sp.GetRequiredService<RemotePresenceCache>());
        s.AddSingleton<ClusterMetrics>();
        s.AddSingleton<RedisLink>();
        s.AddSingleton<RedisPresence>();
        s.AddSingleton<RedisBackplane>();
        s.Replace(ServiceDescriptor.Singleton<IChatBackplane>(sp => sp.GetRequiredService<RedisBackplane>()));
        // The first hosted service: started first, stopped last, so the writer has drained and its last
        // events have gone out before the link closes.
        s.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<RedisLink>()));
        s.Replace(ServiceDescriptor.Singleton<ITicketReplayGuard, RedisTicketReplayGuard>()); // tickets single-use on every node
        return builder;
    }

    public static WebApplicationBuilder AddChatPortalCluster(this WebApplicationBuilder builder)
    {
        builder.AddChatCluster();
        builder.AddChatPortalForwardedHeaders();
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database")
            .AddCheck<RedisHealthCheck>("redis");
        builder.Services.AddSingleton<ClusterGauges>();
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(ChatMetrics.MeterName)
            // Requests, open connections (HTTP, WebSocket, Blazor circuits) from ASP.NET Core itself.
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections")
            // Web users: Blazor circuits open on this node (sockets are counted by kind in chatportal.ws.connections).
            .AddMeter("Microsoft.AspNetCore.Components.Server.Circuits")
            .AddPrometheusExporter());
        return builder;
    }

    /// <summary>X-Forwarded-For/-Proto/-Host are believed only from the configured proxies (default: loopback only).</summary>
    public static IHostApplicationBuilder AddChatPortalForwardedHeaders(this IHostApplicationBuilder builder)
    {
        var proxy = builder.Configuration.GetSection(ProxyOptions.Section).Get<ProxyOptions>() ?? new ProxyOptions();
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            o.ForwardLimit = Math.Max(1, proxy.ForwardLimit);
            if (proxy.KnownProxies.Count == 0) return; // the framework's default: 127.0.0.0/8 and ::1
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var entry in proxy.KnownProxies.Select(p => p.Trim()).Where(p => p.Length > 0))
            {
                if (entry.Contains('/', StringComparison.Ordinal)) o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(entry));
                else if (IPAddress.TryParse(entry, out var ip)) o.KnownProxies.Add(ip);
                else throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{entry}' is neither an IP address nor a network (a.b.c.d/n).");
            }
        });
        return builder;
    }

    /// <summary>First in the pipeline: everything after it sees the client's address and scheme.</summary>
    public static IApplicationBuilder UseChatPortalForwardedHeaders(this IApplicationBuilder app) => app.UseForwardedHeaders();

    public static WebApplication MapChatPortalCluster(this WebApplication app)
    {
        app.Services.GetRequiredService<ClusterGauges>(); // creates the gauges
        app.Services.GetService<WebSocketMetrics>(); // and the socket gauges, so /metrics lists them (at 0) before the first socket
        app.MapHealthChecks("/healthz", HealthJson.EndpointOptions);
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
