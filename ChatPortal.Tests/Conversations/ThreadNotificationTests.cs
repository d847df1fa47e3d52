using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatPortal.Chat;
using ChatPortal.Tests.Identity;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Conversations;

/// <summary>An @mention in a thread reply notifies like one in the room (Web Push to a fake push service on loopback).</summary>
public sealed class ThreadNotificationTests
{
    [Fact]
    public async Task A_mention_in_a_thread_reply_is_pushed_to_the_member_who_is_away()
    {
        await using var push = await FakePushService.StartAsync();
        await using var portal = await InProcessPortal.StartAsync(NotificationTests.Settings());
        var aliceName = PortalHelpers.UniqueName("alice");
        var bobName = PortalHelpers.UniqueName("bob");
        using var aliceHttp = await NotificationTests.SignedInClientAsync(portal.BaseUri, aliceName);
        await portal.TokenAsync(bobName);
        var alice = (await portal.Users.FindByNameAsync(aliceName))!;
        var bob = (await portal.Users.FindByNameAsync(bobName))!;
        var lobby = (await portal.Rooms.GetDefaultAsync())!;
        await portal.Rooms.EnsureMemberAsync(lobby.Id, alice);
        using (var anon = new HttpClient { BaseAddress = portal.BaseUri })
            push.ExpectedServerKey = (await anon.GetFromJsonAsync<JsonElement>("/api/push/key")).GetProperty("publicKey").GetString();
        var device = push.Subscribe();
        Assert.Equal(HttpStatusCode.NoContent, (await NotificationTests.SubscribeAsync(aliceHttp, portal.BaseUri, device)).StatusCode);

        var root = (await portal.Commands.PostAsync(bob, lobby.Id, "a thread about release dates")).Value!;
        var reply = await portal.Commands.PostAsync(bob, lobby.Id, $"@{aliceName} can you check this one?", links: new MessageLinks(ThreadId: root.Id));
        Assert.True(reply.Ok, reply.Error?.Message);

        var pushed = await push.WaitForAsync(device.Id, p => p.Payload.Contains("can you check this one", StringComparison.Ordinal));
        Assert.Equal($"{bobName} mentioned you in #Lobby", pushed.Json.GetProperty("title").GetString());
        Assert.EndsWith($"msg={reply.Value!.Id}", pushed.Json.GetProperty("url").GetString());
        Assert.DoesNotContain(push.Received, p => p.Payload.Contains("release dates", StringComparison.Ordinal)); // the root mentioned nobody
    }
}
