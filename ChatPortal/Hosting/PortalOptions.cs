namespace ChatPortal.Hosting;

/// <summary>Deployment settings (section <c>Portal</c>); every one can be set by environment variable, e.g. <c>Portal__DataPath</c>.</summary>
public sealed class PortalOptions
{
    public const string Section = "Portal";

    /// <summary>Folder for the SQLite database, images and DataProtection keys. Relative paths are under the content root.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>Base URL people reach the portal at (links, invite links, image URLs). Empty: taken from each request.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Public WebSocket URL shown to clients (e.g. <c>wss://chat.example.com/ws</c>). Empty: derived from the base URL.</summary>
    public string? PublicWebSocketUrl { get; set; }

    /// <summary>Base URL that image links are built on (a CDN or another host). Empty: the portal's own <c>/images/</c>.</summary>
    public string? PublicImageBaseUrl { get; set; }

    /// <summary><c>Sqlite</c> (default) or <c>Postgres</c>.</summary>
    public string DatabaseProvider { get; set; } = "Sqlite";

    /// <summary>Connection string for PostgreSQL (or to override the SQLite file).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>How long a SQLite write waits for another connection's lock before it fails (then the sender gets storage_failed).</summary>
    public double SqliteBusyTimeoutSeconds { get; set; } = 5;

    /// <summary>Upper bound of one SQLite command, lock retries included.</summary>
    public double SqliteCommandTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Connections the kernel queues for the server to accept (the listen backlog; Linux caps it at
    /// <c>net.core.somaxconn</c>, 4096 by default). After a restart every client reconnects within a second: Kestrel's
    /// own default of 512 overflowed by thousands, and each connection the kernel dropped waited a one-second SYN retransmit.
    /// </summary>
    public int ListenBacklog { get; set; } = 4096;

    /// <summary>
    /// Take the port before the rest of the start-up (<see cref="EarlyListen"/>), so that connections made while the
    /// portal starts — a whole crowd after a restart — wait in the listen queue instead of being refused.
    /// </summary>
    public bool ListenEarly { get; set; } = true;

    public string ResolveDataPath(string contentRoot) =>
        Path.GetFullPath(Path.IsPathRooted(DataPath) ? DataPath : Path.Combine(contentRoot, DataPath));
}
