using System.Net;
using System.Net.WebSockets;
using System.Text;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.WebSockets;
using static ChatPortal.Tests.Cluster.ClusterWebTests;

namespace ChatPortal.Tests.Conversations;

/// <summary>Link previews and files across two portal processes sharing real PostgreSQL and Redis.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ConversationClusterTests(PostgresFixture pg, PreviewServers sites) : IClassFixture<PreviewServers>
{
    [Fact]
    public async Task A_preview_made_on_one_node_reaches_sockets_on_the_other_live_in_history_and_in_catch_up_and_files_cross_too()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("conv15b");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration, new()
        {
            ["SafeHttp__AllowedAddresses__0"] = "127.0.0.1",
            ["Chat__RateLimitBurst"] = "1000",
        });
        await using var sam = await nodes.Node1.MemberSocketAsync("sam");
        await using var tess = await nodes.Node2.MemberSocketAsync("tess");

        var ack = await sam.RequestAsync("send", ("room", "lobby"), ("text", $"tea: {sites.Public}/page and inside http://127.0.0.2:{sites.InternalPort}/"), ("client_id", "s-1"));
        Assert.True(ack.Is("ack"), ack.ToString());
        var id = ack.GetLong("message_id");
        // Made once on node 1 (the post's origin), delivered on node 2 through Redis, after the post.
        var preview = await tess.WaitForAsync(f => f.Is("link_preview") && f.GetLong("message_id") == id);
        Assert.Equal("Tea Times", preview.Get("preview.site_name"));
        Assert.Equal($"{sites.Public}/page", preview.Get("preview.url"));
        var imageUrl = preview.Get("preview.image.url")!;
        var frames = tess.Frames.Where(f => f.Is("message") && f.GetLong("message.id") == id || f.Is("link_preview")).ToList();
        Assert.True(frames[0].Is("message"));
        await sam.WaitForAsync(f => f.Is("link_preview") && f.GetLong("message_id") == id);
        Assert.Single(tess.Frames, f => f.Is("link_preview") && f.GetLong("message_id") == id);
        Assert.Equal(0, sites.InternalHits);

        using (var http = nodes.Node2.CreateClient())
        {
            using var image = await http.GetAsync(imageUrl);
            Assert.Equal(HttpStatusCode.OK, image.StatusCode);
            Assert.Equal("image/jpeg", image.Content.Headers.ContentType?.MediaType);
        }
        // History (read from PostgreSQL) and catch-up on node 2 carry it in the message.
        var history = await tess.RequestAsync("history", ("room", "lobby"));
        Assert.Contains("\"site_name\":\"Tea Times\"", history.Text, StringComparison.Ordinal);
        await using var late = await nodes.Node2.MemberSocketAsync("late", since: id - 1);
        var replayed = await late.WaitForAsync(f => f.Is("message") && f.GetLong("message.id") == id);
        Assert.Equal("Tea Times", replayed.Get("message.preview.site_name"));

        // A file sent on node 1 is a file on node 2, downloadable there.
        await sam.SendJsonAsync(new { type = "file", id = 9, room = "lobby", client_id = "s-f", name = "report.pdf" });
        await sam.SendBytesAsync(Encoding.ASCII.GetBytes("%PDF-1.4 across nodes"), WebSocketMessageType.Binary);
        Assert.True((await sam.WaitForAsync(f => f.Get("reply_to") == "9")).Is("ack"));
        var file = await tess.WaitForAsync(f => f.Is("message") && f.Get("message.file.name") == "report.pdf");
        Assert.Equal("application/pdf", file.Get("message.file.content_type"));
        using (var http = nodes.Node2.CreateClient())
        {
            using var download = await http.GetAsync(file.Get("message.file.url"));
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
            Assert.Equal("%PDF-1.4 across nodes", await download.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task A_save_and_a_follow_on_one_node_reach_the_same_users_socket_on_the_other_and_a_rejoin_there_gets_the_receipts()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = await pg.Server.CreateDatabaseAsync("conv15c");
        await using var nodes = await TwoNodes.StartAsync(db, redis.Configuration, new() { ["Chat__RateLimitBurst"] = "1000" });
        await using var phone = await nodes.Node1.MemberSocketAsync("uma");
        await using var laptop = await nodes.Node2.MemberSocketAsync("uma", join: null);
        await using var vic = await nodes.Node2.MemberSocketAsync("vic");
        var vicId = vic.Frames.First(f => f.Is("welcome")).GetLong("user.id");
        var id = (await vic.RequestAsync("send", ("room", "lobby"), ("text", "keep this"), ("client_id", "v-1"))).GetLong("message_id");

        // Saved and followed on node 1: Uma's laptop on node 2 hears of both through Redis; Vic, on node 2 too, of neither.
        Assert.Equal("true", (await phone.RequestAsync("save", ("message_id", id))).Get("changed"));
        Assert.Equal(id, (await laptop.WaitForAsync(f => f.Is("saved_changed"))).GetLong("message_id"));
        Assert.Equal("true", (await phone.RequestAsync("follow", ("message_id", id))).Get("changed"));
        await laptop.WaitForAsync(f => f.Is("follow_changed") && f.Get("following") == "true");
        Assert.True((await vic.RequestAsync("ping")).Is("pong"));
        Assert.Empty(vic.Where(f => f.Is("saved_changed") || f.Is("follow_changed")));

        // Vic reads on node 2; Uma rejoins on node 1 with her last id: the catch-up ends with his receipt.
        Assert.True((await vic.RequestAsync("read", ("room", "lobby"), ("message_id", id))).Is("read"));
        await using var back = await nodes.Node1.MemberSocketAsync("uma", since: id - 1);
        Assert.Contains(back.Frames, f => f.Is("receipt") && f.GetLong("user.id") == vicId && f.GetLong("last_read_id") == id);
    }
}
