using Bunit;
using ChatPortal.Components.Chat;
using ChatPortal.Components.Layout;
using MudBlazor;

namespace ChatPortal.Tests.Web;

/// <summary>
/// What every circuit keeps (issue 19, item 3): the chrome every page shows is markup, not MudBlazor components, and
/// the theme and its stylesheet are built once for the process. Same look: the markup is MudBlazor's.
/// </summary>
public sealed class CircuitFootprintTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_room_header_is_markup_and_its_buttons_still_work()
    {
        await using var h = await ComponentHarness.StartAsync("ivy");
        var lobby = await h.LobbyAsync();
        await h.Core.Commands.PostAsync(h.Me, lobby.Id, "hello");
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);

        // No icon button, icon or text component per circuit for the header (each costs its state and two render trees).
        Assert.Empty(cut.FindComponents<MudIconButton>());
        Assert.Empty(cut.FindComponents<MudIcon>());
        Assert.Empty(cut.FindComponents<MudText>());
        // The markup MudIconButton renders: classes, label span, a small SVG icon.
        var search = cut.Find("#search-toggle");
        Assert.Equal("button", search.TagName, ignoreCase: true);
        Assert.Equal(MudMarkup.SmallIconButton, search.GetAttribute("class"));
        Assert.NotNull(search.QuerySelector("span.mud-icon-button-label > svg.mud-icon-root.mud-svg-icon.mud-icon-size-small path"));
        Assert.Equal("# Lobby", cut.Find("h6#room-title.mud-typography-h6").TextContent);

        // The buttons do what they did.
        search.Click();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#search-panel")), Wait);
        search.Click();
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#search-panel")), Wait);
        Assert.DoesNotContain("open", cut.Find("#online-list").ClassList);
        cut.Find("#online-toggle").Click();
        cut.WaitForAssertion(() => Assert.Contains("open", cut.Find("#online-list").ClassList), Wait);
        Assert.Equal("1", cut.Find("#online-toggle .mud-button-label").TextContent.Trim()); // ivy herself
        Assert.Equal("false", cut.Find("#room-mute").GetAttribute("aria-pressed"));
        cut.Find("#room-mute").Click();
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("#room-mute").GetAttribute("aria-pressed")), Wait);
        cut.Find("#pins-toggle").Click();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#pins-panel")), Wait);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_circuit_shares_one_theme_and_stylesheet_and_renders_what_MudThemeProvider_renders(bool dark)
    {
        await using var first = await ComponentHarness.StartAsync("jay");
        await using var second = await ComponentHarness.StartAsync("kim");
        var a = first.Context.Render<SharedThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));
        var b = second.Context.Render<SharedThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));
        var mud = first.Context.Render<MudThemeProvider>(p => p.Add(x => x.IsDarkMode, dark));

        Assert.Same(a.Instance.Theme, b.Instance.Theme);
        Assert.Equal(mud.Markup, a.Markup);
        Assert.Equal(a.Markup, b.Markup);
        Assert.Contains(":root", a.Markup);
        Assert.Contains(dark ? "--mud-native-html-color-scheme: dark" : "--mud-native-html-color-scheme: light", a.Markup);
    }
}
