using System.Diagnostics;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: after a restart every client reconnects within a second. With Kestrel's default listen backlog (512) the
/// kernel's accept queue overflowed by thousands in a 10,000-client storm (<c>TcpExtListenOverflows</c>), and each
/// connection it dropped waited a one-second SYN retransmit. The portal listens with <c>Portal:ListenBacklog</c> (4096).
/// </summary>
public sealed class ListenBacklogTests
{
    [Fact]
    public async Task The_listening_socket_queues_4096_connections_unless_the_setting_says_otherwise()
    {
        // The kernel caps a backlog at net.core.somaxconn (4096 by default since Linux 5.4).
        var somaxconn = int.Parse(File.ReadAllText("/proc/sys/net/core/somaxconn").Trim());
        await using (var portal = await InProcessPortal.StartAsync())
        {
            Assert.Equal(Math.Min(4096, somaxconn), await ListenBacklogAsync(portal.BaseUri.Port));
        }
        await using (var small = await InProcessPortal.StartAsync(new Dictionary<string, string?> { ["Portal:ListenBacklog"] = "77" }))
        {
            Assert.Equal(77, await ListenBacklogAsync(small.BaseUri.Port));
        }
    }

    /// <summary>The backlog of the listening socket on <paramref name="port"/>, as the kernel reports it (ss: Send-Q of a listener).</summary>
    internal static async Task<int> ListenBacklogAsync(int port)
    {
        var psi = new ProcessStartInfo("ss", ["-Hltn", $"sport = :{port}"]) { RedirectStandardOutput = true };
        using var ss = Process.Start(psi)!;
        var output = await ss.StandardOutput.ReadToEndAsync();
        await ss.WaitForExitAsync();
        var fields = output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        Assert.True(fields.Length >= 4 && fields[0] == "LISTEN", $"ss said: {output}");
        return int.Parse(fields[2]);
    }
}
