using System.Buffers;
using System.Globalization;
using System.Text;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

public enum WordFilterMode
{
    Off = 0,
    /// <summary>Blocked words are replaced by '*' (one per character) and the message goes out.</summary>
    Mask = 1,
    /// <summary>A message containing a blocked word is refused with the code <c>filtered</c>.</summary>
    Reject = 2,
}

public sealed record WordFilterSettings(WordFilterMode Mode, IReadOnlyList<string> Words)
{
    public const int MaxWords = 1000;
    public const int MaxWordLength = 50;

    public static readonly WordFilterSettings Empty = new(WordFilterMode.Off, []);

    /// <summary>Trimmed, non-empty, distinct (ignoring case) words; null when the list breaks a limit.</summary>
    public static IReadOnlyList<string>? Normalize(IEnumerable<string> words, out string? error)
    {
        var list = words.Select(w => w.Trim()).Where(w => w.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        error = list.Count > MaxWords ? $"At most {MaxWords} words."
            : list.FirstOrDefault(w => w.Length > MaxWordLength) is { } longWord ? $"\"{longWord[..10]}…\" is longer than {MaxWordLength} characters."
            : null;
        return error is null ? list : null;
    }
}

/// <summary>The outcome of filtering one text: the text to store, or a refusal.</summary>
public readonly record struct WordFilterResult(string Text, bool Rejected, bool Changed);

/// <summary>
/// The word filter of the core, applied to every post and edit from every adapter. Settings
/// live in <see cref="PortalSetting"/> rows (edited from the back office); they are cached and
/// re-read every <see cref="RefreshAfter"/> so other nodes of a cluster pick up a change too.
/// Matching ignores case and word boundaries (Chinese has none).
/// </summary>
public sealed class WordFilter(IDbContextFactory<ChatDbContext> dbFactory, TimeProvider time)
{
    public const string ModeKey = "wordfilter.mode";
    public const string WordsKey = "wordfilter.words";
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);

    private volatile Compiled? _compiled;
    private readonly SemaphoreSlim _loading = new(1, 1);

    public async ValueTask<WordFilterResult> ApplyAsync(string text, CancellationToken ct = default)
    {
        var c = await GetCompiledAsync(ct);
        if (c.Settings.Mode == WordFilterMode.Off || c.Search is null || text.Length == 0) return new(text, false, false);
        // Fast path: one vectorized scan finds whether any word occurs at all.
        if (text.AsSpan().IndexOfAny(c.Search) < 0) return new(text, false, false);
        if (c.Settings.Mode == WordFilterMode.Reject) return new(text, true, false);
        return new(Mask(text, c.Settings.Words), false, true);
    }

    public async Task<WordFilterSettings> GetSettingsAsync(CancellationToken ct = default) => (await GetCompiledAsync(ct)).Settings;

    /// <summary>Stores new settings and applies them on this node at once.</summary>
    public async Task SaveAsync(WordFilterSettings settings, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await UpsertAsync(db, ModeKey, settings.Mode.ToString(), ct);
        await UpsertAsync(db, WordsKey, string.Join('\n', settings.Words), ct);
        await db.SaveChangesAsync(ct);
        _compiled = Compile(settings, time.GetUtcNow());
    }

    /// <summary>Forget the cached settings (the next post re-reads them).</summary>
    public void Invalidate() => _compiled = null;

    private static async Task UpsertAsync(ChatDbContext db, string key, string value, CancellationToken ct)
    {
        var row = await db.Settings.FirstOrDefaultAsync(s => s.Key == key, ct);
        if (row is null) db.Settings.Add(new PortalSetting { Key = key, Value = value });
        else row.Value = value;
    }

    private async ValueTask<Compiled> GetCompiledAsync(CancellationToken ct)
    {
        var c = _compiled;
        var now = time.GetUtcNow();
        if (c is not null && now - c.LoadedAt < RefreshAfter) return c;
        await _loading.WaitAsync(ct);
        try
        {
            c = _compiled;
            if (c is not null && now - c.LoadedAt < RefreshAfter) return c;
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var rows = await db.Settings.AsNoTracking().Where(s => s.Key == ModeKey || s.Key == WordsKey)
                .ToDictionaryAsync(s => s.Key, s => s.Value, ct);
            var mode = rows.TryGetValue(ModeKey, out var m) && Enum.TryParse<WordFilterMode>(m, out var parsed) ? parsed : WordFilterMode.Off;
            var words = rows.TryGetValue(WordsKey, out var w)
                ? WordFilterSettings.Normalize(w.Split('\n'), out _) ?? []
                : [];
            c = Compile(new WordFilterSettings(mode, words), now);
            _compiled = c;
            return c;
        }
        finally
        {
            _loading.Release();
        }
    }

    private static Compiled Compile(WordFilterSettings s, DateTimeOffset at) =>
        new(s, s.Words.Count == 0 ? null : SearchValues.Create(s.Words.ToArray(), StringComparison.OrdinalIgnoreCase), at);

    /// <summary>Replaces every occurrence of every word by one '*' per character (a CJK character or emoji counts as one).</summary>
    internal static string Mask(string text, IReadOnlyList<string> words)
    {
        var hidden = new bool[text.Length];
        foreach (var word in words)
        {
            var from = 0;
            while (from < text.Length)
            {
                var at = text.IndexOf(word, from, StringComparison.OrdinalIgnoreCase);
                if (at < 0) break;
                Array.Fill(hidden, true, at, word.Length);
                from = at + 1;
            }
        }
        var sb = new StringBuilder(text.Length);
        var e = StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext())
        {
            var element = (string)e.Current;
            sb.Append(hidden[e.ElementIndex] ? "*" : element);
        }
        return sb.ToString();
    }

    private sealed record Compiled(WordFilterSettings Settings, SearchValues<string>? Search, DateTimeOffset LoadedAt);
}
