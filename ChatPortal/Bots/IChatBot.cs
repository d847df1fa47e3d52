using ChatPortal.Chat;

namespace ChatPortal.Bots;

/// <summary>
/// A built-in bot: one class, registered in DI as <see cref="IChatBot"/>. It runs as a bot account of its own and reaches
/// the portal only through the public bot API (a <c>chatportal.v1</c> socket with its token, see <see cref="BotClient"/>):
/// for every room message it <see cref="Wants"/>, its reply is sent back over that socket.
/// </summary>
public interface IChatBot
{
    /// <summary>Stable name; also the bot's user name in rooms (e.g. "小爱同学").</summary>
    string Name { get; }

    /// <summary>Cheap check: does this message concern the bot?</summary>
    bool Wants(ChatMessage message);

    /// <summary>The reply text, or null for none. May be slow or throw: the runner isolates it.</summary>
    Task<string?> ReplyAsync(BotContext context, CancellationToken ct);
}

/// <summary>A room as the bot API shows it to the bot.</summary>
public sealed record BotRoom(long Id, string Slug, string Name);

/// <summary>What a bot may ask the portal while answering: the same API calls a third-party bot makes.</summary>
public interface IBotRoomApi
{
    /// <summary>Who is online in the room (the socket's <c>online</c> request), the bot itself left out.</summary>
    Task<IReadOnlyList<UserRef>> OnlineAsync(CancellationToken ct);

    /// <summary>The room's numbers (<c>GET /api/v1/rooms/{id}/stats</c>).</summary>
    Task<RoomStats> StatsAsync(CancellationToken ct);
}

/// <summary>What a bot may look at when answering.</summary>
public sealed record BotContext(ChatMessage Message, BotRoom Room, IBotRoomApi Api);
