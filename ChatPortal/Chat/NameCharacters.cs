using System.Globalization;
using System.Text;

namespace ChatPortal.Chat;

/// <summary>Characters a nickname may not contain because they show as nothing, or as a blank or a wall.</summary>
public static class NameCharacters
{
    /// <summary>Whether the rune is a filler or blank (Hangul fillers, braille blank, invisible format characters, wide ligatures).</summary>
    public static bool IsBlankOrFiller(Rune r) => r.Value switch
    {
        0x115F or 0x1160 or 0x3164 or 0xFFA0 => true, // Hangul fillers (letters that show as nothing)
        0x2800 => true,                               // braille pattern blank
        0x17B4 or 0x17B5 or 0x180E or 0x034F or 0x00AD or 0x061C => true,
        >= 0x180B and <= 0x180F => true,
        >= 0x200B and <= 0x200F => true,
        >= 0x202A and <= 0x202E => true,
        >= 0x2060 and <= 0x206F => true,
        >= 0xFE00 and <= 0xFE0F => true,              // variation selectors
        0xFEFF => true,
        >= 0xFFF0 and <= 0xFFF8 => true,
        >= 0x1BCA0 and <= 0x1BCA3 => true,
        >= 0x1D173 and <= 0x1D17A => true,
        >= 0xE0000 and <= 0xE0FFF => true,            // tags, variation selectors supplement
        >= 0xFDFA and <= 0xFDFD => true,              // Arabic ligatures as wide as a sentence (a "wall")
        _ => false,
    };

    /// <summary>Symbols allowed in names: emoji and the common symbol blocks, not every OtherSymbol (braille, ligatures...).</summary>
    public static bool IsEmojiLike(Rune r) => r.Value is (>= 0x2600 and <= 0x27BF) or (>= 0x2B00 and <= 0x2BFF)
        or (>= 0x1F000 and <= 0x1FAFF) or 0x00A9 or 0x00AE or 0x2122 or 0x3030 or 0x303D or 0x3297 or 0x3299
        && Rune.GetUnicodeCategory(r) == UnicodeCategory.OtherSymbol;
}
