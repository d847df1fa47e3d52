using ChatPortal.Auth;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

public sealed record ModerationFilter(long? RoomId = null, string? Text = null, string? Sender = null, long? BeforeId = null);

public sealed record ModerationRow(ChatMessage Message, RoomInfo Room);

/// <summary>
/// Moderation: finding messages across rooms, deleting any of them, and the word filter.
/// Deleting goes through <see cref="ChatService.DeleteAsync"/> as a moderator, so the removal
/// is a stored event like any other: live views drop the message, and clients catching up
/// receive the delete.
/// </summary>
public sealed class AdminModeration(IDbContextFactory<ChatDbContext> dbFactory, ChatService chat, WordFilter wordFilter,
    AdminGuard guard, AdminAudit audit, TimeProvider time)
{
    /// <summary>The chat-side author of moderator deletes: a name no member can register (nicknames cannot contain brackets).</summary>
    public const string ModeratorName = "[moderator]";
    public const int PageSize = 50;
    private UserRef? _moderator;

    /// <summary>Newest first, visible posts only; page backwards with <see cref="ModerationFilter.BeforeId"/>.</summary>
    public async Task<IReadOnlyList<ModerationRow>> FindAsync(AdminCaller caller, ModerationFilter filter, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Messages.AsNoTracking()
            .Where(m => (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image) && m.DeletedAt == null);
        if (filter.RoomId is { } roomId) q = q.Where(m => m.RoomId == roomId);
        if (filter.BeforeId is { } before) q = q.Where(m => m.Id < before);
        if (!string.IsNullOrWhiteSpace(filter.Text))
        {
            var s = $"%{AdminAudit.EscapeLike(filter.Text.Trim())}%";
            q = q.Where(m => EF.Functions.Like(m.Text, s, "\\"));
        }
        if (!string.IsNullOrWhiteSpace(filter.Sender))
        {
            var normalized = UserNames.Normalize(filter.Sender);
            q = q.Where(m => db.Users.Any(u => u.Id == m.SenderId && u.NormalizedName == normalized));
        }
        var rows = await q.OrderByDescending(m => m.Id).Take(PageSize).ToListAsync(ct);
        var senderIds = rows.Select(r => r.SenderId).Distinct().ToList();
        var senders = await db.Users.AsNoTracking().Where(u => senderIds.Contains(u.Id))
            .ToDictionaryAsync(u => u.Id, u => new UserRef(u.Id, u.Name, u.Kind), ct);
        var list = new List<ModerationRow>(rows.Count);
        foreach (var r in rows)
        {
            var room = await chat.GetRoomAsync(r.RoomId, ct);
            if (room is null) continue;
            var image = r.ImageId is null ? null : await chat.GetImageAsync(r.ImageId, ct);
            var sender = senders.GetValueOrDefault(r.SenderId) ?? new UserRef(r.SenderId, "?", UserKind.Member);
            list.Add(new ModerationRow(new ChatMessage(r.Id, r.RoomId, sender, r.Kind, r.Text, r.CreatedAt, r.ClientMsgId, image, r.EditedAt), room));
        }
        return list;
    }

    public async Task<AdminResult> DeleteMessageAsync(AdminCaller caller, long messageId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var target = await db.Messages.AsNoTracking().Where(m => m.Id == messageId)
            .Select(m => new { m.RoomId, m.SenderId, m.Text }).FirstOrDefaultAsync(ct);
        var moderator = await ModeratorAsync(ct);
        var result = await chat.DeleteAsync(moderator, messageId, asModerator: true, ct);
        if (!result.Ok) return AdminResult.Fail("message_not_found", result.Error!.Message);
        var sender = target is null ? null : await chat.Users.GetAsync(target.SenderId, ct);
        var room = target is null ? null : await chat.GetRoomAsync(target.RoomId, ct);
        await audit.WriteAsync(actor, AuditActions.MessageDelete, $"message #{messageId} in /rooms/{room?.Slug}",
            $"by {sender?.User.Name}: {Shorten(target?.Text)}", ct);
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
        var found = await chat.Users.FindByNameAsync(ModeratorName, ct);
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
            found = await chat.Users.FindByNameAsync(ModeratorName, ct);
        }
        return _moderator = found ?? throw new InvalidOperationException("The moderator account could not be created.");
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 80 ? text : text[..80] + "…";
}
