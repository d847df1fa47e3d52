using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

/// <summary>What the core needs to know about a user on every post: name, kind, mute, ban.</summary>
public sealed record UserState(UserRef User, DateTimeOffset? MutedUntil, bool Banned, string SecurityStamp)
{
    public bool IsMuted(DateTimeOffset now) => MutedUntil is { } until && until > now;
}

/// <summary>
/// Cache of user states read on the hot path. Moderation changes call <see cref="Invalidate"/>
/// so that a mute or ban applies to every adapter at once.
/// </summary>
public sealed class UserDirectory(IDbContextFactory<ChatDbContext> dbFactory)
{
    private readonly ConcurrentDictionary<long, UserState> _cache = new();

    public async ValueTask<UserState?> GetAsync(long userId, CancellationToken ct = default)
    {
        if (_cache.TryGetValue(userId, out var cached)) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await db.Users.AsNoTracking().FirstOrDefaultAsync(x => x.Id == userId, ct);
        if (u is null) return null;
        var state = From(u);
        _cache[userId] = state;
        return state;
    }

    /// <summary>
    /// The user's state read from the database (one primary-key lookup), refreshing the cache. New
    /// authentications (token, ticket) use this, so a ban or a new security stamp written straight
    /// into the database stops them at once; hot paths keep <see cref="GetAsync"/>.
    /// </summary>
    // Compiled once per instance (per host, so per database provider): every token connect and API request reads the user fresh (bans are the database's).
    private readonly Func<ChatDbContext, long, CancellationToken, Task<ChatUser?>> _byId =
        EF.CompileAsyncQuery((ChatDbContext db, long id, CancellationToken ct) => db.Users.AsNoTracking().FirstOrDefault(x => x.Id == id));

    public async ValueTask<UserState?> GetFreshAsync(long userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await _byId(db, userId, ct);
        if (u is null)
        {
            Invalidate(userId);
            return null;
        }
        var state = From(u);
        _cache[userId] = state;
        return state;
    }

    public async Task<UserRef?> FindByNameAsync(string name, CancellationToken ct = default)
    {
        var normalized = UserNames.Normalize(name);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var u = await db.Users.AsNoTracking().FirstOrDefaultAsync(x => x.NormalizedName == normalized, ct);
        if (u is null) return null;
        _cache[u.Id] = From(u);
        return new UserRef(u.Id, u.Name, u.Kind);
    }

    /// <summary>
    /// A page of the user directory: people and bots (no guests, no deleted or banned accounts), by id after
    /// <paramref name="afterId"/> (keyset paging: stable while users come and go).
    /// </summary>
    public async Task<IReadOnlyList<UserRef>> ListAsync(long afterId, int limit, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Users.AsNoTracking()
            .Where(u => u.Id > afterId && u.Kind != UserKind.Guest && u.DeletedAt == null && u.BannedAt == null)
            .OrderBy(u => u.Id).Take(Math.Clamp(limit, 1, 1000))
            .Select(u => new UserRef(u.Id, u.Name, u.Kind)).ToListAsync(ct);
    }

    /// <summary>A user just written (a new guest): its state is known, so joining does not read it back.</summary>
    public void Remember(ChatUser u) => _cache[u.Id] = From(u);

    /// <summary>A user's state just read from the database (a token connect's read).</summary>
    public void Remember(UserState state) => _cache[state.User.Id] = state;

    /// <summary>Forget a user's cached state after a change (mute, ban, rename, password).</summary>
    public void Invalidate(long userId) => _cache.TryRemove(userId, out _);

    public static UserState From(ChatUser u) =>
        new(new UserRef(u.Id, u.Name, u.Kind), u.MutedUntil, u.BannedAt is not null, u.SecurityStamp);
}

public static class UserNames
{
    public const int MinLength = 2;
    public const int MaxLength = 32;

    public static string Normalize(string name) => name.Trim().ToUpperInvariant();

    /// <summary>Null when the name is acceptable, else a message saying why not.</summary>
    public static string? Validate(string? name)
    {
        var n = name?.Trim() ?? "";
        if (n.Length < MinLength) return $"The nickname must be at least {MinLength} characters.";
        if (n.Length > MaxLength) return $"The nickname must be at most {MaxLength} characters.";
        foreach (var r in n.EnumerateRunes())
        {
            // Fillers and blanks are letters or symbols to Unicode but show as nothing (or as a wall).
            if (NameCharacters.IsBlankOrFiller(r)) return "The nickname may not contain blank or invisible characters.";
            if (System.Text.Rune.IsLetterOrDigit(r) || r.Value is '_' or '-' or '.' or ' ') continue;
            if (NameCharacters.IsEmojiLike(r)) continue;
            return "The nickname may contain letters (any script), digits, spaces, '_', '-' and '.'.";
        }
        if (n.Contains("  ", StringComparison.Ordinal)) return "The nickname may not contain two spaces in a row.";
        return null;
    }
}
