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
/// <see cref="PortalSetting"/> rows, edited in the back office. They are read from the database every
/// time they decide something (a registration, a guest connection: rare and already costly), so a
/// change takes effect at once on every node of a cluster without a cache to invalidate. Until the back
/// office saves them, the configuration decides: <c>Accounts:AutoRegister=false</c> means closed,
/// <c>WebSockets:AllowGuests</c> whether guests may connect.
/// </summary>
public sealed class SiteAccess(IDbContextFactory<ChatDbContext> dbFactory, IOptions<AccountOptions> accounts, IOptions<WebSocketEndpointOptions> sockets)
{
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
        return new SiteAccessSettings(mode, guests, invite);
    }

    public async Task<bool> GuestsAllowedAsync(CancellationToken ct = default) => (await GetAsync(ct)).GuestsAllowed;

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
        return saved;
    }

    private static async Task UpsertAsync(ChatDbContext db, string key, string value, CancellationToken ct)
    {
        var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == key, ct);
        if (row is null) db.Settings.Add(new PortalSetting { Key = key, Value = value });
        else row.Value = value;
    }
}
