using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Profiles;
using ChatPortal.Tests.WebSockets;
using ChatPortal.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: a socket's join carries the first users of the room's online list. Every join in a burst used to copy that
/// list and write its users as JSON anew; now joins share one list while nobody comes or goes within it, and its JSON
/// while its users' profiles are unchanged — and what a joiner receives is still the current list with current profiles.
/// </summary>
public sealed class JoinOnlineListTests
{
    private static UserRef U(long id, string name) => new(id, name, Data.UserKind.Member);

    [Fact]
    public void Joins_share_the_first_part_of_the_list_until_someone_comes_or_goes_within_it()
    {
        var presence = new PresenceTracker();
        var leases = new Dictionary<string, IDisposable>();
        void Enter(UserRef u) => leases[u.Name] = presence.Enter(1, u, _ => { });
        foreach (var (id, name) in new[] { (1L, "anna"), (2L, "carl"), (3L, "emma"), (4L, "gina") }) Enter(U(id, name));

        var (first, total) = presence.OnlineFirst(1, 3);
        Assert.Equal(["anna", "carl", "emma"], first.Select(u => u.Name));
        Assert.Equal(4, total);
        Assert.Same(first, presence.OnlineFirst(1, 3).First);

        // Someone sorting after the first three: the same list, the new total.
        Enter(U(5, "zoe"));
        var afterZoe = presence.OnlineFirst(1, 3);
        Assert.Same(first, afterZoe.First);
        Assert.Equal(5, afterZoe.Total);

        // Someone sorting within it: a new list, in order.
        Enter(U(6, "bert"));
        var afterBert = presence.OnlineFirst(1, 3).First;
        Assert.NotSame(first, afterBert);
        Assert.Equal(["anna", "bert", "carl"], afterBert.Select(u => u.Name));

        // Leaving after it keeps it; leaving within it changes it.
        leases["gina"].Dispose();
        Assert.Same(afterBert, presence.OnlineFirst(1, 3).First);
        leases["anna"].Dispose();
        Assert.Equal(["bert", "carl", "emma"], presence.OnlineFirst(1, 3).First.Select(u => u.Name));

        // A second connection under a new name (renamed meanwhile) shows the new name; another room is not touched.
        leases["carl2"] = presence.Enter(1, U(2, "Carla"), _ => { });
        Assert.Equal(["bert", "Carla", "emma"], presence.OnlineFirst(1, 3).First.Select(u => u.Name));
        Assert.Empty(presence.OnlineFirst(2, 3).First);
        Assert.Equal(presence.Online(1).Take(3), presence.OnlineFirst(1, 3).First);
    }

    [Fact]
    public void The_online_list_json_is_reused_only_while_the_list_and_its_profiles_are_the_same()
    {
        var profiles = new ProfileDirectory(null!, new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ProfileDirectory>.Instance);
        var v1 = new V1WireFormat(Microsoft.Extensions.Options.Options.Create(new Hosting.PortalOptions()), profiles);
        profiles.Set(new Data.UserProfile { UserId = 2, DisplayName = "Carl C", StatusText = "在开会" });
        IReadOnlyList<UserRef> users = [U(1, "anna"), U(2, "carl"), U(3, "王芳"), .. Enumerable.Range(4, OnlineListJson.KeepFrom).Select(i => U(i, $"u{i}"))];

        var json = v1.OnlineList(7, users);
        Assert.Equal(Expected(v1, users), Text(json));
        Assert.Same(json, v1.OnlineList(7, users));

        // A profile of a listed user changed: written anew, with the new name.
        profiles.Set(new Data.UserProfile { UserId = 2, DisplayName = "Carl Chen" });
        var renamed = v1.OnlineList(7, users);
        Assert.NotSame(json, renamed);
        Assert.Equal("Carl Chen", JsonDocument.Parse(renamed.Utf8Json).RootElement[1].GetProperty("display_name").GetString());
        Assert.Same(renamed, v1.OnlineList(7, users));
        Assert.Equal(Expected(v1, users), Text(renamed));

        // Another list (another join's, or another room's) is written for itself; a short one is not kept.
        IReadOnlyList<UserRef> other = [.. users.Skip(1)];
        Assert.Equal(Expected(v1, other), Text(v1.OnlineList(7, other)));
        Assert.Equal(Expected(v1, users), Text(v1.OnlineList(8, users)));
        Assert.Equal("[]", Text(v1.OnlineList(9, [])));
        IReadOnlyList<UserRef> two = [U(1, "anna"), U(2, "carl")];
        var shortList = v1.OnlineList(10, two);
        Assert.Equal(Expected(v1, two), Text(shortList));
        Assert.NotSame(shortList, v1.OnlineList(10, two));
    }

    private static string Text(UserListJson list) => System.Text.Encoding.UTF8.GetString(list.Utf8Json);

    private static string Expected(V1WireFormat v1, IReadOnlyList<UserRef> users) =>
        JsonSerializer.Serialize(users.Select(v1.User).ToList(), WireJson.Context.ListWireUser);

    [Fact]
    public async Task Each_joiner_gets_the_current_list_with_current_profiles()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:JoinOnlineListUpTo"] = "8", ["Limits:RegistrationBurstPerAddress"] = "0", ["Limits:GuestBurstPerAddress"] = "0",
        });
        var names = Enumerable.Range(0, 10).Select(i => PortalHelpers.UniqueName($"jol-{(char)('a' + i)}")).ToArray();
        var sockets = new List<WsClient>();
        try
        {
            var users = new List<UserRef>();
            foreach (var name in names)
            {
                var (socket, user) = await portal.MemberAsync(name);
                sockets.Add(socket);
                users.Add(user);
            }
            // Everyone of this test sorts after the lobby's other users only if the lobby is otherwise empty: compare
            // with the server's own list instead of assuming.
            var presence = portal.Services.GetRequiredService<PresenceTracker>();
            var lobby = (await portal.Services.GetRequiredService<ChatRooms>().FindAsync("lobby"))!;
            async Task<JsonElement> JoinedAsync()
            {
                var (s, _) = await portal.MemberAsync(PortalHelpers.UniqueName("jol-z"));
                sockets.Add(s);
                return (await s.WaitForAsync(f => f.Is("joined"))).Json;
            }
            var first = await JoinedAsync();
            var expected = presence.OnlineFirst(lobby.Id, 8).First.Select(u => u.Name).ToList();
            Assert.Equal(expected, first.GetProperty("online").EnumerateArray().Select(u => u.GetProperty("name").GetString()!));
            Assert.Equal(presence.Count(lobby.Id), first.GetProperty("online_count").GetInt32());

            // A listed user changes their display name: the next joiner sees it.
            var listed = users.FirstOrDefault(u => expected.Contains(u.Name)) ?? throw new InvalidOperationException("none of this test's users is listed");
            Assert.Null(await portal.Services.GetRequiredService<UserProfiles>().UpdateAsync(listed.Id, new ProfileEdit("新名字 New", null, null)));
            var second = await JoinedAsync();
            var shown = second.GetProperty("online").EnumerateArray().Single(u => u.GetProperty("id").GetInt64() == listed.Id);
            Assert.Equal("新名字 New", shown.GetProperty("display_name").GetString());

            // A listed user leaves: the next joiner no longer sees them.
            var leaver = sockets[users.IndexOf(listed)];
            await leaver.DisposeAsync();
            sockets.Remove(leaver);
            for (var i = 0; i < 100 && presence.IsOnlineHere(lobby.Id, listed.Id); i++) await Task.Delay(20);
            var third = await JoinedAsync();
            Assert.DoesNotContain(third.GetProperty("online").EnumerateArray(), u => u.GetProperty("id").GetInt64() == listed.Id);
            Assert.Equal(presence.OnlineFirst(lobby.Id, 8).First.Select(u => u.Name),
                third.GetProperty("online").EnumerateArray().Select(u => u.GetProperty("name").GetString()!));
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }
    [Fact]
    public async Task Plain_guests_get_the_current_list_in_openSuccess()
    {
        await using var portal = await InProcessPortal.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:JoinOnlineListUpTo"] = "8", ["Limits:RegistrationBurstPerAddress"] = "0", ["Limits:GuestBurstPerAddress"] = "0",
        });
        var presence = portal.Services.GetRequiredService<PresenceTracker>();
        var lobby = (await portal.Services.GetRequiredService<ChatRooms>().FindAsync("lobby"))!;
        var guests = new List<(WsClient Socket, string Name)>();
        try
        {
            async Task<JsonElement> OpenAsync()
            {
                var socket = await WsClient.ConnectAsync(portal.BaseUri);
                var open = await socket.WaitForAsync(f => f.Is("openSuccess"));
                guests.Add((socket, open.Get("user.name")!));
                return open.Json;
            }
            static List<string> Names(JsonElement open) =>
                open.GetProperty("all").EnumerateArray().Select(u => u.GetProperty("name").GetString()!).ToList();

            for (var i = 0; i < 10; i++) await OpenAsync();
            var eleventh = await OpenAsync();
            var listed = presence.OnlineFirst(lobby.Id, 8).First.Select(u => u.Name).ToList();
            Assert.Equal(8, listed.Count);
            Assert.Equal(listed, Names(eleventh));
            Assert.Equal(11, eleventh.GetProperty("online").GetInt32());

            // A listed guest leaves: the next guest's list no longer has them, and it is the server's current list.
            var (leaver, leaverName) = guests.First(g => g.Name == listed[0]);
            await leaver.DisposeAsync();
            guests.RemoveAll(g => g.Name == leaverName);
            for (var i = 0; i < 100 && presence.Online(lobby.Id).Any(u => u.Name == leaverName); i++) await Task.Delay(20);
            var next = await OpenAsync();
            Assert.DoesNotContain(leaverName, Names(next));
            Assert.Equal(presence.OnlineFirst(lobby.Id, 8).First.Select(u => u.Name), Names(next));
        }
        finally
        {
            foreach (var (socket, _) in guests) await socket.DisposeAsync();
        }
    }
}
