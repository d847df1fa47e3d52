using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// A chatportal.v1 guest comes back as the same guest: its welcome carries a resume token, and a guest
/// <c>auth</c> with it is that guest again (after a reconnect, a reload, a restart — the restart itself is
/// <c>Bench/StormDriverTests</c>: every kit client comes back as itself). A forged or damaged token, or one
/// of a guest kicked since, gets a new guest; coming back does not count against the address's guest limit.
/// The row of a guest that may come back stays when its socket closes, until the sweep finds it away for
/// <c>Guests:UnusedExpireMinutes</c> (posted nothing).
/// </summary>
public sealed class GuestResumeTests
{
    private const string V1 = "chatportal.v1";

    [Fact]
    public async Task A_guest_comes_back_with_its_resume_token_and_a_forged_or_kicked_one_gets_a_new_guest()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Limits__GuestBurstPerAddress"] = "4",
            ["Limits__GuestsPerMinutePerAddress"] = "0.01",
        });

        // A new guest: a resume token, not resumed.
        string resume;
        long guestId;
        string guestName;
        await using (var first = await WsClient.ConnectAsync(portal.BaseUri, V1))
        {
            var welcome = await first.AuthAsync(guest: true);
            Assert.True(welcome.Is("welcome"), welcome.ToString());
            Assert.Equal("false", welcome.Get("resumed"));
            resume = welcome.Get("resume") ?? throw new InvalidOperationException("no resume token: " + welcome);
            guestId = welcome.GetLong("user.id");
            guestName = welcome.Get("user.name")!;
        }

        // Its socket closed: the row stays (the guest may come back), marked as seen.
        await using (var db = portal.OpenDb())
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (await db.Users.Where(u => u.Id == guestId).Select(u => u.LastSeenAt).SingleAsync() is var seen
                   && seen == await db.Users.Where(u => u.Id == guestId).Select(u => u.CreatedAt).SingleAsync()
                   && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            var row = await db.Users.AsNoTracking().SingleAsync(u => u.Id == guestId);
            Assert.Equal(UserKind.Guest, row.Kind);
            Assert.True(row.LastSeenAt > row.CreatedAt, "the closed guest was not marked as seen");
        }

        // Back with the token: the same guest, posting as itself; and in a second socket at once (two tabs).
        await using var back = await WsClient.ConnectAsync(portal.BaseUri, V1);
        var again = await back.AuthAsync(guest: true, resume: resume);
        Assert.True(again.Is("welcome"), again.ToString());
        Assert.Equal(guestId, again.GetLong("user.id"));
        Assert.Equal(guestName, again.Get("user.name"));
        Assert.Equal("true", again.Get("resumed"));
        Assert.False(string.IsNullOrEmpty(again.Get("resume")));
        Assert.Contains(again.Json.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("slug").GetString() == "lobby");
        await back.JoinAsync("lobby");
        var text = "back again " + Guid.NewGuid().ToString("N")[..8];
        var ack = await back.RequestAsync("send", ("room", "lobby"), ("text", text));
        Assert.True(ack.Is("ack"), ack.ToString());
        var echo = await back.WaitForAsync(f => f.Is("message") && f.Get("message.text") == text);
        Assert.Equal(guestId, echo.GetLong("message.user.id"));
        await using (var tab = await WsClient.ConnectAsync(portal.BaseUri, V1))
            Assert.Equal(guestId, (await tab.AuthAsync(guest: true, resume: again.Get("resume"))).GetLong("user.id"));

        // A damaged token and nonsense: a new guest each time (no error, the server carries on).
        async Task<WsFrame> NewGuestWithAsync(string token)
        {
            await using var ws = await WsClient.ConnectAsync(portal.BaseUri, V1);
            var welcome = await ws.AuthAsync(guest: true, resume: token);
            Assert.True(welcome.Is("welcome"), welcome.ToString());
            Assert.NotEqual(guestId, welcome.GetLong("user.id"));
            Assert.Equal("false", welcome.Get("resumed"));
            return welcome;
        }
        var other = await NewGuestWithAsync(resume[..^4] + (resume.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA"));
        await NewGuestWithAsync("this is not a token!");

        // Kicked (its security stamp changed): the old token no longer brings it back.
        await using (var db = portal.OpenDb())
            await db.Users.Where(u => u.Id == guestId).ExecuteUpdateAsync(x => x.SetProperty(u => u.SecurityStamp, "kicked-" + Guid.NewGuid()));
        await NewGuestWithAsync(resume);

        // Four guests made: the address's limit. A fifth new guest is refused, but a guest coming back is not a new one.
        await using var fifth = await WsClient.ConnectAsync(portal.BaseUri, V1);
        Assert.Equal("rate_limited", (await fifth.AuthAsync(guest: true)).Get("code"));
        await using var returning = await WsClient.ConnectAsync(portal.BaseUri, V1);
        var returned = await returning.AuthAsync(guest: true, resume: other.Get("resume"));
        Assert.True(returned.Is("welcome"), returned.ToString());
        Assert.Equal(other.GetLong("user.id"), returned.GetLong("user.id"));
        Assert.Equal("true", returned.Get("resumed"));
    }

    [Fact]
    public async Task A_guest_that_may_come_back_and_posted_nothing_is_swept_once_away_long_enough_and_a_connected_one_stays()
    {
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Guests__UnusedExpireMinutes"] = "0.01",    // 0.6 s (at least three sweeps: 0.9 s)
            ["Guests__SweepIntervalMinutes"] = "0.005",  // a sweep every 0.3 s
        });
        await using var stays = await WsClient.ConnectAsync(portal.BaseUri, V1);
        var staysId = (await stays.AuthAsync(guest: true)).GetLong("user.id");

        string resume;
        long goneId;
        await using (var goes = await WsClient.ConnectAsync(portal.BaseUri, V1))
        {
            var welcome = await goes.AuthAsync(guest: true);
            (resume, goneId) = (welcome.Get("resume")!, welcome.GetLong("user.id"));
        }

        await using (var db = portal.OpenDb())
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await db.Users.AnyAsync(u => u.Id == goneId) && DateTime.UtcNow < deadline) await Task.Delay(200);
            Assert.False(await db.Users.AnyAsync(u => u.Id == goneId), "the idle guest's row is still there");
            // The connected one, idle as long, is kept (every sweep marks it as seen).
            Assert.True(await db.Users.AnyAsync(u => u.Id == staysId));
        }
        Assert.True((await stays.RequestAsync("ping")).Is("pong"));

        // Its token now names nobody: a new guest.
        await using var late = await WsClient.ConnectAsync(portal.BaseUri, V1);
        var lateWelcome = await late.AuthAsync(guest: true, resume: resume);
        Assert.True(lateWelcome.Is("welcome"), lateWelcome.ToString());
        Assert.NotEqual(goneId, lateWelcome.GetLong("user.id"));
        Assert.Equal("false", lateWelcome.Get("resumed"));
    }
}
