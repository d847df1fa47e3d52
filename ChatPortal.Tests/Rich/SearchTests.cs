using ChatPortal.Chat;

using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Rich;

public sealed class SearchTests
{
    [Fact]
    public async Task Chinese_is_found_by_the_whole_phrase_and_by_a_two_character_part()
    {
        await using var h = await CoreHarness.StartAsync();
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("zh");
        var hit = await h.PostAsync(alice, room, "大家好，你好世界！今天天气不错");
        await h.PostAsync(alice, room, "别的消息");

        var whole = await h.Search.SearchAsync(alice, "你好世界");
        Assert.Equal([hit.Id], whole.Select(x => x.Message.Id));
        // Two characters: below the trigram size, answered by the LIKE fallback.
        var part = await h.Search.SearchAsync(alice, "好世");
        Assert.Equal([hit.Id], part.Select(x => x.Message.Id));
        Assert.Equal(room.Id, part[0].Room.Id);
        Assert.Empty(await h.Search.SearchAsync(alice, "世好"));
    }

    [Fact]
    public async Task English_is_found_by_word_in_any_case_and_with_several_words()
    {
        await using var h = await CoreHarness.StartAsync();
        var bob = await h.CreateUserAsync("bob");
        var room = await h.CreateRoomAsync("en");
        var a = await h.PostAsync(bob, room, "The weather is lovely in Shanghai today");
        var b = await h.PostAsync(bob, room, "Lunch at noon? The weather says rain");
        await h.PostAsync(bob, room, "nothing to see here");

        Assert.Equal([b.Id, a.Id], (await h.Search.SearchAsync(bob, "weather")).Select(x => x.Message.Id));
        Assert.Equal([b.Id, a.Id], (await h.Search.SearchAsync(bob, "WEATHER")).Select(x => x.Message.Id));
        Assert.Equal([a.Id], (await h.Search.SearchAsync(bob, "weather shanghai")).Select(x => x.Message.Id));
        // A short word next to a long one: FTS for the long, LIKE for the short.
        Assert.Equal([a.Id], (await h.Search.SearchAsync(bob, "weather is")).Select(x => x.Message.Id));
        // FTS5 syntax in a query is just text.
        Assert.Empty(await h.Search.SearchAsync(bob, "\"weather\" OR NEAR( *"));
    }

    [Fact]
    public async Task Results_never_come_from_rooms_the_user_cannot_read()
    {
        await using var h = await CoreHarness.StartAsync();
        var alice = await h.CreateUserAsync("alice");
        var mallory = await h.CreateUserAsync("mallory");
        var carol = await h.CreateUserAsync("carol");
        var lobby = await h.CreateRoomAsync("open");
        var secret = await h.CreateRoomAsync("secret", isPrivate: true, alice);
        var dm = await h.Rooms.OpenDirectAsync(alice, "carol");
        Assert.True(dm.Ok);

        var pub = await h.PostAsync(alice, lobby, "password rotation is on friday 密码更新");
        var priv = await h.PostAsync(alice, secret, "the password is hunter2 密码是");
        var direct = await h.PostAsync(alice, RoomOf(dm.Value!), "carol, my password hint 密码提示");

        Assert.Equal([direct.Id, priv.Id, pub.Id], (await h.Search.SearchAsync(alice, "password")).Select(x => x.Message.Id));
        Assert.Equal([pub.Id], (await h.Search.SearchAsync(mallory, "password")).Select(x => x.Message.Id));
        Assert.Equal([pub.Id], (await h.Search.SearchAsync(mallory, "密码")).Select(x => x.Message.Id));
        Assert.Empty(await h.Search.SearchAsync(mallory, "password", roomId: secret.Id));
        Assert.Empty(await h.Search.SearchAsync(mallory, "hint", roomId: dm.Value!.Room.Id));
        var carols = await h.Search.SearchAsync(carol, "password");
        Assert.Equal([direct.Id, pub.Id], carols.Select(x => x.Message.Id));
        Assert.Equal("alice", carols[0].DirectWith?.Name);
        // Guests see only rooms open to guests.
        var guest = await h.CreateUserAsync("guest-1", Data.UserKind.Guest);
        Assert.Equal([pub.Id], (await h.Search.SearchAsync(guest, "password")).Select(x => x.Message.Id));
    }

    [Fact]
    public async Task Edits_and_deletes_are_reflected_in_the_index()
    {
        await using var h = await CoreHarness.StartAsync();
        var u = await h.CreateUserAsync("dave");
        var room = await h.CreateRoomAsync("edits");
        var m = await h.PostAsync(u, room, "meet at the library 图书馆见");
        Assert.Single(await h.Search.SearchAsync(u, "library"));

        Assert.True((await h.Commands.EditAsync(u, m.Id, "meet at the station 车站见")).Ok);
        Assert.Empty(await h.Search.SearchAsync(u, "library"));
        Assert.Empty(await h.Search.SearchAsync(u, "图书馆"));
        Assert.Equal([m.Id], (await h.Search.SearchAsync(u, "station")).Select(x => x.Message.Id));
        Assert.Equal("meet at the station 车站见", (await h.Search.SearchAsync(u, "车站"))[0].Message.Text);

        Assert.True((await h.Commands.DeleteAsync(u, m.Id)).Ok);
        Assert.Empty(await h.Search.SearchAsync(u, "station"));
        Assert.Empty(await h.Search.SearchAsync(u, "车站"));
        // Edit rows carry text too, but only posts are searchable.
        Assert.Empty(await h.Search.SearchAsync(u, "meet"));
    }

    [Fact]
    public async Task A_result_opens_in_its_context()
    {
        await using var h = await CoreHarness.StartAsync();
        var u = await h.CreateUserAsync("erin");
        var room = await h.CreateRoomAsync("context");
        var all = new List<ChatMessage>();
        for (var i = 0; i < 120; i++) all.Add(await h.PostAsync(u, room, i == 40 ? "the needle 针" : $"hay {i}"));
        var hit = Assert.Single(await h.Search.SearchAsync(u, "needle", roomId: room.Id));
        var around = await h.History.GetAroundAsync(hit.Room.Id, hit.Message.Id, each: 5);
        Assert.Equal(all.Skip(35).Take(11).Select(m => m.Id), around.Select(m => m.Id));
    }

    private static RoomInfo RoomOf(DirectConversation d) => d.Room;
}
