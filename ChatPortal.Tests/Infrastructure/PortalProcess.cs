using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>
/// The real portal as a child process (the built ChatPortal.dll) on a loopback port with its
/// own data folder: what a user runs, restartable and killable for restart and crash tests.
/// </summary>
public sealed class PortalProcess : IAsyncDisposable
{
    private readonly Dictionary<string, string> _env;
    private readonly bool _ownsDir;
    private Process? _process;

    private PortalProcess(string dataDir, int port, Dictionary<string, string> env, bool ownsDir)
    {
        DataDir = dataDir;
        Port = port;
        _env = env;
        _ownsDir = ownsDir;
    }

    public string DataDir { get; }
    public int Port { get; }
    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;
    /// <summary>Exit code of the last run once it has ended (0 after a clean stop; 137 when it had to be killed).</summary>
    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;
    public string LogPath => Path.Combine(DataDir, "server.log");
    /// <summary>The settings (environment variables) the next start uses.</summary>
    public IDictionary<string, string> Environment => _env;

    /// <summary>Starts a portal. <paramref name="env"/> adds settings as environment variables (e.g. <c>Chat__RateLimitBurst</c>).</summary>
    public static async Task<PortalProcess> StartAsync(Dictionary<string, string>? env = null, string? dataDir = null, int? port = null)
    {
        var owns = dataDir is null;
        dataDir ??= TempDir.Create("portal");
        var p = new PortalProcess(dataDir, port ?? FreePort(), env ?? [], owns);
        await p.StartProcessAsync();
        return p;
    }

    /// <summary>The per-address limits (environment names) the test portals switch off by default.</summary>
    public static readonly string[] PerAddressLimits =
    [
        "Limits__PostBurstPerAddress", "Limits__GuestBurstPerAddress", "Limits__ImageBurstPerAddress",
        "Limits__ImageBytesPerAddressPerHour", "Limits__RegistrationBurstPerAddress",
    ];

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public HttpClient CreateClient(bool followRedirects = false, CookieContainer? cookies = null) =>
        new(new HttpClientHandler
        {
            AllowAutoRedirect = followRedirects,
            CookieContainer = cookies ?? new CookieContainer(),
            UseCookies = true,
        })
        { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };

    private async Task StartProcessAsync()
    {
        var psi = RepoPaths.PortalStartInfo();
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["Urls"] = $"http://127.0.0.1:{Port}";
        psi.Environment["Portal__DataPath"] = DataDir;
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__ChatPortal"] = "Information";
        // Every test client comes from 127.0.0.1: the per-address limits (Limits section) would make
        // a suite's many users one abuser. Off unless a test sets them (as the per-user rate is raised).
        foreach (var limit in PerAddressLimits) psi.Environment[limit] = "0";
        // The built-in bot is on by default in the product: it signs in as a bot account, joins every public room
        // over a socket and shows online there. Tests of people's presence, counts and sockets run without it
        // unless they turn it on (the bot tests and the Rich browser tests do).
        psi.Environment["Bots__EnabledByDefault"] = "false";
        foreach (var (k, v) in _env) psi.Environment[k] = v;

        var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => { lock (log) log.Dispose(); };
        _process = process;

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The portal exited with code {process.ExitCode}:\n{ReadLog()}");
            try
            {
                using var r = await http.GetAsync(new Uri(BaseUri, "login"));
                if (r.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The portal did not come up on {BaseUri}:\n{ReadLog()}");
    }

    public string ReadLog()
    {
        try
        {
            using var f = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(f).ReadToEnd();
        }
        catch (IOException) { return ""; }
    }

    /// <summary>A graceful stop (SIGTERM), as a service manager would do it.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } p) return;
        Process.Start("kill", ["-TERM", p.Id.ToString()])?.WaitForExit();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); await p.WaitForExitAsync(); }
    }

    /// <summary>kill -9: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } p) return;
        p.Kill(entireProcessTree: true);
        await p.WaitForExitAsync();
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartProcessAsync();
    }

    public async Task StartAgainAsync() => await StartProcessAsync();

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        if (_ownsDir) TempDir.Delete(DataDir);
    }
}

public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The environment variable that points the tests at a published app folder instead of the build:
    /// test.sh sets it to <c>artifacts/publish</c>, so a full run starts the app as the Dockerfile ships it
    /// (Release, precompiled) — less CPU per portal process than the Debug build, whose code the JIT does
    /// not optimise. Unset (<c>dotnet test</c> by hand) the tests start the build of their own configuration.
    /// </summary>
    public const string AppDirVariable = "CHATPORTAL_TEST_APP";

    /// <summary>The portal's main assembly the tests start (see <see cref="AppDirVariable"/>).</summary>
    public static string PortalDll
    {
        get
        {
            var published = System.Environment.GetEnvironmentVariable(AppDirVariable);
            if (!string.IsNullOrEmpty(published))
            {
                var app = Path.Combine(Path.GetFullPath(published, Root), "ChatPortal.dll");
                if (!File.Exists(app)) throw new FileNotFoundException($"{AppDirVariable} names a folder without ChatPortal.dll: {app}");
                return app;
            }
            var config = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                ? "Release" : "Debug";
            var dll = Path.Combine(Root, "ChatPortal", "bin", config, "net10.0", "ChatPortal.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"Build the portal first: {dll} is missing.");
            return dll;
        }
    }

    /// <summary>
    /// How to start the portal with <paramref name="args"/>: <c>dotnet ChatPortal.dll …</c>, or the app's own
    /// executable when the folder holds a self-contained publish (its runtime beside it).
    /// </summary>
    public static ProcessStartInfo PortalStartInfo(params string[] args)
    {
        var dll = PortalDll;
        var dir = Path.GetDirectoryName(dll)!;
        var selfContained = File.Exists(Path.Combine(dir, "libcoreclr.so")) && File.Exists(Path.Combine(dir, "ChatPortal"));
        var psi = new ProcessStartInfo(selfContained ? Path.Combine(dir, "ChatPortal") : "dotnet")
        {
            WorkingDirectory = dir,
            UseShellExecute = false,
        };
        if (!selfContained) psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChatPortal.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ChatPortal.sln not found above the test folder.");
    }
}
