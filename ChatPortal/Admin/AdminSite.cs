using ChatPortal.Auth;

namespace ChatPortal.Admin;

/// <summary>The site's access settings in the back office (issue 21): registration open / invite-only / closed, guests on / off.</summary>
public sealed class AdminSite(SiteAccess site, AdminGuard guard, AdminAudit audit)
{
    public async Task<SiteAccessSettings> GetAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await site.GetAsync(ct);
    }

    /// <summary>Saves the settings with an audit entry in the same transaction; they apply at once on every node.</summary>
    public async Task<AdminResult<SiteAccessSettings>> SaveAsync(AdminCaller caller, RegistrationMode registration, bool guestsAllowed,
        bool newInvite = false, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (!Enum.IsDefined(registration)) return AdminResult.Fail("site_invalid", "Unknown registration mode.");
        return await site.SaveAsync(registration, guestsAllowed, newInvite, (db, saved) =>
            audit.Add(db, actor, AuditActions.SiteAccessUpdate, "site access",
                $"registration={saved.Registration}; guests={(saved.GuestsAllowed ? "on" : "off")}{(newInvite ? "; new invite link" : "")}"), ct);
    }
}
