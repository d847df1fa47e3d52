using System.Globalization;

namespace ChatPortal.LoadGen;

public sealed record LoadOptions
{
    public Uri Url { get; init; } = new("ws://127.0.0.1:5080/ws");
    public int Conns { get; init; } = 100;
    public int Senders { get; init; } = 10;
    public int Msgs { get; init; } = 200;
    /// <summary>Messages per second per sender; 0 = as fast as possible.</summary>
    public double Rate { get; init; }
    /// <summary><c>plain</c> (no subprotocol: the original's envelope) or <c>v1</c> (chatportal.v1, acked).</summary>
    public string Protocol { get; init; } = "plain";
    /// <summary>v1 only: messages a sender may have unacknowledged at once.</summary>
    public int Window { get; init; } = 32;
    /// <summary>v1 only: room slug to join; <c>{i}</c> in it is the connection's index (a room per connection).</summary>
    public string Room { get; init; } = "lobby";
    /// <summary>Whether the sender also receives its own message (plain: no; v1: yes).</summary>
    public bool? Self { get; init; }
    /// <summary>v1 only: <c>guest</c>, <c>token</c> (each connection signs up as lg&lt;i&gt; via POST /api/auth/token; an auth frame) or
    /// <c>bearer</c> (the same tokens, sent as the upgrade request's Authorization header).</summary>
    public string Auth { get; init; } = "guest";
    /// <summary><c>sockets</c> (default); <c>circuits</c>: --conns Blazor Server circuits driven headless over the circuit protocol, --msgs probes; <c>web</c>: --conns signed-in pages in headless Chromium.</summary>
    public string Mode { get; init; } = "sockets";
    public int ConcurrentConnects { get; init; } = 50;
    /// <summary>circuits mode: the page whose interactive components make the circuit.</summary>
    public string Path { get; init; } = "/rooms/lobby";
    /// <summary>circuits mode: sign every circuit in as a user of its own (ChatPortal) or stay anonymous (the bare template).</summary>
    public bool SignIn { get; init; } = true;
    public int SignInConcurrency { get; init; } = 4;
    /// <summary>circuits mode: milliseconds between probes.</summary>
    public int ProbeIntervalMs { get; init; } = 1000;
    public int Pid { get; init; }
    /// <summary>Seconds to keep the connections open, idle, after the sends (idle-memory runs).</summary>
    public double Hold { get; init; }
    public int IdleMs { get; init; } = 3000;
    /// <summary>
    /// Unmeasured messages per sender before the measured ones (their deliveries awaited, then 1 s for the
    /// runtime to finish optimizing). Each run is a fresh load-generator process: without a warm-up its
    /// receive path runs unoptimized, then instrumented code for the first seconds, and how far it got
    /// by the burst depended on how many frames the server under test sent while connecting.
    /// </summary>
    public int WarmupMsgs { get; init; }
    /// <summary>
    /// Unmeasured connections through the same handshake before the timed connects (closed again, then 1 s for
    /// the runtime to finish optimizing): the load generator's handshake code is warm, as the server's is.
    /// </summary>
    public int WarmupConns { get; init; }
    /// <summary>v1 token runs: a file keeping the issued tokens for the next run against the same server (see V1Driver).</summary>
    public string TokenCache { get; init; } = "";
    /// <summary>--users=PREFIX: token runs' account names (PREFIX0, PREFIX1, …); a new prefix makes new accounts, whose first connect is their first join.</summary>
    public string UserPrefix { get; init; } = "lg";
    /// <summary>v1: send auth and join at once instead of waiting for hello and welcome (see V1Driver.HandshakeAsync).</summary>
    public bool Pipeline { get; init; }
    /// <summary>v1: name the room on the upgrade request (<c>?join=room</c>) instead of sending a join frame.</summary>
    public bool UpgradeJoin { get; init; }
    public int TimeoutSeconds { get; init; } = 120;
    public string Label { get; init; } = "";
    public string Origin { get; init; } = "";
    /// <summary>
    /// plain only: a connection counts as connected once a frame containing this arrives (ChatPortal's
    /// <c>openSuccess</c>: the socket has joined its room). Empty: as soon as the upgrade is done (the
    /// peers send nothing). Without it a server that finishes joins after the upgrade has its joins
    /// overlap the fan-out being measured.
    /// </summary>
    public string Joined { get; init; } = "";

    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        foreach (var a in args)
        {
            var eq = a.IndexOf('=');
            if (!a.StartsWith("--", StringComparison.Ordinal) || eq < 0) throw new ArgumentException($"bad argument {a} (use --name=value)");
            var (k, v) = (a[2..eq], a[(eq + 1)..]);
            var inv = CultureInfo.InvariantCulture;
            o = k switch
            {
                "url" => o with { Url = new Uri(v) },
                "conns" => o with { Conns = int.Parse(v, inv) },
                "senders" => o with { Senders = int.Parse(v, inv) },
                "msgs" => o with { Msgs = int.Parse(v, inv) },
                "rate" => o with { Rate = double.Parse(v, inv) },
                "protocol" => o with { Protocol = v },
                "window" => o with { Window = int.Parse(v, inv) },
                "room" => o with { Room = v },
                "joined" => o with { Joined = v },
                "self" => o with { Self = v is "1" or "true" },
                "mode" => o with { Mode = v },
                "auth" => o with { Auth = v },
                "cc" => o with { ConcurrentConnects = int.Parse(v, inv) },
                "path" => o with { Path = v },
                "signin" => o with { SignIn = v is "1" or "true" },
                "signin-cc" => o with { SignInConcurrency = int.Parse(v, inv) },
                "interval" => o with { ProbeIntervalMs = int.Parse(v, inv) },
                "pid" => o with { Pid = int.Parse(v, inv) },
                "hold" => o with { Hold = double.Parse(v, inv) },
                "idle" => o with { IdleMs = int.Parse(v, inv) },
                "warmup-msgs" => o with { WarmupMsgs = int.Parse(v, inv) },
                "warmup-conns" => o with { WarmupConns = int.Parse(v, inv) },
                "token-cache" => o with { TokenCache = v },
                "users" => o with { UserPrefix = v },
                "pipeline" => o with { Pipeline = v is "1" or "true" },
                "upgrade-join" => o with { UpgradeJoin = v is "1" or "true" },
                "timeout" => o with { TimeoutSeconds = int.Parse(v, inv) },
                "label" => o with { Label = v },
                "origin" => o with { Origin = v },
                _ => throw new ArgumentException($"unknown option --{k}"),
            };
        }
        if (!o.Url.IsLoopback) throw new ArgumentException("load runs target loopback addresses only");
        return o;
    }
}
