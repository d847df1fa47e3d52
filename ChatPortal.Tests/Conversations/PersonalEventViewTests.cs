using Bunit;
using ChatPortal.Chat.Conversations;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Web;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>The room view (bUnit, real core) follows what the same user does in another tab: saves and thread follows.</summary>
public sealed class PersonalEventViewTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_save_and_a_follow_made_in_another_tab_show_in_this_tabs_panels_live()
    {
        await using var h = await ComponentHarness.StartAsync("hal");
        var lobby = await h.LobbyAsync();
        var ivy = await h.Core.CreateUserAsync("ivy");
        var m = (await h.Core.Commands.PostAsync(ivy, lobby.Id, "keep this")).Value!;
        var saved = h.Core.Services.GetRequiredService<SavedMessages>();
        var threads = h.Core.Services.GetRequiredService<ChatThreads>();
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        // This tab shows the Saved panel; another tab of Hal's saves the message, then takes it back.
        await cut.InvokeAsync(() => cut.Find("#saved-toggle").Click());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#saved-panel .panel-empty")), Wait);
        Assert.True((await saved.SaveAsync(h.Me, m.Id)).Value);
        cut.WaitForAssertion(() => Assert.Equal("keep this", cut.Find("#saved-panel .panel-text").TextContent), Wait);
        Assert.True((await saved.SaveAsync(h.Me, m.Id, save: false)).Value);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#saved-panel .panel-item")), Wait);

        // Someone else's save is none of this tab's business.
        Assert.True((await saved.SaveAsync(ivy, m.Id)).Value);
        Assert.True((await saved.SaveAsync(h.Me, m.Id)).Value); // ordered after Ivy's: once this shows, hers was ignored
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("#saved-panel .panel-item")), Wait);

        // The thread is open here with "Follow"; another tab follows it: "Unfollow", and the Threads view lists it.
        await cut.InvokeAsync(() => cut.Find(".msg-thread").Act());
        cut.WaitForAssertion(() => Assert.Equal("Follow", cut.Find("#thread-follow").TextContent.Trim()), Wait);
        Assert.True((await threads.FollowAsync(h.Me, m.Id)).Value);
        cut.WaitForAssertion(() => Assert.Equal("Unfollow", cut.Find("#thread-follow").TextContent.Trim()), Wait);
        Assert.True((await threads.FollowAsync(h.Me, m.Id, follow: false)).Value);
        cut.WaitForAssertion(() => Assert.Equal("Follow", cut.Find("#thread-follow").TextContent.Trim()), Wait);
        Assert.True((await threads.FollowAsync(h.Me, m.Id)).Value);
        cut.WaitForAssertion(() => Assert.Equal("Unfollow", cut.Find("#thread-follow").TextContent.Trim()), Wait);
        await cut.InvokeAsync(() => cut.Find("#threads-toggle").Click());
        cut.WaitForAssertion(() => Assert.Equal("keep this", cut.Find("#threads-panel .thread-entry .panel-text").TextContent), Wait);
    }
}
