extern alias loadgen;
using ChatPortal.Tests.WebSockets;
using loadgen::ChatPortal.LoadGen;
using loadgen::ChatPortal.LoadGen.Circuits;

namespace ChatPortal.Tests.Bench;

/// <summary>
/// The benchmark's headless web users (bench/ChatPortal.LoadGen --mode=circuits) against a real
/// portal: three users sign in, their circuits start over the Blazor circuit protocol without a
/// browser, and each sees a message posted through a v1 socket in its render batches. Guards the
/// driver against changes of the circuit protocol or of the room page (no timings asserted).
/// </summary>
[Collection(WsPortalCollection.Name)]
public sealed class CircuitDriverTests(WsPortalFixture fx)
{
    [Fact]
    public async Task Three_headless_circuits_in_the_lobby_each_render_a_message_posted_from_a_socket()
    {
        var o = LoadOptions.Parse([$"--url={fx.BaseUri}", "--mode=circuits", "--conns=3", "--cc=3", "--msgs=1", "--interval=100", "--timeout=60"]);

        var s = await CircuitUsers.RunAsync(o);

        Assert.Null(s.Error);
        Assert.Equal(3, s.Connected);
        Assert.Equal(3, s.Open);
        Assert.Equal(3, s.Expected);
        Assert.Equal(3, s.Seen);
        Assert.True(s.BatchesPerCircuit >= 2, $"batches per circuit: {s.BatchesPerCircuit}");
        Assert.Contains("chatPortal.bindComposer", s.JsCalls.Keys);
    }
}
