using Bunit;
using ChatPortal.Components.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Web;

/// <summary>The online list's chips share one subscription to profile changes per view (issue 19 item 3: memory and connect cost per circuit).</summary>
public sealed class OnlineListProfileTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task The_online_lists_chips_share_one_profile_subscription_and_still_follow_changes()
    {
        await using var h = await ComponentHarness.StartAsync("olga");
        var lobby = await h.LobbyAsync();
        var profiles = h.Context.Services.GetRequiredService<ChatPortal.Profiles.ProfileDirectory>();
        var listenersBefore = Listeners(profiles);
        var others = new List<IDisposable>();
        for (var i = 0; i < 6; i++) others.Add(h.Core.EnterRoom(lobby.Id, await h.Core.CreateUserAsync($"peer{i}")));
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Equal(7, cut.FindAll("#online-list [data-user-chip]").Count), Wait);

        // Seven chips, one listener on the singleton directory (was one per chip).
        Assert.Equal(listenersBefore + 1, Listeners(profiles));

        // A profile change still reaches the chip.
        var peer = h.Core.Sessions.Online(lobby.Id).First(u => u.Name == "peer3");
        profiles.Set(new ChatPortal.Data.UserProfile { UserId = peer.Id, DisplayName = "Peer Three", UpdatedAt = DateTimeOffset.UtcNow });
        cut.WaitForAssertion(() => Assert.Contains("Peer Three (@peer3)", cut.Find("#online-list [data-user-chip='peer3']").TextContent, StringComparison.Ordinal), Wait);

        await h.Context.DisposeComponentsAsync();
        Assert.Equal(listenersBefore, Listeners(profiles));
        foreach (var o in others) o.Dispose();
    }

    private static int Listeners(ChatPortal.Profiles.ProfileDirectory profiles) =>
        ((Array)typeof(ChatPortal.Profiles.ProfileDirectory).GetField("_listeners", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(profiles)!).Length;
}
