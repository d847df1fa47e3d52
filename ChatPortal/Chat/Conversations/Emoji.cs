using System.Globalization;
using System.Text;

namespace ChatPortal.Chat.Conversations;

/// <summary>
/// Which strings are one emoji (a reaction must be exactly one): a single grapheme made of emoji code
/// points — pictographs, with skin tones, variation selector, zero-width joins, keycaps, flags and tag
/// sequences. Anything else (text, two emoji, a shortcode) is refused with a clear error, never stored.
/// </summary>
public static class Emoji
{
    public static bool IsEmoji(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > ConversationModel.MaxEmojiLength) return false;
        if (!s.IsNormalized(NormalizationForm.FormC)) return false;
        var e = StringInfo.GetTextElementEnumerator(s);
        if (!e.MoveNext() || e.GetTextElement().Length != s.Length) return false; // exactly one grapheme
        var runes = s.EnumerateRunes().ToList();
        var first = runes[0].Value;
        // Keycaps: 0-9 # * then (FE0F) 20E3.
        if (first is >= '0' and <= '9' or '#' or '*')
            return runes.Count >= 2 && runes[^1].Value == 0x20E3 && runes.Skip(1).SkipLast(1).All(r => r.Value == 0xFE0F);
        if (!IsPictograph(first) && !IsRegionalIndicator(first)) return false;
        foreach (var r in runes)
        {
            var v = r.Value;
            if (!(IsPictograph(v) || IsRegionalIndicator(v) || v is 0xFE0F or 0x200D or 0x20E3 || v is >= 0x1F3FB and <= 0x1F3FF
                  || v is >= 0xE0020 and <= 0xE007F)) return false;
        }
        return true;
    }

    private static bool IsRegionalIndicator(int v) => v is >= 0x1F1E6 and <= 0x1F1FF;

    /// <summary>The blocks where Unicode's emoji live (Extended_Pictographic, roughly), without letters or digits.</summary>
    private static bool IsPictograph(int v) => v switch
    {
        0x00A9 or 0x00AE or 0x203C or 0x2049 or 0x2122 or 0x2139 or 0x24C2 or 0x2934 or 0x2935 or 0x3030 or 0x303D or 0x3297 or 0x3299 => true,
        >= 0x2194 and <= 0x21AA => true,
        >= 0x2300 and <= 0x23FF => true,
        >= 0x25AA and <= 0x25FE => true,
        >= 0x2600 and <= 0x27BF => true,
        >= 0x2B05 and <= 0x2B55 => true,
        >= 0x1F000 and <= 0x1F1E5 => true,
        >= 0x1F200 and <= 0x1F3FA => true,
        >= 0x1F400 and <= 0x1FAFF => true,
        _ => false,
    };
}
