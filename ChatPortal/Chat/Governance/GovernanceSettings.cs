using System.Globalization;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Governance;

/// <summary>What happens to a deleted account's messages.</summary>
public enum AccountDeletionMode
{
    /// <summary>The messages stay, shown as from "deleted user #id"; the account row becomes a tombstone.</summary>
    KeepAsDeletedUser = 0,
    /// <summary>The messages (with their images and search rows) are removed too.</summary>
    RemoveMessages = 1,
}

/// <summary>The site's data-governance settings as stored (PortalSettings rows; edited on the back office's Data page).</summary>
public sealed record GovernancePolicy(int DefaultRetentionDays, AccountDeletionMode DeletionMode)
{
    public static readonly GovernancePolicy Default = new(0, AccountDeletionMode.KeepAsDeletedUser);
}

/// <summary>
/// Reads and writes the site-wide data-governance settings: the default message retention
/// (0 = keep forever, N = days) and the account-deletion mode. Per-room retention is a column of
/// the room (<see cref="Room.RetentionDays"/>).
/// </summary>
public sealed class GovernanceSettings(IDbContextFactory<ChatDbContext> dbFactory)
{
    public const string RetentionKey = "governance.retention_days";
    public const string DeletionModeKey = "governance.account_deletion";
    public const int MaxRetentionDays = 36500;

    public async Task<GovernancePolicy> GetAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Settings.AsNoTracking().Where(s => s.Key == RetentionKey || s.Key == DeletionModeKey)
            .ToDictionaryAsync(s => s.Key, s => s.Value, ct);
        var days = rows.TryGetValue(RetentionKey, out var d) && int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? Math.Clamp(n, 0, MaxRetentionDays) : 0;
        var mode = rows.TryGetValue(DeletionModeKey, out var m) && Enum.TryParse<AccountDeletionMode>(m, out var parsed) && Enum.IsDefined(parsed)
            ? parsed : AccountDeletionMode.KeepAsDeletedUser;
        return new GovernancePolicy(days, mode);
    }

    /// <summary>Adds the changed settings to <paramref name="db"/> (saved by the caller, with its audit entry).</summary>
    public static async Task StageAsync(ChatDbContext db, GovernancePolicy policy, CancellationToken ct = default)
    {
        await SetAsync(db, RetentionKey, policy.DefaultRetentionDays.ToString(CultureInfo.InvariantCulture), ct);
        await SetAsync(db, DeletionModeKey, policy.DeletionMode.ToString(), ct);
    }

    private static async Task SetAsync(ChatDbContext db, string key, string value, CancellationToken ct)
    {
        var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == key, ct);
        if (row is null) db.Settings.Add(new PortalSetting { Key = key, Value = value });
        else row.Value = value;
    }

    /// <summary>The retention that applies to a room: its own setting, else the site default. 0 keeps forever.</summary>
    public static int EffectiveDays(int? roomDays, int siteDefault) => Math.Clamp(roomDays ?? siteDefault, 0, MaxRetentionDays);
}
