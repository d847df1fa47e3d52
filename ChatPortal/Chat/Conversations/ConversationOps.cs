using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>
/// A change of a conversation feature that goes through the single writer (<see cref="MessageWriter"/>):
/// committed in a batch of its own, after the writer checked that <see cref="TargetId"/> is a visible
/// post of <see cref="RoomId"/>. It changes its table and adds an event row (one id sequence orders it
/// with the posts, so catch-up replays it), or returns <see cref="WriteResult.Unchanged"/>.
/// </summary>
internal abstract class ConversationOp(UserRef user, long roomId, long targetId, DateTimeOffset now) : WriteOp
{
    public UserRef User { get; } = user;
    public long TargetId { get; } = targetId;
    public DateTimeOffset Now { get; } = now;
    public override long RoomId { get; } = roomId;
    public override bool Solo => true;

    /// <summary>Runs in the writer's transaction; saves its own changes.</summary>
    public abstract Task<WriteResult> ApplyAsync(ChatDbContext db, Message target);

    protected Message EventRow(MessageKind kind, string text = "") =>
        new() { RoomId = RoomId, SenderId = User.Id, Kind = kind, Text = text, TargetId = TargetId, CreatedAt = Now };
}

internal sealed class ReactionOp(UserRef user, long roomId, long targetId, DateTimeOffset now, string emoji, bool add, int maxDistinct)
    : ConversationOp(user, roomId, targetId, now)
{
    public override async Task<WriteResult> ApplyAsync(ChatDbContext db, Message target)
    {
        var mine = db.Reactions.Where(r => r.MessageId == TargetId && r.UserId == User.Id && r.Emoji == emoji);
        var exists = await mine.AnyAsync().ConfigureAwait(false);
        if (exists == add) return WriteResult.Unchanged;
        if (add)
        {
            // Checked inside the single writer (and, in a cluster, under the room's lock): no race adds a 51st.
            var distinct = await db.Reactions.Where(r => r.MessageId == TargetId).Select(r => r.Emoji).Distinct().ToListAsync().ConfigureAwait(false);
            if (!distinct.Contains(emoji, StringComparer.Ordinal) && distinct.Count >= maxDistinct)
                return WriteResult.Fail(ChatReactions.TooManyEmoji(maxDistinct));
            db.Reactions.Add(new Reaction { MessageId = TargetId, UserId = User.Id, Emoji = emoji, RoomId = RoomId, CreatedAt = Now });
        }
        else
        {
            await mine.ExecuteDeleteAsync().ConfigureAwait(false);
        }
        var row = EventRow(add ? MessageKind.ReactionAdded : MessageKind.ReactionRemoved, emoji);
        db.Messages.Add(row);
        await db.SaveChangesAsync().ConfigureAwait(false);
        var now = await ConversationState.ReactionsAsync(db, [TargetId]).ConfigureAwait(false);
        return WriteResult.Stored(new ReactionChanged(RoomId, TargetId, row.Id, User, emoji, add, now.GetValueOrDefault(TargetId) ?? []), row);
    }
}

internal sealed class PinOp(UserRef user, long roomId, long targetId, DateTimeOffset now, bool pin)
    : ConversationOp(user, roomId, targetId, now)
{
    public override async Task<WriteResult> ApplyAsync(ChatDbContext db, Message target)
    {
        var pinned = await db.Pins.AnyAsync(p => p.MessageId == TargetId).ConfigureAwait(false);
        if (pinned == pin) return WriteResult.Unchanged; // pinning twice changes nothing and tells nobody twice
        if (pin) db.Pins.Add(new PinnedMessage { MessageId = TargetId, RoomId = RoomId, PinnedBy = User.Id, PinnedAt = Now });
        else await db.Pins.Where(p => p.MessageId == TargetId).ExecuteDeleteAsync().ConfigureAwait(false);
        var row = EventRow(pin ? MessageKind.Pinned : MessageKind.Unpinned);
        db.Messages.Add(row);
        await db.SaveChangesAsync().ConfigureAwait(false);
        return WriteResult.Stored(new PinChanged(RoomId, TargetId, row.Id, User, pin), row);
    }
}
