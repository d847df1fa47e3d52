using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Data;

/// <summary>A link preview of a stored post (issue 15): one per message, written once the page was fetched.</summary>
public sealed class LinkPreviewRecord
{
    public long MessageId { get; set; }
    public long RoomId { get; set; }
    public required string Url { get; set; }
    public string? Title { get; set; }
    public string? Description { get; set; }
    public string? SiteName { get; set; }
    /// <summary>The re-encoded <c>og:image</c> in the previews folder (random hex id), or null.</summary>
    public string? ImageId { get; set; }
    public int ImageWidth { get; set; }
    public int ImageHeight { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The model of issue 15's second half (link previews, attachments).</summary>
public static class ConversationModel
{
    public static void Configure(ModelBuilder b)
    {
        b.Entity<LinkPreviewRecord>(e =>
        {
            e.ToTable("LinkPreviews");
            e.HasKey(x => x.MessageId);
            e.Property(x => x.MessageId).ValueGeneratedNever();
            e.Property(x => x.Url).HasMaxLength(2048);
            e.Property(x => x.Title).HasMaxLength(300);
            e.Property(x => x.Description).HasMaxLength(600);
            e.Property(x => x.SiteName).HasMaxLength(100);
            e.Property(x => x.ImageId).HasMaxLength(40);
            e.HasIndex(x => x.RoomId);
            e.HasIndex(x => x.ImageId);
        });
    }
}
