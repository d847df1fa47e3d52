using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Email;
using ChatPortal.Security;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Profiles;

/// <summary>The editable part of a profile (the avatar and the email have their own calls).</summary>
public sealed record ProfileEdit(string? DisplayName, string? Status, string? TimeZone);

/// <summary>
/// Reads and changes profiles: validation, the row, and the cache. Every adapter (the profile page,
/// the OpenID Connect sign-in) goes through here.
/// </summary>
public sealed class UserProfiles(IDbContextFactory<ChatDbContext> dbFactory, ProfileDirectory directory, AvatarStore avatars,
    SafeHttpClient http, TimeProvider time, ILogger<UserProfiles> log)
{
    public const int MaxDisplayName = 64;
    public const int MaxStatus = 140;

    public async Task<UserProfile> GetAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.UserId == userId, ct) ?? new UserProfile { UserId = userId };
    }

    /// <summary>Null when saved, else an error (nothing is changed then).</summary>
    public async Task<ChatError?> UpdateAsync(long userId, ProfileEdit edit, CancellationToken ct = default)
    {
        var display = Clean(edit.DisplayName);
        if (display?.Length > MaxDisplayName) return new("display_name_too_long", $"The display name may have at most {MaxDisplayName} characters.");
        var status = Clean(edit.Status);
        if (status?.Length > MaxStatus) return new("status_too_long", $"The status may have at most {MaxStatus} characters.");
        var zone = string.IsNullOrWhiteSpace(edit.TimeZone) ? null : edit.TimeZone.Trim();
        if (zone is not null && !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _)) return new("time_zone", "Unknown time zone.");
        await ChangeAsync(userId, p =>
        {
            p.DisplayName = display;
            p.StatusText = status;
            p.TimeZone = zone;
        }, ct);
        return null;
    }

    public async Task<ChatError?> SetAvatarAsync(long userId, ReadOnlyMemory<byte> bytes, CancellationToken ct = default)
    {
        var saved = await avatars.SaveAsync(bytes, userId, ct);
        if (!saved.Ok) return saved.Error;
        string? old = null;
        await ChangeAsync(userId, p =>
        {
            old = p.AvatarId;
            p.AvatarId = saved.Value;
        }, ct);
        avatars.Delete(old);
        return null;
    }

    public async Task RemoveAvatarAsync(long userId, CancellationToken ct = default)
    {
        string? old = null;
        await ChangeAsync(userId, p =>
        {
            old = p.AvatarId;
            p.AvatarId = null;
        }, ct);
        avatars.Delete(old);
    }

    /// <summary>
    /// Fetches a picture an identity provider names (through the SSRF-safe client) and makes it the
    /// avatar, unless the user already has one. Failures are logged, never thrown: sign-in goes on.
    /// </summary>
    public async Task<bool> AdoptPictureAsync(long userId, string? url, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)) return false;
        try
        {
            if ((await GetAsync(userId, ct)).AvatarId is not null) return false;
            var response = await http.GetAsync(uri, ct: ct);
            if ((int)response.Status is < 200 or >= 300) throw new SafeHttpException($"HTTP {(int)response.Status}");
            var error = await SetAvatarAsync(userId, response.Body, ct);
            if (error is not null) throw new SafeHttpException(error.Message);
            return true;
        }
        catch (SafeHttpException ex)
        {
            log.LogInformation("The provider's picture for user {User} was not used: {Reason}", userId, ex.Message);
            return false;
        }
    }

    /// <summary>Sets the email; <paramref name="verified"/> only when confirmed (mailed link, or the provider says so).</summary>
    public async Task<ChatError?> SetEmailAsync(long userId, string? email, bool verified, CancellationToken ct = default)
    {
        var clean = string.IsNullOrWhiteSpace(email) ? null : email.Trim();
        if (clean is not null && !IsEmail(clean)) return new("email", "That is not an email address.");
        await ChangeAsync(userId, p =>
        {
            var same = string.Equals(p.NormalizedEmail, Normalize(clean), StringComparison.Ordinal);
            p.Email = clean;
            p.NormalizedEmail = Normalize(clean);
            // Re-entering the same confirmed address keeps it confirmed; a new one must be confirmed again.
            p.EmailVerified = clean is not null && (verified || (same && p.EmailVerified));
        }, ct);
        return null;
    }

    /// <summary>Marks the address confirmed if it is still the user's address.</summary>
    public async Task<bool> ConfirmEmailAsync(long userId, string email, CancellationToken ct = default)
    {
        var ok = false;
        await ChangeAsync(userId, p =>
        {
            if (p.NormalizedEmail != Normalize(email)) return;
            p.EmailVerified = true;
            ok = true;
        }, ct);
        return ok;
    }

    /// <summary>
    /// Blanks the profile of a deleted account (name, status, zone, picture, address) and removes the
    /// picture file. The row stays, with a new <c>UpdatedAt</c>, so the other nodes' caches learn it.
    /// </summary>
    public async Task ForgetAsync(long userId, CancellationToken ct = default)
    {
        string? old = null;
        await ChangeAsync(userId, p =>
        {
            old = p.AvatarId;
            p.DisplayName = p.StatusText = p.TimeZone = p.AvatarId = p.Email = p.NormalizedEmail = null;
            p.EmailVerified = false;
        }, ct);
        avatars.Delete(old);
    }

    /// <summary>The accounts whose profile holds this address confirmed.</summary>
    public async Task<IReadOnlyList<long>> FindByVerifiedEmailAsync(string email, CancellationToken ct = default)
    {
        var normalized = Normalize(email);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Profiles.AsNoTracking().Where(p => p.NormalizedEmail == normalized && p.EmailVerified).Select(p => p.UserId).ToListAsync(ct);
    }

    public static bool IsEmail(string s) =>
        s.Length <= 254 && MimeKit.MailboxAddress.TryParse(s, out var m) && m.Address == s && s.Contains('@', StringComparison.Ordinal)
        && !s.Any(char.IsWhiteSpace);

    public static string? Normalize(string? email) => email?.Trim().ToUpperInvariant();

    private static string? Clean(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var t = string.Concat(s.Where(c => !char.IsControl(c))).Trim();
        return t.Length == 0 ? null : t;
    }

    private async Task ChangeAsync(long userId, Action<UserProfile> change, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var p = await db.Profiles.FirstOrDefaultAsync(x => x.UserId == userId, ct);
        if (p is null)
        {
            p = new UserProfile { UserId = userId };
            db.Profiles.Add(p);
        }
        change(p);
        p.UpdatedAt = time.GetUtcNow();
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (db.Entry(p).State == EntityState.Added)
        {
            // Two first changes at once: apply this one to the row the other created.
            await using var again = await dbFactory.CreateDbContextAsync(ct);
            p = await again.Profiles.FirstAsync(x => x.UserId == userId, ct);
            change(p);
            p.UpdatedAt = time.GetUtcNow();
            await again.SaveChangesAsync(ct);
        }
        directory.Set(p);
    }
}

public static class ProfileSetup
{
    public static WebApplicationBuilder AddChatPortalProfiles(this WebApplicationBuilder builder)
    {
        builder.Services.AddSafeHttp(builder.Configuration);
        builder.Services.AddSingleton<AvatarStore>();
        builder.Services.AddSingleton<ProfileDirectory>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProfileDirectory>());
        builder.Services.AddSingleton<UserProfiles>();
        builder.Services.AddSingleton<Auth.SelfService.AccountSelfService>();
        builder.Services.AddChatPortalEmail(builder.Configuration);
        builder.Services.AddSingleton<EmailConfirmation>();
        return builder;
    }

    /// <summary>GET /avatars/{id}: re-encoded PNGs from our own origin, immutable (a change is a new id).</summary>
    public static IEndpointRouteBuilder MapChatPortalProfiles(this IEndpointRouteBuilder app)
    {
        app.MapGet("/avatars/{id}", (string id, AvatarStore store, HttpContext ctx) =>
        {
            if (store.PathOf(id) is not { } path) return Results.NotFound();
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            ctx.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            ctx.Response.Headers.ContentSecurityPolicy = "default-src 'none'; sandbox";
            return Results.File(path, "image/png", enableRangeProcessing: false);
        });
        return app;
    }
}
