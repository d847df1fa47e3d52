using System.Text.Json;
using ChatPortal.Tests.Bench;
using ChatPortal.Tests.Cluster;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// How the client kit (wwwroot-assets/chatportal.js) sets up a connection, run in Node by bench/storm/kit-connect.mjs
/// against the shared portal: a mini-program's socket (<c>ChatPortal.wxSocket</c>, which can set headers) sends its
/// token on the upgrade and its join at once; a socket without headers sends auth and join as soon as it is open,
/// before the hello was read; a bad token refused on the upgrade is sent again in an auth frame, which says why, and
/// the kit stops.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class KitConnectTests(WsPortalFixture fx)
{
    [Fact]
    public async Task The_kit_sends_a_token_on_the_upgrade_where_it_can_and_otherwise_auth_and_join_at_once()
    {
        await StormDriver.PrepareAsync(); // the `ws` package the script builds its sockets on
        var script = Path.Combine(RepoPaths.Root, "bench", "storm", "kit-connect.mjs");
        var kit = Path.Combine(RepoPaths.Root, "wwwroot-assets", "chatportal.js");
        var name = PortalHelpers.UniqueName("kitbot");
        var token = await fx.Portal.TokenAsync(name);
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("kit").ToLowerInvariant(), allowGuests: false)).Slug;
        var url = new UriBuilder(fx.BaseUri) { Scheme = "ws", Path = "/ws" }.Uri.ToString();

        var output = await Run.ToEndAsync("node", [script, kit, url, token, room], timeoutSeconds: 90);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;

        // The mini-program: one upgrade, with the token; no auth frame; the join went before the welcome came.
        var header = r.GetProperty("header");
        Assert.True(header.GetProperty("ready").GetBoolean(), line);
        Assert.Equal(name, header.GetProperty("user").GetString());
        Assert.Equal(["Bearer"], Authorizations(header));
        var wxLog = Strings(header.GetProperty("log"));
        Assert.DoesNotContain("→auth", wxLog);
        Assert.True(wxLog.IndexOf("→join") < wxLog.IndexOf("←welcome"), line);
        Assert.True(wxLog.IndexOf("←hello") < wxLog.IndexOf("←welcome"), line);
        Assert.Equal("ack", header.GetProperty("ack").GetString());
        Assert.Empty(Strings(header.GetProperty("errors")));

        // Without headers: auth and join went as soon as the socket was open, both before the welcome came (the hello
        // may be read before or after them), and the client got the other's message.
        var frame = r.GetProperty("frame");
        Assert.True(frame.GetProperty("ready").GetBoolean(), line);
        Assert.Equal([null], Authorizations(frame));
        var plainLog = Strings(frame.GetProperty("log"));
        Assert.Equal(["→auth", "→join", "←welcome", "←joined"], plainLog.Where(e => e is "→auth" or "→join" or "←welcome" or "←joined").Take(4));
        Assert.Contains("from a mini-program, token on the upgrade", Strings(frame.GetProperty("got")));

        // A bad token: the upgrade with it answered 401, the next try by frame told token_invalid, and the kit stopped.
        var bad = r.GetProperty("bad");
        Assert.Equal("stopped", bad.GetProperty("state").GetString());
        Assert.Equal("token_invalid", bad.GetProperty("stopped").GetProperty("reason").GetString());
        Assert.Equal(["Bearer", null], Authorizations(bad));
        var badLog = Strings(bad.GetProperty("log"));
        Assert.Equal("upgrade-401", badLog[0]);
        Assert.Contains("→auth", badLog);
    }

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>The scheme of each upgrade request's Authorization header, null where it had none.</summary>
    private static List<string?> Authorizations(JsonElement client) =>
        client.GetProperty("upgrades").EnumerateArray().Select(u => u.GetProperty("authorization").GetString()).ToList();
}
