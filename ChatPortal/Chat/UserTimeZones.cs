
namespace ChatPortal.Chat;

/// <summary>
/// The time zone each user's browser last reported (this node's memory only), so what the server
/// writes for a user — a bot's "what time is it" — uses their clock rather than the server's.
/// </summary>
public sealed class UserTimeZones
{
    // Bounded: a cache of who asked recently, not a registry of every account.
    private const int MaxUsers = 100_000;
    private readonly CountedMap<long, TimeZoneInfo> _zones = new();

    public void Set(long userId, TimeZoneInfo zone)
    {
        if (_zones.Count >= MaxUsers && !_zones.ContainsKey(userId)) _zones.Clear();
        _zones.Set(userId, zone);
    }

    public TimeZoneInfo? Find(long userId) => _zones.TryGetValue(userId, out var zone) ? zone : null;

    /// <summary>An IANA (or Windows) zone id from a browser, or null when it is not one this machine knows.</summary>
    public static TimeZoneInfo? Parse(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 64) return null;
        return TimeZoneInfo.TryFindSystemTimeZoneById(id.Trim(), out var zone) ? zone : null;
    }
}
