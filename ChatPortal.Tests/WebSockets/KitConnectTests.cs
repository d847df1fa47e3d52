using System.Text.Json;
using ChatPortal.Tests.Bench;
using ChatPortal.Tests.Cluster;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// How the client kit (wwwroot-assets/chatportal.js) sets up a connection, run in Node by bench/storm/kit-connect.mjs
/// against the shared portal: a mini-program's socket (<c>ChatPortal.wxSocket</c>, which can set headers) sends its
/// token and its room on the upgrade and nothing else; a socket without headers names its room on the upgrade and sends
/// auth as soon as it is open, before the hello was read, and names the room with its last event id when it comes
/// back; a bad token refused on the upgrade is sent again in an auth frame, which says why, and the kit stops; against
/// a server that ignores the rooms on the upgrade the kit joins by frame.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class KitConnectTests(WsPortalFixture fx)
{
    [Fact]
    public async Task The_kit_sends_a_token_on_the_upgrade_where_it_can_names_its_rooms_there_and_otherwise_sends_auth_at_once()
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

        // The mini-program: one upgrade, with the token and the room; nothing sent before it was in the room.
        var header = r.GetProperty("header");
        Assert.True(header.GetProperty("ready").GetBoolean(), line);
        Assert.Equal(name, header.GetProperty("user").GetString());
        Assert.Equal(["Bearer"], Authorizations(header));
        Assert.Equal([room], Joins(header));
        var wxLog = Strings(header.GetProperty("log"));
        Assert.Equal(["←hello", "←welcome", "←joined", "←caught_up"],
            wxLog.Where(e => e.StartsWith('→') || e is "←hello" or "←welcome" or "←joined" or "←caught_up").Take(4));
        Assert.Equal("ack", header.GetProperty("ack").GetString());
        Assert.Empty(Strings(header.GetProperty("errors")));

        // Without headers: the room on the upgrade, auth as soon as the socket was open, before the welcome came (the
        // hello may be read before or after it), no join frame; the client got the other's message.
        var frame = r.GetProperty("frame");
        Assert.True(frame.GetProperty("ready").GetBoolean(), line);
        Assert.Equal([null, null], Authorizations(frame));
        var plainLog = Strings(frame.GetProperty("log"));
        Assert.Equal(["→auth", "←welcome", "←joined"], plainLog.Where(e => e is "→auth" or "→join" or "←welcome" or "←joined").Take(3));
        Assert.DoesNotContain("→join", plainLog);
        Assert.Contains("from a mini-program, token on the upgrade", Strings(frame.GetProperty("got")));
        // Dropped and back: the room named again with the last event id seen.
        var lastId = frame.GetProperty("lastId").GetInt64();
        Assert.True(lastId > 0, line);
        Assert.Equal([room, $"{room}:{lastId}"], Joins(frame));
        Assert.Equal(2, frame.GetProperty("readies").GetInt32());

        // A server that ignores the rooms on the upgrade: no "joins" in its hello, so the kit joined by frame.
        var older = r.GetProperty("older");
        Assert.True(older.GetProperty("ready").GetBoolean(), line);
        Assert.True(older.GetProperty("joined").GetBoolean(), line);
        Assert.Contains("→join", Strings(older.GetProperty("log")));

        // A bad token: the upgrade with it answered 401, the next try by frame told token_invalid, and the kit stopped.
        var bad = r.GetProperty("bad");
        Assert.Equal("stopped", bad.GetProperty("state").GetString());
        Assert.Equal("token_invalid", bad.GetProperty("stopped").GetProperty("reason").GetString());
        Assert.Equal(["Bearer", null], Authorizations(bad));
        var badLog = Strings(bad.GetProperty("log"));
        Assert.Equal("upgrade-401", badLog[0]);
        Assert.Contains("→auth", badLog);
    }

    /// <summary>The <c>join</c> parameter of each upgrade request's URL, null where it had none.</summary>
    private static List<string?> Joins(JsonElement client) =>
        client.GetProperty("upgrades").EnumerateArray().Select(u => u.GetProperty("join").GetString()).ToList();

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>The scheme of each upgrade request's Authorization header, null where it had none.</summary>
    private static List<string?> Authorizations(JsonElement client) =>
        client.GetProperty("upgrades").EnumerateArray().Select(u => u.GetProperty("authorization").GetString()).ToList();
}
