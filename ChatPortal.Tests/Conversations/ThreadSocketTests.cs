using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Conversations;

/// <summary>Quote-replies and threads over <c>chatportal.v1</c> on the real portal; plain sockets never see thread-only replies.</summary>
[Collection(WsPortalCollection.Name)]
public sealed class ThreadSocketTests(WsPortalFixture fx)
{
    private static async Task<long> SendAsync(WsClient ws, params (string, object?)[] fields)
    {
        var ack = await ws.RequestAsync("send", [.. fields, ("client_id", Guid.NewGuid().ToString("N"))]);
        Assert.True(ack.Is("ack"), ack.ToString());
        return ack.GetLong("message_id");
    }

    [Fact]
    public async Task Thread_replies_arrive_as_thread_message_stay_out_of_history_and_plain_clients_never_see_them()
    {
        await using var plain = await WsClient.ConnectAsync(fx.BaseUri); // the seed protocol, in the lobby
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"));
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"));
        var tag = Guid.NewGuid().ToString("N");
        var root = await SendAsync(ann, ("room", "lobby"), ("text", "thread root " + tag));

        var hidden = await SendAsync(ben, ("room", "lobby"), ("text", "thread only " + tag), ("thread_id", root));
        var shown = await SendAsync(ben, ("room", "lobby"), ("text", "also in room " + tag), ("thread_id", root), ("also_in_room", true));

        var inThread = await ann.WaitForAsync(f => f.Is("thread_message") && f.Get("message.id") == hidden.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(root.ToString(System.Globalization.CultureInfo.InvariantCulture), inThread.Get("message.thread_id"));
        var inRoom = await ann.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "also in room " + tag);
        Assert.Equal("true", inRoom.Get("message.also_in_room"));
        Assert.Empty(ann.Where(f => f.Is("message") && f.Get("message.text") == "thread only " + tag));

        // Plain: the root and the reply also sent to the room, never the thread-only one.
        await plain.WaitForAsync(f => f.Is("message") && f.Get("message") == "also in room " + tag);
        Assert.Empty(plain.Where(f => f.Get("message") == "thread only " + tag));
        Assert.Empty(plain.Where(f => f.Is("thread_message")));

        var history = await ann.RequestAsync("history", ("room", "lobby"), ("limit", 10));
        var texts = history.Json.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Contains("also in room " + tag, texts);
        Assert.DoesNotContain("thread only " + tag, texts);
        var rootInHistory = history.Json.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("id").GetInt64() == root);
        Assert.Equal(2, rootInHistory.GetProperty("thread").GetProperty("replies").GetInt32());

        var thread = await ben.RequestAsync("thread", ("message_id", root));
        Assert.Equal([hidden, shown], thread.Json.GetProperty("replies").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()));
        Assert.Equal("true", thread.Get("following"));

        // Ann follows her thread: two unread replies by Ben, none after thread_read.
        var threads = await ann.RequestAsync("threads");
        var entry = threads.Json.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("root").GetProperty("id").GetInt64() == root);
        Assert.Equal((2, 2), (entry.GetProperty("replies").GetInt32(), entry.GetProperty("unread").GetInt32()));
        Assert.True((await ann.RequestAsync("thread_read", ("message_id", root))).Is("thread_read"));
        entry = (await ann.RequestAsync("threads")).Json.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("root").GetProperty("id").GetInt64() == root);
        Assert.Equal(0, entry.GetProperty("unread").GetInt32());
    }

    [Fact]
    public async Task Quote_replies_carry_the_quote_and_bad_links_get_clear_errors()
    {
        var room = (await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("quote").ToLowerInvariant(), allowGuests: true)).Slug;
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room);
        var original = await SendAsync(ann, ("room", room), ("text", "quote me <b>please</b>"));
        await SendAsync(ben, ("room", room), ("text", "quoted"), ("quote", original));
        var got = await ann.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "quoted");
        Assert.Equal(original.ToString(System.Globalization.CultureInfo.InvariantCulture), got.Get("message.quote.id"));
        Assert.Equal("quote me <b>please</b>", got.Get("message.quote.text"));
        Assert.DoesNotContain("<b>", got.Text); // escaped in the frame like every text

        var lobbyMessage = await SendAsync(ann, ("room", "lobby"), ("text", "in the lobby"));
        var foreign = await ben.RequestAsync("send", ("room", room), ("text", "x"), ("quote", lobbyMessage));
        Assert.Equal("not_found", foreign.Get("code"));
        var reply = await SendAsync(ben, ("room", room), ("text", "a reply"), ("thread_id", original));
        var nested = await ben.RequestAsync("send", ("room", room), ("text", "x"), ("thread_id", reply));
        Assert.Equal("not_a_thread", nested.Get("code"));
        Assert.Equal("not_found", (await ben.RequestAsync("thread", ("message_id", reply))).Get("code"));
        Assert.Equal("bad_request", (await ben.RequestAsync("thread")).Get("code"));
        Assert.True((await ben.RequestAsync("ping")).Is("pong"));
    }
}
