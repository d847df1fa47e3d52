using System.Globalization;
using System.Text;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Search;

/// <summary>One search result: the message as it is now, its room and (for a direct conversation) the other person.</summary>
public sealed record SearchHit(ChatMessage Message, RoomInfo Room, UserRef? DirectWith);

/// <summary>A page of results, newest first; <paramref name="NextBefore"/> asks for the next (older) page, null when there is none.</summary>
public sealed record SearchPage(IReadOnlyList<SearchHit> Hits, long? NextBefore);

/// <summary>
/// Message search for Chinese and English alike. On SQLite: the FTS5 trigram index (substrings
/// of 3+ characters, so no word segmentation is needed) plus LIKE for shorter terms, which the
/// trigram index cannot match. Other databases: LIKE on lower-cased text. Only rooms the user
/// may read are ever searched.
/// </summary>
public sealed class MessageSearch(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms, ChatHistory history)
{
    public const int MaxQueryLength = 200;
    private const int MaxTerms = 8;

    /// <summary>Searches one room (<paramref name="roomId"/>) or every room the user may read, newest first.</summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(UserRef user, string? query, long? roomId = null, int limit = 50,
        CancellationToken ct = default) => (await SearchPageAsync(user, query, roomId, limit, null, ct)).Hits;

    /// <summary>
    /// One page of results older than <paramref name="before"/> (a message id; null: the newest), so a
    /// search can go on past the first page: each page is one indexed query that stops at its limit.
    /// </summary>
    public async Task<SearchPage> SearchPageAsync(UserRef user, string? query, long? roomId = null, int limit = 50, long? before = null,
        CancellationToken ct = default)
    {
        var empty = new SearchPage([], null);
        var terms = Terms(query);
        if (terms.Count == 0) return empty;
        limit = Math.Clamp(limit, 1, 200);

        List<long> readable;
        if (roomId is { } id)
        {
            var room = await rooms.GetAsync(id, ct);
            readable = room is not null && await rooms.Directory.CheckReadAsync(user, room, ct) is null ? [id] : [];
        }
        else
        {
            readable = await rooms.ReadableIdsAsync(user, ct);
        }
        if (readable.Count == 0) return empty;

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = db.Database.IsSqlite() && terms.Any(t => Length(t) >= 3)
            ? await FullTextAsync(db, terms, readable, limit, before, ct)
            : await LikeAsync(db, terms, readable, limit, before, db.Database.IsSqlite(), ct);

        var messages = await history.GetMessagesAsync(ids, ct);
        var hits = new List<SearchHit>(messages.Count);
        var roomCache = new Dictionary<long, (RoomInfo Room, UserRef? With)?>();
        foreach (var m in messages.OrderByDescending(m => m.Id))
        {
            if (!roomCache.TryGetValue(m.RoomId, out var info))
            {
                var room = await rooms.GetAsync(m.RoomId, ct);
                // Checked again per room: a result never comes from a room the user cannot read.
                info = room is not null && await rooms.Directory.CheckReadAsync(user, room, ct) is null
                    ? (room, room.IsDirect ? await rooms.DirectPartnerAsync(room.Id, user.Id, ct) : null)
                    : null;
                roomCache[m.RoomId] = info;
            }
            if (info is { } ok && !m.IsDeleted) hits.Add(new SearchHit(m, ok.Room, ok.With));
        }
        // A full page may have more behind it (a short one has not); the cursor is the oldest id looked at.
        return new SearchPage(hits, ids.Count >= limit ? ids.Min() : null);
    }

    private static async Task<List<long>> FullTextAsync(ChatDbContext db, List<string> terms, List<long> rooms, int limit, long? before,
        CancellationToken ct)
    {
        var parameters = new List<object>();
        // Room ids and the cursor are numbers (longs), never user text.
        var inRooms = " AND m.DeletedAt IS NULL AND m.RoomId IN (" + string.Join(",", rooms.Select(r => r.ToString(CultureInfo.InvariantCulture))) + ")"
            + (before is { } b ? " AND m.Id < " + b.ToString(CultureInfo.InvariantCulture) : "");
        var sql = new StringBuilder("SELECT Value FROM (SELECT m.Id AS Value FROM MessageSearch JOIN Messages m ON m.Id = MessageSearch.rowid WHERE MessageSearch MATCH {0}");
        // Each long term is a quoted phrase: user text never becomes FTS5 syntax.
        parameters.Add(string.Join(" AND ", terms.Where(t => Length(t) >= 3).Select(t => "\"" + t.Replace("\"", "\"\"") + "\"")));
        foreach (var shortTerm in terms.Where(t => Length(t) < 3))
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND m.Text LIKE {{{parameters.Count}}} ESCAPE '\\'");
            parameters.Add(LikePattern(shortTerm));
        }
        sql.Append(inRooms);
        if (before is { } older) sql.Append(CultureInfo.InvariantCulture, $" AND MessageSearch.rowid < {older}"); // lets FTS5 start there
        // Ordered by the FTS rowid (= m.Id): FTS5 then walks its index newest first and the LIMIT
        // stops it early, instead of collecting and sorting every match (bench: 1M-row room).
        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY MessageSearch.rowid DESC LIMIT {limit})");
        // The newest messages the writer has not indexed yet (SearchDeferred migration): every term by LIKE.
        sql.Append(" UNION ALL SELECT m.Id FROM Messages m WHERE m.Id > (SELECT LastId FROM SearchProgress WHERE Id = 1) AND m.Kind IN (0, 1)");
        foreach (var term in terms)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND m.Text LIKE {{{parameters.Count}}} ESCAPE '\\'");
            parameters.Add(LikePattern(term));
        }
        sql.Append(inRooms);
        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY Value DESC LIMIT {limit}");
        return await db.Database.SqlQueryRaw<long>(sql.ToString(), [.. parameters]).ToListAsync(ct);
    }

    private static async Task<List<long>> LikeAsync(ChatDbContext db, List<string> terms, List<long> rooms, int limit, long? before, bool sqlite,
        CancellationToken ct)
    {
        var q = db.Messages.AsNoTracking().Where(m => rooms.Contains(m.RoomId) && m.DeletedAt == null
            && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image));
        if (before is { } b) q = q.Where(m => m.Id < b);
        foreach (var term in terms)
        {
            if (sqlite)
            {
                var pattern = LikePattern(term);
                q = q.Where(m => EF.Functions.Like(m.Text, pattern, "\\"));
            }
            else
            {
                var lower = term.ToLowerInvariant();
                q = q.Where(m => m.Text.ToLower().Contains(lower));
            }
        }
        return await q.OrderByDescending(m => m.Id).Select(m => m.Id).Take(limit).ToListAsync(ct);
    }

    internal static List<string> Terms(string? query)
    {
        var q = (query ?? "").Trim();
        if (q.Length > MaxQueryLength) q = q[..MaxQueryLength];
        return q.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Distinct(StringComparer.OrdinalIgnoreCase).Take(MaxTerms).ToList();
    }

    private static string LikePattern(string term) =>
        "%" + term.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";

    /// <summary>Characters as the trigram tokenizer counts them (code points, not UTF-16 units).</summary>
    private static int Length(string s) => s.EnumerateRunes().Count();
}

public static class SearchSetup
{
    public static IHostApplicationBuilder AddChatPortalSearch(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<MessageSearch>();
        return builder;
    }
}
