using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Integrations;

/// <summary>
/// The chat users integrations post as. Back-office admins are not chat users, so each webhook or command gets a
/// user of kind Bot of its own (no password: nobody signs in as it); its posts show the integration's name, and
/// clients mark them as a bot's. Being a bot, it is not held to the per-user rate (each integration has its own).
/// </summary>
public sealed class IntegrationUsers(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time)
{
    /// <summary>Creates the user in <paramref name="db"/> (saved with the integration's row).</summary>
    public ChatUser Add(ChatDbContext db, string kind)
    {
        var name = $"{kind}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";
        var user = new ChatUser
        {
            Name = name,
            NormalizedName = UserNames.Normalize(name),
            Kind = UserKind.Bot,
            CreatedAt = time.GetUtcNow(),
            SecurityStamp = Auth.ChatAccounts.NewStamp(),
        };
        db.Users.Add(user);
        return user;
    }

    public async Task<UserRef?> GetAsync(long userId, CancellationToken ct) => (await users.GetAsync(userId, ct))?.User;

    /// <summary>Unguessable tokens (32 random bytes, base64url): webhook URLs, outgoing tokens and secrets.</summary>
    public static string NewToken() => Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    internal async Task<ChatDbContext> DbAsync(CancellationToken ct) => await dbFactory.CreateDbContextAsync(ct);
}
