using System.Globalization;
using System.Net;
using ChatPortal.Chat;
using Microsoft.JSInterop;

namespace ChatPortal.Components.Chat;

/// <summary>
/// The reader's time zone (scoped: one per circuit). The live circuit asks the browser once
/// (<c>Intl.DateTimeFormat().resolvedOptions().timeZone</c>); the prerendered page, which cannot run
/// script, uses the zone the browser left in a cookie on an earlier visit. Until either is known the
/// server's zone is used, as before.
/// </summary>
public sealed class ViewerClock(IHttpContextAccessor http, UserTimeZones zones, TimeProvider time)
{
    public const string CookieName = "chatportal.tz";
    private TimeZoneInfo? _zone;
    private bool _asked;

    public TimeZoneInfo Zone => _zone ??= FromCookie() ?? time.LocalTimeZone;

    /// <summary>Asks the browser for its zone (once per circuit). True when the zone changed, so the caller re-renders.</summary>
    public async Task<bool> InitAsync(IJSRuntime js, UserRef? user)
    {
        if (_asked) return false;
        _asked = true;
        string? id;
        try { id = await js.InvokeAsync<string?>("chatPortal.timeZone"); }
        catch (JSException) { return false; }
        if (UserTimeZones.Parse(id) is not { } zone) return false;
        if (user is not null) zones.Set(user.Id, zone);
        var changed = Zone.Id != zone.Id;
        _zone = zone;
        return changed;
    }

    public DateTimeOffset ToLocal(DateTimeOffset t) => TimeZoneInfo.ConvertTime(t, Zone);

    /// <summary>"HH:mm" for today in the reader's zone, with the date otherwise.</summary>
    public string Short(DateTimeOffset t)
    {
        var local = ToLocal(t);
        return local.ToString(local.Date == Today ? "HH:mm" : "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
    }

    /// <summary>Today's date in the reader's zone (a message row renders again when it changes: "HH:mm" becomes a date).</summary>
    public DateTime Today => ToLocal(time.GetUtcNow()).Date;

    public string Full(DateTimeOffset t) => ToLocal(t).ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture);

    private TimeZoneInfo? FromCookie()
    {
        var raw = http.HttpContext?.Request.Cookies[CookieName];
        return raw is null ? null : UserTimeZones.Parse(WebUtility.UrlDecode(raw));
    }
}
