namespace ChatPortal.Data;

/// <summary>
/// What a person shows of themselves (issue 17). Kept out of <see cref="ChatUser"/> and the
/// hot-path <c>UserRef</c>: read through the singleton profile cache.
/// </summary>
public sealed class UserProfile
{
    public long UserId { get; set; }
    public string? DisplayName { get; set; }
    public string? StatusText { get; set; }
    /// <summary>IANA time zone id (e.g. <c>Asia/Shanghai</c>); do-not-disturb hours are read in it.</summary>
    public string? TimeZone { get; set; }
    /// <summary>File name of the re-encoded avatar in the data folder; a new name on every change (cache busting).</summary>
    public string? AvatarId { get; set; }
    public string? Email { get; set; }
    /// <summary>Upper-invariant email, for linking an OpenID Connect sign-in to this account.</summary>
    public string? NormalizedEmail { get; set; }
    /// <summary>True once the address was confirmed (mailed link) or came verified from the identity provider.</summary>
    public bool EmailVerified { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>An OpenID Connect identity (issuer + subject) linked to a chat user or an admin.</summary>
public sealed class ExternalLogin
{
    public long Id { get; set; }
    /// <summary>The issuer of the identity provider.</summary>
    public required string Issuer { get; set; }
    public required string Subject { get; set; }
    /// <summary>Admins are separate accounts: the same person's admin link is a row of its own.</summary>
    public bool ForAdmin { get; set; }
    /// <summary><see cref="ChatUser.Id"/> or, when <see cref="ForAdmin"/>, <see cref="AdminUser.Id"/>.</summary>
    public long LocalId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSignInAt { get; set; }
}

public enum NotifyLevel
{
    /// <summary>Every message (in direct conversations: always).</summary>
    All = 0,
    /// <summary>Mentions and direct messages (the default).</summary>
    Mentions = 1,
    None = 2,
}

/// <summary>A user's notification settings; no row means the defaults.</summary>
public sealed class NotificationPreference
{
    public long UserId { get; set; }
    public NotifyLevel Level { get; set; } = NotifyLevel.Mentions;
    /// <summary>Do-not-disturb start, minutes after midnight in the user's time zone; null: no quiet hours.</summary>
    public int? QuietFromMinute { get; set; }
    public int? QuietToMinute { get; set; }
    public bool Sound { get; set; } = true;
    public bool Push { get; set; } = true;
    public bool EmailDigest { get; set; } = true;
}

/// <summary>A per-room override of <see cref="NotificationPreference.Level"/>.</summary>
public sealed class RoomNotificationSetting
{
    public long UserId { get; set; }
    public long RoomId { get; set; }
    public NotifyLevel Level { get; set; }
}

/// <summary>A browser's Web Push subscription (endpoint + its public key and auth secret).</summary>
public sealed class PushSubscriptionRecord
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public required string Endpoint { get; set; }
    /// <summary>SHA-256 of <see cref="Endpoint"/> (hex): the unique key (endpoints are too long to index everywhere).</summary>
    public required string EndpointHash { get; set; }
    public required string P256dh { get; set; }
    public required string Auth { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastPushAt { get; set; }
}

public enum NotificationKind
{
    Mention = 0,
    Direct = 1,
    Message = 2,
}

/// <summary>
/// A message a user should hear about, waiting for the email digest: mailed if still unread
/// after the digest delay, dropped once read.
/// </summary>
public sealed class PendingNotification
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public long RoomId { get; set; }
    public long MessageId { get; set; }
    public NotificationKind Kind { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
