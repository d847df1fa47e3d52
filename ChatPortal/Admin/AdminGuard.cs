using System.Security.Claims;
using ChatPortal.Auth;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

/// <summary>Who asks for an admin action: the principal of the request or circuit, and where from.</summary>
public sealed record AdminCaller(ClaimsPrincipal Principal, string? RemoteIp);

/// <summary>An admin confirmed against the database for one action.</summary>
public sealed record AdminActor(long Id, string Name, string? RemoteIp);

/// <summary>The caller is not (or no longer) an enabled admin. Pages send the browser to the admin sign-in.</summary>
public sealed class AdminAccessDeniedException() : Exception("This needs a signed-in, enabled admin.");

/// <summary>
/// Every admin service method starts here: the page's [Authorize] attribute is not trusted
/// alone. The admin must exist, be enabled, and carry the current security stamp, checked in
/// the database on every action (a disabled admin is refused at once, not at the next sign-in).
/// </summary>
public sealed class AdminGuard(IDbContextFactory<ChatDbContext> dbFactory)
{
    public async Task<AdminActor> RequireAsync(AdminCaller? caller, CancellationToken ct = default)
    {
        var identity = caller?.Principal.AdminIdentity();
        var admin = caller?.Principal.ToAdmin();
        var stamp = identity?.FindFirst(PortalClaims.Stamp)?.Value;
        if (admin is null || stamp is null) throw new AdminAccessDeniedException();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.Admins.AsNoTracking()
            .Where(a => a.Id == admin.Id && !a.Disabled && a.SecurityStamp == stamp)
            .Select(a => new { a.Id, a.Name })
            .FirstOrDefaultAsync(ct);
        return row is null ? throw new AdminAccessDeniedException() : new AdminActor(row.Id, row.Name, caller!.RemoteIp);
    }
}
