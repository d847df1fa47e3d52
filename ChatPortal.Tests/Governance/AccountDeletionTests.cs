using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Data;
using ChatPortal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Tests.Governance;

/// <summary>Account deletion in both site modes: a tombstone with messages kept, or the messages removed with images and search rows.</summary>
public sealed class AccountDeletionTests
{
    [Fact]
    public async Task Keep_mode_leaves_the_messages_under_a_tombstone_and_ends_credentials_and_sessions()
    {
        await using var h = await GovernanceHarness.StartAsync();
        var alice = await h.RegisterAsync("alice", "alice-pw-1");
        var bob = await h.RegisterAsync("bob");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        var team = await h.CreateRoomAsync("team", true, alice, bob);
        var kept = await h.PostAsync(alice, lobby, "keep this sentence please");
        await h.PostAsync(alice, team, "team note");
        var dm = (await h.Rooms.OpenDirectAsync(bob, "alice")).Value!;
        await h.PostAsync(alice, dm.Room, "dm to bob");
        var (token, _) = await h.Get<ApiTokens>().IssueAsync(alice.Id, "script");
        var events = new RecordingSubscriber();
        using var sub = h.Fanout.SubscribeUser(alice.Id, events);

        var result = await h.Get<AccountDeletion>().DeleteAsync(alice.Id, "(self: alice)");
        Assert.NotNull(result);
        Assert.Equal(AccountDeletionMode.KeepAsDeletedUser, result.Mode);

        var revoked = await events.WaitForAsync<SessionRevoked>(1);
        Assert.Equal(alice.Id, revoked[0].UserId);
        var row = await h.WithDbAsync(db => db.Users.AsNoTracking().SingleAsync(u => u.Id == alice.Id));
        Assert.Equal($"deleted user #{alice.Id}", row.Name);
        Assert.Null(row.PasswordHash);
        Assert.NotNull(row.DeletedAt);
        Assert.Null(row.LastIp);
        Assert.Null(await h.Get<ApiTokens>().ValidateAsync(token));
        Assert.Equal(0, await h.WithDbAsync(db => db.ApiTokens.CountAsync(t => t.UserId == alice.Id)));
        Assert.False(await h.Rooms.Directory.IsMemberAsync(team.Id, alice.Id));
        Assert.True(await h.Rooms.Directory.IsMemberAsync(dm.Room.Id, alice.Id)); // bob keeps the conversation

        // The messages stay, shown as from the tombstone.
        var history = await h.History.GetHistoryAsync(lobby.Id);
        var m = Assert.Single(history, x => x.Id == kept.Id);
        Assert.Equal($"deleted user #{alice.Id}", m.Sender.Name);
        Assert.Contains(await h.Rooms.ListDirectAsync(bob), d => d.Other.Id == alice.Id && d.Other.Name.StartsWith("deleted user", StringComparison.Ordinal));

        // Nobody signs in as the tombstone; the freed nickname is a new, different account.
        var tomb = await h.Get<ChatAccounts>().SignInOrRegisterAsync(row.Name, "alice-pw-1", null);
        Assert.False(tomb.Succeeded);
        var again = await h.Get<ChatAccounts>().SignInOrRegisterAsync("alice", "alice-pw-1", null);
        Assert.Equal(SignInStatus.Registered, again.Status);
        Assert.NotEqual(alice.Id, again.User!.Id);
        Assert.Null(await h.Get<AccountDeletion>().DeleteAsync(alice.Id, "(test)")); // already deleted

        var audit = await h.WithDbAsync(db => db.AuditLog.SingleAsync(a => a.Action == AccountDeletion.AuditAction));
        Assert.Equal("(self: alice)", audit.AdminName);
        Assert.Contains("alice", audit.Target);
    }

    [Fact]
    public async Task Remove_mode_purges_the_users_messages_images_and_search_rows_and_leaves_others()
    {
        await using var h = await GovernanceHarness.StartAsync();
        await h.SetPolicyAsync(new GovernancePolicy(0, AccountDeletionMode.RemoveMessages));
        var alice = await h.RegisterAsync("alice");
        var bob = await h.RegisterAsync("bob");
        var lobby = (await h.Rooms.GetDefaultAsync())!;
        for (var i = 0; i < 12; i++) await h.PostAsync(alice, lobby, $"zebracorn text {i}");
        var edited = await h.PostAsync(alice, lobby, "zebracorn to edit");
        Assert.True((await h.Commands.EditAsync(alice, edited.Id, "zebracorn edited")).Ok);
        var image = await h.Images.SaveAsync(WebSockets.PortalHelpers.TinyPng(), alice.Id, "a.png");
        Assert.True((await h.Commands.PostAsync(alice, lobby.Id, null, imageId: image.Value!.Id)).Ok);
        var unused = await h.Images.SaveAsync(WebSockets.PortalHelpers.TinyPng(), alice.Id, "never-posted.png");
        var bobs = await h.PostAsync(bob, lobby, "zebracorn from bob");
        await h.WaitForSearchIndexAsync();

        var result = (await h.Get<AccountDeletion>().DeleteAsync(alice.Id, "root", adminId: null))!;
        Assert.Equal(AccountDeletionMode.RemoveMessages, result.Mode);
        Assert.Equal(15, result.Purged.Messages); // 12 + the edited one + its edit row + the image post
        Assert.Equal(2, result.Purged.Images + result.Uploads);

        var rows = await h.RowsAsync(lobby.Id);
        Assert.Equal([bobs.Id], rows.Select(r => r.Id));
        Assert.Equal(1, await h.FtsCountAsync("zebracorn"));
        var hits = await h.Search.SearchAsync(bob, "zebracorn");
        Assert.Equal(bobs.Id, Assert.Single(hits).Message.Id);
        Assert.False(File.Exists(Path.Combine(h.Images.Folder, image.Value.Id)));
        Assert.False(File.Exists(Path.Combine(h.Images.Folder, unused.Value!.Id)));
        Assert.Equal(0, await h.WithDbAsync(db => db.Images.CountAsync(i => i.UploaderId == alice.Id)));
        Assert.NotNull(await h.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == alice.Id && u.DeletedAt != null)));
    }
}
