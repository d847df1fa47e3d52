using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

public sealed record ModerationFilter(long? RoomId = null, string? Text = null, string? Sender = null, long? BeforeId = null);

public sealed record ModerationRow(ChatMessage Message, RoomInfo Room);

/// <summary>
/// Moderation: finding messages across rooms, deleting any of them, and the word filter.
/// Deleting goes through <see cref="ChatCommands.DeleteAsync"/> as a moderator, so the removal
/// is a stored event like any other: live views drop the message, and clients catching up
/// receive the delete.
/// </summary>
public sealed class AdminModeration(IDbContextFactory<ChatDbContext> dbFactory, ChatHistory history, ChatRooms rooms, ChatCommands commands,
    UserDirectory users, WordFilter wordFilter, AdminGuard guard, AdminAudit audit, TimeProvider time)
{
    /// <summary>The chat-side author of moderator deletes: a name no member can register (nicknames cannot contain brackets).</summary>
    public const string ModeratorName = "[moderator]";
    public const int PageSize = 50;
    private UserRef? _moderator;

    /// <summary>Newest first, visible posts only; page backwards with <see cref="ModerationFilter.BeforeId"/>.</summary>
    public async Task<IReadOnlyList<ModerationRow>> FindAsync(AdminCaller caller, ModerationFilter filter, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        var messages = await history.FindAsync(filter.RoomId, filter.BeforeId, filter.Text, filter.Sender, PageSize, ct);
        var list = new List<ModerationRow>(messages.Count);
        foreach (var m in messages)
        {
            if (await rooms.GetAsync(m.RoomId, ct) is { } room) list.Add(new ModerationRow(m, room));
        }
        return list;
    }

    public async Task<AdminResult> DeleteMessageAsync(AdminCaller caller, long messageId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var target = await history.GetRowAsync(messageId, ct);
        var moderator = await ModeratorAsync(ct);
        var result = await commands.DeleteAsync(moderator, messageId, asModerator: true, ct);
        if (!result.Ok) return AdminResult.Fail("message_not_found", result.Error!.Message);
        var room = target is null ? null : await rooms.GetAsync(target.RoomId, ct);
        await audit.WriteAsync(actor, AuditActions.MessageDelete, $"message #{messageId} in /rooms/{room?.Slug}",
            $"by {target?.Sender.Name}: {Shorten(target?.Text)}", ct);
        return AdminResult.Success;
    }

    public async Task<WordFilterSettings> GetWordFilterAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        wordFilter.Invalidate(); // show what is stored, also if another node changed it
        return await wordFilter.GetSettingsAsync(ct);
    }

    public async Task<AdminResult> SaveWordFilterAsync(AdminCaller caller, WordFilterMode mode, string? words, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (!Enum.IsDefined(mode)) return AdminResult.Fail("filter_invalid", "Unknown filter mode.");
        var list = WordFilterSettings.Normalize((words ?? "").Split('\n'), out var error);
        if (list is null) return AdminResult.Fail("filter_invalid", error!);
        await wordFilter.SaveAsync(new WordFilterSettings(mode, list), ct);
        await audit.WriteAsync(actor, AuditActions.WordFilterUpdate, "word filter", $"mode={mode}; {list.Count} words", ct);
        return AdminResult.Success;
    }

    /// <summary>The reserved chat user that moderator deletes are recorded under; made on first use.</summary>
    private async Task<UserRef> ModeratorAsync(CancellationToken ct)
    {
        if (_moderator is not null) return _moderator;
        var found = await users.FindByNameAsync(ModeratorName, ct);
        if (found is null)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            db.Users.Add(new ChatUser
            {
                Name = ModeratorName,
                NormalizedName = UserNames.Normalize(ModeratorName),
                Kind = UserKind.Bot,
                CreatedAt = time.GetUtcNow(),
                SecurityStamp = ChatAccounts.NewStamp(),
            });
            try { await db.SaveChangesAsync(ct); }
            catch (DbUpdateException) { /* made at the same moment by another request */ }
            found = await users.FindByNameAsync(ModeratorName, ct);
        }
        return _moderator = found ?? throw new InvalidOperationException("The moderator account could not be created.");
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 80 ? text : text[..80] + "…";
}
