namespace ChatPortal.Chat.Integrations;

/// <summary>Webhooks and slash commands (section <c>Integrations</c>; README's configuration table).</summary>
public sealed class IntegrationOptions
{
    public const string Section = "Integrations";

    /// <summary>Posts one incoming webhook may make per minute (a token bucket), and its burst.</summary>
    public int IncomingPerMinute { get; set; } = 60;
    public int IncomingBurst { get; set; } = 20;
    /// <summary>Largest incoming webhook request body (bytes).</summary>
    public int IncomingMaxBytes { get; set; } = 64 * 1024;

    /// <summary>Attempts per outgoing delivery before it is given up.</summary>
    public int OutgoingMaxAttempts { get; set; } = 8;
    /// <summary>First retry delay; each further retry doubles it (plus up to 20 % jitter), capped by <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Consecutive failed attempts after which an outgoing webhook switches itself off (with an audit entry).</summary>
    public int DisableAfterFailures { get; set; } = 10;
    /// <summary>How long one outgoing POST may take.</summary>
    public TimeSpan OutgoingTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How often the delivery worker looks for due rows when it was not woken (a retry's time came, another node wrote rows).</summary>
    public TimeSpan WorkerPollInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How long the enabled outgoing hooks are cached per node (a change made on another node applies after this).</summary>
    public TimeSpan HookCacheTime { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>Deliveries sent at once.</summary>
    public int WorkerConcurrency { get; set; } = 4;
    /// <summary>
    /// Whether this node sends the outbox. False: it still writes outbox rows (with each post, in its transaction) but leaves
    /// sending to other nodes (a node without outside network access), or to this one after a restart with it on.
    /// </summary>
    public bool SendDeliveries { get; set; } = true;

    /// <summary>A custom command's answer is waited for this long; then the caller is told "working…" and a late reply may come through <c>response_url</c>.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>How long a <c>response_url</c> accepts replies, and how many.</summary>
    public TimeSpan ResponseUrlLifetime { get; set; } = TimeSpan.FromMinutes(30);
    public int ResponseUrlMaxUses { get; set; } = 5;
}
