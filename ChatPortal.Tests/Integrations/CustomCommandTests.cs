using System.Net;
using System.Text;
using ChatPortal.Tests.WebSockets;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Integrations;

/// <summary>Custom slash commands in Slack's format on the real portal, with a real receiver on loopback (issue 16).</summary>
[Collection(IntegrationPortalCollection.Name)]
public sealed class CustomCommandTests(IntegrationPortalFixture fx)
{
    private static Dictionary<string, string> Form(string body) =>
        body.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p.Length > 1 ? p[1] : ""));

    [Fact]
    public async Task An_ephemeral_answer_reaches_only_the_callers_sockets_and_an_in_channel_answer_is_posted()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("cmd").ToLowerInvariant(), allowGuests: false);
        await using var receiver = new LoopbackReceiver((_, body) => Form(body)["text"] switch
        {
            "public" => (200, """{"response_type":"in_channel","text":"Sunny, 21°C for everyone"}""", TimeSpan.Zero),
            _ => (200, """{"response_type":"ephemeral","text":"Only you: 21°C"}""", TimeSpan.Zero),
        });
        var name = "weather" + Random.Shared.Next(1000, 9999);
        var command = await fx.Portal.AddCommandAsync(name, receiver.Url);
        var annName = PortalHelpers.UniqueName("ann");
        await using var ann = await fx.Portal.MemberSocketAsync(annName, room.Slug);
        await using var ann2 = await fx.Portal.MemberSocketAsync(annName, room.Slug);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room.Slug);

        var done = await ann.RequestAsync("command", ("room", room.Slug), ("text", $"/{name} private"));
        Assert.True(done.Is("command_done"), done.ToString());
        foreach (var socket in new[] { ann, ann2 })
        {
            var e = await socket.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "command_reply");
            Assert.Equal("Only you: 21°C", e.Get("text"));
            Assert.Equal(name, e.Get("from"));
        }
        var form = Form(Assert.Single(receiver.Requests).Body);
        Assert.Equal(command.Token, form["token"]);
        Assert.Equal(room.Slug, form["channel_name"]);
        Assert.Equal(room.Id.ToString(), form["channel_id"]);
        Assert.Equal(annName, form["user_name"]);
        Assert.Equal("/" + name, form["command"]);
        Assert.Equal("private", form["text"]);
        Assert.StartsWith(fx.Portal.BaseUri + "hooks/respond/", form["response_url"]);
        Assert.False(string.IsNullOrEmpty(form["trigger_id"]));

        var shown = await ann.RequestAsync("command", ("room", room.Slug), ("text", $"/{name} public"));
        var id = shown.GetLong("message_id");
        var posted = await ben.WaitForAsync(f => f.Is("message") && f.GetLong("message.id") == id);
        Assert.Equal("Sunny, 21°C for everyone", posted.Get("message.text"));
        Assert.Equal($"command:{command.Id}", posted.Get("message.posted_as.via"));
        Assert.Empty(ben.Where(f => f.Is("ephemeral"))); // the message came after the private answer: Ben never saw that
        await using var db = fx.Portal.OpenDb();
        Assert.Equal(1, await db.Messages.CountAsync(m => m.RoomId == room.Id)); // only the in_channel answer
    }

    [Fact]
    public async Task A_slow_command_says_working_and_its_response_url_takes_up_to_five_late_replies()
    {
        var room = await fx.Portal.CreateRoomAsync(PortalHelpers.UniqueName("slow").ToLowerInvariant(), allowGuests: false);
        // Longer than Integrations:CommandTimeout (1 s in this portal); then an empty 200 (the answer comes by response_url).
        await using var receiver = new LoopbackReceiver((_, _) => (200, "", TimeSpan.FromSeconds(2)));
        var name = "deploy" + Random.Shared.Next(1000, 9999);
        await fx.Portal.AddCommandAsync(name, receiver.Url);
        await using var ann = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ann"), room.Slug);
        await using var ben = await fx.Portal.MemberSocketAsync(PortalHelpers.UniqueName("ben"), room.Slug);

        Assert.True((await ann.RequestAsync("command", ("room", room.Slug), ("text", $"/{name} prod"))).Is("command_done"));
        await ann.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "working");
        await receiver.WaitForAsync(r => r.Count == 1);
        var responseUrl = Form(receiver.Requests[0].Body)["response_url"];

        using var http = new HttpClient();
        async Task<HttpStatusCode> ReplyAsync(string json)
        {
            using var r = await http.PostAsync(responseUrl, new StringContent(json, Encoding.UTF8, "application/json"));
            return r.StatusCode;
        }
        Assert.Equal(HttpStatusCode.BadRequest, await ReplyAsync("""{"response_type":"shout","text":"x"}"""));
        Assert.Equal(HttpStatusCode.OK, await ReplyAsync("""{"response_type":"in_channel","text":"Deployed prod ✅"}"""));
        var posted = await ben.WaitForAsync(f => f.Is("message") && f.Get("message.text") == "Deployed prod ✅");
        Assert.StartsWith("command:", posted.Get("message.posted_as.via"));
        Assert.Equal(HttpStatusCode.OK, await ReplyAsync("""{"text":"only ann sees this"}"""));
        Assert.Equal("only ann sees this", (await ann.WaitForAsync(f => f.Is("ephemeral") && f.Get("code") == "command_reply")).Get("text"));
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, await ReplyAsync($$"""{"text":"update {{i}}"}"""));
        Assert.Equal(HttpStatusCode.Gone, await ReplyAsync("""{"text":"a sixth"}"""));
        using (var unknown = await http.PostAsync(fx.Portal.BaseUri + "hooks/respond/not-a-token", new StringContent("""{"text":"x"}""", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        await ann.WaitForAsync(f => f.Is("ephemeral") && f.Get("text") == "update 2");
        Assert.Empty(ben.Where(f => f.Is("ephemeral")));
    }
}
