using System.Text.RegularExpressions;
using Bunit;
using ChatPortal.Chat;
using ChatPortal.Data;
using ChatPortal.Components.Chat;
using ChatPortal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Web;

/// <summary>
/// Issue 19 item 3: in a room with more people online than <c>Chat:PresenceAnnounceUpTo</c>, other people
/// arriving, leaving and reading do not re-render every open view once each (N arrivals were N renders in
/// each of N views); the notices come together, at most once a second.
/// </summary>
public sealed class BusyRoomViewTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_busy_rooms_arrivals_come_as_one_notice_a_tick_and_others_receipts_do_not_render()
    {
        var core = await CoreHarness.StartAsync(settings: new() { ["Chat:PresenceAnnounceUpTo"] = "2" });
        await using var h = await ComponentHarness.StartAsync("amy", core);
        var lobby = await h.LobbyAsync();
        var present = new List<IDisposable>();
        for (var i = 0; i < 3; i++) present.Add(h.Core.EnterRoom(lobby.Id, await h.Core.CreateUserAsync($"here{i}")));
        var cut = h.Context.Render<RoomPage>(p => p.Add(x => x.Slug, "lobby"));
        // Four online, more than two: a busy room (the presence summary brings the count within a second).
        cut.WaitForAssertion(() => Assert.Equal(4, cut.FindAll("#online-list [data-user]").Count), Wait);
        var view = cut.FindComponent<ChatView>();
        Assert.True(view.Instance.Busy);

        // Twenty arrive as members: every arrival is in a notice, named or counted, in one notice a tick, not twenty.
        var bob = await h.Core.CreateUserAsync("bob");
        var post = (await h.Core.Commands.PostAsync(bob, lobby.Id, "hello all")).Value!;
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".msg")), Wait);
        var newcomers = new List<UserRef>();
        for (var i = 0; i < 20; i++) newcomers.Add(await h.Core.CreateUserAsync($"new{i:00}"));
        await Task.Delay(3000); // the presence summary of our own arrival has been shown
        var rendersBefore = view.RenderCount;
        foreach (var u in newcomers) Assert.True(await h.Core.Rooms.EnsureMemberAsync(lobby.Id, u));
        cut.WaitForAssertion(() => Assert.Equal(20, Arrivals(Notices(cut))), Wait);
        var notices = Notices(cut);
        Assert.InRange(notices.Length, 1, 4);
        // Named in the order they arrived; a tick may fall anywhere among the twenty (then the next notice goes on).
        Assert.StartsWith("new00", notices[0], StringComparison.Ordinal);
        Assert.Contains(notices, n => n.Contains("new01", StringComparison.Ordinal));
        Assert.InRange(view.RenderCount - rendersBefore, 1, 6);

        // They read someone else's message: nothing of mine was read, so nothing changes on screen.
        var receipts = h.Core.Services.GetRequiredService<ChatPortal.Chat.Conversations.ReadReceipts>();
        await Task.Delay(2000);
        rendersBefore = view.RenderCount;
        foreach (var u in newcomers) await receipts.MarkReadAsync(u, lobby.Id, post.Id);
        await Task.Delay(2500); // two ticks
        Assert.Equal(rendersBefore, view.RenderCount);

        // Two leave: "left the room", held the same way (both names in the tick's notice, or one each if a tick fell between).
        Assert.True(await h.Core.Rooms.RemoveMemberAsync(lobby.Id, newcomers[0].Id));
        Assert.True(await h.Core.Rooms.RemoveMemberAsync(lobby.Id, newcomers[1].Id));
        cut.WaitForAssertion(() => Assert.Equal("new00new01", string.Concat(Notices(cut).Where(n => n.EndsWith(" left the room", StringComparison.Ordinal))
            .SelectMany(n => n[..^" left the room".Length].Split(", ")))), Wait);
        foreach (var lease in present) lease.Dispose();
    }

    [Fact]
    public void Held_notices_name_three_and_count_the_rest()
    {
        using var ctx = new BunitContext();
        ctx.Services.AddLocalization();
        var l = ctx.Services.GetRequiredService<Microsoft.Extensions.Localization.IStringLocalizer<ChatText>>();
        var held = new MembershipNotices();
        Assert.Empty(held.Take(l));
        held.Joined("a");
        Assert.Equal(["a joined"], held.Take(l).ToArray());
        Assert.Empty(held.Take(l));
        foreach (var n in new[] { "a", "b", "c", "d", "e" }) held.Joined(n);
        held.Left("x");
        held.Left("y");
        Assert.Equal(["a, b, c and 2 others joined", "x, y left the room"], held.Take(l).ToArray());

        // A busy room's summary from the core: named users but the viewer, the counted rest added to the others.
        UserRef U(long id, string name) => new(id, name, UserKind.Member);
        held.Joined("a");
        held.Add(new MembershipSummary(1, [U(2, "b"), U(9, "me"), U(3, "c")], 40, [U(4, "x")], 1), me: 9);
        Assert.Equal(["a, b, c and 37 others joined", "x left the room"], held.Take(l).ToArray());
    }

    /// <summary>How many arrivals the notices account for ("a, b joined": 2; "a, b, c and 17 others joined": 20).</summary>
    private static int Arrivals(string[] notices) => notices.Sum(n =>
    {
        var m = Regex.Match(n, @"^(?<names>.+?)(?: and (?<more>\d+) others)? joined$");
        return m.Success ? m.Groups["names"].Value.Split(", ").Length + (m.Groups["more"].Success ? int.Parse(m.Groups["more"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0) : 0;
    });

    private static string[] Notices(IRenderedComponent<RoomPage> cut) => cut.FindAll(".notice").Select(n => n.TextContent).ToArray();
}

