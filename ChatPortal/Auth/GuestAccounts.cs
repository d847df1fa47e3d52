using System.Globalization;
using System.Security.Cryptography;
using ChatPortal.Chat;
using ChatPortal.Chat.Safeguards;
using ChatPortal.Data;
using ChatPortal.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>
/// Guests: real user rows (kind Guest, no password) with generated names, so their messages
/// have a sender like anyone's. Rooms decide whether guests may read and post there.
/// </summary>
/// <remarks>
/// Guest creation is limited per client address (<see cref="AddressLimits.TryCreateGuest"/>): rotating
/// guests must not buy a fresh per-user budget each time. Guests expire (<see cref="GuestExpiry"/>).
/// </remarks>
public sealed class GuestAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time,
    IOptions<WebSocketEndpointOptions> options, AddressLimits limits, GuestExpiry expiry)
{
    /// <summary>The error a client gets when its address made too many guests.</summary>
    public static readonly ChatError TooMany = new("rate_limited", "Too many guests from your network; wait a moment or sign in.");

    /// <summary>A new guest (its connection counts as open until <see cref="ForgetIfUnusedAsync"/>), or null when the address made too many.</summary>
    public async Task<UserRef?> CreateAsync(string? remoteIp, CancellationToken ct = default)
    {
        if (!limits.TryCreateGuest(remoteIp)) return null;
        var prefix = options.Value.GuestNamePrefix.Trim();
        if (prefix.Length is 0 or > UserNames.MaxLength - 6) prefix = "Guest";
        for (var attempt = 0; ; attempt++)
        {
            var name = prefix + RandomNumberGenerator.GetInt32(100_000, 1_000_000).ToString(CultureInfo.InvariantCulture);
            var now = time.GetUtcNow();
            var user = new ChatUser
            {
                Name = name,
                NormalizedName = UserNames.Normalize(name),
                Kind = UserKind.Guest,
                CreatedAt = now,
                LastSeenAt = now,
                LastIp = remoteIp,
                SecurityStamp = ChatAccounts.NewStamp(),
            };
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            // A taken name (about one in a thousand guests draws one) is skipped before the insert, so
            // the unique index only catches a true race and the database logs no error for it.
            if (attempt < 10 && await db.Users.AnyAsync(u => u.NormalizedName == user.NormalizedName, ct)) continue;
            db.Users.Add(user);
            try
            {
                await db.SaveChangesAsync(ct);
                expiry.Opened(user.Id);
                return new UserRef(user.Id, user.Name, UserKind.Guest);
            }
            catch (DbUpdateException) when (attempt < 10)
            {
                // The name is taken: draw another.
            }
        }
    }

    /// <summary>
    /// The guest's connection closed: a guest that posted nothing leaves no row behind (idle sockets
    /// must not grow the user table); one that did is marked seen now, which starts its expiry clock.
    /// </summary>
    public async Task ForgetIfUnusedAsync(long guestId, CancellationToken ct = default)
    {
        expiry.Closed(guestId);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var removed = await db.Users
            .Where(u => u.Id == guestId && u.Kind == UserKind.Guest
                        && !db.Messages.Any(m => m.SenderId == guestId)
                        && !db.Images.Any(i => i.UploaderId == guestId))
            .ExecuteDeleteAsync(ct);
        if (removed > 0) users.Invalidate(guestId);
        else
        {
            var now = time.GetUtcNow();
            await db.Users.Where(u => u.Id == guestId && u.Kind == UserKind.Guest).ExecuteUpdateAsync(x => x.SetProperty(u => u.LastSeenAt, now), ct);
        }
    }
}
