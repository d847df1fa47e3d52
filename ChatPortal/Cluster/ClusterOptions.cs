namespace ChatPortal.Cluster;

/// <summary>Redis backplane settings (section <c>Redis</c>). Empty <see cref="Configuration"/>: one node, in-process fan-out.</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c> or <c>redis:6379,password=...</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of every channel and key, so several portals can share one Redis.</summary>
    public string Prefix { get; set; } = "chatportal";

    /// <summary>This node's name in presence and logs. Empty: host name plus a random suffix (new on each start).</summary>
    public string? NodeId { get; set; }

    /// <summary>How often a node refreshes its presence in Redis and reads the others'.</summary>
    public double PresenceHeartbeatSeconds { get; set; } = 5;

    /// <summary>A node whose presence is older than this is gone (crashed): its users leave the lists.</summary>
    public double PresenceTtlSeconds { get; set; } = 15;

    /// <summary>How long the writer waits for Redis to take a publish before giving up on it (Redis is then treated as down).</summary>
    public int PublishTimeoutMs { get; set; } = 2000;

    public bool Enabled => !string.IsNullOrWhiteSpace(Configuration);
}

/// <summary>Which proxies may set X-Forwarded-For/-Proto/-Host (section <c>ForwardedHeaders</c>).</summary>
public sealed class ProxyOptions
{
    public const string Section = "ForwardedHeaders";

    /// <summary>Proxy addresses (<c>10.0.0.5</c>) or networks (<c>10.0.0.0/8</c>). Empty: loopback only.</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>How many proxies in a row may append to X-Forwarded-For (nginx alone: 1).</summary>
    public int ForwardLimit { get; set; } = 1;
}
