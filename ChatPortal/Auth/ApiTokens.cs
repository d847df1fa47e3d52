using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Auth;

public sealed record ApiTokenInfo(long Id, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt,
    ApiScopes Scopes = ApiScopes.Read | ApiScopes.Write, DateTimeOffset? ExpiresAt = null);

/// <summary>What a personal access token may do (issue 16). Admin needs an admin account behind it too.</summary>
[Flags]
public enum ApiScopes
{
    None = 0,
    Read = 1,
    Write = 2,
    Admin = 4,
}

/// <summary>A valid token: its user, id and scopes, and for an admin-scoped token the admin account and stamp it was granted under.</summary>
public sealed record ApiTokenGrant(UserRef User, long TokenId, ApiScopes Scopes, long? AdminId, string? AdminStamp);

/// <summary>What issuing a token needs besides the user: label, scopes, expiry, and (admin scope only) the granting admin.</summary>
public sealed record ApiTokenRequest(string? Label, ApiScopes Scopes = ApiScopes.Read | ApiScopes.Write, DateTimeOffset? ExpiresAt = null,
    long? AdminId = null, string? AdminStamp = null);

public static class ApiScopeNames
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Admin = "admin";

    public static string Format(ApiScopes scopes) => string.Join(' ',
        new[] { (ApiScopes.Read, Read), (ApiScopes.Write, Write), (ApiScopes.Admin, Admin) }.Where(p => scopes.HasFlag(p.Item1)).Select(p => p.Item2));

    public static ApiScopes Parse(string? text)
    {
        var scopes = ApiScopes.None;
        foreach (var part in (text ?? "").Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            scopes |= part switch { Read => ApiScopes.Read, Write => ApiScopes.Write, Admin => ApiScopes.Admin, _ => ApiScopes.None };
        }
        return scopes;
    }
}

/// <summary>
/// API tokens for bots and mini-programs. The token is shown once; only its SHA-256 is stored
/// (table ApiTokens), so a database leak does not leak tokens. Tokens are never logged.
/// </summary>
public sealed class ApiTokens(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time,
    ILogger<ApiTokens>? log = null, SqliteReads? reads = null) : IAsyncDisposable
{
    public const string Prefix = "cpt_";
    /// <summary>Active tokens per user; issuing one more revokes the oldest (a script that logs in on every start does not pile them up).</summary>
    public const int MaxActivePerUser = 20;

    /// <summary>Raised after a token is revoked, with its user's id and its own: open sockets that used it are closed, on every node.</summary>
    public event Action<long, long>? Revoked;

    public Task<(string Token, long Id)> IssueAsync(long userId, string? label, CancellationToken ct = default) =>
        IssueAsync(userId, new ApiTokenRequest(label), ct);

    /// <summary>
    /// Issues a token with scopes. The caller decides who may ask for <see cref="ApiScopes.Admin"/>: it is stored
    /// only with the granting admin's id and stamp, which every admin action checks again (AdminGuard).
    /// </summary>
    public async Task<(string Token, long Id)> IssueAsync(long userId, ApiTokenRequest request, CancellationToken ct = default)
    {
        var scopes = request.Scopes & (ApiScopes.Read | ApiScopes.Write | ApiScopes.Admin);
        if (scopes.HasFlag(ApiScopes.Admin) && (request.AdminId is null || string.IsNullOrEmpty(request.AdminStamp)))
            throw new ArgumentException("An admin-scoped token needs the granting admin.", nameof(request));
        if (scopes == ApiScopes.None) scopes = ApiScopes.Read;
        var label = request.Label;
        var token = Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var surplus = await db.ApiTokens.Where(t => t.UserId == userId && t.RevokedAt == null)
            .OrderByDescending(t => t.Id).Skip(MaxActivePerUser - 1).ToListAsync(ct);
        foreach (var old in surplus) old.RevokedAt = now;
        var admin = scopes.HasFlag(ApiScopes.Admin);
        var row = new ApiToken
        {
            UserId = userId,
            TokenHash = Hash(token),
            Name = Trim(label),
            CreatedAt = now,
            Scopes = ApiScopeNames.Format(scopes),
            ExpiresAt = request.ExpiresAt,
            AdminId = admin ? request.AdminId : null,
            AdminStamp = admin ? request.AdminStamp : null,
        };
        db.ApiTokens.Add(row);
        await db.SaveChangesAsync(ct);
        foreach (var old in surplus) Revoked?.Invoke(userId, old.Id);
        return (token, row.Id);
    }

    /// <summary>The token's user and the token's id, or null (unknown, revoked, expired, or the user is banned).</summary>
    public async Task<(UserRef User, long TokenId)?> ValidateAsync(string? token, CancellationToken ct = default) =>
        await AuthenticateAsync(token, ct) is { } grant ? (grant.User, grant.TokenId) : null;

    /// <summary>The token's grant (user, id, scopes), or null (unknown, revoked, expired, or the user is banned).</summary>
    public async Task<ApiTokenGrant?> AuthenticateAsync(string? token, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 200 || !token.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        // The token and its user's row in one read, every time: the database decides a ban or a revocation, not a cache.
        var found = reads is not null ? FindActive(reads, Hash(token)) : await FindActiveAsync(Hash(token), ct);
        if (found is not { } f) return null;
        users.Remember(f.User);
        var now = time.GetUtcNow();
        if (f.ExpiresAt is { } expires && expires <= now) return null;
        if (f.User.Banned) return null;
        if (f.LastUsedAt is not { } last || now - last >= LastUsedResolution) Touch(f.Grant.TokenId, now);
        return f.Grant;
    }

    /// <summary>An active (not revoked) token's grant with what deciding on it needs: its expiry, last use and its user's state.</summary>
    internal readonly record struct ActiveToken(ApiTokenGrant Grant, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, UserState User);

    /// <summary>The token's row and its user's through EF Core (PostgreSQL; on SQLite the same as <see cref="FindActive"/>).</summary>
    internal async Task<ActiveToken?> FindActiveAsync(string hash, CancellationToken ct)
    {
        TokenAndUser? found;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            found = await _findActive(db, hash, ct);
        if (found is null) return null;
        var (row, user) = (found.Token, found.User);
        return new ActiveToken(new ApiTokenGrant(new UserRef(user.Id, user.Name, user.Kind), row.Id, ApiScopeNames.Parse(row.Scopes), row.AdminId, row.AdminStamp),
            row.ExpiresAt, row.LastUsedAt, UserDirectory.From(user));
    }

    private static readonly SqliteReads.Statement FindActiveSql = new("""
        SELECT a.Id, a.Scopes, a.AdminId, a.AdminStamp, a.ExpiresAt, a.LastUsedAt, u.Id, u.Name, u.Kind, u.MutedUntil, u.BannedAt, u.SecurityStamp
        FROM ApiTokens AS a INNER JOIN Users AS u ON a.UserId = u.Id
        WHERE a.TokenHash = $hash AND a.RevokedAt IS NULL
        LIMIT 1
        """, "$hash");

    /// <summary>The same read as <see cref="FindActiveAsync"/> as a prepared statement (SQLite; <see cref="SqliteReads"/>).</summary>
    internal static ActiveToken? FindActive(SqliteReads reads, string hash) => reads.Read<ActiveToken?>(FindActiveSql, [hash], r =>
    {
        if (!r.Read()) return null;
        var user = new UserRef(r.GetInt64(6), r.GetString(7), (UserKind)r.GetInt32(8));
        return new ActiveToken(
            new ApiTokenGrant(user, r.GetInt64(0), ApiScopeNames.Parse(r.GetString(1)), r.IsDBNull(2) ? null : r.GetInt64(2), r.IsDBNull(3) ? null : r.GetString(3)),
            SqliteReads.Time(r, 4), SqliteReads.Time(r, 5),
            new UserState(user, SqliteReads.Time(r, 9), !r.IsDBNull(10), r.GetString(11)));
    });

    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    private sealed record TokenAndUser(ApiToken Token, ChatUser User);

    // Compiled once per instance (a singleton: once per host, so per database provider; a test process runs
    // SQLite and PostgreSQL hosts side by side): a socket connect or API request with a token runs it (EF's
    // per-query expression work was a tenth of a token connect's CPU, issue 19).
    private readonly Func<ChatDbContext, string, CancellationToken, Task<TokenAndUser?>> _findActive =
        EF.CompileAsyncQuery((ChatDbContext db, string hash, CancellationToken ct) =>
            db.ApiTokens.AsNoTracking().Where(t => t.TokenHash == hash && t.RevokedAt == null)
                .Join(db.Users.AsNoTracking(), t => t.UserId, u => u.Id, (t, u) => new TokenAndUser(t, u))
                .FirstOrDefault());

    // ------------------------------------------------------------------ "last used"

    // "Last used" to the minute, and written off the connect path: a token's first use in a minute is noted here
    // and written with every other noted use in one transaction about a second later (and before anything lists
    // tokens, and at shutdown). It was an UPDATE of its own on every such connect — after a restart, every
    // reconnecting bot's — and a tenth of a token connect's CPU besides the write itself (issue 19).
    private readonly ConcurrentDictionary<long, DateTimeOffset> _used = new();
    private readonly SemaphoreSlim _usedWrite = new(1, 1);
    private int _usedScheduled;
    private static readonly TimeSpan UsedWriteDelay = TimeSpan.FromSeconds(1);

    private void Touch(long tokenId, DateTimeOffset now)
    {
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero); // one statement per second's uses
        _used.AddOrUpdate(tokenId, at, (_, old) => old > at ? old : at);
        if (Interlocked.Exchange(ref _usedScheduled, 1) == 0) _ = WriteUsedLaterAsync();
    }

    private async Task WriteUsedLaterAsync()
    {
        await Task.Delay(UsedWriteDelay).ConfigureAwait(false); // wall-clock batching, not the portal's clock
        Volatile.Write(ref _usedScheduled, 0);
        try
        {
            await WriteUsedAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ObjectDisposedException) // a host that stopped meanwhile wrote them on disposal
        {
            log?.LogWarning(ex, "Could not note when API tokens were last used");
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Writes the noted "last used" times now (readers of <see cref="ApiToken.LastUsedAt"/> call it first).</summary>
    public async Task WriteUsedAsync(CancellationToken ct = default)
    {
        if (_used.IsEmpty) return;
        await _usedWrite.WaitAsync(ct).ConfigureAwait(false);
        List<KeyValuePair<long, DateTimeOffset>> batch = [];
        try
        {
            foreach (var use in _used)
                if (_used.TryRemove(use)) batch.Add(use);
            if (batch.Count == 0) return;
            await using var db = await dbFactory.CreateDbContextAsync(ct).ConfigureAwait(false);
            await using var tx = await db.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
            foreach (var second in batch.GroupBy(u => u.Value))
            {
                var ids = second.Select(u => u.Key).ToList();
                var at = second.Key;
                await db.ApiTokens.Where(t => ids.Contains(t.Id) && (t.LastUsedAt == null || t.LastUsedAt < at))
                    .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, at), ct).ConfigureAwait(false);
            }
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            foreach (var use in batch) _used.AddOrUpdate(use.Key, use.Value, (_, newer) => newer > use.Value ? newer : use.Value); // kept for the next write
            throw;
        }
        finally
        {
            _usedWrite.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await WriteUsedAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            log?.LogWarning(ex, "Could not note when API tokens were last used");
        }
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
        if (n > 0) Revoked?.Invoke(userId, tokenId);
        return n > 0;
    }

    /// <summary>Revokes every token of a user (ban, password reset); returns how many.</summary>
    public async Task<int> RevokeAllAsync(long userId, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = await db.ApiTokens.Where(t => t.UserId == userId && t.RevokedAt == null).Select(t => t.Id).ToListAsync(ct);
        await db.ApiTokens.Where(t => ids.Contains(t.Id)).ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
        foreach (var id in ids) Revoked?.Invoke(userId, id);
        return ids.Count;
    }

    public async Task<IReadOnlyList<ApiTokenInfo>> ListAsync(long userId, CancellationToken ct = default)
    {
        await WriteUsedAsync(ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.ApiTokens.AsNoTracking().Where(t => t.UserId == userId).OrderByDescending(t => t.Id)
            .Select(t => new { t.Id, t.Name, t.CreatedAt, t.LastUsedAt, t.RevokedAt, t.Scopes, t.ExpiresAt }).ToListAsync(ct);
        return rows.Select(t => new ApiTokenInfo(t.Id, t.Name, t.CreatedAt, t.LastUsedAt, t.RevokedAt, ApiScopeNames.Parse(t.Scopes), t.ExpiresAt)).ToList();
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string? Trim(string? label)
    {
        var l = label?.Trim();
        return string.IsNullOrEmpty(l) ? null : l[..Math.Min(l.Length, 100)];
    }
}
