using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// Sends are pipelined per socket (checked and queued in frame order, acked when committed):
/// replies still come in request order, and messages are stored in the order they were sent.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class PipelinedSendTests(WsPortalFixture fx)
{
    [Fact]
    public async Task Back_to_back_v1_sends_are_acked_in_request_order_and_stored_in_send_order()
    {
        await using var ws = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("pipe"));
        var tag = Guid.NewGuid().ToString("N");
        const int count = 40;
        for (var i = 1; i <= count; i++)
        {
            // One empty text in the middle: its error must keep its place among the acks.
            var text = i == 20 ? "" : $"pipe {tag} {i}";
            await ws.SendJsonAsync(new { type = "send", id = i, room = "lobby", text, client_id = $"{tag}-{i}" });
        }
        await ws.SendJsonAsync(new { type = "ping", id = "last" });
        await ws.WaitForAsync(f => f.Is("pong"));

        var replies = ws.Frames.Where(f => f.Is("ack") || (f.Is("error") && f.Get("reply_to") is not null) || f.Is("pong")).ToList();
        Assert.Equal(count + 1, replies.Count);
        for (var i = 1; i <= count; i++)
        {
            var reply = replies[i - 1];
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Get("reply_to"));
            Assert.Equal(i == 20 ? "error" : "ack", reply.Type);
        }
        Assert.True(replies[^1].Is("pong"));

        var acked = replies.Where(r => r.Is("ack")).Select(r => r.GetLong("message_id")).ToList();
        Assert.Equal(acked.Order().ToList(), acked);
        await using var db = fx.Portal.OpenDb();
        var stored = await db.Messages.AsNoTracking().Where(m => m.Text.StartsWith("pipe " + tag)).OrderBy(m => m.Id).Select(m => m.Text).ToListAsync();
        Assert.Equal(Enumerable.Range(1, count).Where(i => i != 20).Select(i => $"pipe {tag} {i}"), stored);
    }

    [Fact]
    public async Task Back_to_back_plain_frames_are_stored_in_send_order()
    {
        await using var plain = await WsClient.ConnectAsync(fx.BaseUri);
        await plain.WaitForAsync(f => f.Is("openSuccess"));
        var tag = Guid.NewGuid().ToString("N");
        for (var i = 1; i <= 30; i++) await plain.SendTextAsync($"plainpipe {tag} {i}");

        await using var db = fx.Portal.OpenDb();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        List<string> stored;
        do
        {
            stored = await db.Messages.AsNoTracking().Where(m => m.Text.StartsWith("plainpipe " + tag)).OrderBy(m => m.Id).Select(m => m.Text).ToListAsync();
            if (stored.Count == 30) break;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal(Enumerable.Range(1, 30).Select(i => $"plainpipe {tag} {i}"), stored);
    }
}
