using System.Globalization;
using System.Text.RegularExpressions;

namespace ChatPortal.Chat;

public enum MentionKind
{
    None,
    Other,
    Me,
}

/// <summary>
/// <c>@Name</c> mentions in message text. Names may contain spaces and any script, so "does this
/// mention X" compares with X's full name; other mentions are highlighted up to the next space.
/// </summary>
public static partial class Mentions
{
    [GeneratedRegex(@"@[\p{L}\p{N}\p{So}_.\-]+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 50)]
    private static partial Regex Token();

    /// <summary>True when <paramref name="text"/> mentions <paramref name="name"/> as <c>@name</c>.</summary>
    public static bool IsMentioned(string text, string name)
    {
        if (string.IsNullOrEmpty(name)) return false;
        var at = 0;
        while ((at = text.IndexOf('@', at)) >= 0)
        {
            if (MatchesAt(text, at, name)) return true;
            at++;
        }
        return false;
    }

    /// <summary>Splits text into plain parts and mentions; a mention of <paramref name="me"/> is marked as such.</summary>
    public static IEnumerable<(string Text, MentionKind Kind)> Split(string text, string? me)
    {
        var plainFrom = 0;
        var i = 0;
        while ((i = text.IndexOf('@', i)) >= 0)
        {
            // An e-mail address or a word ending in @ is not a mention.
            if (i > 0 && char.IsLetterOrDigit(text[i - 1])) { i++; continue; }
            int length;
            MentionKind kind;
            if (me is { Length: > 0 } && MatchesAt(text, i, me))
            {
                length = me.Length + 1;
                kind = MentionKind.Me;
            }
            else
            {
                var m = Token().Match(text, i);
                if (!m.Success || m.Index != i) { i++; continue; }
                length = m.Length;
                kind = MentionKind.Other;
            }
            if (i > plainFrom) yield return (text[plainFrom..i], MentionKind.None);
            yield return (text.Substring(i, length), kind);
            i += length;
            plainFrom = i;
        }
        if (plainFrom < text.Length) yield return (text[plainFrom..], MentionKind.None);
    }

    /// <summary>The @-fragment being typed at the end of a draft ("hello @al" → "al"), or null.</summary>
    public static string? PendingFragment(string draft)
    {
        var at = draft.LastIndexOf('@');
        if (at < 0 || (at > 0 && !char.IsWhiteSpace(draft[at - 1]))) return null;
        var fragment = draft[(at + 1)..];
        if (fragment.Length > 32 || fragment.Contains('\n') || fragment.Contains("  ", StringComparison.Ordinal)) return null;
        return fragment;
    }

    /// <summary>The draft with its trailing @-fragment replaced by <c>@name </c>.</summary>
    public static string Complete(string draft, string name)
    {
        var at = draft.LastIndexOf('@');
        return (at < 0 ? draft : draft[..at]) + "@" + name + " ";
    }

    private static bool MatchesAt(string text, int at, string name)
    {
        if (at + 1 + name.Length > text.Length) return false;
        if (string.Compare(text, at + 1, name, 0, name.Length, StringComparison.OrdinalIgnoreCase) != 0) return false;
        var end = at + 1 + name.Length;
        if (end == text.Length) return true;
        // "@bob" does not mention "bobby"; after a CJK name anything may follow ("@张三你好").
        return !char.IsLetterOrDigit(text[end]) || IsCjk(name[^1]);
    }

    private static bool IsCjk(char c) =>
        char.GetUnicodeCategory(c) == UnicodeCategory.OtherLetter && c >= '\u2E80';
}
