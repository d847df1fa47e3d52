using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

public sealed record ApiTokenInfo(long Id, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>
/// API tokens for bots and mini-programs. The token is shown once; only its SHA-256 is stored
/// (table ApiTokens), so a database leak does not leak tokens. Tokens are never logged.
/// </summary>
public sealed class ApiTokens(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time)
{
    public const string Prefix = "cpt_";
    /// <summary>Active tokens per user; issuing one more revokes the oldest (a script that logs in on every start does not pile them up).</summary>
    public const int MaxActivePerUser = 20;

    /// <summary>Raised after a token is revoked, with its id: open sockets that used it are closed.</summary>
    public event Action<long>? Revoked;

    public async Task<(string Token, long Id)> IssueAsync(long userId, string? label, CancellationToken ct = default)
    {
        var token = Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var surplus = await db.ApiTokens.Where(t => t.UserId == userId && t.RevokedAt == null)
            .OrderByDescending(t => t.Id).Skip(MaxActivePerUser - 1).ToListAsync(ct);
        foreach (var old in surplus) old.RevokedAt = now;
        var row = new ApiToken { UserId = userId, TokenHash = Hash(token), Name = Trim(label), CreatedAt = now };
        db.ApiTokens.Add(row);
        await db.SaveChangesAsync(ct);
        foreach (var old in surplus) Revoked?.Invoke(old.Id);
        return (token, row.Id);
    }

    /// <summary>The token's user and the token's id, or null (unknown, revoked, or the user is banned).</summary>
    public async Task<(UserRef User, long TokenId)?> ValidateAsync(string? token, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 200 || !token.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var hash = Hash(token);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.ApiTokens.AsNoTracking().FirstOrDefaultAsync(t => t.TokenHash == hash && t.RevokedAt == null, ct);
        if (row is null) return null;
        var state = await users.GetFreshAsync(row.UserId, ct); // the database decides a ban, not the cache
        if (state is null || state.Banned) return null;
        var now = time.GetUtcNow();
        // "Last used" to the minute: a write per connect made reconnect storms queue on the database (issue 19).
        if (row.LastUsedAt is not { } last || now - last >= TimeSpan.FromMinutes(1))
            await db.ApiTokens.Where(t => t.Id == row.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), ct);
        return (state.User, row.Id);
    }

    /// <summary>Revokes the presented token itself.</summary>
    public async Task<bool> RevokeAsync(string token, CancellationToken ct = default)
    {
        var found = await ValidateAsync(token, ct);
        return found is not null && await RevokeAsync(found.Value.User.Id, found.Value.TokenId, ct);
    }

    public async Task<bool> RevokeAsync(long userId, long tokenId, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var n = await db.ApiTokens.Where(t => t.Id == tokenId && t.UserId == userId && t.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
        if (n > 0) Revoked?.Invoke(tokenId);
        return n > 0;
    }

    /// <summary>Revokes every token of a user (ban, password reset); returns how many.</summary>
    public async Task<int> RevokeAllAsync(long userId, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = await db.ApiTokens.Where(t => t.UserId == userId && t.RevokedAt == null).Select(t => t.Id).ToListAsync(ct);
        await db.ApiTokens.Where(t => ids.Contains(t.Id)).ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
        foreach (var id in ids) Revoked?.Invoke(id);
        return ids.Count;
    }

    public async Task<IReadOnlyList<ApiTokenInfo>> ListAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ApiTokens.AsNoTracking().Where(t => t.UserId == userId).OrderByDescending(t => t.Id)
            .Select(t => new ApiTokenInfo(t.Id, t.Name, t.CreatedAt, t.LastUsedAt, t.RevokedAt)).ToListAsync(ct);
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string? Trim(string? label)
    {
        var l = label?.Trim();
        return string.IsNullOrEmpty(l) ? null : l[..Math.Min(l.Length, 100)];
    }
}
