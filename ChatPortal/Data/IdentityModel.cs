using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Data;

/// <summary>Model of the profile, sign-in link and notification tables (issue 17), kept apart from the chat tables.</summary>
internal static class IdentityModel
{
    public static void Configure(ModelBuilder b)
    {
        b.Entity<ChatUser>().Property(x => x.MuteReason).HasMaxLength(300);
        b.Entity<UserProfile>(e =>
        {
            e.HasKey(x => x.UserId);
            e.Property(x => x.DisplayName).HasMaxLength(64);
            e.Property(x => x.StatusText).HasMaxLength(140);
            e.Property(x => x.TimeZone).HasMaxLength(64);
            e.Property(x => x.AvatarId).HasMaxLength(40);
            e.Property(x => x.Email).HasMaxLength(254);
            e.Property(x => x.NormalizedEmail).HasMaxLength(254);
            e.HasIndex(x => x.NormalizedEmail);
            e.HasIndex(x => x.UpdatedAt); // the profile cache polls "changed since"
        });
        b.Entity<ExternalLogin>(e =>
        {
            e.Property(x => x.Issuer).HasMaxLength(300);
            e.Property(x => x.Subject).HasMaxLength(255);
            e.HasIndex(x => new { x.Issuer, x.Subject, x.ForAdmin }).IsUnique();
            e.HasIndex(x => new { x.ForAdmin, x.LocalId });
        });
        b.Entity<NotificationPreference>(e => e.HasKey(x => x.UserId));
        b.Entity<RoomNotificationSetting>(e => e.HasKey(x => new { x.UserId, x.RoomId }));
        b.Entity<PushSubscriptionRecord>(e =>
        {
            e.Property(x => x.Endpoint).HasMaxLength(2000);
            e.Property(x => x.EndpointHash).HasMaxLength(64);
            e.Property(x => x.P256dh).HasMaxLength(200);
            e.Property(x => x.Auth).HasMaxLength(100);
            e.HasIndex(x => x.EndpointHash).IsUnique();
            e.HasIndex(x => x.UserId);
        });
        b.Entity<PendingNotification>(e =>
        {
            e.HasIndex(x => new { x.UserId, x.MessageId }).IsUnique();
            e.HasIndex(x => x.CreatedAt);
        });
    }
}
