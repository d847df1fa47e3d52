using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatPortal.Cluster;

/// <summary>The database answers (SQLite file or PostgreSQL server). Down: the node cannot store, so it is unhealthy (503).</summary>
public sealed class DatabaseHealthCheck(IDbContextFactory<ChatDbContext> dbFactory, MessageWriter writer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        string provider = "?";
        var data = new Dictionary<string, object> { ["writerQueue"] = writer.QueueDepth };
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(timeout.Token);
            provider = db.Database.ProviderName?.Split('.').LastOrDefault() ?? "?";
            data["provider"] = provider;
            // A real query, not just a socket: a server that accepts connections but cannot serve is down too.
            var rooms = await db.Rooms.CountAsync(timeout.Token);
            data["rooms"] = rooms;
            return HealthCheckResult.Healthy($"{provider} answers", data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            data["provider"] = provider;
            return HealthCheckResult.Unhealthy($"{provider} is unreachable: {ex.GetBaseException().Message}", null, data);
        }
    }
}

/// <summary>
/// Redis, when configured. Down is "Degraded", not unhealthy: the node still serves its own
/// users (a load balancer must not take every node out because Redis blinked).
/// </summary>
public sealed class RedisHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (services.GetService<RedisLink>() is not { } redis)
            return Task.FromResult(HealthCheckResult.Healthy("not configured: single node, in-process fan-out"));
        var s = redis.Status;
        var data = new Dictionary<string, object>
        {
            ["node"] = s.NodeId,
            ["otherNodes"] = s.OtherNodes,
            ["since"] = s.Since.ToString("O"),
        };
        if (s.LastError is { } err) data["lastError"] = err;
        return Task.FromResult(s.Connected
            ? HealthCheckResult.Healthy("connected: rooms and presence are shared", data)
            : HealthCheckResult.Degraded("unreachable: serving this node's users only; cross-node delivery resumes when Redis is back", null, data));
    }
}

public static class HealthJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static HealthCheckOptions EndpointOptions { get; } = new()
    {
        ResponseWriter = WriteAsync,
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
    };

    private static Task WriteAsync(HttpContext ctx, HealthReport report)
    {
        ctx.Response.ContentType = "application/json; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = (int)report.TotalDuration.TotalMilliseconds,
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data.Count == 0 ? null : e.Value.Data,
            }),
        };
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(body, Options));
    }
}

/// <summary>
/// <c>dotnet ChatPortal.dll healthcheck [url]</c>: exits 0 when /healthz answers 200, else 1.
/// The container image has no curl; its HEALTHCHECK runs this.
/// </summary>
public static class HealthProbe
{
    public static async Task<bool> RunIfAskedAsync(string[] args)
    {
        if (args is not ["healthcheck", ..]) return false;
        var url = args.Length > 1 ? args[1] : LocalUrl(Environment.GetEnvironmentVariable("Urls") ?? Environment.GetEnvironmentVariable("ASPNETCORE_URLS"));
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var response = await http.GetAsync(new Uri(new Uri(url), "/healthz"));
            Console.WriteLine($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Environment.ExitCode = response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"unreachable: {ex.Message}");
            Environment.ExitCode = 1;
        }
        return true;
    }

    /// <summary>The first listen URL with a wildcard host turned into loopback.</summary>
    internal static string LocalUrl(string? urls)
    {
        var first = (urls ?? "http://127.0.0.1:5080").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
        return first.Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal);
    }
}
