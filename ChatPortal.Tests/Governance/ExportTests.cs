using System.IO.Compression;
using System.Text.Json;
using ChatPortal.Auth;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Governance;

/// <summary>Exports: a big room and a user's own data as ZIPs written to a stream that cannot seek (as a response body).</summary>
public sealed class ExportTests
{
    [Fact]
    public async Task A_room_of_thousands_of_messages_exports_as_json_and_escaped_html_with_its_images()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var alice = await h.RegisterAsync("alice");
        var room = await h.CreateRoomAsync("big", false, alice);
        const int bulk = 3000;
        await using (var db = await h.Db())
        {
            var t0 = DateTimeOffset.UtcNow.AddHours(-5);
            for (var i = 0; i < bulk; i++)
                db.Messages.Add(new Message { RoomId = room.Id, SenderId = alice.Id, Kind = MessageKind.Text, Text = $"line {i} 第{i}行", CreatedAt = t0.AddSeconds(i) });
            await db.SaveChangesAsync();
        }
        var evil = await h.PostAsync(alice, room, "<script>alert(\"x\")</script> & <img src=x onerror=alert(1)> 中文");
        var png = WebSockets.PortalHelpers.TinyPng();
        var image = (await h.Images.SaveAsync(png, alice.Id, "<b>cat</b>.png")).Value!;
        Assert.True((await h.Commands.PostAsync(alice, room.Id, null, imageId: image.Id)).Ok);
        var gone = await h.PostAsync(alice, room, "deleted text must not leak");
        Assert.True((await h.Commands.DeleteAsync(alice, gone.Id)).Ok);

        var output = new ForwardOnlyStream();
        Assert.True(await h.Get<DataExport>().WriteRoomAsync(room.Id, output));
        Assert.False(await h.Get<DataExport>().WriteRoomAsync(999_999, new ForwardOnlyStream()));

        using var zip = new ZipArchive(new MemoryStream(output.ToArray()), ZipArchiveMode.Read);
        using var json = JsonDocument.Parse(zip.GetEntry("room.json")!.Open());
        Assert.Equal("big", json.RootElement.GetProperty("room").GetProperty("slug").GetString());
        var messages = json.RootElement.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(bulk + 3, messages.Count);
        var ids = messages.Select(m => m.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.Equal("line 1234 第1234行", messages[1234].GetProperty("text").GetString());
        Assert.Contains(messages, m => m.GetProperty("text").GetString() == evil.Text);
        Assert.Contains(messages, m => m.TryGetProperty("image", out var i) && i.GetString() == image.Id);
        Assert.DoesNotContain(messages, m => m.GetProperty("text").GetString()!.Contains("must not leak", StringComparison.Ordinal));

        var html = await new StreamReader(zip.GetEntry("room.html")!.Open()).ReadToEndAsync();
        Assert.Equal(bulk + 3, html.Split("<li id=").Length - 1);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt; 中文", html, StringComparison.Ordinal);
        Assert.Contains("第2999行", html, StringComparison.Ordinal);
        Assert.Contains($"<img src=\"images/{image.Id}.png\"", html, StringComparison.Ordinal);
        Assert.Contains("(deleted)", html, StringComparison.Ordinal);
        var stored = zip.GetEntry($"images/{image.Id}.png")!;
        using var bytes = new MemoryStream();
        await stored.Open().CopyToAsync(bytes);
        Assert.Equal(png, bytes.ToArray());
        Assert.True(output.Writes > 10, "written piece by piece, not in one block");
    }

    [Fact]
    public async Task A_user_export_holds_their_account_messages_and_images_and_nothing_of_others()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var alice = await h.RegisterAsync("alice");
        var bob = await h.RegisterAsync("bob");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        await h.Rooms.OpenAsync(alice, "lobby");
        var mine = await h.PostAsync(alice, lobby, "alice in the lobby");
        var bobs = await h.PostAsync(bob, lobby, "bob's secret words");
        // Issue 15's data about her: her reaction and her saved message are hers; Bob's reaction is not.
        var reactions = h.Get<Chat.Conversations.ChatReactions>();
        Assert.True((await reactions.ReactAsync(alice, bobs.Id, "👍")).Ok);
        Assert.True((await reactions.ReactAsync(bob, mine.Id, "🎉")).Ok);
        Assert.True((await h.Get<Chat.Conversations.SavedMessages>().SaveAsync(alice, bobs.Id)).Ok);
        var dm = (await h.Rooms.OpenDirectAsync(alice, "bob")).Value!;
        await h.PostAsync(alice, dm, "alice to bob <privately>");
        var image = (await h.Images.SaveAsync(WebSockets.PortalHelpers.TinyPng(), alice.Id, "me.png")).Value!;
        Assert.True((await h.Commands.PostAsync(alice, lobby.Id, null, imageId: image.Id)).Ok);
        var (token, _) = await h.Get<ApiTokens>().IssueAsync(alice.Id, "my bot");

        var output = new ForwardOnlyStream();
        Assert.True(await h.Get<DataExport>().WriteUserAsync(alice.Id, output));
        using var zip = new ZipArchive(new MemoryStream(output.ToArray()), ZipArchiveMode.Read);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Equal(["account.json", "messages.json", "messages.html", $"images/{image.Id}.png"], names);

        using var account = JsonDocument.Parse(zip.GetEntry("account.json")!.Open());
        Assert.Equal("alice", account.RootElement.GetProperty("name").GetString());
        Assert.Equal("my bot", account.RootElement.GetProperty("apiTokens")[0].GetProperty("label").GetString());
        Assert.Contains(account.RootElement.GetProperty("rooms").EnumerateArray(), r => r.GetProperty("direct").GetBoolean());
        var reacted = Assert.Single(account.RootElement.GetProperty("reactions").EnumerateArray());
        Assert.Equal("👍", reacted.GetProperty("emoji").GetString());
        Assert.Equal(bobs.Id, reacted.GetProperty("messageId").GetInt64());
        Assert.Equal("lobby", reacted.GetProperty("room").GetString());
        Assert.Equal(bobs.Id, Assert.Single(account.RootElement.GetProperty("savedMessages").EnumerateArray()).GetProperty("messageId").GetInt64());
        Assert.False(account.RootElement.GetProperty("readReceiptsHidden").GetBoolean());
        using var messages = JsonDocument.Parse(zip.GetEntry("messages.json")!.Open());
        var texts = messages.RootElement.EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Equal(["alice in the lobby", "alice to bob <privately>", ""], texts);
        Assert.Equal("lobby", messages.RootElement[0].GetProperty("room").GetString());

        var everything = string.Concat(zip.Entries.Where(e => !e.FullName.StartsWith("images/", StringComparison.Ordinal))
            .Select(e => new StreamReader(e.Open()).ReadToEnd()));
        Assert.DoesNotContain("secret words", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("🎉", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(token, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiTokens.Hash(token), everything, StringComparison.Ordinal);
        Assert.DoesNotContain("PasswordHash", everything, StringComparison.Ordinal);
        Assert.Contains("alice to bob &lt;privately&gt;", everything, StringComparison.Ordinal);
    }
}

/// <summary>A write-only stream that cannot seek or report its length, like an HTTP response body; counts the writes.</summary>
public sealed class ForwardOnlyStream : Stream
{
    private readonly MemoryStream _inner = new();
    public int Writes { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    // Synchronous writes fail, as Kestrel's do by default: the export must write asynchronously.
    public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous write");

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Writes++;
        await _inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public byte[] ToArray() => _inner.ToArray();
}
