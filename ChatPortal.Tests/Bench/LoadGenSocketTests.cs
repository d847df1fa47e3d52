extern alias loadgen;
using ChatPortal.Tests.WebSockets;
using loadgen::ChatPortal.LoadGen;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// The benchmark's socket load generator (bench/ChatPortal.LoadGen, bench/compare.sh connect-token) against a real
/// portal: v1 token connects with unmeasured warm-up connections, tokens kept for the next run, and auth and join sent
/// at once; every message sent reaches every connection. Guards the tool, asserts no timings.
/// </summary>
public sealed class LoadGenSocketTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cp-lg-").FullName;

    [Fact]
    public async Task Token_runs_warm_up_on_other_users_keep_their_tokens_and_deliver_everything_pipelined_or_not_in_a_frame_or_a_header_with_the_room_on_the_upgrade_or_not()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Limits__RegistrationBurstPerAddress"] = "0", // six sign-ups from one address
        });
        var cache = Path.Combine(_dir, "tokens.txt");
        string[] Args(bool pipeline, string auth = "token") =>
        [
            $"--url={WsClient.SocketUri(portal.BaseUri)}", "--protocol=v1", $"--auth={auth}", "--conns=4", "--cc=4", "--senders=2", "--msgs=3",
            "--warmup-conns=2", $"--token-cache={cache}", $"--pipeline={pipeline}", "--idle=5000", "--timeout=60",
        ];

        var first = await LoadRun.RunAsync(LoadOptions.Parse(Args(pipeline: true)));
        Assert.Null(first.Error);
        Assert.Equal(4, first.Connected);
        Assert.Equal(2 * 3 * 4, first.ExpectedDeliveries); // v1 senders get their own messages too
        Assert.True(first.ExpectedDeliveries == first.Delivered, first.ToString());
        Assert.Equal(6, File.ReadAllLines(cache).Count(l => l.StartsWith("cpt_", StringComparison.Ordinal))); // 4 measured + 2 warm-up users
        int tokens;
        await using (var db = portal.OpenDb()) tokens = await db.ApiTokens.CountAsync();
        Assert.Equal(6, tokens);

        var second = await LoadRun.RunAsync(LoadOptions.Parse(Args(pipeline: false)));
        Assert.Null(second.Error);
        Assert.Equal(4, second.Connected);
        Assert.Equal(second.ExpectedDeliveries, second.Delivered);
        await using (var db = portal.OpenDb()) Assert.Equal(tokens, await db.ApiTokens.CountAsync()); // the kept tokens, no new sign-ins

        // The same tokens on the upgrade request (Authorization: Bearer), waiting for the welcome or joining at once.
        foreach (var pipeline in new[] { false, true })
        {
            var bearer = await LoadRun.RunAsync(LoadOptions.Parse(Args(pipeline, auth: "bearer")));
            Assert.Null(bearer.Error);
            Assert.Equal(4, bearer.Connected);
            Assert.True(bearer.ExpectedDeliveries == bearer.Delivered, bearer.ToString());
        }
        // The room on the upgrade request (?join=): with the token there too, or with an auth frame.
        foreach (var auth in new[] { "bearer", "token" })
        {
            var upgradeJoin = await LoadRun.RunAsync(LoadOptions.Parse([.. Args(pipeline: false, auth), "--upgrade-join=1"]));
            Assert.Null(upgradeJoin.Error);
            Assert.Equal(4, upgradeJoin.Connected);
            Assert.True(upgradeJoin.ExpectedDeliveries == upgradeJoin.Delivered, upgradeJoin.ToString());
        }
        await using (var db = portal.OpenDb()) Assert.Equal(tokens, await db.ApiTokens.CountAsync());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
