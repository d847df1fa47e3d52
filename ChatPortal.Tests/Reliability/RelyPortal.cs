using System.Globalization;
using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// The real portal (child process) shared by the abuse, fuzzing and hardening tests: default
/// per-user rate limit (burst 10, 3/s), small message limits, room for 1,000 idle sockets from
/// one address, and at most 3 Blazor circuits per user. Tests in this collection run one after
/// another, so the connection gauge has a stable baseline.
/// </summary>
public sealed class RelyPortalFixture : IAsyncLifetime
{
    public const int MaxText = 32 * 1024;
    public const int MaxCircuits = 3;
    public const int PerIpCap = 1200;

    public PortalProcess Portal { get; private set; } = default!;

    public async ValueTask InitializeAsync()
    {
        Portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["WebSockets__MaxTextMessageBytes"] = MaxText.ToString(CultureInfo.InvariantCulture),
            ["WebSockets__MaxBinaryMessageBytes"] = (256 * 1024).ToString(CultureInfo.InvariantCulture),
            ["WebSockets__MaxConnectionsPerIp"] = PerIpCap.ToString(CultureInfo.InvariantCulture),
            ["WebSockets__AuthTimeoutSeconds"] = "600", // idle unauthenticated sockets stay open for the idle-socket test
            ["WebSockets__CloseTimeoutSeconds"] = "2",
            ["Security__MaxCircuitsPerUser"] = MaxCircuits.ToString(CultureInfo.InvariantCulture),
        });
    }

    public async ValueTask DisposeAsync() => await Portal.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class RelyPortalCollection : ICollectionFixture<RelyPortalFixture>
{
    public const string Name = "rely-portal";
}

public static class RelyHelpers
{
    /// <summary>Open sockets by kind, as the server's own gauge reports them on /metrics.</summary>
    public static async Task<int> OpenSocketsAsync(this PortalProcess portal)
    {
        using var http = portal.CreateClient();
        var text = await http.GetStringAsync("/metrics");
        var total = 0;
        foreach (Match m in Regex.Matches(text, @"^chatportal_ws_connections\{[^}]*kind=""(plain|v1)""[^}]*\}\s+([0-9.eE+-]+)", RegexOptions.Multiline))
            total += (int)double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.Matches(new Regex("^chatportal_ws_connections", RegexOptions.Multiline), text);
        return total;
    }

    /// <summary>
    /// The gauge once it has stopped moving (the same for a second, at most 20 s): sockets of the previous
    /// test in the collection may still be closing, and a baseline taken among them is not one.
    /// </summary>
    public static async Task<int> SettledOpenSocketsAsync(this PortalProcess portal)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var last = await portal.OpenSocketsAsync();
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow - since < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(200);
            var now = await portal.OpenSocketsAsync();
            if (now != last) (last, since) = (now, DateTime.UtcNow);
        }
        return last;
    }

    /// <summary>Waits (bounded) for the gauge to come back to <paramref name="baseline"/>; returns the last value.</summary>
    public static Task<int> WaitForOpenSocketsAsync(this PortalProcess portal, int baseline, TimeSpan? timeout = null) =>
        portal.WaitForOpenSocketsAsync(n => n == baseline, timeout ?? TimeSpan.FromSeconds(20));

    /// <summary>Waits (bounded) for the gauge to reach at least <paramref name="count"/>; returns the last value.</summary>
    public static Task<int> WaitForOpenSocketsAtLeastAsync(this PortalProcess portal, int count, TimeSpan? timeout = null) =>
        portal.WaitForOpenSocketsAsync(n => n >= count, timeout ?? TimeSpan.FromSeconds(10));

    private static async Task<int> WaitForOpenSocketsAsync(this PortalProcess portal, Func<int, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        int now;
        while (!done(now = await portal.OpenSocketsAsync()) && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        return now;
    }

    /// <summary>Lines where the server reports an error or an exception it did not handle.</summary>
    public static IReadOnlyList<string> ErrorLines(this PortalProcess portal) =>
        portal.ReadLog().Split('\n')
            .Where(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal)
                        || l.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase))
            .ToList();
}
