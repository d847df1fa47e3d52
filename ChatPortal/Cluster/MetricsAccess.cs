using System.Net;

namespace ChatPortal.Cluster;

/// <summary>Who may read <c>/metrics</c> (section <c>Metrics</c>).</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>
    /// Client addresses (after forwarded headers) allowed to scrape <c>/metrics</c>: addresses or
    /// networks (<c>a.b.c.d/n</c>, <c>fd00::/8</c>). Empty list: the default, loopback and the
    /// private ranges. <c>*</c>: anyone (as before).
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];

    internal static readonly string[] DefaultNetworks =
        ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"];
}

/// <summary>
/// The metrics endpoint tells how busy the node is, how many users and sockets it holds and how
/// its Redis is doing: not for anyone on the internet. Checked on the app's own port, so a
/// deployment without the nginx template is covered too.
/// </summary>
public sealed class MetricsAccess
{
    private readonly List<IPNetwork> _networks = [];
    private readonly bool _anyone;

    public MetricsAccess(MetricsOptions options)
    {
        var entries = options.AllowedNetworks.Select(e => e.Trim()).Where(e => e.Length > 0).ToList();
        if (entries.Count == 0) entries = [.. MetricsOptions.DefaultNetworks];
        foreach (var entry in entries)
        {
            if (entry == "*") _anyone = true;
            else if (IPNetwork.TryParse(entry, out var net)) _networks.Add(net);
            else if (IPAddress.TryParse(entry, out var ip)) _networks.Add(new IPNetwork(ip, ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else throw new InvalidOperationException($"Metrics:AllowedNetworks: '{entry}' is neither an IP address nor a network (a.b.c.d/n).");
        }
    }

    public bool Allows(IPAddress? address)
    {
        if (_anyone) return true;
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var n in _networks)
            if (n.Contains(address)) return true;
        return false;
    }

    /// <summary>The scrape branch's gate: 403 with a short text for everyone else.</summary>
    public static void UseGate(IApplicationBuilder branch, MetricsAccess access) => branch.Use(async (ctx, next) =>
    {
        if (access.Allows(ctx.Connection.RemoteIpAddress))
        {
            await next(ctx);
            return;
        }
        ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        await ctx.Response.WriteAsync("Metrics are only served to the addresses in Metrics:AllowedNetworks.");
    });
}
