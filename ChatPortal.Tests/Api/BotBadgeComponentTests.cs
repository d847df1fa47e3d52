using Bunit;
using ChatPortal.Components.Chat;
using ChatPortal.Data;
using ChatPortal.Tests.Web;

namespace ChatPortal.Tests.Api;

/// <summary>Bot accounts are marked "BOT" in the chat UI: next to a message's sender and in user lists (bUnit on the real core).</summary>
public sealed class BotBadgeComponentTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_bots_messages_and_its_user_chip_carry_the_bot_badge_and_a_persons_do_not()
    {
        await using var h = await ComponentHarness.StartAsync("reader");
        var lobby = await h.LobbyAsync();
        var bot = await h.Core.CreateUserAsync("deploybot", UserKind.Bot);
        var person = await h.Core.CreateUserAsync("penny");
        Assert.True((await h.Core.Commands.PostAsync(bot, lobby.Id, "build passed")).Ok);
        Assert.True((await h.Core.Commands.PostAsync(person, lobby.Id, "thanks")).Ok);

        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".msg").Count), Wait);
        var msgs = cut.FindAll(".msg");
        var badge = msgs[0].QuerySelector("[data-bot-badge]");
        Assert.NotNull(badge);
        Assert.Equal("BOT", badge!.TextContent.Trim());
        Assert.Null(msgs[1].QuerySelector("[data-bot-badge]"));

        var botChip = h.Context.Render<UserChip>(p => p.Add(x => x.User, bot));
        Assert.Equal("BOT", botChip.Find("[data-bot-badge]").TextContent.Trim());
        var personChip = h.Context.Render<UserChip>(p => p.Add(x => x.User, person));
        Assert.Empty(personChip.FindAll("[data-bot-badge]"));
    }
}
