using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Conversations;

/// <summary>The tables of reactions, pins and saved messages (issue 15).</summary>
internal static class ConversationModel
{
    public const int MaxEmojiLength = 32;

    public static void Configure(ModelBuilder b)
    {
        // Rows hang off their message: a room delete or a purge that removes the message removes them
        // in the database too (the purge hook deletes them explicitly as well, see ConversationPurgeHook).
        b.Entity<Reaction>(e =>
        {
            e.HasKey(x => new { x.MessageId, x.UserId, x.Emoji });
            e.Property(x => x.Emoji).HasMaxLength(MaxEmojiLength);
            e.HasOne<Message>().WithMany().HasForeignKey(x => x.MessageId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<PinnedMessage>(e =>
        {
            e.HasKey(x => x.MessageId);
            e.HasIndex(x => new { x.RoomId, x.PinnedAt });
            e.HasOne<Message>().WithMany().HasForeignKey(x => x.MessageId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<Message>(e => e.HasIndex(x => new { x.ThreadId, x.Id })); // a thread's replies, reply counts
        b.Entity<ThreadFollower>(e =>
        {
            e.HasKey(x => new { x.ThreadId, x.UserId });
            e.HasIndex(x => x.UserId);
            e.HasOne<Message>().WithMany().HasForeignKey(x => x.ThreadId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ReadReceiptOptOut>(e => e.HasKey(x => x.UserId));
        b.Entity<SavedMessage>(e =>
        {
            e.HasKey(x => new { x.UserId, x.MessageId });
            e.HasIndex(x => x.MessageId);
            e.HasOne<Message>().WithMany().HasForeignKey(x => x.MessageId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
