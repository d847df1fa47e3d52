using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ChatPortal.Data;

/// <summary>The one EF Core model. Not sealed only so that PostgreSQL gets its own migrations (PostgresChatDbContext).</summary>
public class ChatDbContext : DbContext
{
    public ChatDbContext(DbContextOptions<ChatDbContext> options) : base(options) { }

    /// <summary>For a provider-specific subclass: same model, its own migrations.</summary>
    protected ChatDbContext(DbContextOptions options) : base(options) { }

    public DbSet<ChatUser> Users => Set<ChatUser>();
    public DbSet<AdminUser> Admins => Set<AdminUser>();
    public DbSet<Room> Rooms => Set<Room>();
    public DbSet<RoomMember> RoomMembers => Set<RoomMember>();
    public DbSet<RoomDeparture> RoomDepartures => Set<RoomDeparture>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<StoredImage> Images => Set<StoredImage>();
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<AuditEntry> AuditLog => Set<AuditEntry>();
    public DbSet<BotSetting> BotSettings => Set<BotSetting>();
    public DbSet<PortalSetting> Settings => Set<PortalSetting>();
    public DbSet<ImportMapping> ImportMappings => Set<ImportMapping>();
    public DbSet<SignInSession> SignInSessions => Set<SignInSession>();
    public DbSet<UserProfile> Profiles => Set<UserProfile>();
    public DbSet<ExternalLogin> ExternalLogins => Set<ExternalLogin>();
    public DbSet<NotificationPreference> NotificationPreferences => Set<NotificationPreference>();
    public DbSet<RoomNotificationSetting> RoomNotificationSettings => Set<RoomNotificationSetting>();
    public DbSet<PushSubscriptionRecord> PushSubscriptions => Set<PushSubscriptionRecord>();
    public DbSet<PendingNotification> PendingNotifications => Set<PendingNotification>();
    public DbSet<LinkPreviewRecord> LinkPreviews => Set<LinkPreviewRecord>();
    public DbSet<Reaction> Reactions => Set<Reaction>();
    public DbSet<PinnedMessage> Pins => Set<PinnedMessage>();
    public DbSet<SavedMessage> SavedMessages => Set<SavedMessage>();
    public DbSet<ThreadFollower> ThreadFollowers => Set<ThreadFollower>();
    public DbSet<ReadReceiptOptOut> ReadReceiptOptOuts => Set<ReadReceiptOptOut>();

    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<ChatUser>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(64);
            e.Property(x => x.NormalizedName).HasMaxLength(64);
            e.HasIndex(x => x.NormalizedName).IsUnique();
            e.Property(x => x.SecurityStamp).HasMaxLength(64);
            e.Property(x => x.NameSkeleton).HasMaxLength(256);
            e.HasIndex(x => x.NameSkeleton);
        });
        b.Entity<SignInSession>(e =>
        {
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.RemoteIp).HasMaxLength(64);
            e.Property(x => x.UserAgent).HasMaxLength(200);
            e.HasIndex(x => x.UserId);
        });
        b.Entity<AdminUser>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(64);
            e.Property(x => x.NormalizedName).HasMaxLength(64);
            e.HasIndex(x => x.NormalizedName).IsUnique();
        });
        b.Entity<Room>(e =>
        {
            e.Property(x => x.Slug).HasMaxLength(80);
            e.Property(x => x.Name).HasMaxLength(80);
            e.Property(x => x.Topic).HasMaxLength(500);
            e.HasIndex(x => x.Slug).IsUnique();
            e.HasIndex(x => x.InviteCode).IsUnique();
        });
        b.Entity<RoomMember>(e =>
        {
            e.HasKey(x => new { x.RoomId, x.UserId });
            e.HasIndex(x => x.UserId);
        });
        b.Entity<RoomDeparture>(e =>
        {
            e.HasKey(x => new { x.UserId, x.RoomId });
            e.HasIndex(x => x.RoomId);
        });
        b.Entity<Message>(e =>
        {
            e.HasIndex(x => new { x.RoomId, x.Id });
            e.HasIndex(x => new { x.SenderId, x.ClientMsgId }).IsUnique();
            e.HasIndex(x => x.TargetId);
            e.HasIndex(x => x.ImageId); // image retention: which images a message still shows
            e.Property(x => x.ClientMsgId).HasMaxLength(64);
            e.Property(x => x.AsName).HasMaxLength(80);
            e.Property(x => x.AsIcon).HasMaxLength(500);
            e.Property(x => x.PostedVia).HasMaxLength(40);
        });
        b.Entity<StoredImage>(e =>
        {
            e.Property(x => x.Id).HasMaxLength(40);
            e.HasIndex(x => x.UploaderId); // per-user quota, a guest's uploads
        });
        b.Entity<ApiToken>(e =>
        {
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => x.UserId);
            e.Property(x => x.Scopes).HasMaxLength(64).HasDefaultValue("read write");
            e.Property(x => x.AdminStamp).HasMaxLength(64);
        });
        b.Entity<AuditEntry>(e => e.HasIndex(x => x.At));
        b.Entity<BotSetting>(e => e.HasIndex(x => new { x.BotName, x.RoomId }).IsUnique());
        b.Entity<PortalSetting>(e => e.HasKey(x => x.Key));
        b.Entity<ImportMapping>(e =>
        {
            e.Property(x => x.Source).HasMaxLength(32);
            e.Property(x => x.Kind).HasMaxLength(16);
            e.Property(x => x.ExternalId).HasMaxLength(200);
            e.HasIndex(x => new { x.Source, x.Kind, x.ExternalId }).IsUnique();
        });
        IdentityModel.Configure(b);
        ConversationModel.Configure(b);
        Chat.Conversations.ConversationModel.Configure(b);
        Chat.Integrations.IntegrationModel.Configure(b); // issue 16: webhooks and their outbox
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder c)
    {
        // SQLite cannot compare or order DateTimeOffset text; store every time as a number
        // (all times are UTC), which works the same on PostgreSQL.
        c.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}
