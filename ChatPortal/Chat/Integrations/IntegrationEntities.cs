using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Integrations;

/// <summary>An incoming webhook (issue 16): POSTs to <c>/hooks/{Token}</c> post into <see cref="RoomId"/> as <see cref="PostAsUserId"/>.</summary>
public sealed class IncomingWebhook
{
    public long Id { get; set; }
    public long RoomId { get; set; }
    /// <summary>The name its posts show unless the payload gives a <c>username</c>; also the name of its bot user.</summary>
    public required string Name { get; set; }
    /// <summary>The secret in its URL: 32 random bytes (base64url). Unguessable, kept so the back office can show and copy the URL.</summary>
    public required string Token { get; set; }
    /// <summary>The bot user it posts as (kind Bot, created with the hook).</summary>
    public long PostAsUserId { get; set; }
    /// <summary>May post to other rooms named by the payload's <c>channel</c> (otherwise only its own room).</summary>
    public bool AnyChannel { get; set; }
    public bool Enabled { get; set; } = true;
    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
}

/// <summary>An outgoing webhook: messages in its rooms (all rooms when <see cref="RoomIds"/> is empty) that match a trigger word are POSTed to <see cref="Url"/>.</summary>
public sealed class OutgoingWebhook
{
    public long Id { get; set; }
    public required string Name { get; set; }
    /// <summary>Room ids, comma-separated; empty: every room (direct conversations never).</summary>
    public string RoomIds { get; set; } = "";
    /// <summary>Trigger words, one per line; empty: every message. A message triggers when its first word is one of them.</summary>
    public string TriggerWords { get; set; } = "";
    public required string Url { get; set; }
    /// <summary>The HMAC key of <c>X-ChatPortal-Signature</c> (kept: it signs every delivery).</summary>
    public required string Secret { get; set; }
    /// <summary>Sent as the payload's <c>token</c> (Slack/Mattermost receivers check it).</summary>
    public required string Token { get; set; }
    public long PostAsUserId { get; set; }
    public bool Enabled { get; set; } = true;
    public int ConsecutiveFailures { get; set; }
    public string? DisabledReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
}

public enum DeliveryState
{
    Pending = 0,
    Delivered = 1,
    /// <summary>Gave up after the last retry, or the hook was disabled or deleted.</summary>
    Failed = 2,
}

/// <summary>The outbox: one row per (outgoing webhook, message). A worker sends due rows; retries survive a restart.</summary>
public sealed class WebhookDelivery
{
    public long Id { get; set; }
    public long HookId { get; set; }
    public long MessageId { get; set; }
    public long RoomId { get; set; }
    /// <summary>The JSON body, fixed when the row is written (every attempt sends the same bytes).</summary>
    public required string Body { get; set; }
    public DeliveryState State { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DoneAt { get; set; }
}

/// <summary>One attempt of a delivery (the back office's delivery log).</summary>
public sealed class WebhookAttempt
{
    public long Id { get; set; }
    public long DeliveryId { get; set; }
    public long HookId { get; set; }
    public int Attempt { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>The HTTP status, or null when no reply came (refused, timeout, blocked address).</summary>
    public int? Status { get; set; }
    public string? Error { get; set; }
    public bool Ok { get; set; }
}

/// <summary>An admin-defined slash command: <c>/{Name} text</c> POSTs Slack's command form to <see cref="Url"/>.</summary>
public sealed class CustomCommand
{
    public long Id { get; set; }
    /// <summary>Lowercase, letters, digits, '-' and '_'; never a built-in's name.</summary>
    public required string Name { get; set; }
    public required string Url { get; set; }
    public string Description { get; set; } = "";
    /// <summary>Sent as the form's <c>token</c> (the receiver checks it).</summary>
    public required string Token { get; set; }
    public long PostAsUserId { get; set; }
    public bool Enabled { get; set; } = true;
    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
}

/// <summary>A command's <c>response_url</c> (<c>/hooks/respond/{Token}</c>): one invocation's room and caller, a few late replies, then it expires.</summary>
public sealed class CommandResponseUrl
{
    public long Id { get; set; }
    public required string Token { get; set; }
    public long CommandId { get; set; }
    public long RoomId { get; set; }
    public long UserId { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public int Uses { get; set; }
}

public static class IntegrationModel
{
    public static void Configure(ModelBuilder b)
    {
        b.Entity<IncomingWebhook>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(80);
            e.Property(x => x.Token).HasMaxLength(64);
            e.Property(x => x.CreatedBy).HasMaxLength(100);
            e.HasIndex(x => x.Token).IsUnique();
            e.HasIndex(x => x.RoomId);
        });
        b.Entity<OutgoingWebhook>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(80);
            e.Property(x => x.Url).HasMaxLength(2000);
            e.Property(x => x.Secret).HasMaxLength(100);
            e.Property(x => x.Token).HasMaxLength(64);
            e.Property(x => x.CreatedBy).HasMaxLength(100);
            e.Property(x => x.DisabledReason).HasMaxLength(300);
        });
        b.Entity<WebhookDelivery>(e =>
        {
            e.HasIndex(x => new { x.State, x.NextAttemptAt }); // the worker's "due" query
            e.HasIndex(x => new { x.HookId, x.MessageId }).IsUnique(); // one delivery per hook and message
        });
        b.Entity<CustomCommand>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(32);
            e.Property(x => x.Url).HasMaxLength(2000);
            e.Property(x => x.Description).HasMaxLength(200);
            e.Property(x => x.Token).HasMaxLength(64);
            e.Property(x => x.CreatedBy).HasMaxLength(100);
            e.HasIndex(x => x.Name).IsUnique();
        });
        b.Entity<CommandResponseUrl>(e =>
        {
            e.Property(x => x.Token).HasMaxLength(64);
            e.HasIndex(x => x.Token).IsUnique();
            e.HasIndex(x => x.ExpiresAt);
        });
        b.Entity<WebhookAttempt>(e =>
        {
            e.Property(x => x.Error).HasMaxLength(500);
            e.HasIndex(x => new { x.HookId, x.Id });
            e.HasIndex(x => x.DeliveryId);
        });
    }
}
