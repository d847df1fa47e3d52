using System.Text.RegularExpressions;
using ChatPortal.Bots;
using ChatPortal.Chat;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Rich;

/// <summary>
/// The built-in bots as bot accounts on the public bot API (issue 16): a real portal on a loopback port, each bot with its
/// own token and <c>chatportal.v1</c> socket.
/// </summary>
public sealed class BotTests
{
    [Fact]
    public async Task XiaoAi_answers_the_time_in_Chinese_from_its_bot_account_in_the_same_room()
    {
        await using var h = BotPortal.Start();
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("lobby2");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        await h.WaitJoinedAsync(room);

        var question = await h.PostAsync(alice, room, "@小爱 几点了");
        var reply = await ReplyTo(inbox, question);
        Assert.Equal(XiaoAiBot.BotName, reply.Sender.Name);
        Assert.Equal(h.Services.GetRequiredService<BotDirectory>().Get(XiaoAiBot.BotName)!.Id, reply.Sender.Id);
        Assert.True(reply.Sender.IsBot);
        Assert.Equal(room.Id, reply.RoomId);
        Assert.StartsWith("@alice ", reply.Text);
        Assert.Matches(new Regex(@"现在是 \d{2}:\d{2}"), reply.Text);
        // Stored like any message: history has it after the question.
        var history = await h.History.GetHistoryAsync(room.Id);
        Assert.Equal([question.Id, reply.Id], history.Select(m => m.Id));
    }

    [Fact]
    public async Task The_reply_travels_through_the_bot_api_with_the_bots_own_token_and_kind_bot_on_a_v1_socket()
    {
        await using var h = BotPortal.Start();
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("api-path");
        await h.WaitJoinedAsync(room);
        var bot = h.Client().User;

        // Alice on a chatportal.v1 socket of her own: she asks and sees the answer as any client does.
        var (aliceToken, _) = await h.Services.GetRequiredService<Auth.ApiTokens>().IssueAsync(alice.Id, "alice");
        await using var ws = await WebSockets.WsClient.ConnectAsync(h.BaseUri, "chatportal.v1");
        await ws.WaitForAsync(f => f.Is("hello"));
        Assert.True((await ws.AuthAsync(token: aliceToken)).Is("welcome"));
        await ws.JoinAsync(room.Slug);
        var asked = await ws.RequestAsync("send", ("room", room.Slug), ("text", "@小爱 help"), ("client_id", "q1"));
        Assert.True(asked.Is("ack"), asked.Text);
        var questionId = asked.GetLong("message_id");
        var answer = await ws.WaitForAsync(f => f.Is("message") && f.Get("message.client_id") == $"bot-{questionId}");
        Assert.Equal("bot", answer.Get("message.user.kind"));
        Assert.Equal(XiaoAiBot.BotName, answer.Get("message.user.name"));
        Assert.Contains("I can do", answer.Get("message.text"));

        // The bot signed in with its own token: one active, labelled built-in, used, and only its hash is stored.
        await h.Services.GetRequiredService<Auth.ApiTokens>().WriteUsedAsync(); // "last used" is written a second after the use
        await using var db = await h.Db();
        var tokens = await db.ApiTokens.AsNoTracking().Where(t => t.UserId == bot.Id).ToListAsync();
        var active = Assert.Single(tokens, t => t.RevokedAt is null);
        Assert.Equal(BotClient.TokenLabel, active.Name);
        Assert.Equal("read write", active.Scopes);
        Assert.NotNull(active.LastUsedAt);
        Assert.Matches("^[0-9a-f]{64}$", active.TokenHash);
        // Its connection is an ordinary socket session of the bot user on the server.
        Assert.Contains(h.Sessions.Online(room.Id), u => u.Id == bot.Id);
    }

    [Fact]
    public async Task XiaoAi_answers_the_time_in_the_askers_time_zone_once_their_browser_told_it()
    {
        await using var h = BotPortal.Start();
        var lin = await h.CreateUserAsync("lin");
        var room = await h.CreateRoomAsync("clock");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        var shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        h.Services.GetRequiredService<UserTimeZones>().Set(lin.Id, shanghai);
        await h.WaitJoinedAsync(room);

        var question = await h.PostAsync(lin, room, "@小爱 what time is it");
        var reply = (await ReplyTo(inbox, question)).Text;
        var answered = Regex.Match(reply, @"It is (\d{2}):(\d{2}) \(Asia/Shanghai, UTC\+08:00\)");
        Assert.True(answered.Success, reply);
        // The hour is Shanghai's (the question's time there, or the minute after it).
        var asked = TimeZoneInfo.ConvertTime(question.CreatedAt, shanghai);
        var said = new TimeSpan(int.Parse(answered.Groups[1].Value), int.Parse(answered.Groups[2].Value), 0);
        var diff = (said - new TimeSpan(asked.Hour, asked.Minute, 0) + TimeSpan.FromDays(1)).TotalMinutes % (24 * 60);
        Assert.InRange(diff, 0, 2);
    }

    [Fact]
    public async Task XiaoAi_answers_help_in_English_and_the_other_rules()
    {
        await using var h = BotPortal.Start();
        var bob = await h.CreateUserAsync("bob");
        var room = await h.CreateRoomAsync("rules");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        using var here = h.EnterRoom(room.Id, bob);
        await h.WaitJoinedAsync(room);

        async Task<string> Ask(string text) => (await ReplyTo(inbox, await h.PostAsync(bob, room, text))).Text;

        var help = await Ask("@小爱 help");
        Assert.Contains("I can do", help);
        Assert.Contains("time", help);
        Assert.Contains("我会这些", await Ask("@小爱 帮助"));
        Assert.Matches(new Regex(@"Today is \w+day"), await Ask("@小爱 date"));
        Assert.Contains("今天是", await Ask("@小爱同学 今天几号"));
        Assert.Contains("bob", await Ask("@小爱 谁在线"));
        // The online list comes from the socket's "online" request; the bot leaves itself out.
        Assert.Contains("1 online: bob", await Ask("@小爱 who is online"));
        Assert.Matches(new Regex(@"🎲 You rolled ([2-9]|1[0-2]) \(\d \+ \d\) \(2d6\)"), await Ask("@小爱 roll 2d6"));
        Assert.Matches(new Regex(@"掷出了 [1-6]（1d6）"), await Ask("@小爱 掷骰子"));
        Assert.Equal("@bob 你好，世界", await Ask("@小爱 复读 你好，世界"));
        Assert.Equal("@bob <b>not bold</b>", await Ask("@xiaoai echo <b>not bold</b>"));
        // Room numbers come from REST (GET /api/v1/rooms/{id}/stats) with the bot's token.
        var stats = await Ask("@小爱 stats");
        Assert.Matches(new Regex(@"Room ""rules"": \d+ messages \(0 images\) from 2 people, \d+ members, 1 online"), stats);
        Assert.Contains("还在学习", await Ask("@小爱 讲个笑话"));
        Assert.Contains("still learning", await Ask("@小爱 tell me a joke"));
    }

    [Fact]
    public async Task A_throwing_bot_and_a_slow_bot_do_not_hold_up_chat_or_other_bots()
    {
        var slow = new SlowBot();
        await using var h = BotPortal.Start(new() { ["Bots:ReplyTimeout"] = "00:01:00" }, s =>
        {
            s.AddSingleton<IChatBot, ThrowingBot>();
            s.AddSingleton<IChatBot>(slow);
        });
        var alice = await h.CreateUserAsync("alice");
        var bob = await h.CreateUserAsync("bob");
        var room = await h.CreateRoomAsync("busy");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        foreach (var bot in new[] { XiaoAiBot.BotName, "slowbot", "boombot" }) await h.WaitJoinedAsync(room, bot);

        // All three bots want this one: one throws, one sleeps 10 s, 小爱 answers.
        var question = await h.PostAsync(alice, room, "!slow !boom @小爱 help");
        await slow.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var other = await h.PostAsync(bob, room, "meanwhile, a normal message");
        var reply = await ReplyTo(inbox, question);

        // The slow bot is still inside its 10 s while chat and 小爱 have moved on.
        Assert.False(slow.Finished);
        Assert.Contains(inbox.Events.OfType<MessagePosted>(), p => p.Message.Id == other.Id);
        Assert.Contains("I can do", reply.Text);
        await WaitUntil(() => h.Bots.Failed == 1);
        Assert.DoesNotContain(inbox.Events.OfType<MessagePosted>(), p => p.Message.Sender.Name is "slowbot" or "boombot");
        // And the runner keeps working after the failure.
        var again = await h.PostAsync(bob, room, "@小爱 time");
        Assert.Contains("It is", (await ReplyTo(inbox, again)).Text);
    }

    [Fact]
    public async Task A_message_larger_than_the_bots_receive_buffer_reaches_it_whole_and_the_next_one_too()
    {
        var echo = new RecordingBot();
        await using var h = BotPortal.Start(configure: s => s.AddSingleton<IChatBot>(echo));
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("long-frames");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        await h.WaitJoinedAsync(room, "recorder");

        // "<" goes out as \u003C and an emoji as two \u escapes: ~21 KB of frame for 3,500 characters, more than one
        // 16 KB receive.
        var big = "!rec " + new string('<', 1500) + "张伟" + string.Concat(Enumerable.Repeat("😀", 1000));
        var first = await h.PostAsync(alice, room, big);
        Assert.Equal(big, (await echo.Next(first.Id)).Text);
        // The buffer the long frame went through is reused: the next, short frame is read whole and alone.
        var second = await h.PostAsync(alice, room, "!rec 短的");
        Assert.Equal("!rec 短的", (await echo.Next(second.Id)).Text);
        Assert.Equal("got 3507 characters", (await ReplyTo(inbox, first)).Text);
    }

    [Fact]
    public async Task A_bot_that_ignores_cancellation_is_abandoned_after_the_timeout()
    {
        var slow = new SlowBot(honourCancellation: false);
        await using var h = BotPortal.Start(new() { ["Bots:ReplyTimeout"] = "00:00:00.300" }, s => s.AddSingleton<IChatBot>(slow));
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("timeout");
        await h.WaitJoinedAsync(room, "slowbot");
        await h.PostAsync(alice, room, "!slow please");
        await WaitUntil(() => h.Bots.TimedOut == 1);
        Assert.False(slow.Finished);
        Assert.Equal(0, h.Bots.Replied);
    }

    [Fact]
    public async Task Switched_off_rooms_get_no_answer_and_bots_never_answer_bots()
    {
        await using var h = BotPortal.Start();
        var alice = await h.CreateUserAsync("alice");
        var quiet = await h.CreateRoomAsync("quiet");
        var loud = await h.CreateRoomAsync("loud");
        await h.Services.GetRequiredService<BotSwitches>().SetAsync(XiaoAiBot.BotName, quiet.Id, false);
        var inbox = new RecordingSubscriber();
        using var s1 = h.Fanout.SubscribeRoom(quiet.Id, inbox);
        using var s2 = h.Fanout.SubscribeRoom(loud.Id, inbox);
        await h.WaitJoinedAsync(loud);
        // Switched off in a room: the bot's socket does not even listen there. (Its look at the new rooms may have
        // joined "quiet" before the switch went off; the look the switch wakes leaves it.)
        await WaitUntil(() => !h.Client().JoinedRooms.Contains(quiet.Id));

        await h.PostAsync(alice, quiet, "@小爱 help");
        var asked = await h.PostAsync(alice, loud, "@小爱 echo @小爱 help");
        var reply = await ReplyTo(inbox, asked);
        Assert.Equal("@alice @小爱 help", reply.Text);
        await WaitUntil(() => h.Bots.Handled == 1);
        // The echo contains "@小爱" but comes from a bot: no loop. The quiet room stayed quiet.
        Assert.Single(inbox.Events.OfType<MessagePosted>(), p => p.Message.Sender.IsBot);
        Assert.Equal(1, h.Bots.Replied);
    }

    [Fact]
    public async Task Off_by_default_the_bot_has_no_token_and_no_socket_until_the_switch_turns_it_on_and_off_again()
    {
        await using var h = BotPortal.Start(new() { ["Bots:EnabledByDefault"] = "false" });
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("later");
        var client = h.Client();
        var switches = h.Services.GetRequiredService<BotSwitches>();
        Assert.False(await switches.IsEnabledAsync(XiaoAiBot.BotName, room.Id));
        Assert.False(client.IsConnected);
        Assert.Empty(h.Sessions.Online(room.Id));
        await using (var db = await h.Db())
            Assert.False(await db.ApiTokens.AnyAsync(t => t.UserId == client.User.Id)); // no account activity while off

        // The back office's switch, for this one room: the bot gets a token, connects and joins it (and only it).
        var other = await h.CreateRoomAsync("elsewhere");
        await switches.SetAsync(XiaoAiBot.BotName, room.Id, true);
        await h.WaitJoinedAsync(room);
        Assert.DoesNotContain(other.Id, client.JoinedRooms);
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        Assert.Contains("I can do", (await ReplyTo(inbox, await h.PostAsync(alice, room, "@小爱 help"))).Text);

        // Off again: the socket goes away.
        await switches.SetAsync(XiaoAiBot.BotName, room.Id, null);
        await WaitUntil(() => !client.IsConnected);
        await WaitUntil(() => !h.Sessions.Online(room.Id).Any(u => u.Id == client.User.Id));
    }

    [Fact]
    public async Task Revoking_its_tokens_or_disabling_the_bot_account_stops_it_and_the_switch_brings_it_back()
    {
        await using var h = BotPortal.Start();
        var alice = await h.CreateUserAsync("alice");
        var room = await h.CreateRoomAsync("control");
        var inbox = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeRoom(room.Id, inbox);
        await h.WaitJoinedAsync(room);
        var client = h.Client();
        var admin = await h.CreateAdminAsync();
        var accounts = h.Services.GetRequiredService<ChatPortal.Admin.AdminBotAccounts>();
        var switches = h.Services.GetRequiredService<BotSwitches>();

        // Listed in the back office's bot accounts, marked built-in, not deletable.
        var row = Assert.Single(await accounts.ListAsync(admin), b => b.Name == XiaoAiBot.BotName);
        Assert.True(row.BuiltIn);
        Assert.Equal(1, row.ActiveTokens);
        Assert.Equal("bot_builtin", (await accounts.DeleteAsync(admin, row.Id)).ErrorCode);

        // Revoke: its socket is closed and it does not issue itself a new token.
        Assert.True((await accounts.RevokeTokensAsync(admin, row.Id)).Ok);
        await WaitUntil(() => client.IsRefused && !client.IsConnected);
        Assert.Equal(0, Assert.Single(await accounts.ListAsync(admin), b => b.Name == XiaoAiBot.BotName).ActiveTokens);

        // The switch (off and on) gives it a new token; it answers again.
        await switches.SetAsync(XiaoAiBot.BotName, null, false);
        await switches.SetAsync(XiaoAiBot.BotName, null, true);
        await WaitUntil(() => client.IsConnected && client.JoinedRooms.Contains(room.Id));
        Assert.Contains("I can do", (await ReplyTo(inbox, await h.PostAsync(alice, room, "@小爱 help"))).Text);

        // Disable (the ban): the socket ends and the token is refused; a switch change does not get past a disabled account.
        Assert.True((await accounts.SetDisabledAsync(admin, row.Id, true)).Ok);
        await WaitUntil(() => client.IsRefused && !client.IsConnected);
        await switches.SetAsync(XiaoAiBot.BotName, room.Id, true);
        await WaitUntil(() => client.IsRefused);
        Assert.False(client.IsConnected);
        Assert.DoesNotContain(h.Sessions.Online(room.Id), u => u.Id == row.Id);
        await using var db = await h.Db();
        Assert.False(await db.ApiTokens.AnyAsync(t => t.UserId == row.Id && t.RevokedAt == null));
    }

    [Fact]
    public async Task The_bot_user_exists_after_startup_and_cannot_sign_in()
    {
        await using var h = await CoreHarness.StartAsync();
        await WaitUntil(() => h.Services.GetRequiredService<BotDirectory>().Get(XiaoAiBot.BotName) is not null);
        var accounts = new Auth.ChatAccounts(h.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Data.ChatDbContext>>(),
            h.Users, TimeProvider.System,
            new Auth.SignInGuard(Microsoft.Extensions.Options.Options.Create(new Auth.AccountOptions()), TimeProvider.System),
            h.Services.GetRequiredService<Chat.Safeguards.AddressLimits>(),
            Microsoft.Extensions.Options.Options.Create(new Auth.AccountOptions()),
            Microsoft.Extensions.Options.Options.Create(new ChatPortal.WebSockets.WebSocketEndpointOptions()));
        var attempt = await accounts.SignInOrRegisterAsync(XiaoAiBot.BotName, "password123", null);
        Assert.False(attempt.Succeeded);
    }

    internal static async Task<ChatMessage> ReplyTo(RecordingSubscriber inbox, ChatMessage question)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var reply = inbox.Events.OfType<MessagePosted>().Select(p => p.Message)
                .FirstOrDefault(m => m.Sender.IsBot && m.ClientMsgId == $"bot-{question.Id}");
            if (reply is not null) return reply;
            await Task.Delay(20);
        }
        throw new TimeoutException($"No bot reply to \"{question.Text}\".");
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not become true.");
            await Task.Delay(20);
        }
    }

    private sealed class RecordingBot : IChatBot
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<long, TaskCompletionSource<ChatMessage>> _seen = new();
        public string Name => "recorder";
        public bool Wants(ChatMessage message) => message.Text.StartsWith("!rec", StringComparison.Ordinal);

        public Task<string?> ReplyAsync(BotContext context, CancellationToken ct)
        {
            Seen(context.Message.Id).TrySetResult(context.Message);
            return Task.FromResult<string?>($"got {context.Message.Text.Length} characters");
        }

        private TaskCompletionSource<ChatMessage> Seen(long id) =>
            _seen.GetOrAdd(id, _ => new TaskCompletionSource<ChatMessage>(TaskCreationOptions.RunContinuationsAsynchronously));

        public Task<ChatMessage> Next(long id) => Seen(id).Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    private sealed class ThrowingBot : IChatBot
    {
        public string Name => "boombot";
        public bool Wants(ChatMessage message) => message.Text.Contains("!boom", StringComparison.Ordinal);
        public Task<string?> ReplyAsync(BotContext context, CancellationToken ct) => throw new InvalidOperationException("boom");
    }

    private sealed class SlowBot(bool honourCancellation = true) : IChatBot
    {
        private volatile bool _finished;
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Finished => _finished;
        public string Name => "slowbot";
        public bool Wants(ChatMessage message) => message.Text.Contains("!slow", StringComparison.Ordinal);

        public async Task<string?> ReplyAsync(BotContext context, CancellationToken ct)
        {
            Started.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(10), honourCancellation ? ct : CancellationToken.None);
            _finished = true;
            return "finally awake";
        }
    }
}
