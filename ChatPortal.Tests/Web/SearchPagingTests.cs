using Bunit;
using ChatPortal.Components.Chat;
using ChatPortal.Search;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Web;

/// <summary>Issue 21 item 8: search results go on past the first 50.</summary>
public sealed class SearchPagingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Search_results_page_past_fifty_newest_first_without_duplicates_in_the_core_and_the_panel()
    {
        await using var h = await ComponentHarness.StartAsync("searcher");
        var lobby = await h.LobbyAsync();
        // 3-character and longer terms use the trigram index, shorter ones LIKE: both paths page.
        for (var i = 1; i <= 120; i++) await h.Core.PostAsync(h.Me, lobby, $"needle {i:D3} 针");
        await h.Core.PostAsync(h.Me, lobby, "unrelated");
        var search = h.Core.Services.GetRequiredService<MessageSearch>();

        foreach (var query in new[] { "needle", "针" })
        {
            var seen = new List<string>();
            long? before = null;
            var pages = 0;
            do
            {
                var page = await search.SearchPageAsync(h.Me, query, lobby.Id, limit: 50, before: before);
                seen.AddRange(page.Hits.Select(x => x.Message.Text));
                before = page.NextBefore;
                pages++;
            }
            while (before is not null && pages < 10);
            Assert.Equal(Enumerable.Range(1, 120).Reverse().Select(i => $"needle {i:D3} 针"), seen);
        }

        var cut = h.Context.Render<SearchPanel>(p => p.Add(x => x.Me, h.Me).Add(x => x.Room, lobby));
        await cut.Find("#search-input").InputAsync(new() { Value = "needle" });
        await cut.Find("form").SubmitAsync();
        cut.WaitForAssertion(() => Assert.Equal(50, cut.FindAll(".search-hit").Count), Wait);
        await cut.Find("#search-more").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal(100, cut.FindAll(".search-hit").Count), Wait);
        await cut.Find("#search-more").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal(120, cut.FindAll(".search-hit").Count), Wait);
        Assert.Empty(cut.FindAll("#search-more"));
        Assert.Equal(120, cut.FindAll(".search-hit").Select(e => e.GetAttribute("data-id")).Distinct().Count());
        Assert.Contains("needle 001", cut.FindAll(".search-hit").Last().TextContent);
    }
}
