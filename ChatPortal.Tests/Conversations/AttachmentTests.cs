using System.Text;
using ChatPortal.Chat;
using ChatPortal.Chat.Attachments;
using ChatPortal.Chat.Safeguards;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.Rich;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Conversations;

/// <summary>File attachments in the core (issue 15): type from content, quota shared with images, lifetime like images.</summary>
public sealed class AttachmentTests
{
    [Theory]
    [InlineData("%PDF-1.7\n...", "application/pdf")]
    [InlineData("PK\u0003\u0004rest", "application/zip")]
    [InlineData("plain notes\nline two\t tab", "text/plain")]
    [InlineData("中文笔记，第二行", "text/plain")]
    [InlineData("<!doctype html><script>alert(1)</script>", FileSniffer.Binary)]
    [InlineData("  \n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>", FileSniffer.Binary)]
    [InlineData("<?xml version=\"1.0\"?><x/>", FileSniffer.Binary)]
    [InlineData("\u0000\u0001\u0002binary", FileSniffer.Binary)]
    public void The_type_comes_from_the_content_and_markup_is_never_labelled_as_such(string content, string expected) =>
        Assert.Equal(expected, FileSniffer.Identify(Encoding.UTF8.GetBytes(content)));

    [Fact]
    public void Pictures_sent_as_files_keep_their_type_and_no_stored_label_is_a_document_type()
    {
        Assert.Equal("image/png", FileSniffer.Identify(TestImages.Png(4, 4)));
        Assert.False(FileSniffer.IsSafeLabel("text/html"));
        Assert.False(FileSniffer.IsSafeLabel("image/svg+xml"));
        Assert.True(FileSniffer.IsSafeLabel("application/pdf"));
    }

    private static Task<CoreHarness> CoreAsync(long quota) => CoreHarness.StartAsync(
        settings: new() { ["Images:MaxBytesPerUser"] = quota.ToString(), ["Attachments:MaxBytes"] = "4096" });

    [Fact]
    public async Task Files_count_against_the_users_quota_with_images_and_are_capped_in_size()
    {
        await using var core = await CoreAsync(quota: 6000);
        var files = core.Services.GetRequiredService<ChatAttachments>();
        var ann = await core.CreateUserAsync("ann");
        Assert.Equal("file_empty", (await files.SaveAsync(Array.Empty<byte>(), ann.Id, "x")).Error!.Code);
        Assert.Equal("file_too_large", (await files.SaveAsync(new byte[4097], ann.Id, "x")).Error!.Code);
        var first = await files.SaveAsync(Encoding.UTF8.GetBytes(new string('a', 4000)), ann.Id, "../../etc/passwd");
        Assert.True(first.Ok);
        Assert.Equal("passwd", first.Value!.Name); // no folders in a name
        Assert.True(first.Value.IsFile);
        Assert.Equal("text/plain", first.Value.ContentType);
        Assert.Equal("file_quota", (await files.SaveAsync(new byte[2500], ann.Id, "more.bin")).Error!.Code);
        // Another user has their own quota.
        var bob = await core.CreateUserAsync("bob");
        Assert.True((await files.SaveAsync(new byte[2500], bob.Id, "b.bin")).Ok);
    }

    [Fact]
    public async Task An_upload_never_posted_is_swept_and_a_deleted_posts_file_goes_with_it()
    {
        await using var core = await CoreAsync(quota: 0);
        var files = core.Services.GetRequiredService<ChatAttachments>();
        var retention = core.Services.GetRequiredService<ImageRetention>();
        var room = await core.CreateRoomAsync("files");
        var ann = await core.CreateUserAsync("ann");

        var orphan = (await files.SaveAsync(Encoding.UTF8.GetBytes("never sent"), ann.Id, "draft.txt")).Value!;
        var posted = await files.PostAsync(ann, room.Id, Encoding.UTF8.GetBytes("%PDF-1.4 report"), "report.pdf", "c-1", "the report");
        Assert.True(posted.Ok);
        var message = posted.Value!;
        Assert.Equal(("application/pdf", "report.pdf", true), (message.Image!.ContentType, message.Image.Name, message.Image.IsFile));
        Assert.Equal("the report", message.Text);
        // History reads it back as a file.
        Assert.True((await core.History.GetHistoryAsync(room.Id)).Single().Image!.IsFile);

        // A fresh upload waiting in a composer stays; once old, the sweep takes it, not the posted one.
        Assert.Equal(0, await retention.SweepAsync(DateTimeOffset.UtcNow));
        Assert.Equal(1, await retention.SweepAsync(DateTimeOffset.UtcNow.AddHours(2)));
        Assert.Null(core.Images.PathOf(orphan.Id));
        var postedPath = core.Images.PathOf(message.Image.Id);
        Assert.NotNull(postedPath);

        // Deleting the post removes its file.
        Assert.True((await core.Commands.DeleteAsync(ann, message.Id)).Ok);
        var until = DateTime.UtcNow.AddSeconds(15);
        while (File.Exists(postedPath) && DateTime.UtcNow < until) await Task.Delay(50);
        Assert.False(File.Exists(postedPath));

        // A refused post (a room the user may not write in) leaves no file behind.
        var secret = await core.CreateRoomAsync("secret", isPrivate: true);
        var refused = await files.PostAsync(ann, secret.Id, Encoding.UTF8.GetBytes("x"), "x.txt", "c-2");
        Assert.False(refused.Ok);
        Assert.Empty(Directory.EnumerateFiles(files.Folder));
    }
}
