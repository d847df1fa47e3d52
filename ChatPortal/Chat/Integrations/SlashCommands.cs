using ChatPortal.Chat.Notifications;
using ChatPortal.Data;

namespace ChatPortal.Chat.Integrations;

/// <summary>What a slash command did: the command's name, the message it posted (if any), and the reply only the caller sees.</summary>
public sealed record SlashOutcome(string Command, ChatMessage? Posted = null, string? Reply = null, string? ReplyCode = null, string? ReplyArg = null,
    string? From = null);

/// <summary>A built-in command as the composer's autocomplete lists it.</summary>
public sealed record SlashCommandInfo(string Name, string Usage, string Description, bool BuiltIn = true);

/// <summary>Admin-defined commands (custom slash commands); registered by the integrations feature when it is on.</summary>
public interface ICustomSlashCommands
{
    /// <summary>The enabled custom commands (for autocomplete and <c>/help</c>).</summary>
    IReadOnlyList<SlashCommandInfo> List();

    /// <summary>Runs <paramref name="name"/> if it is a custom command; null when there is none by that name.</summary>
    Task<ChatResult<SlashOutcome>?> TryRunAsync(UserRef user, RoomInfo room, string name, string args, CancellationToken ct);
}

/// <summary>
/// Slash commands typed in a composer or sent as a <c>chatportal.v1</c> <c>command</c> (issue 16). Each built-in
/// calls one existing core method (<see cref="ChatCommands"/>, <see cref="ChatRooms"/>, <see cref="UserRooms"/>,
/// <see cref="NotificationSettings"/>), so the checks are the ones every other path makes. Replies meant for the
/// caller alone (confirmations, errors, <c>/help</c>) go out as an <see cref="EphemeralReply"/> on the caller's own
/// channel: their tabs and sockets in the room show it, nobody else sees it, nothing is stored.
/// </summary>
public sealed class SlashCommands(ChatCommands commands, ChatRooms rooms, UserRooms userRooms, UserDirectory users,
    NotificationSettings notifications, IChatBackplane backplane, ICustomSlashCommands? custom = null)
{
    public static readonly IReadOnlyList<SlashCommandInfo> BuiltIns =
    [
        new("me", "/me <action>", "Post an action: /me waves shows \"* you waves\"."),
        new("topic", "/topic <text>", "Set the room's topic (empty: clear it)."),
        new("invite", "/invite @user", "Add someone to this room."),
        new("leave", "/leave", "Leave this room."),
        new("mute", "/mute", "No notifications from this room."),
        new("unmute", "/unmute", "Notifications from this room as your settings say."),
        new("help", "/help", "List the commands."),
    ];

    /// <summary>Text typed in a composer is a command when it starts with one "/" and a letter ("//" posts a literal "/").</summary>
    public static bool IsCommand(string? text) =>
        text is { Length: > 1 } t && t.TrimStart() is ['/', var c, ..] && char.IsLetter(c);

    /// <summary>Built-ins and custom commands, for autocomplete.</summary>
    public IReadOnlyList<SlashCommandInfo> All() => custom is null ? BuiltIns : [.. BuiltIns, .. custom.List()];

    /// <summary>
    /// Runs a command line ("/name args") in a room. On failure the caller also gets the error as an ephemeral
    /// reply (nothing is posted); on success the reply, if any, goes to the caller alone.
    /// </summary>
    public async Task<ChatResult<SlashOutcome>> RunAsync(UserRef user, long roomId, string? line, string? address = null,
        string? clientMsgId = null, CancellationToken ct = default)
    {
        var (name, args) = Split(line);
        var result = name.Length == 0
            ? new ChatError("bad_command", "A command starts with \"/\" and a name, e.g. /help.")
            : await DispatchAsync(user, roomId, name, args, address, clientMsgId, ct);
        if (!result.Ok) Tell(user, roomId, result.Error!.Code, result.Error.Message, isError: true);
        else if (result.Value!.Reply is { } reply) Tell(user, roomId, result.Value.ReplyCode ?? result.Value.Command, reply, from: result.Value.From, arg: result.Value.ReplyArg);
        return result;
    }

    /// <summary>Sends a reply to the user's own tabs and sockets in the room (on every node); never stored.</summary>
    public void Tell(UserRef user, long roomId, string code, string text, bool isError = false, string? from = null, string? arg = null) =>
        backplane.Publish(new EphemeralReply(roomId, user.Id, code, text, isError, from, arg));

    internal static (string Name, string Args) Split(string? line)
    {
        var t = (line ?? "").Trim();
        if (!IsCommand(t)) return ("", "");
        var space = t.IndexOfAny([' ', '\n', '\t']);
        var name = (space < 0 ? t[1..] : t[1..space]).ToLowerInvariant();
        var args = space < 0 ? "" : t[(space + 1)..].Trim();
        return name.Length > 32 ? ("", "") : (name, args);
    }

    private async Task<ChatResult<SlashOutcome>> DispatchAsync(UserRef user, long roomId, string name, string args, string? address,
        string? clientMsgId, CancellationToken ct)
    {
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null || await rooms.Directory.CheckReadAsync(user, room, ct) is { Code: "not_found" }) return ChatError.NotFound("The room");
        switch (name)
        {
            case "me":
                if (args.Length == 0) return Usage("/me <action>");
                var posted = await commands.PostAsync(user, room.Id, args, clientMsgId, ct: ct, address: address, style: new MessageStyle(Action: true));
                return posted.Ok ? new SlashOutcome(name, posted.Value) : posted.Error!;
            case "topic":
                return await TopicAsync(user, room, args, ct);
            case "invite":
                return await InviteAsync(user, room, args, ct);
            case "leave":
                var left = await userRooms.LeaveAsync(user, room.Id, ct);
                return left.Ok ? new SlashOutcome(name, Reply: $"You left {room.Name}.", ReplyCode: "left", ReplyArg: room.Name) : left.Error!;
            case "mute" or "unmute":
                if (await rooms.Directory.CheckReadAsync(user, room, ct) is { } denied) return denied;
                await notifications.SetRoomLevelAsync(user.Id, room.Id, name == "mute" ? NotifyLevel.None : null, ct);
                return name == "mute"
                    ? new SlashOutcome(name, Reply: "This room is muted: no notifications from it.", ReplyCode: "muted_room")
                    : new SlashOutcome(name, Reply: "This room notifies you as your settings say.", ReplyCode: "unmuted_room");
            case "help":
                return new SlashOutcome(name, Reply: string.Join("\n", All().Select(c => $"{c.Usage} — {c.Description}")), ReplyCode: "help");
        }
        if (custom is not null && await custom.TryRunAsync(user, room, name, args, ct) is { } ran) return ran;
        return new ChatError("unknown_command", $"Unknown command /{name}. Type /help for the list; start with // to post a message beginning with \"/\".");
    }

    private async Task<ChatResult<SlashOutcome>> TopicAsync(UserRef user, RoomInfo room, string topic, CancellationToken ct)
    {
        if (user.IsGuest || room.IsDirect) return ChatError.Forbidden;
        if (topic.Length > 500) return new ChatError("topic_too_long", "The topic is longer than 500 characters.");
        var (_, denied) = await commands.CheckPostAsync(user, room.Id, ct); // members who may post may set it, as in Slack
        if (denied is not null) return denied;
        var changed = await rooms.UpdateAsync(room.Id, r =>
        {
            r.Topic = topic.Length == 0 ? null : topic;
            return null;
        }, ct: ct);
        return changed.Ok
            ? new SlashOutcome("topic", Reply: topic.Length == 0 ? "The topic was cleared." : $"The topic is now: {topic}", ReplyCode: "topic_set", ReplyArg: topic)
            : changed.Error!;
    }

    private async Task<ChatResult<SlashOutcome>> InviteAsync(UserRef user, RoomInfo room, string args, CancellationToken ct)
    {
        var who = args.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.TrimStart('@');
        if (string.IsNullOrEmpty(who)) return Usage("/invite @user");
        if (user.IsGuest || room.IsDirect) return ChatError.Forbidden;
        var (_, denied) = await commands.CheckPostAsync(user, room.Id, ct);
        if (denied is not null) return denied;
        var other = await users.FindByNameAsync(who, ct);
        if (other is null) return new ChatError("no_such_user", $"There is no user \"{who}\".");
        if (other.IsGuest && !room.AllowGuests) return new ChatError("guests_not_allowed", "Guests may not join this room.");
        var added = await rooms.EnsureMemberAsync(room.Id, other, ct);
        return added
            ? new SlashOutcome("invite", Reply: $"{other.Name} was added to {room.Name}.", ReplyCode: "invited", ReplyArg: other.Name)
            : new SlashOutcome("invite", Reply: $"{other.Name} is already a member.", ReplyCode: "already_member", ReplyArg: other.Name);
    }

    private static ChatError Usage(string usage) => new("usage", $"Usage: {usage}");
}
