using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// The fan-out queues an event to every socket of the room first and then starts the idle
/// sockets' sends in batches (<c>DrainBatch</c>, 64 sockets per work item): more sockets than one
/// batch, senders that do not wait for their acks, and every socket must still get every message,
/// once, in the order the messages were stored.
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class FanoutOrderTests(WsPortalFixture fx)
{
    [Fact]
    public async Task Every_socket_of_a_busy_room_gets_every_message_once_in_stored_order()
    {
        const int Receivers = 150, Senders = 3, PerSender = 40;
        var slug = PortalHelpers.UniqueName("fanorder").ToLowerInvariant();
        var room = await fx.Portal.CreateRoomAsync(slug, allowGuests: true);

        var sockets = new List<WsClient>();
        try
        {
            for (var i = 0; i < Receivers + Senders; i++)
            {
                var ws = await WsClient.ConnectAsync(fx.BaseUri, "chatportal.v1");
                sockets.Add(ws);
                Assert.True((await ws.AuthAsync(guest: true)).Is("welcome"));
                await ws.JoinAsync(slug);
            }
            var receivers = sockets.Take(Receivers).ToList();
            var senders = sockets.Skip(Receivers).ToList();

            // Pipelined: every frame is written at once, the acks come later.
            await Task.WhenAll(senders.Select((s, k) => Task.Run(async () =>
            {
                for (var i = 0; i < PerSender; i++)
                    await s.SendJsonAsync(new { type = "send", id = $"s{k}-{i}", room = slug, text = $"order {k}-{i}" });
            })));
            foreach (var s in senders)
                await s.WaitForCountAsync(f => f.Is("ack"), PerSender, TimeSpan.FromSeconds(60));

            await using var db = fx.Portal.OpenDb();
            var stored = await db.Messages.Where(m => m.RoomId == room.Id && m.Kind == MessageKind.Text)
                .OrderBy(m => m.Id).Select(m => m.Id).ToListAsync();
            Assert.Equal(Senders * PerSender, stored.Count);

            foreach (var r in receivers)
            {
                var got = (await r.WaitForCountAsync(f => f.Is("message"), stored.Count, TimeSpan.FromSeconds(60)))
                    .Select(f => f.GetLong("message.id")).ToList();
                Assert.Equal(stored, got); // all of them, none twice, in id order
            }
        }
        finally
        {
            foreach (var ws in sockets) await ws.DisposeAsync();
        }
    }
}
