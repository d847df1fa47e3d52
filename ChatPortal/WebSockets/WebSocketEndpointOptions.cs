namespace ChatPortal.WebSockets;

/// <summary>Settings of the WebSocket endpoint (section <c>WebSockets</c>); every one can be set by environment variable.</summary>
public sealed class WebSocketEndpointOptions
{
    public const string Section = "WebSockets";

    /// <summary>The one path for plain and <c>chatportal.v1</c> clients, on the web UI's port.</summary>
    public string Path { get; set; } = "/ws";

    /// <summary>
    /// Browser origins allowed besides the portal's own (same origin is always allowed; <c>*</c> allows any).
    /// Clients that send no <c>Origin</c> (bots, scripts) are not browsers and are not checked.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Largest text message, counted across fragments; more closes the socket with 1009.</summary>
    public int MaxTextMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Largest binary message (an image), counted across fragments; more closes with 1009.</summary>
    public int MaxBinaryMessageBytes { get; set; } = 5 * 1024 * 1024;

    /// <summary>Frames queued for one socket; a client that falls this far behind is dropped (it reconnects and catches up).</summary>
    public int SendQueueCapacity { get; set; } = 512;

    /// <summary>A <c>chatportal.v1</c> socket that has not authenticated by then is closed with 1008.</summary>
    public double AuthTimeoutSeconds { get; set; } = 10;

    /// <summary>Lifetime of a ticket from <c>POST /api/ws/ticket</c>; capped at 60 s.</summary>
    public double TicketLifetimeSeconds { get; set; } = 30;

    /// <summary>Protocol-level ping interval; a peer that does not answer within <see cref="KeepAliveTimeoutSeconds"/> is dropped.</summary>
    public double KeepAliveIntervalSeconds { get; set; } = 30;

    public double KeepAliveTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a closing handshake may take before the connection is simply aborted.</summary>
    public double CloseTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// When the server stops: how long after its 1012 a socket waits for the client's answering close before its
    /// connection ends anyway (cleanly, the close frame already sent). The host's stop waits for every socket, so the
    /// slowest client would otherwise hold a restart for <see cref="CloseTimeoutSeconds"/>.
    /// </summary>
    public double ShutdownCloseWaitSeconds { get; set; } = 0.5;

    /// <summary>Open sockets per client address (0: no cap).</summary>
    public int MaxConnectionsPerIp { get; set; } = 256;

    /// <summary>Rooms one socket may have joined at once.</summary>
    public int MaxRoomsPerConnection { get; set; } = 100;

    /// <summary>Whether anyone may connect as a guest at all (each room still decides with its own switch).</summary>
    public bool AllowGuests { get; set; } = true;

    /// <summary>Guests get this prefix and six random digits as their name (the original used 游客).</summary>
    public string GuestNamePrefix { get; set; } = "游客";

    /// <summary>Typing events a socket may send per room per second; more are ignored.</summary>
    public double TypingIntervalSeconds { get; set; } = 1;

    public TimeSpan AuthTimeout => TimeSpan.FromSeconds(Math.Max(0.1, AuthTimeoutSeconds));
    public TimeSpan TicketLifetime => TimeSpan.FromSeconds(Math.Clamp(TicketLifetimeSeconds, 0.1, 60));
    public TimeSpan KeepAliveInterval => KeepAliveIntervalSeconds <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(KeepAliveIntervalSeconds);
    public TimeSpan KeepAliveTimeout => KeepAliveTimeoutSeconds <= 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(KeepAliveTimeoutSeconds);
    public TimeSpan CloseTimeout => TimeSpan.FromSeconds(Math.Max(0.1, CloseTimeoutSeconds));

    public TimeSpan ShutdownCloseWait => TimeSpan.FromSeconds(Math.Clamp(ShutdownCloseWaitSeconds, 0.05, CloseTimeoutSeconds));
}
