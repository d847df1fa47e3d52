using System.Net;
using System.Text;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Integrations;

/// <summary>Incoming webhooks on the real portal (issue 16): Slack/Mattermost payloads post through the core and reach v1 sockets.</summary>
[Collection(IntegrationPortalCollection.Name)]
public sealed class IncomingWebhookTests(IntegrationPortalFixture fx)
{
    private async Task<(string Slug, long Id)> RoomAsync(string prefix)
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName(prefix).ToLowerInvariant(), allowGuests: false);
        return (room.Slug, room.Id);
    }

    private async Task<(HttpStatusCode Status, string Body)> PostJsonAsync(string token, string json)
    {
        using var http = fx.Portal.CreateClient();
        using var response = await http.PostAsync($"hooks/{token}", new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<int> CountAsync(long roomId)
    {
        await using var db = fx.Portal.OpenDb();
        return await db.Messages.CountAsync(m => m.RoomId == roomId);
    }

    [Fact]
    public async Task A_slack_json_payload_with_attachments_posts_as_the_hook_and_reaches_a_v1_socket()
    {
        var (room, roomId) = await RoomAsync("hookjson");
        var hook = await fx.Portal.AddIncomingAsync(roomId, "Deploys");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);

        var (status, body) = await PostJsonAsync(hook.Token, """
            {"text":"Build *42* passed","username":"CI bot","icon_url":"https://ci.example/icon.png",
             "attachments":[{"fallback":"ignored when more is there","pretext":"Details","title":"Run 42","title_link":"https://ci.example/runs/42",
                             "text":"All green","color":"#36a64f","fields":[{"title":"Branch","value":"main","short":true},{"title":"Took","value":93}]}]}
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", body);

        var seen = await ann.WaitForAsync(f => f.Is("message") && f.GetLong("room_id") == roomId);
        var text = seen.Get("message.text")!;
        Assert.StartsWith("Build *42* passed", text);
        foreach (var part in new[] { "Details", "**Run 42** — https://ci.example/runs/42", "All green", "**Branch:** main", "**Took:** 93" })
            Assert.Contains(part, text);
        Assert.DoesNotContain("ignored when more is there", text);
        Assert.Equal("CI bot", seen.Get("message.posted_as.name"));
        Assert.Equal("https://ci.example/icon.png", seen.Get("message.posted_as.icon_url"));
        Assert.Equal($"webhook:{hook.Id}", seen.Get("message.posted_as.via"));
        Assert.Equal("bot", seen.Get("message.user.kind"));

        await using var db = fx.Portal.OpenDb();
        var row = await db.Messages.SingleAsync(m => m.RoomId == roomId);
        Assert.Equal(hook.PostAsUserId, row.SenderId);
        Assert.Equal("CI bot", row.AsName);
        Assert.Equal($"webhook:{hook.Id}", row.PostedVia);
    }

    [Fact]
    public async Task The_payload_form_field_posts_too_and_without_a_username_the_hook_name_shows()
    {
        var (room, roomId) = await RoomAsync("hookform");
        var hook = await fx.Portal.AddIncomingAsync(roomId, "Alerts");
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room);

        using var http = fx.Portal.CreateClient();
        using var response = await http.PostAsync($"hooks/{hook.Token}",
            new FormUrlEncodedContent([new("payload", """{"text":"disk 91% on db-1 <b>!</b>"}""")]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = await ann.WaitForAsync(f => f.Is("message") && f.GetLong("room_id") == roomId);
        Assert.Equal("disk 91% on db-1 <b>!</b>", seen.Get("message.text"));
        Assert.Equal("Alerts", seen.Get("message.posted_as.name"));
    }

    [Fact]
    public async Task Bad_payloads_get_400_with_the_reason_and_nothing_is_stored()
    {
        var (_, roomId) = await RoomAsync("hookbad");
        var hook = await fx.Portal.AddIncomingAsync(roomId, "Bad");
        var cases = new (string Json, string Reason)[]
        {
            ("{not json", "not valid JSON"),
            ("[1,2]", "JSON object"),
            ("{}", "nothing to post"),
            ("""{"text":42}""", "\"text\" must be a string"),
            ("""{"text":"x","icon_url":"javascript:alert(1)"}""", "icon_url"),
            ("""{"attachments":"nope"}""", "must be an array"),
            ("""{"attachments":[{"color":"#fff"}]}""", "nothing to post"),
            ($$"""{"text":"{{new string('a', 5000)}}"}""", "longer than"),
        };
        foreach (var (json, reason) in cases)
        {
            var (status, body) = await PostJsonAsync(hook.Token, json);
            Assert.True(status == HttpStatusCode.BadRequest, $"{json[..Math.Min(30, json.Length)]}: {status} {body}");
            Assert.Contains(reason, body);
        }
        using (var http = fx.Portal.CreateClient())
        {
            using var form = await http.PostAsync($"hooks/{hook.Token}", new FormUrlEncodedContent([new("text", "no payload field")]));
            Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
            Assert.Contains("payload", await form.Content.ReadAsStringAsync());
            using var xml = await http.PostAsync($"hooks/{hook.Token}", new StringContent("<x/>", Encoding.UTF8, "application/xml"));
            Assert.Equal(HttpStatusCode.BadRequest, xml.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await PostJsonAsync("no-such-hook-token", """{"text":"hi"}""")).Status);
        Assert.Equal(0, await CountAsync(roomId));
    }

    [Fact]
    public async Task Another_channel_is_refused_unless_allowed_and_the_rate_limit_answers_429()
    {
        var (_, roomId) = await RoomAsync("hookhome");
        var (otherSlug, otherId) = await RoomAsync("hookother");
        var own = await fx.Portal.AddIncomingAsync(roomId, "Own");
        var (status, body) = await PostJsonAsync(own.Token, $$"""{"text":"elsewhere","channel":"#{{otherSlug}}"}""");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("own room", body);
        Assert.Equal(0, await CountAsync(otherId));

        var roaming = await fx.Portal.AddIncomingAsync(roomId, "Roaming", anyChannel: true);
        Assert.Equal(HttpStatusCode.OK, (await PostJsonAsync(roaming.Token, $$"""{"text":"elsewhere","channel":"{{otherSlug}}"}""")).Status);
        Assert.Equal(1, await CountAsync(otherId));
        Assert.Equal(HttpStatusCode.NotFound, (await PostJsonAsync(roaming.Token, """{"text":"x","channel":"no-such-room-here"}""")).Status);

        // The burst is 3 and the refill one a minute: the hook's 4th post in a row is refused, and not stored.
        var rated = await fx.Portal.AddIncomingAsync(roomId, "Rated");
        for (var i = 0; i < IntegrationPortalFixture.IncomingBurst; i++)
            Assert.Equal(HttpStatusCode.OK, (await PostJsonAsync(rated.Token, $$"""{"text":"burst {{i}}"}""")).Status);
        Assert.Equal((HttpStatusCode)429, (await PostJsonAsync(rated.Token, """{"text":"one too many"}""")).Status);
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(IntegrationPortalFixture.IncomingBurst, await db.Messages.CountAsync(m => m.SenderId == rated.PostAsUserId));
    }
}
