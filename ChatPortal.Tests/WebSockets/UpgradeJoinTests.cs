using System.Net;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// Rooms named on the upgrade request (<c>/ws?join=lobby:120</c>): joined as soon as the socket is authenticated, so a
/// bot with its token on the upgrade is in its rooms, caught up, without sending a frame (one round trip, as the peer's
/// bare connect).
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class UpgradeJoinTests(WsPortalFixture fx)
{
    private const string V1 = "chatportal.v1";

    [Fact]
    public async Task A_token_on_the_upgrade_with_join_is_in_the_room_and_caught_up_without_sending_a_frame()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("upj"));
        await using var first = await WsClient.ConnectAsync(fx.BaseUri, V1, query: "join=lobby", authorization: "Bearer " + token);
        var caughtUp = await first.WaitForAsync(f => f.Is("caught_up") || f.Is("error"));
        Assert.True(caughtUp.Is("caught_up"), caughtUp.ToString());
        Assert.Equal(["hello", "welcome", "joined", "caught_up"],
            first.Frames.Select(f => f.Type).Where(t => t is "hello" or "welcome" or "joined" or "caught_up" or "error"));
        // The hello says which rooms will be joined (a client that named rooms and sees no "joins" sends join frames).
        Assert.Equal("lobby", first.Frames[0].Json.GetProperty("joins").EnumerateArray().Single().GetString());
        var joined = first.Frames.Single(f => f.Is("joined"));
        Assert.Equal("lobby", joined.Get("room.slug"));
        Assert.Null(joined.Get("reply_to")); // it answers no request of the client's
        var lastId = joined.GetLong("last_id");

        // It is in the room: its messages are stored and reach it.
        var acks = new List<long>();
        foreach (var text in new[] { "over the upgrade 1", "over the upgrade 2" })
        {
            var ack = await first.RequestAsync("send", ("room", "lobby"), ("text", text), ("client_id", Guid.NewGuid().ToString("N")));
            Assert.True(ack.Is("ack"), ack.ToString());
            acks.Add(ack.GetLong("event_id"));
        }
        await first.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "over the upgrade 2");

        // "lobby:<last event id>": the catch-up starts after it, as a join frame's "since" — exactly the two messages.
        await using var back = await WsClient.ConnectAsync(fx.BaseUri, V1, query: $"join=lobby:{lastId}", authorization: "Bearer " + token);
        var backCaughtUp = await back.WaitForAsync(f => f.Is("caught_up") || f.Is("error"));
        Assert.True(backCaughtUp.Is("caught_up"), backCaughtUp.ToString());
        var replayed = back.Frames.Where(f => f.Is("message")).Select(f => f.GetLong("event_id")).ToList();
        Assert.Equal(acks, replayed.Where(acks.Contains));
        Assert.All(replayed, id => Assert.True(id > lastId, $"event {id} is not after {lastId}"));

        // Up to date: nothing to replay.
        await using var upToDate = await WsClient.ConnectAsync(fx.BaseUri, V1, query: $"join=lobby:{backCaughtUp.GetLong("last_id")}",
            authorization: "Bearer " + token);
        await upToDate.WaitForAsync(f => f.Is("caught_up"));
        Assert.DoesNotContain(upToDate.Frames, f => f.Is("message") && acks.Contains(f.GetLong("event_id")));
    }

    [Fact]
    public async Task Rooms_named_on_the_upgrade_are_joined_right_after_an_auth_frame()
    {
        // A browser cannot set headers, but it can name its rooms: a guest's auth is answered with the welcome and the join.
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, query: "join=lobby");
        await ws.WaitForAsync(f => f.Is("hello"));
        Assert.Equal("not_authenticated", (await ws.RequestAsync("history", ("room", "lobby"))).Get("code")); // nothing before auth
        var welcome = await ws.AuthAsync(guest: true);
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        await ws.WaitForAsync(f => f.Is("caught_up"));
        var types = ws.Frames.Select(f => f.Type).Where(t => t is "welcome" or "joined" or "caught_up").ToList();
        Assert.Equal(["welcome", "joined", "caught_up"], types);
        Assert.Equal("lobby", ws.Frames.Single(f => f.Is("joined")).Get("room.slug"));
    }

    [Fact]
    public async Task A_room_that_cannot_be_joined_is_an_error_frame_naming_it_and_the_others_are_joined()
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("upjx"));
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, query: "join=no-such-room-here,lobby", authorization: "Bearer " + token);
        await ws.WaitForAsync(f => f.Is("caught_up"));
        var error = ws.Frames.Single(f => f.Is("error"));
        Assert.Equal("not_found", error.Get("code"));
        Assert.Equal("no-such-room-here", error.Get("room")); // the room it is about: it answers no request
        Assert.Contains("no-such-room-here", error.Get("message"));
        Assert.Equal("lobby", ws.Frames.Single(f => f.Is("joined")).Get("room.slug"));
        var ack = await ws.RequestAsync("send", ("room", "lobby"), ("text", "still here"), ("client_id", Guid.NewGuid().ToString("N")));
        Assert.True(ack.Is("ack"), ack.ToString());
    }

    [Theory]
    [InlineData("join=Lobby!")] // not a slug
    [InlineData("join=lobby:abc")] // the last event id is a number
    [InlineData("join=lobby:-3")]
    [InlineData("join=lobby,lobby")] // twice
    [InlineData("join=")] // no room
    [InlineData("join=,")]
    public async Task A_malformed_join_list_is_refused_before_the_upgrade(string query)
    {
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("upjbad"));
        Assert.Equal(HttpStatusCode.BadRequest, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, authorization: "Bearer " + token, query: query));
        Assert.Equal(HttpStatusCode.BadRequest, await WsClient.UpgradeStatusAsync(fx.BaseUri, V1, query: query));
    }

    [Fact]
    public async Task The_join_list_says_what_is_wrong_is_bounded_and_is_for_v1_only()
    {
        using var http = fx.Portal.CreateClient();
        async Task<(HttpStatusCode Status, string Body)> UpgradeAsync(string query, string? protocol = V1)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/ws?" + query);
            foreach (var (k, v) in new[] { ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
                         ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==") })
                request.Headers.TryAddWithoutValidation(k, v);
            if (protocol is not null) request.Headers.TryAddWithoutValidation("Sec-WebSocket-Protocol", protocol);
            using var answer = await http.SendAsync(request);
            return (answer.StatusCode, await answer.Content.ReadAsStringAsync());
        }

        var (status, body) = await UpgradeAsync("join=lobby:abc");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("last event id", body);
        (status, body) = await UpgradeAsync("join=" + Uri.EscapeDataString("大厅"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not a room's slug", body);
        (status, body) = await UpgradeAsync("join=" + string.Join(",", Enumerable.Range(1, 1001).Select(i => $"r{i}")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at most 1000 rooms", body);
        // The plain protocol joins the room of "room" (and only that one).
        (status, body) = await UpgradeAsync("join=lobby", protocol: null);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("\"room\"", body);
    }

    [Fact]
    public async Task Rooms_past_the_sockets_limit_are_answered_too_many_rooms_and_the_socket_opens()
    {
        // A client cannot know WebSockets:MaxRoomsPerConnection (100 here) before it connects: no refusal, an error per room.
        var names = new[] { "lobby" }.Concat(Enumerable.Range(1, 100).Select(i => $"nowhere-{i}")).ToList();
        var token = await fx.Portal.TokenAsync(PortalHelpers.UniqueName("upjmany"));
        await using var ws = await WsClient.ConnectAsync(fx.BaseUri, V1, query: "join=" + string.Join(",", names), authorization: "Bearer " + token);
        await ws.WaitForAsync(f => f.Is("error") && f.Get("room") == "nowhere-100");
        Assert.Equal("lobby", ws.Frames.Single(f => f.Is("joined")).Get("room.slug"));
        var errors = ws.Frames.Where(f => f.Is("error")).ToList();
        Assert.Equal(100, errors.Count);
        Assert.All(errors.Take(99), e => Assert.Equal("not_found", e.Get("code")));
        Assert.Equal("too_many_rooms", errors[^1].Get("code"));
        Assert.True((await ws.RequestAsync("send", ("room", "lobby"), ("text", "many"), ("client_id", Guid.NewGuid().ToString("N")))).Is("ack"));
    }
}
