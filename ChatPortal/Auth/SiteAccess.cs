using System.Security.Cryptography;
using ChatPortal.Data;
using ChatPortal.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>Who may create an account on this site.</summary>
public enum RegistrationMode
{
    /// <summary>A new nickname creates an account (after the person confirms it).</summary>
    Open = 0,
    /// <summary>Only with the site's invite link.</summary>
    InviteOnly = 1,
    /// <summary>Nobody: only existing accounts sign in.</summary>
    Closed = 2,
}

/// <summary>The site's access settings as the back office shows and saves them.</summary>
public sealed record SiteAccessSettings(RegistrationMode Registration, bool GuestsAllowed, string InviteCode);

/// <summary>
/// Registration (open, invite-only, closed) and guests (on, off) as site settings (issue 21): stored in
/// <see cref="PortalSetting"/> rows, edited in the back office. Registration and the back office read the
/// database every time; the guest check on every guest connection reads a copy at most
/// <see cref="CacheFor"/> old (a reconnect storm of guests made one query each, issue 19): a change saved on
/// this node applies at once, one saved on another node (or in the database) within that time. Until the
/// back office saves them, the configuration decides: <c>Accounts:AutoRegister=false</c> means closed,
/// <c>WebSockets:AllowGuests</c> whether guests may connect.
/// </summary>
public sealed class SiteAccess(IDbContextFactory<ChatDbContext> dbFactory, IOptions<AccountOptions> accounts, IOptions<WebSocketEndpointOptions> sockets,
    TimeProvider time)
{
    /// <summary>How old the copy the guest check reads may be.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private volatile Cached? _cached;

    private sealed record Cached(SiteAccessSettings Settings, DateTimeOffset ReadAt);

    public const string RegistrationKey = "site.registration";
    public const string GuestsKey = "site.guests";
    public const string InviteKey = "site.invite";

    public async Task<SiteAccessSettings> GetAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Settings.AsNoTracking().Where(s => s.Key == RegistrationKey || s.Key == GuestsKey || s.Key == InviteKey)
            .ToDictionaryAsync(s => s.Key, s => s.Value, ct);
        var mode = rows.TryGetValue(RegistrationKey, out var m) && Enum.TryParse<RegistrationMode>(m, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : accounts.Value.AutoRegister ? RegistrationMode.Open : RegistrationMode.Closed;
        var guests = rows.TryGetValue(GuestsKey, out var g) && bool.TryParse(g, out var on) ? on : sockets.Value.AllowGuests;
        var invite = rows.TryGetValue(InviteKey, out var code) && code.Length > 0 ? code : "";
        var settings = new SiteAccessSettings(mode, guests, invite);
        _cached = new Cached(settings, time.GetUtcNow());
        return settings;
    }

    public async Task<bool> GuestsAllowedAsync(CancellationToken ct = default)
    {
        if (_cached is { } c && time.GetUtcNow() - c.ReadAt < CacheFor) return c.Settings.GuestsAllowed;
        return (await GetAsync(ct)).GuestsAllowed;
    }

    /// <summary>Whether a new account may be created now, with the invite code the person came with (if any).</summary>
    public async Task<bool> MayRegisterAsync(string? inviteCode, CancellationToken ct = default)
    {
        var s = await GetAsync(ct);
        return s.Registration switch
        {
            RegistrationMode.Open => true,
            RegistrationMode.InviteOnly => s.InviteCode.Length > 0 && inviteCode is { Length: > 0 }
                && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(inviteCode), System.Text.Encoding.UTF8.GetBytes(s.InviteCode)),
            _ => false,
        };
    }

    /// <summary>
    /// Saves the settings (<paramref name="alsoWrite"/> adds the audit entry to the same transaction).
    /// Invite-only gets an invite code the first time; <paramref name="newInvite"/> replaces it (old links stop working).
    /// </summary>
    public async Task<SiteAccessSettings> SaveAsync(RegistrationMode registration, bool guestsAllowed, bool newInvite,
        Action<ChatDbContext, SiteAccessSettings>? alsoWrite = null, CancellationToken ct = default)
    {
        var current = await GetAsync(ct);
        var invite = newInvite || (registration == RegistrationMode.InviteOnly && current.InviteCode.Length == 0)
            ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))
            : current.InviteCode;
        var saved = new SiteAccessSettings(registration, guestsAllowed, invite);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await UpsertAsync(db, RegistrationKey, registration.ToString(), ct);
        await UpsertAsync(db, GuestsKey, guestsAllowed ? "true" : "false", ct);
        await UpsertAsync(db, InviteKey, invite, ct);
        alsoWrite?.Invoke(db, saved);
        await db.SaveChangesAsync(ct);
        _cached = new Cached(saved, time.GetUtcNow());
        return saved;
    }

    private static async Task UpsertAsync(ChatDbContext db, string key, string value, CancellationToken ct)
    {
        var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == key, ct);
        if (row is null) db.Settings.Add(new PortalSetting { Key = key, Value = value });
        else row.Value = value;
    }
}
