using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Safeguards;

/// <summary>
/// Limits per client address (section <c>Limits</c>), on top of the per-user ones: a client that
/// rotates guest accounts (or registers fresh ones) gets a new user each time, but not a new
/// address. IPv6 clients are counted per /64 (<see cref="IPv6PrefixLength"/>), because one
/// subscriber usually holds a whole /64. 0 switches a limit off.
/// </summary>
public sealed class AddressLimitOptions
{
    public const string Section = "Limits";

    /// <summary>Messages one address may post in a burst, across all its users, sockets and tabs.</summary>
    public int PostBurstPerAddress { get; set; } = 60;
    /// <summary>Messages per second the burst refills at.</summary>
    public double PostsPerSecondPerAddress { get; set; } = 20;

    /// <summary>Guest accounts one address may create in a burst (plain sockets and v1 <c>guest</c> auth).</summary>
    public int GuestBurstPerAddress { get; set; } = 20;
    public double GuestsPerMinutePerAddress { get; set; } = 10;

    /// <summary>Images one address may upload in a burst.</summary>
    public int ImageBurstPerAddress { get; set; } = 40;
    public double ImagesPerMinutePerAddress { get; set; } = 30;
    /// <summary>Image bytes one address may upload per hour (a rolling budget).</summary>
    public long ImageBytesPerAddressPerHour { get; set; } = 200L * 1024 * 1024;

    /// <summary>New chat accounts one address may register in a burst (sign-in form and token endpoint).</summary>
    public int RegistrationBurstPerAddress { get; set; } = 10;
    public double RegistrationsPerHourPerAddress { get; set; } = 20;

    /// <summary>IPv6 addresses are grouped by this prefix (a /64 is one subscriber's network).</summary>
    public int IPv6PrefixLength { get; set; } = 64;

    /// <summary>Addresses or networks the per-address limits do not apply to (e.g. your own bot host). Per-user limits still do.</summary>
    public List<string> ExemptNetworks { get; set; } = [];
}

/// <summary>
/// Token buckets per client address for posts, guest creation, image uploads (count and bytes)
/// and registrations. In memory per node: behind several nodes an address gets at most this
/// budget on each node it reaches (nginx's stickiness keeps a client on one).
/// </summary>
public sealed class AddressLimits : IDisposable
{
    private readonly AddressLimitOptions _o;
    private readonly List<IPNetwork> _exempt = [];
    private readonly PartitionedRateLimiter<string>? _posts, _guests, _images, _imageBytes, _registrations;

    public AddressLimits(IOptions<AddressLimitOptions> options)
    {
        _o = options.Value;
        foreach (var entry in _o.ExemptNetworks.Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            if (IPNetwork.TryParse(entry, out var net)) _exempt.Add(net);
            else if (IPAddress.TryParse(entry, out var ip)) _exempt.Add(new IPNetwork(ip, ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            else throw new InvalidOperationException($"Limits:ExemptNetworks: '{entry}' is neither an IP address nor a network (a.b.c.d/n).");
        }
        _posts = Bucket(_o.PostBurstPerAddress, _o.PostsPerSecondPerAddress, TimeSpan.FromSeconds(1));
        _guests = Bucket(_o.GuestBurstPerAddress, _o.GuestsPerMinutePerAddress, TimeSpan.FromMinutes(1));
        _images = Bucket(_o.ImageBurstPerAddress, _o.ImagesPerMinutePerAddress, TimeSpan.FromMinutes(1));
        var bytes = (int)Math.Clamp(_o.ImageBytesPerAddressPerHour, 0, int.MaxValue);
        _imageBytes = Bucket(bytes, bytes, TimeSpan.FromHours(1));
        _registrations = Bucket(_o.RegistrationBurstPerAddress, _o.RegistrationsPerHourPerAddress, TimeSpan.FromHours(1));
    }

    /// <summary>A burst of <paramref name="burst"/>, refilled at <paramref name="perUnit"/> per <paramref name="unit"/> (in steps of at most a tenth of the unit).</summary>
    private static PartitionedRateLimiter<string>? Bucket(int burst, double perUnit, TimeSpan unit)
    {
        if (burst <= 0 || perUnit <= 0) return null;
        var steps = Math.Max(1, Math.Min(10, (int)Math.Floor(perUnit)));
        // Less than one per unit: one token every 1/perUnit units.
        var period = perUnit < 1 ? unit / perUnit : unit / steps;
        var tokens = perUnit < 1 ? 1 : Math.Max(1, (int)Math.Round(perUnit / steps));
        return PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>One more message from this address? Null or unparsable addresses are not limited here (the per-user limits still are).</summary>
    public bool TryPost(string? address) => Take(_posts, address, 1);

    public bool TryCreateGuest(string? address) => Take(_guests, address, 1);

    public bool TryRegister(string? address) => Take(_registrations, address, 1);

    /// <summary>One more image of <paramref name="bytes"/> from this address (count and byte budgets both).</summary>
    public bool TryUploadImage(string? address, long bytes)
    {
        if (Key(address) is null) return true;
        if (_imageBytes is not null && bytes > _o.ImageBytesPerAddressPerHour) return false;
        return Take(_images, address, 1) && Take(_imageBytes, address, (int)Math.Min(bytes, int.MaxValue));
    }

    private bool Take(PartitionedRateLimiter<string>? limiter, string? address, int permits)
    {
        if (limiter is null || Key(address) is not { } key) return true;
        using var lease = limiter.AttemptAcquire(key, permits);
        return lease.IsAcquired;
    }

    /// <summary>The bucket key: the IPv4 address, or the IPv6 address's network (/64 by default); null when exempt or unknown.</summary>
    internal string? Key(string? address)
    {
        if (string.IsNullOrEmpty(address) || !IPAddress.TryParse(address, out var ip)) return null;
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        foreach (var n in _exempt)
            if (n.Contains(ip)) return null;
        return AddressKey.Of(ip, _o.IPv6PrefixLength);
    }

    public void Dispose()
    {
        _posts?.Dispose();
        _guests?.Dispose();
        _images?.Dispose();
        _imageBytes?.Dispose();
        _registrations?.Dispose();
    }
}

/// <summary>How a client address is counted: IPv4 as is, IPv6 by its network prefix.</summary>
public static class AddressKey
{
    public static string Of(IPAddress ip, int ipv6Prefix = 64)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (ip.AddressFamily == AddressFamily.InterNetwork) return ip.ToString();
        var prefix = Math.Clamp(ipv6Prefix, 1, 128);
        var bytes = ip.GetAddressBytes();
        for (var bit = prefix; bit < 128; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        return new IPAddress(bytes).ToString() + "/" + prefix.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The key of an address string, or the string itself when it is not an address.</summary>
    public static string Of(string address, int ipv6Prefix = 64) =>
        IPAddress.TryParse(address, out var ip) ? Of(ip, ipv6Prefix) : address;
}
