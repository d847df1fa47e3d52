using System.Threading.RateLimiting;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Conversations;

/// <summary>
/// Reactions and pins: validated and authorized here for every adapter alike (web view, <c>chatportal.v1</c>,
/// import), then written through the single writer as core events (<see cref="ReactionChanged"/>,
/// <see cref="PinChanged"/>), which reach every tab, socket and node like posts do.
/// </summary>
public sealed class ChatReactions(MessageWriter writer, RoomDirectory rooms, ChatHistory history, IDbContextFactory<ChatDbContext> dbFactory,
    IOptions<ChatOptions> options, TimeProvider time) : IDisposable
{
    /// <summary>Distinct emoji one message may carry (peers allow unbounded lists that break their layout).</summary>
    public const int MaxDistinctEmoji = 50;
    /// <summary>Names kept per emoji for "who reacted" (the count is exact).</summary>
    public const int MaxNamesPerEmoji = 20;

    // Toggling is cheap to send and fans out to the room: the same per-user rate as posts.
    private readonly PartitionedRateLimiter<long> _rate = PartitionedRateLimiter.Create<long, long>(userId =>
        RateLimitPartition.GetTokenBucketLimiter(userId, _ => ChatCommands.BucketFor(options.Value)));

    public static ChatError UnknownEmoji(string? emoji) => new("unknown_emoji",
        $"\"{Shorten(emoji)}\" is not an emoji: a reaction is exactly one emoji, such as 👍.");

    public static ChatError TooManyEmoji(int max) => new("too_many_reactions",
        $"This message already has {max} different reactions; react with one of those.");

    /// <summary>Adds (or with <paramref name="add"/> false removes) the user's reaction; returns the message's reactions after it.</summary>
    public async Task<ChatResult<IReadOnlyList<ReactionSummary>>> ReactAsync(UserRef user, long messageId, string? emoji, bool add = true,
        CancellationToken ct = default)
    {
        emoji = emoji?.Trim();
        if (!Emoji.IsEmoji(emoji)) return UnknownEmoji(emoji);
        var (target, denied) = await CheckAsync(user, messageId, ct);
        if (denied is not null) return denied;
        var result = await writer.SubmitAsync(new ReactionOp(user, target!.RoomId, messageId, time.GetUtcNow(), emoji!, add, MaxDistinctEmoji), ct);
        if (result.Error is not null) return result.Error;
        if (result.Event is ReactionChanged changed) return ChatResult.Of(changed.Reactions);
        return ChatResult.Of(await ReactionsOfAsync(messageId, ct)); // nothing changed: as it is
    }

    /// <summary>Pins or unpins a message in its room. Pinning a pinned message changes nothing and posts nothing.</summary>
    public async Task<ChatResult<bool>> PinAsync(UserRef user, long messageId, bool pin = true, CancellationToken ct = default)
    {
        var (target, denied) = await CheckAsync(user, messageId, ct);
        if (denied is not null) return denied;
        var result = await writer.SubmitAsync(new PinOp(user, target!.RoomId, messageId, time.GetUtcNow(), pin), ct);
        if (result.Error is not null) return result.Error;
        return result.Event is not null; // true: changed now; false: it already was so
    }

    /// <summary>The room's pinned messages, newest pin first, for a user who may read it.</summary>
    public async Task<ChatResult<IReadOnlyList<ChatMessage>>> PinnedAsync(UserRef user, long roomId, CancellationToken ct = default)
    {
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null) return ChatError.NotFound("The room");
        if (await rooms.CheckReadAsync(user, room, ct) is { } denied) return denied;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var ids = await db.Pins.AsNoTracking().Where(p => p.RoomId == roomId).OrderByDescending(p => p.PinnedAt)
            .Select(p => p.MessageId).Take(200).ToListAsync(ct);
        var messages = (await history.GetMessagesAsync(ids, ct)).Where(m => !m.IsDeleted).ToDictionary(m => m.Id);
        return ChatResult.Of<IReadOnlyList<ChatMessage>>(ids.Where(messages.ContainsKey).Select(id => messages[id]).ToList());
    }

    public async Task<IReadOnlyList<ReactionSummary>> ReactionsOfAsync(long messageId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await ConversationState.ReactionsAsync(db, [messageId], ct)).GetValueOrDefault(messageId) ?? [];
    }

    /// <summary>
    /// The message must be a visible post in a room the user may post in now (read access, not muted, not
    /// archived). A message in a room the user may not read answers as a missing one (private rooms stay private).
    /// </summary>
    private async Task<(ChatMessage? Target, ChatError? Error)> CheckAsync(UserRef user, long messageId, CancellationToken ct)
    {
        var target = await history.GetRowAsync(messageId, ct);
        if (target is null || target.IsDeleted || target.Kind is not (MessageKind.Text or MessageKind.Image))
            return (null, ChatError.NotFound("The message"));
        var room = await rooms.GetAsync(target.RoomId, ct);
        if (room is null || await rooms.CheckReadAsync(user, room, ct) is { Code: "not_found" }) return (null, ChatError.NotFound("The message"));
        if (await rooms.CheckPostAsync(user, room, ct) is { } denied) return (null, denied);
        if (!user.IsBot)
        {
            using var lease = _rate.AttemptAcquire(user.Id);
            if (!lease.IsAcquired) return (null, ChatError.RateLimited);
        }
        return (target, null);
    }

    private static string Shorten(string? s) => s is null ? "" : s.Length <= 16 ? s : s[..16] + "…";

    public void Dispose() => _rate.Dispose();
}
