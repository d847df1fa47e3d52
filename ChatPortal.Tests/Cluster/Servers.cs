using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using ChatPortal.Tests.Infrastructure;
using Npgsql;

namespace ChatPortal.Tests.Cluster;

/// <summary>Runs a program to completion and returns its output, or throws with it.</summary>
internal static class Run
{
    public static async Task<string> ToEndAsync(string file, IEnumerable<string> args, bool check = true, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} timed out"); }
        var output = await stdout + await stderr;
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} exited with {p.ExitCode}:\n{output}");
        return output;
    }

    public static string Require(string path, string package) =>
        File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: install Debian's {package} package (./test.sh does).");

    public static async Task WaitForPortAsync(int port, TimeSpan timeout, Func<string>? log = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) { await Task.Delay(50); }
        }
        throw new TimeoutException($"nothing listens on 127.0.0.1:{port}\n{log?.Invoke()}");
    }
}

/// <summary>A real redis-server (Debian's) on a loopback port, stoppable and restartable on the same port.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";
    private readonly string _dir;
    private Process? _process;
    // Its own password: a node whose Redis was stopped must not reconnect to another test's Redis
    // that happened to get the same port meanwhile (it would report itself healthy again).
    private readonly string _password = Guid.NewGuid().ToString("N");

    private RedisServer(int port, string dir)
    {
        Port = port;
        _dir = dir;
    }

    public int Port { get; }
    public string Configuration => $"127.0.0.1:{Port},password={_password}";
    public bool IsRunning => _process is { HasExited: false };

    public static async Task<RedisServer> StartAsync()
    {
        Run.Require(Binary, "redis-server");
        var r = new RedisServer(PortalProcess.FreePort(), TempDir.Create("redis"));
        await r.StartAgainAsync();
        return r;
    }

    /// <summary>Starts redis-server on its port and folder (again, after <see cref="StopAsync"/>).</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning) return;
        var psi = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir, "--daemonize", "no", "--protected-mode", "yes", "--requirepass", _password })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Run.WaitForPortAsync(Port, TimeSpan.FromSeconds(15));
    }

    /// <summary>kill -9: clients see their connections drop, as when Redis crashes.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } p) return;
        p.Kill();
        await p.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        TempDir.Delete(_dir);
    }
}

/// <summary>
/// A real PostgreSQL 15 cluster (Debian's binaries) on a loopback port. PostgreSQL refuses to run
/// as root, so as root it runs as the postgres user with a data and socket folder that user owns.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string BinDir = "/usr/lib/postgresql/15/bin";
    private readonly string _dir;

    private PostgresServer(int port, string dir)
    {
        Port = port;
        _dir = dir;
    }

    public int Port { get; }
    private string DataDir => Path.Combine(_dir, "data");
    private string SocketDir => Path.Combine(_dir, "sock");
    private string LogFile => Path.Combine(_dir, "postgres.log");

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Timeout=5;Command Timeout=30";

    public static async Task<PostgresServer> StartAsync()
    {
        Run.Require(Path.Combine(BinDir, "initdb"), "postgresql");
        Run.Require(Path.Combine(BinDir, "pg_ctl"), "postgresql");
        var pg = new PostgresServer(PortalProcess.FreePort(), TempDir.Create("pg"));
        Directory.CreateDirectory(pg.SocketDir);
        if (Environment.UserName == "root")
        {
            // The temp root is root's; postgres must be able to walk into its own folder.
            await Run.ToEndAsync("chmod", ["755", Path.GetDirectoryName(pg._dir)!]);
            await Run.ToEndAsync("chown", ["-R", "postgres:postgres", pg._dir]);
        }
        await pg.AsPostgresAsync(Path.Combine(BinDir, "initdb"), ["-D", pg.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
        await pg.StartAgainAsync();
        return pg;
    }

    /// <summary>
    /// Starts the server on its data folder. 500 connections: the test process runs several cluster hosts at once, each
    /// with its own pool of up to 100 per database (200 was once exhausted: "53300: too many clients already").
    /// </summary>
    public async Task StartAgainAsync()
    {
        await AsPostgresAsync(Path.Combine(BinDir, "pg_ctl"),
            ["-D", DataDir, "-l", LogFile, "-w", "-t", "30", "-o",
             $"-p {Port} -k {SocketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500", "start"]);
    }

    /// <summary>Fast shutdown: open connections are cut, as when the database server goes away.</summary>
    public async Task StopAsync()
    {
        if (!File.Exists(Path.Combine(DataDir, "postmaster.pid"))) return;
        await AsPostgresAsync(Path.Combine(BinDir, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "stop"], check: false);
    }

    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 60)].ToLowerInvariant();
        // Unpooled: a test may have restarted the server, which leaves pooled connections dead.
        await using var conn = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    private Task<string> AsPostgresAsync(string exe, string[] args, bool check = true) =>
        Environment.UserName == "root"
            ? Run.ToEndAsync("runuser", ["-u", "postgres", "--", exe, .. args], check)
            : Run.ToEndAsync(exe, args, check);

    public string ReadLog() => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await StopAsync();
        TempDir.Delete(_dir);
    }
}

/// <summary>Real nginx (Debian's) serving deploy/nginx.conf, rendered for the given nodes, on a loopback port.</summary>
public sealed class NginxServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";
    private readonly string _dir;
    private Process? _process;

    private NginxServer(int port, string dir)
    {
        Port = port;
        _dir = dir;
    }

    public int Port { get; }
    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    public static async Task<NginxServer> StartAsync(params int[] nodePorts)
    {
        Run.Require(Binary, "nginx-light");
        var n = new NginxServer(PortalProcess.FreePort(), TempDir.Create("nginx"));
        var site = File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy", "nginx.conf"))
            .Replace("${CHATPORTAL_LISTEN}", $"127.0.0.1:{n.Port}", StringComparison.Ordinal)
            .Replace("${CHATPORTAL_SERVERS}", string.Concat(nodePorts.Select(p => $"server 127.0.0.1:{p} max_fails=1 fail_timeout=5s; ")), StringComparison.Ordinal);
        Assert.DoesNotContain("${", site, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(n._dir, "chatportal.conf"), site);
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        File.WriteAllText(Path.Combine(n._dir, "nginx.conf"), $$"""
            {{user}}worker_processes 1;
            daemon off;
            pid {{n._dir}}/nginx.pid;
            error_log {{n._dir}}/error.log warn;
            events { worker_connections 256; }
            http {
                access_log {{n._dir}}/access.log;
                client_body_temp_path {{n._dir}}/body;
                proxy_temp_path {{n._dir}}/proxy;
                fastcgi_temp_path {{n._dir}}/fastcgi;
                uwsgi_temp_path {{n._dir}}/uwsgi;
                scgi_temp_path {{n._dir}}/scgi;
                include {{n._dir}}/chatportal.conf;
            }
            """);
        await Run.ToEndAsync(Binary, ["-t", "-p", n._dir, "-c", Path.Combine(n._dir, "nginx.conf")]);
        var psi = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-p", n._dir, "-c", Path.Combine(n._dir, "nginx.conf") }) psi.ArgumentList.Add(a);
        n._process = Process.Start(psi)!;
        n._process.OutputDataReceived += (_, _) => { };
        n._process.ErrorDataReceived += (_, _) => { };
        n._process.BeginOutputReadLine();
        n._process.BeginErrorReadLine();
        await Run.WaitForPortAsync(n.Port, TimeSpan.FromSeconds(10), n.ReadErrorLog);
        return n;
    }

    public string ReadErrorLog()
    {
        var f = Path.Combine(_dir, "error.log");
        return File.Exists(f) ? File.ReadAllText(f) : "";
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            // QUIT: graceful; the master's PID is the one we started.
            Process.Start("kill", ["-QUIT", p.Id.ToString()])?.WaitForExit();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException) { p.Kill(entireProcessTree: true); }
        }
        _process?.Dispose();
        TempDir.Delete(_dir);
    }
}

/// <summary>Reads what the shared database holds, straight from PostgreSQL (not through the app).</summary>
internal static class PgQueries
{
    public static async Task<List<(long Id, string Text)>> MessagesAsync(string connectionString, long? roomId = null)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        var sql = new StringBuilder("SELECT \"Id\", \"Text\" FROM \"Messages\" WHERE \"Kind\" IN (0, 1)");
        if (roomId is not null) sql.Append(" AND \"RoomId\" = ").Append(roomId.Value);
        sql.Append(" ORDER BY \"Id\"");
        await using var cmd = new NpgsqlCommand(sql.ToString(), conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<(long, string)>();
        while (await reader.ReadAsync()) list.Add((reader.GetInt64(0), reader.GetString(1)));
        return list;
    }
}
