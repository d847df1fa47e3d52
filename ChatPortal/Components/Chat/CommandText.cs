using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Components.Chat;

/// <summary>Marker for the slash commands' strings (<c>CommandText.resx</c>, <c>CommandText.zh-CN.resx</c>): autocomplete, ephemeral replies.</summary>
public sealed class CommandText;

/// <summary>The core answers commands in English with codes; the web view translates by code.</summary>
public static class CommandTexts
{
    public static string Describe(IStringLocalizer<CommandText> l, SlashCommandInfo c) => c.BuiltIn ? l[c.Description] : c.Description;

    /// <summary>An ephemeral reply as the web view shows it ("Only you can see this" is the view's label).</summary>
    public static string Describe(IStringLocalizer<CommandText> l, EphemeralReply r, IReadOnlyList<SlashCommandInfo> commands) => r.Code switch
    {
        "left" => l["You left {0}.", r.Arg ?? ""],
        "invited" => l["{0} was added to the room.", r.Arg ?? ""],
        "already_member" => l["{0} is already a member.", r.Arg ?? ""],
        "topic_set" => string.IsNullOrEmpty(r.Arg) ? l["The topic was cleared."] : l["The topic is now: {0}", r.Arg],
        "muted_room" => l["This room is muted: no notifications from it."],
        "unmuted_room" => l["This room notifies you as your settings say."],
        "help" => string.Join("  ·  ", commands.Select(c => $"{c.Usage} — {Describe(l, c)}")),
        "unknown_command" => l["Unknown command. Type /help for the list; start with // to post a message beginning with \"/\"."],
        "working" => l["Working…"],
        _ => r.Text,
    };

    public static string DescribeError(IStringLocalizer<CommandText> l, IStringLocalizer<ChatText> chat, ChatError e) => e.Code switch
    {
        "unknown_command" or "bad_command" => l["Unknown command. Type /help for the list; start with // to post a message beginning with \"/\"."],
        "usage" => l["Usage: {0}", e.Message.StartsWith("Usage: ", StringComparison.Ordinal) ? e.Message[7..] : e.Message],
        "guests_not_allowed" => l["Guests may not join this room."],
        "no_such_user" => l["There is no such user."],
        _ => ChatErrors.Describe(chat, e),
    };
}
