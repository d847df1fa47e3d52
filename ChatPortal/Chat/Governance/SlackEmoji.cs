namespace ChatPortal.Chat.Governance;

/// <summary>
/// Slack reaction names (shortcodes such as <c>thumbsup</c>, <c>+1</c>, <c>heart</c>) as Unicode emoji, for the
/// import. A small table of the common ones: a name with no entry (custom workspace emoji, rare ones) is skipped
/// and counted, never stored as text. A skin tone suffix (<c>::skin-tone-2</c>) is applied where Slack gives one.
/// </summary>
public static class SlackEmoji
{
    private static readonly Dictionary<string, string> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["+1"] = "👍", ["thumbsup"] = "👍", ["-1"] = "👎", ["thumbsdown"] = "👎",
        ["heart"] = "❤️", ["heavy_heart_exclamation_mark_ornament"] = "❣️", ["broken_heart"] = "💔", ["orange_heart"] = "🧡",
        ["yellow_heart"] = "💛", ["green_heart"] = "💚", ["blue_heart"] = "💙", ["purple_heart"] = "💜", ["sparkling_heart"] = "💖",
        ["smile"] = "😄", ["smiley"] = "😃", ["grinning"] = "😀", ["grin"] = "😁", ["laughing"] = "😆", ["satisfied"] = "😆",
        ["joy"] = "😂", ["rolling_on_the_floor_laughing"] = "🤣", ["slightly_smiling_face"] = "🙂", ["wink"] = "😉", ["blush"] = "😊",
        ["heart_eyes"] = "😍", ["sunglasses"] = "😎", ["thinking_face"] = "🤔", ["thinking"] = "🤔", ["neutral_face"] = "😐",
        ["expressionless"] = "😑", ["unamused"] = "😒", ["sweat_smile"] = "😅", ["sweat"] = "😓", ["pensive"] = "😔", ["confused"] = "😕",
        ["upside_down_face"] = "🙃", ["disappointed"] = "😞", ["worried"] = "😟", ["cry"] = "😢", ["sob"] = "😭", ["scream"] = "😱",
        ["astonished"] = "😲", ["open_mouth"] = "😮", ["flushed"] = "😳", ["angry"] = "😠", ["rage"] = "😡", ["face_palm"] = "🤦",
        ["facepalm"] = "🤦", ["shrug"] = "🤷", ["sleeping"] = "😴", ["zipper_mouth_face"] = "🤐", ["nerd_face"] = "🤓", ["hugging_face"] = "🤗",
        ["star-struck"] = "🤩", ["partying_face"] = "🥳", ["exploding_head"] = "🤯", ["skull"] = "💀", ["eyes"] = "👀", ["see_no_evil"] = "🙈",
        ["clap"] = "👏", ["pray"] = "🙏", ["raised_hands"] = "🙌", ["wave"] = "👋", ["ok_hand"] = "👌", ["muscle"] = "💪", ["point_up"] = "☝️",
        ["point_right"] = "👉", ["point_left"] = "👈", ["v"] = "✌️", ["crossed_fingers"] = "🤞", ["handshake"] = "🤝", ["raised_hand"] = "✋",
        ["hand"] = "✋", ["fist"] = "✊", ["facepunch"] = "👊", ["punch"] = "👊", ["writing_hand"] = "✍️", ["saluting_face"] = "🫡",
        ["tada"] = "🎉", ["confetti_ball"] = "🎊", ["balloon"] = "🎈", ["gift"] = "🎁", ["trophy"] = "🏆", ["medal"] = "🏅",
        ["fire"] = "🔥", ["100"] = "💯", ["rocket"] = "🚀", ["star"] = "⭐", ["star2"] = "🌟", ["sparkles"] = "✨", ["zap"] = "⚡",
        ["boom"] = "💥", ["bulb"] = "💡", ["white_check_mark"] = "✅", ["heavy_check_mark"] = "✔️", ["ballot_box_with_check"] = "☑️",
        ["x"] = "❌", ["negative_squared_cross_mark"] = "❎", ["warning"] = "⚠️", ["no_entry"] = "⛔", ["no_entry_sign"] = "🚫",
        ["question"] = "❓", ["grey_question"] = "❔", ["exclamation"] = "❗", ["heavy_exclamation_mark"] = "❗", ["bangbang"] = "‼️",
        ["heavy_plus_sign"] = "➕", ["heavy_minus_sign"] = "➖", ["arrow_up"] = "⬆️", ["arrow_down"] = "⬇️", ["arrow_right"] = "➡️",
        ["arrow_left"] = "⬅️", ["repeat"] = "🔁", ["hourglass"] = "⌛", ["hourglass_flowing_sand"] = "⏳", ["alarm_clock"] = "⏰",
        ["stopwatch"] = "⏱️", ["calendar"] = "📆", ["date"] = "📅", ["memo"] = "📝", ["pencil"] = "📝", ["pencil2"] = "✏️",
        ["pushpin"] = "📌", ["paperclip"] = "📎", ["link"] = "🔗", ["lock"] = "🔒", ["unlock"] = "🔓", ["key"] = "🔑", ["mag"] = "🔍",
        ["bell"] = "🔔", ["mega"] = "📣", ["loudspeaker"] = "📢", ["speech_balloon"] = "💬", ["email"] = "📧", ["envelope"] = "✉️",
        ["inbox_tray"] = "📥", ["outbox_tray"] = "📤", ["package"] = "📦", ["chart_with_upwards_trend"] = "📈",
        ["chart_with_downwards_trend"] = "📉", ["bar_chart"] = "📊", ["computer"] = "💻", ["phone"] = "☎️", ["iphone"] = "📱",
        ["bug"] = "🐛", ["wrench"] = "🔧", ["hammer"] = "🔨", ["gear"] = "⚙️", ["construction"] = "🚧", ["rotating_light"] = "🚨",
        ["ship"] = "🚢", ["ship_it"] = "🚢", ["coffee"] = "☕", ["beer"] = "🍺", ["beers"] = "🍻", ["pizza"] = "🍕", ["cake"] = "🍰",
        ["birthday"] = "🎂", ["taco"] = "🌮", ["doughnut"] = "🍩", ["cookie"] = "🍪", ["apple"] = "🍎", ["sunny"] = "☀️",
        ["cloud"] = "☁️", ["umbrella"] = "☔", ["snowflake"] = "❄️", ["rainbow"] = "🌈", ["earth_americas"] = "🌎",
        ["earth_africa"] = "🌍", ["earth_asia"] = "🌏", ["moon"] = "🌔", ["full_moon"] = "🌕", ["seedling"] = "🌱", ["rose"] = "🌹",
        ["sunflower"] = "🌻", ["cherry_blossom"] = "🌸", ["four_leaf_clover"] = "🍀", ["dog"] = "🐶", ["cat"] = "🐱", ["unicorn_face"] = "🦄",
        ["monkey_face"] = "🐵", ["penguin"] = "🐧", ["turtle"] = "🐢", ["snail"] = "🐌", ["parrot"] = "🦜", ["poop"] = "💩",
        ["hankey"] = "💩", ["shit"] = "💩", ["ghost"] = "👻", ["robot_face"] = "🤖", ["alien"] = "👽", ["money_with_wings"] = "💸",
        ["moneybag"] = "💰", ["gem"] = "💎", ["crown"] = "👑", ["dart"] = "🎯", ["checkered_flag"] = "🏁", ["triangular_flag_on_post"] = "🚩",
        ["red_circle"] = "🔴", ["large_blue_circle"] = "🔵", ["large_green_circle"] = "🟢", ["white_circle"] = "⚪", ["black_circle"] = "⚫",
        ["o"] = "⭕", ["heavy_multiplication_x"] = "✖️", ["recycle"] = "♻️", ["infinity"] = "♾️", ["copyright"] = "©️",
        ["registered"] = "®️", ["tm"] = "™️", ["information_source"] = "ℹ️", ["new"] = "🆕", ["cool"] = "🆒", ["ok"] = "🆗", ["sos"] = "🆘",
        ["zero"] = "0️⃣", ["one"] = "1️⃣", ["two"] = "2️⃣", ["three"] = "3️⃣", ["four"] = "4️⃣", ["five"] = "5️⃣", ["six"] = "6️⃣",
        ["seven"] = "7️⃣", ["eight"] = "8️⃣", ["nine"] = "9️⃣", ["keycap_ten"] = "🔟", ["hash"] = "#️⃣",
        ["flag-cn"] = "🇨🇳", ["cn"] = "🇨🇳", ["flag-us"] = "🇺🇸", ["us"] = "🇺🇸", ["flag-gb"] = "🇬🇧", ["gb"] = "🇬🇧", ["uk"] = "🇬🇧",
        ["flag-de"] = "🇩🇪", ["de"] = "🇩🇪", ["flag-fr"] = "🇫🇷", ["fr"] = "🇫🇷", ["flag-jp"] = "🇯🇵", ["jp"] = "🇯🇵",
    };

    /// <summary>The table (for its test: every value must be one emoji to the reaction rules).</summary>
    public static IReadOnlyDictionary<string, string> Table => Names;

    /// <summary>Slack's <c>skin-tone-2</c> … <c>skin-tone-6</c> as the Fitzpatrick modifiers U+1F3FB … U+1F3FF.</summary>
    private static readonly string[] SkinTones = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"];

    /// <summary>The emoji for a Slack reaction name, or null when the table has none (the caller skips and counts it).</summary>
    public static string? Map(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        name = name.Trim().Trim(':');
        string? tone = null;
        var sep = name.IndexOf("::", StringComparison.Ordinal);
        if (sep >= 0)
        {
            var suffix = name[(sep + 2)..];
            name = name[..sep];
            if (suffix.StartsWith("skin-tone-", StringComparison.Ordinal) && int.TryParse(suffix["skin-tone-".Length..], out var n) && n is >= 2 and <= 6)
                tone = SkinTones[n - 2];
        }
        if (!Names.TryGetValue(name, out var emoji)) return null;
        if (tone is not null)
        {
            // A tone goes on the base pictograph (without its variation selector); the result must still be one emoji.
            var toned = emoji.Replace("\uFE0F", "", StringComparison.Ordinal) + tone;
            if (Conversations.Emoji.IsEmoji(toned)) return toned;
        }
        return emoji;
    }
}
