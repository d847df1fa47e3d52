using System.Globalization;
using System.Text.RegularExpressions;
using ChatPortal.Chat;

namespace ChatPortal.Bots;

/// <summary>
/// 小爱同学, the built-in bot from the original chat room. Answers any message containing
/// <c>@小爱</c> with offline rules, in Chinese or English (whichever the question is in):
/// help, time, date, who is online, room statistics, dice, echo, and a friendly default. It runs as a bot account
/// and asks the portal through the bot API (<see cref="IBotRoomApi"/>); only the asker's time zone (what their browser
/// told this node, <see cref="UserTimeZones"/>) is read in-process: a clock hint the API does not carry.
/// </summary>
public sealed partial class XiaoAiBot(TimeProvider time, UserTimeZones zones) : IChatBot
{
    public const string BotName = "小爱同学";
    private static readonly string[] Triggers = ["@小爱同学", "@小爱", "@xiaoai"];

    public string Name => BotName;

    public bool Wants(ChatMessage message) =>
        message.Text.Contains("@小爱", StringComparison.Ordinal) || message.Text.Contains("@xiaoai", StringComparison.OrdinalIgnoreCase);

    public async Task<string?> ReplyAsync(BotContext context, CancellationToken ct)
    {
        var asker = context.Message.Sender.Name;
        var command = StripTriggers(context.Message.Text);
        var zh = command.Length == 0 || HasCjk(command);
        var lower = command.ToLowerInvariant();
        var answer = await AnswerAsync(context, command, lower, zh, ct);
        return $"@{asker} {answer}";
    }

    private async Task<string> AnswerAsync(BotContext context, string command, string lower, bool zh, CancellationToken ct)
    {
        // The asker's clock when their browser told us its zone; the server's otherwise (and it says so).
        var zone = zones.Find(context.Message.Sender.Id);
        if (Echo().Match(command) is { Success: true } echo)
        {
            var said = echo.Groups["text"].Value.Trim();
            return said.Length == 0 ? (zh ? "你想让我说什么？" : "What should I say?") : said;
        }
        if (IsAny(lower, "help", "帮助", "菜单", "功能", "你能做什么", "怎么用") || lower is "?" or "？")
            return zh
                ? "我会这些：帮助 · 几点了 · 今天几号 · 谁在线 · 统计 · 掷骰子（例如 掷骰子 2d6）· 复读 <文字>。用法：@小爱 几点了"
                : "I can do: help · time · date · who is online · stats · roll (e.g. roll 2d6) · echo <text>. Try: @小爱 time";
        if (IsAny(lower, "骰子", "掷", "摇", "dice", "roll"))
            return Roll(lower, zh);
        if (IsAny(lower, "统计", "数据", "stats", "statistic"))
        {
            var s = await context.Api.StatsAsync(ct);
            var online = await context.Api.OnlineAsync(ct);
            var since = s.FirstMessageAt is not { } first ? null
                : (zone is null ? first.ToLocalTime() : TimeZoneInfo.ConvertTime(first, zone)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            return zh
                ? $"本聊天室「{context.Room.Name}」：{s.Messages} 条消息（{s.Images} 张图片），{s.Senders} 人发过言，{s.Members} 位成员，{online.Count} 人在线" + (since is null ? "。" : $"，第一条消息在 {since}。")
                : $"Room \"{context.Room.Name}\": {s.Messages} messages ({s.Images} images) from {s.Senders} people, {s.Members} members, {online.Count} online" + (since is null ? "." : $", first message on {since}.");
        }
        if (IsAny(lower, "谁在线", "在线", "有谁", "who", "online"))
        {
            var names = (await context.Api.OnlineAsync(ct)).Select(u => u.Name).ToList();
            return names.Count == 0
                ? (zh ? "现在没有人在线。" : "Nobody is online right now.")
                : zh ? $"在线的有 {names.Count} 位：{string.Join("、", names)}" : $"{names.Count} online: {string.Join(", ", names)}";
        }
        var now = zone is null ? time.GetLocalNow() : TimeZoneInfo.ConvertTime(time.GetUtcNow(), zone);
        if (IsAny(lower, "几点", "时间", "time", "clock"))
            return (zh, zone) switch
            {
                (true, null) => $"现在是 {now.ToString("HH:mm", CultureInfo.InvariantCulture)}（服务器时间，UTC{Offset(now)}）。",
                (false, null) => $"It is {now.ToString("HH:mm", CultureInfo.InvariantCulture)} (server time, UTC{Offset(now)}).",
                (true, _) => $"现在是 {now.ToString("HH:mm", CultureInfo.InvariantCulture)}（{zone.Id}，UTC{Offset(now)}）。",
                (false, _) => $"It is {now.ToString("HH:mm", CultureInfo.InvariantCulture)} ({zone.Id}, UTC{Offset(now)}).",
            };
        if (IsAny(lower, "几号", "日期", "星期", "今天", "date", "today", "day"))
            return zh
                ? $"今天是 {now.ToString("yyyy年M月d日", CultureInfo.InvariantCulture)}，{now.ToString("dddd", CultureInfo.GetCultureInfo("zh-CN"))}。"
                : $"Today is {now.ToString("dddd, d MMMM yyyy", CultureInfo.InvariantCulture)}.";
        if (IsAny(lower, "你好", "您好", "嗨", "hello", "hi", "hey"))
            return zh ? $"你好，{context.Message.Sender.Name}！我是小爱同学，发送「@小爱 帮助」看看我会什么。"
                      : $"Hello, {context.Message.Sender.Name}! I'm 小爱同学 (XiaoAi). Send \"@小爱 help\" to see what I can do.";
        return zh
            ? "我还在学习这个问题呢～ 发送「@小爱 帮助」看看我会做什么。"
            : "I'm still learning that one! Send \"@小爱 help\" to see what I can do.";
    }

    private static string Roll(string lower, bool zh)
    {
        var (count, sides) = (1, 6);
        if (DiceSpec().Match(lower) is { Success: true } m)
        {
            count = Math.Clamp(int.Parse(m.Groups["n"].Value is { Length: > 0 } n ? n : "1", CultureInfo.InvariantCulture), 1, 10);
            sides = Math.Clamp(int.Parse(m.Groups["s"].Value, CultureInfo.InvariantCulture), 2, 1000);
        }
        var rolls = Enumerable.Range(0, count).Select(_ => Random.Shared.Next(1, sides + 1)).ToList();
        var detail = count == 1 ? "" : $" ({string.Join(" + ", rolls)})";
        return zh ? $"🎲 掷出了 {rolls.Sum()}{detail}（{count}d{sides}）" : $"🎲 You rolled {rolls.Sum()}{detail} ({count}d{sides})";
    }

    private static string StripTriggers(string text)
    {
        // Only the first mention is the address; the rest is what was said ("echo @小爱" echoes it).
        var (at, length) = (-1, 0);
        foreach (var t in Triggers)
        {
            var i = text.IndexOf(t, StringComparison.OrdinalIgnoreCase);
            if (i >= 0 && (at < 0 || i < at || (i == at && t.Length > length))) (at, length) = (i, t.Length);
        }
        if (at >= 0) text = text[..at] + " " + text[(at + length)..];
        return text.Trim().Trim(',', '，', ':', '：').Trim();
    }

    private static bool IsAny(string text, params string[] words)
    {
        foreach (var w in words)
        {
            var i = text.IndexOf(w, StringComparison.Ordinal);
            if (i < 0) continue;
            if (HasCjk(w)) return true;
            // English words as words: "this" must not count as "hi".
            var before = i == 0 || !char.IsAsciiLetter(text[i - 1]);
            var after = i + w.Length == text.Length || !char.IsAsciiLetter(text[i + w.Length]);
            if (before && after) return true;
        }
        return false;
    }

    private static bool HasCjk(string s) => s.Any(c => c is >= '\u3400' and <= '\u9FFF' or >= '\uF900' and <= '\uFAFF');

    private static string Offset(DateTimeOffset t) =>
        (t.Offset < TimeSpan.Zero ? "-" : "+") + t.Offset.ToString(@"hh\:mm", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?:echo|复读|重复)\s*[:：]?\s*(?<text>.*)$", RegexOptions.IgnoreCase | RegexOptions.Singleline, matchTimeoutMilliseconds: 50)]
    private static partial Regex Echo();

    [GeneratedRegex(@"(?<n>\d{0,2})d(?<s>\d{1,4})", RegexOptions.None, matchTimeoutMilliseconds: 50)]
    private static partial Regex DiceSpec();
}
