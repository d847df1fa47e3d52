using ChatPortal.Chat;

namespace ChatPortal.Bots;

/// <summary>
/// A bot: one class, registered in DI as <see cref="IChatBot"/>. The bot runner calls it off the
/// hot path for every stored message it <see cref="Wants"/>; a reply is posted as the bot user.
/// </summary>
public interface IChatBot
{
    /// <summary>Stable name; also the bot's user name in rooms (e.g. "小爱同学").</summary>
    string Name { get; }

    /// <summary>Cheap check on the hot path's side: does this message concern the bot?</summary>
    bool Wants(ChatMessage message);

    /// <summary>The reply text, or null for none. May be slow or throw: the runner isolates it.</summary>
    Task<string?> ReplyAsync(BotContext context, CancellationToken ct);
}

/// <summary>What a bot may look at when answering.</summary>
public sealed record BotContext(ChatMessage Message, RoomInfo Room, IReadOnlyList<UserRef> Online, ChatHistory History);
