using System.Globalization;
using System.Security.Claims;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Profiles;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth.Oidc;

/// <summary>What the provider said about the person (id token and userinfo claims).</summary>
public sealed record OidcIdentity(string Issuer, string Subject, string? Email, bool EmailVerified, string? Name, string? PreferredUsername,
    string? Picture, IReadOnlyList<string> Groups)
{
    public static OidcIdentity? From(ClaimsPrincipal principal, string issuer, string groupsClaim)
    {
        var sub = principal.FindFirst("sub")?.Value ?? principal.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        if (string.IsNullOrEmpty(sub)) return null;
        var verified = principal.FindFirst("email_verified")?.Value;
        return new OidcIdentity(issuer, sub,
            principal.FindFirst("email")?.Value,
            bool.TryParse(verified, out var v) && v,
            principal.FindFirst("name")?.Value,
            principal.FindFirst("preferred_username")?.Value,
            principal.FindFirst("picture")?.Value,
            principal.FindAll(groupsClaim).Select(c => c.Value).Distinct(StringComparer.Ordinal).ToList());
    }
}

public enum OidcResult
{
    SignedIn,
    Registered,
    Linked,
    /// <summary>The address belongs to an account here, but the provider has not verified it: no link.</summary>
    EmailUnverified,
    Banned,
    /// <summary>Admin sign-in: not in the configured admin group.</summary>
    NotAdmin,
    AdminDisabled,
    Invalid,
}

public sealed record OidcOutcome(OidcResult Result, ChatUser? User = null, AdminUser? Admin = null)
{
    public bool Succeeded => Result is OidcResult.SignedIn or OidcResult.Registered or OidcResult.Linked;
}

/// <summary>
/// Maps a provider identity to a local account. The first sign-in of an identity links it: to the
/// account whose CONFIRMED email equals the provider's VERIFIED email (only then: an address
/// anyone can type into a profile, or one the provider has not checked, never opens an account),
/// or else to a new account named after the person. Later sign-ins find the link (issuer +
/// subject). Admins are matched the same way but separately, and only while in the admin group.
/// </summary>
public sealed class OidcAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserProfiles profiles, UserDirectory users, ChatRooms rooms,
    ChatAccounts accounts, IOptions<OidcOptions> options, TimeProvider time, ILogger<OidcAccounts> log)
{
    public async Task<OidcOutcome> SignInChatAsync(OidcIdentity id, string? remoteIp, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var link = await db.ExternalLogins.FirstOrDefaultAsync(l => l.Issuer == id.Issuer && l.Subject == id.Subject && !l.ForAdmin, ct);
        ChatUser? user = null;
        var result = OidcResult.SignedIn;
        if (link is not null) user = await db.Users.FirstOrDefaultAsync(u => u.Id == link.LocalId && u.DeletedAt == null, ct);
        if (user is null && !string.IsNullOrWhiteSpace(id.Email))
        {
            var owners = await profiles.FindByVerifiedEmailAsync(id.Email, ct);
            if (owners.Count > 0)
            {
                if (!id.EmailVerified) return new(OidcResult.EmailUnverified);
                user = await db.Users.FirstOrDefaultAsync(u => owners.Contains(u.Id) && u.Kind == UserKind.Member && u.DeletedAt == null, ct);
                if (user is not null) result = OidcResult.Linked;
            }
        }
        if (user is null)
        {
            user = await CreateUserAsync(db, id, remoteIp, now, ct);
            result = OidcResult.Registered;
        }
        if (user.Kind != UserKind.Member) return new(OidcResult.Invalid);
        if (user.BannedAt is not null) return new(OidcResult.Banned, user);

        if (link is null)
            db.ExternalLogins.Add(link = new ExternalLogin { Issuer = id.Issuer, Subject = id.Subject, LocalId = user.Id, CreatedAt = now });
        else
            link.LocalId = user.Id; // the linked account was deleted: the identity now has the new one
        link.LastSignInAt = now;
        user.LastSeenAt = now;
        user.LastIp = remoteIp;
        await db.SaveChangesAsync(ct);
        users.Invalidate(user.Id);

        await UpdateProfileAsync(user.Id, id, result == OidcResult.Registered, ct);
        await JoinGroupRoomsAsync(new UserRef(user.Id, user.Name, user.Kind), id.Groups, ct);
        log.LogInformation("OpenID Connect sign-in of user {User} ({Result})", user.Id, result);
        return new(result, user);
    }

    public async Task<OidcOutcome> SignInAdminAsync(OidcIdentity id, CancellationToken ct = default)
    {
        var o = options.Value;
        if (!o.AdminEnabled || !id.Groups.Contains(o.AdminGroup!, StringComparer.Ordinal)) return new(OidcResult.NotAdmin);
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var link = await db.ExternalLogins.FirstOrDefaultAsync(l => l.Issuer == id.Issuer && l.Subject == id.Subject && l.ForAdmin, ct);
        AdminUser? admin = link is null ? null : await db.Admins.FirstOrDefaultAsync(a => a.Id == link.LocalId, ct);
        if (admin is null)
        {
            var name = await FreeNameAsync(n => db.Admins.AnyAsync(a => a.NormalizedName == UserNames.Normalize(n), ct), BaseName(id));
            admin = new AdminUser
            {
                Name = name,
                NormalizedName = UserNames.Normalize(name),
                // No usable password: this admin signs in through the provider (a password can be set on the command line).
                PasswordHash = new PasswordHasher<AdminUser>().HashPassword(null!, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))),
                CreatedAt = now,
                SecurityStamp = ChatAccounts.NewStamp(),
            };
            db.Admins.Add(admin);
            db.AuditLog.Add(new AuditEntry
            {
                At = now,
                AdminName = name,
                Action = "admin.create.oidc",
                Target = $"admin {name}",
                Detail = $"first sign-in through {id.Issuer} (group {o.AdminGroup})",
            });
            await db.SaveChangesAsync(ct);
        }
        if (admin.Disabled) return new(OidcResult.AdminDisabled);
        if (link is null) db.ExternalLogins.Add(link = new ExternalLogin { Issuer = id.Issuer, Subject = id.Subject, ForAdmin = true, LocalId = admin.Id, CreatedAt = now });
        link.LastSignInAt = now;
        await db.SaveChangesAsync(ct);
        return new(OidcResult.SignedIn, Admin: admin);
    }

    private async Task<ChatUser> CreateUserAsync(ChatDbContext db, OidcIdentity id, string? remoteIp, DateTimeOffset now, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            // Free by name and by look (the confusable check a password sign-up gets, issue 20).
            var name = await FreeNameAsync(async n => await db.Users.AnyAsync(u => u.NormalizedName == UserNames.Normalize(n), ct)
                || await accounts.LooksTakenAsync(db, n, ct), BaseName(id));
            var user = new ChatUser
            {
                Name = name,
                NormalizedName = UserNames.Normalize(name),
                NameSkeleton = NameSkeletons.Of(name),
                Kind = UserKind.Member,
                CreatedAt = now,
                LastSeenAt = now,
                LastIp = remoteIp,
                SecurityStamp = ChatAccounts.NewStamp(),
                // No password: this account signs in through the provider until its owner sets one.
            };
            db.Users.Add(user);
            try
            {
                await db.SaveChangesAsync(ct);
                return user;
            }
            catch (DbUpdateException) when (attempt < 3)
            {
                db.Entry(user).State = Microsoft.EntityFrameworkCore.EntityState.Detached; // the name was taken a moment ago
            }
        }
    }

    private async Task UpdateProfileAsync(long userId, OidcIdentity id, bool created, CancellationToken ct)
    {
        var p = await profiles.GetAsync(userId, ct);
        if (created && !string.IsNullOrWhiteSpace(id.Name))
            await profiles.UpdateAsync(userId, new ProfileEdit(Truncate(id.Name, UserProfiles.MaxDisplayName), p.StatusText, p.TimeZone), ct);
        // The provider's verified address fills an empty one (or confirms the same one); a user's own choice is kept.
        if (id.EmailVerified && !string.IsNullOrWhiteSpace(id.Email) && UserProfiles.IsEmail(id.Email.Trim())
            && (p.Email is null || UserProfiles.Normalize(p.Email) == UserProfiles.Normalize(id.Email)))
            await profiles.SetEmailAsync(userId, id.Email, verified: true, ct);
        else if (created && !string.IsNullOrWhiteSpace(id.Email) && UserProfiles.IsEmail(id.Email.Trim()))
            await profiles.SetEmailAsync(userId, id.Email, verified: false, ct);
        if (options.Value.UsePicture && p.AvatarId is null && id.Picture is { Length: > 0 } picture)
        {
            // Off the sign-in request: a slow picture host must not hold up the sign-in.
            _ = Task.Run(async () =>
            {
                try { await profiles.AdoptPictureAsync(userId, picture, CancellationToken.None); }
                catch (Exception ex) { log.LogWarning(ex, "Adopting the provider's picture for user {User} failed", userId); }
            }, CancellationToken.None);
        }
    }

    private async Task JoinGroupRoomsAsync(UserRef user, IReadOnlyList<string> groups, CancellationToken ct)
    {
        foreach (var g in groups)
        {
            if (!options.Value.RoomGroups.TryGetValue(g, out var slug)) continue;
            var room = await rooms.FindAsync(slug, ct);
            if (room is null || room.IsDirect || room.IsArchived)
            {
                log.LogWarning("Group {Group} names room {Slug}, which does not exist (or is archived)", g, slug);
                continue;
            }
            await rooms.EnsureMemberAsync(room.Id, user, ct);
        }
    }

    private static string BaseName(OidcIdentity id)
    {
        foreach (var candidate in new[] { id.PreferredUsername, id.Name, id.Email?.Split('@')[0] })
        {
            var clean = CleanName(candidate);
            if (clean is not null) return clean;
        }
        return "user";
    }

    /// <summary>The candidate reduced to what a nickname may contain, or null when too little is left.</summary>
    internal static string? CleanName(string? candidate)
    {
        if (string.IsNullOrWhiteSpace(candidate)) return null;
        var sb = new StringBuilder();
        foreach (var r in candidate.Trim().EnumerateRunes())
        {
            var ok = Rune.IsLetterOrDigit(r) || r.Value is '_' or '-' or '.' || (r.Value == ' ' && sb.Length > 0 && sb[^1] != ' ');
            if (ok) sb.Append(r.ToString());
        }
        var s = sb.ToString().Trim();
        if (s.Length > UserNames.MaxLength - 4) s = s[..(UserNames.MaxLength - 4)].Trim();
        return UserNames.Validate(s) is null ? s : null;
    }

    /// <summary>The base name, or with the first free number appended; <paramref name="taken"/> gets the candidate as it would be stored.</summary>
    private static async Task<string> FreeNameAsync(Func<string, Task<bool>> taken, string baseName)
    {
        if (!await taken(baseName)) return baseName;
        for (var i = 2; i < 100; i++)
        {
            var n = baseName + "-" + i.ToString(CultureInfo.InvariantCulture);
            if (!await taken(n)) return n;
        }
        return baseName + "-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s.Trim() : s[..max].Trim();
}
