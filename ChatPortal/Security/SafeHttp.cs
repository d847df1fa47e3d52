using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace ChatPortal.Security;

/// <summary>Limits of outgoing requests to addresses users give us (section <c>SafeHttp</c>).</summary>
public sealed class SafeHttpOptions
{
    public const string Section = "SafeHttp";
    public int MaxRedirects { get; set; } = 3;
    public double TimeoutSeconds { get; set; } = 10;
    public double ConnectTimeoutSeconds { get; set; } = 5;
    public long MaxResponseBytes { get; set; } = 5 * 1024 * 1024;
    /// <summary>
    /// For tests only: addresses that may be reached although they are private (e.g. <c>127.0.0.1</c> for a
    /// fake identity provider or push service on loopback). Empty in production.
    /// </summary>
    public string[] AllowedAddresses { get; set; } = [];
    /// <summary>
    /// For tests only: host names answered without DNS (like curl's <c>--resolve</c>), e.g.
    /// <c>internal.test</c> → <c>127.0.0.2</c>. The answer passes the same connect-time check as DNS's. Empty in production.
    /// </summary>
    public Dictionary<string, string> HostAddresses { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>A fetched body with its content type.</summary>
public sealed record SafeHttpResponse(HttpStatusCode Status, string? ContentType, byte[] Body, Uri FinalUri);

/// <summary>Why a fetch was refused or failed.</summary>
public sealed class SafeHttpException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Outgoing HTTP to URLs that users (or identity providers, or browsers' push subscriptions) name,
/// without letting them reach the server's own network (SSRF). The check happens at connect time,
/// on the address actually connected to (so DNS rebinding between a check and the connect cannot
/// slip through): every resolved address must be public; loopback, private, link-local, CGNAT,
/// multicast, reserved, documentation ranges and their IPv4-mapped / NAT64 / 6to4 forms are refused.
/// No proxy; redirects are followed by hand (at most <see cref="SafeHttpOptions.MaxRedirects"/>, each
/// one checked again); time and size are capped. Reused by link previews.
/// </summary>
public sealed class SafeHttpClient : IDisposable
{
    private readonly SafeHttpOptions _o;
    private readonly HashSet<IPAddress> _allowed;
    private readonly SocketsHttpHandler _handler;

    public SafeHttpClient(IOptions<SafeHttpOptions> options)
    {
        _o = options.Value;
        _allowed = [.. _o.AllowedAddresses.Select(a => IPAddress.TryParse(a, out var ip) ? ip : null).OfType<IPAddress>()];
        _handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(Math.Max(0.5, _o.ConnectTimeoutSeconds)),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            MaxResponseHeadersLength = 64, // KiB
            ConnectCallback = ConnectAsync,
        };
        Client = new HttpClient(_handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(Math.Max(1, _o.TimeoutSeconds)) };
        Client.DefaultRequestHeaders.UserAgent.ParseAdd("ChatPortal/1.0");
    }

    /// <summary>
    /// The guarded client for callers that make their own requests (Web Push). It never follows
    /// redirects and never connects to a refused address.
    /// </summary>
    public HttpClient Client { get; }

    /// <summary>A client whose requests pass through <paramref name="outer"/> first, then the guarded handler.</summary>
    public HttpClient CreateClient(DelegatingHandler outer)
    {
        outer.InnerHandler = _handler;
        return new HttpClient(outer, disposeHandler: false) { Timeout = Client.Timeout };
    }

    /// <summary>
    /// GET with redirects followed by hand; a refusal or failure throws <see cref="SafeHttpException"/> with the reason.
    /// <paramref name="timeout"/> shortens the configured time limit for the whole fetch (redirects included);
    /// <paramref name="acceptType"/>, when given, refuses a final response whose media type it rejects before its body is read.
    /// </summary>
    public async Task<SafeHttpResponse> GetAsync(Uri url, long? maxBytes = null, CancellationToken ct = default,
        TimeSpan? timeout = null, Func<string?, bool>? acceptType = null)
    {
        var cap = Math.Min(maxBytes ?? _o.MaxResponseBytes, _o.MaxResponseBytes);
        var limit = TimeSpan.FromSeconds(Math.Max(1, _o.TimeoutSeconds));
        if (timeout is { } shorter && shorter > TimeSpan.Zero && shorter < limit) limit = shorter;
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutCts.CancelAfter(limit);
        return await FetchAsync(url, cap, acceptType, timeoutCts, ct);
    }

    private async Task<SafeHttpResponse> FetchAsync(Uri url, long cap, Func<string?, bool>? acceptType, CancellationTokenSource timeout,
        CancellationToken ct)
    {
        var current = url;
        for (var hop = 0; ; hop++)
        {
            if (!current.IsAbsoluteUri || current.Scheme is not ("http" or "https"))
                throw new SafeHttpException($"Only http and https URLs are fetched ({current.Scheme}).");
            if (!string.IsNullOrEmpty(current.UserInfo)) throw new SafeHttpException("URLs with credentials are not fetched.");
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            HttpResponseMessage response;
            try
            {
                response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new SafeHttpException("The fetch timed out.", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new SafeHttpException(ex.InnerException is SafeHttpException refused ? refused.Message : "The fetch failed: " + ex.Message, ex);
            }
            using (response)
            {
                if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
                {
                    if (hop >= _o.MaxRedirects) throw new SafeHttpException($"More than {_o.MaxRedirects} redirects.");
                    current = location.IsAbsoluteUri ? location : new Uri(current, location);
                    continue;
                }
                if (acceptType is not null && !acceptType(response.Content.Headers.ContentType?.MediaType))
                    throw new SafeHttpException($"The response is {response.Content.Headers.ContentType?.MediaType ?? "untyped"}, which is not fetched here.");
                if (response.Content.Headers.ContentLength is { } declared && declared > cap)
                    throw new SafeHttpException($"The response is larger than {cap} bytes.");
                byte[] body;
                try
                {
                    body = await ReadCappedAsync(response.Content, cap, timeout.Token);
                }
                catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                {
                    throw new SafeHttpException("The fetch timed out.", ex);
                }
                return new SafeHttpResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, body, current);
            }
        }
    }

    private static async Task<byte[]> ReadCappedAsync(HttpContent content, long cap, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct);
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + n > cap) throw new SafeHttpException($"The response is larger than {cap} bytes.");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] candidates = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : _o.HostAddresses.TryGetValue(host, out var pinned) && IPAddress.TryParse(pinned, out var pinnedAddress)
                ? [pinnedAddress]
                : await Dns.GetHostAddressesAsync(host, ct);
        // Every address of the name must pass: a name that also points inside is refused whole.
        if (candidates.Length == 0) throw new SafeHttpException($"{host} has no address.");
        foreach (var a in candidates)
            if (!IsAllowed(a)) throw new SafeHttpException($"{host} resolves to {a}, which is not a public address.");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Connect to the address that was checked, not to the name again.
            await socket.ConnectAsync(new IPEndPoint(candidates[0], context.DnsEndPoint.Port), ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool IsAllowed(IPAddress a) => _allowed.Contains(a) || (a.IsIPv4MappedToIPv6 && _allowed.Contains(a.MapToIPv4())) || AddressPolicy.IsPublic(a);

    public void Dispose()
    {
        Client.Dispose();
        _handler.Dispose();
    }
}

/// <summary>Which addresses count as "the public internet".</summary>
public static class AddressPolicy
{
    private static readonly (IPAddress Net, int Bits)[] BlockedV4 =
    [
        (IPAddress.Parse("0.0.0.0"), 8), (IPAddress.Parse("10.0.0.0"), 8), (IPAddress.Parse("100.64.0.0"), 10),
        (IPAddress.Parse("127.0.0.0"), 8), (IPAddress.Parse("169.254.0.0"), 16), (IPAddress.Parse("172.16.0.0"), 12),
        (IPAddress.Parse("192.0.0.0"), 24), (IPAddress.Parse("192.0.2.0"), 24), (IPAddress.Parse("192.88.99.0"), 24),
        (IPAddress.Parse("192.168.0.0"), 16), (IPAddress.Parse("198.18.0.0"), 15), (IPAddress.Parse("198.51.100.0"), 24),
        (IPAddress.Parse("203.0.113.0"), 24), (IPAddress.Parse("224.0.0.0"), 4), (IPAddress.Parse("240.0.0.0"), 4),
    ];

    private static readonly (IPAddress Net, int Bits)[] BlockedV6 =
    [
        (IPAddress.Parse("::"), 96),          // unspecified, loopback and IPv4-compatible
        (IPAddress.Parse("100::"), 64),       // discard
        (IPAddress.Parse("2001::"), 23),      // IETF protocol assignments (Teredo, ORCHID, benchmarking)
        (IPAddress.Parse("2001:db8::"), 32),  // documentation
        (IPAddress.Parse("fc00::"), 7),       // unique local
        (IPAddress.Parse("fe80::"), 10),      // link-local
        (IPAddress.Parse("fec0::"), 10),      // site-local (deprecated)
        (IPAddress.Parse("ff00::"), 8),       // multicast
    ];

    public static bool IsPublic(IPAddress a)
    {
        if (a.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (a.IsIPv4MappedToIPv6) return IsPublic(a.MapToIPv4());
            var b = a.GetAddressBytes();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that is what gets reached.
            if (InRange(a, IPAddress.Parse("64:ff9b::"), 96)) return IsPublic(new IPAddress(b.AsSpan(12, 4)));
            if (InRange(a, IPAddress.Parse("64:ff9b:1::"), 48)) return false;
            if (b[0] == 0x20 && b[1] == 0x02) return IsPublic(new IPAddress(b.AsSpan(2, 4)));
            return !BlockedV6.Any(r => InRange(a, r.Net, r.Bits));
        }
        if (a.AddressFamily != AddressFamily.InterNetwork) return false;
        if (a.Equals(IPAddress.Broadcast)) return false;
        return !BlockedV4.Any(r => InRange(a, r.Net, r.Bits));
    }

    private static bool InRange(IPAddress a, IPAddress net, int bits)
    {
        if (a.AddressFamily != net.AddressFamily) return false;
        var x = a.GetAddressBytes();
        var y = net.GetAddressBytes();
        for (var i = 0; i < x.Length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : (byte)(0xFF << (8 - bits));
            if ((x[i] & mask) != (y[i] & mask)) return false;
        }
        return true;
    }
}

public static class SafeHttpSetup
{
    /// <summary>Registers the guarded client once (any feature that fetches user-named URLs calls this).</summary>
    public static IServiceCollection AddSafeHttp(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(SafeHttpClient))) return services;
        services.Configure<SafeHttpOptions>(configuration.GetSection(SafeHttpOptions.Section));
        services.AddSingleton<SafeHttpClient>();
        return services;
    }
}
