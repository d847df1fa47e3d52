using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Governance;

/// <summary>What an account deletion did.</summary>
public sealed record AccountDeletionResult(long UserId, string OldName, string TombstoneName, AccountDeletionMode Mode, PurgeResult Purged,
    int Uploads);

/// <summary>
/// Deletes a chat account, by the user (account page, password confirmed) or an admin. The row
/// always stays as a tombstone named <c>deleted user #id</c> (a name the sign-up form refuses, with
/// no password, so nobody can sign in as it or take it): its kept messages, DMs and audit entries
/// still point at something. Credentials go: password hash, API tokens (deleted, not just
/// revoked), the security stamp (every cookie dies) and the open pages and sockets
/// (<see cref="ChatSessions.Revoke"/>). Memberships of rooms are dropped, except direct
/// conversations, so the other person keeps theirs. With <see cref="AccountDeletionMode.RemoveMessages"/>
/// (site setting) every row the user wrote (posts, edits, deletes) is purged too, with images and
/// search rows, and so are the user's other uploads. Provider sign-in links, push subscriptions,
/// notification settings and queued digest rows are deleted, and the profile (display name,
/// status, picture, address) is blanked.
/// </summary>
public sealed class AccountDeletion(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms, ChatSessions sessions, GovernanceSettings settings,
    MessagePurge purge, TimeProvider time, Profiles.UserProfiles? profiles = null)
{
    public const string AuditAction = "account.delete";

    public static string TombstoneName(long userId) => $"deleted user #{userId}";

    /// <summary>Deletes the account; null when there is no such (live, non-bot) account.</summary>
    public async Task<AccountDeletionResult?> DeleteAsync(long userId, string by, long? adminId = null, string? remoteIp = null,
        CancellationToken ct = default)
    {
        var mode = (await settings.GetAsync(ct)).DeletionMode;
        string oldName;
        var tombstone = TombstoneName(userId);
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
            if (user is null || user.DeletedAt is not null || user.Kind == UserKind.Bot) return null;
            oldName = user.Name;
            user.Name = tombstone;
            user.NormalizedName = UserNames.Normalize(tombstone);
            user.NameSkeleton = Auth.NameSkeletons.Of(tombstone); // the old name is free again, for anyone
            user.PasswordHash = null;
            user.SecurityStamp = Auth.ChatAccounts.NewStamp();
            user.DeletedAt = time.GetUtcNow();
            user.LastIp = null;
            user.LastSeenAt = null;
            user.Locale = null;
            user.Theme = null;
            user.MutedUntil = null;
            user.MuteReason = null;
            user.FailedSignIns = 0;
            user.LockedUntil = null;
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.SaveChangesAsync(ct);
            await db.ApiTokens.Where(t => t.UserId == userId).ExecuteDeleteAsync(ct);
            // What issue 17 keeps about the person: a provider identity must not sign in to the tombstone
            // (it links anew), and no push or mail goes to someone who left.
            await db.ExternalLogins.Where(l => l.LocalId == userId && !l.ForAdmin).ExecuteDeleteAsync(ct);
            await db.PushSubscriptions.Where(s => s.UserId == userId).ExecuteDeleteAsync(ct);
            await db.PendingNotifications.Where(n => n.UserId == userId).ExecuteDeleteAsync(ct);
            await db.NotificationPreferences.Where(p => p.UserId == userId).ExecuteDeleteAsync(ct);
            await db.RoomNotificationSettings.Where(r => r.UserId == userId).ExecuteDeleteAsync(ct);
            await db.RoomDepartures.Where(r => r.UserId == userId).ExecuteDeleteAsync(ct);
            db.AuditLog.Add(new AuditEntry
            {
                At = time.GetUtcNow(),
                AdminId = adminId,
                AdminName = by.Length > 64 ? by[..64] : by,
                Action = AuditAction,
                Target = $"user #{userId} {oldName}",
                Detail = mode == AccountDeletionMode.RemoveMessages ? "messages removed" : "messages kept as deleted user",
                RemoteIp = remoteIp,
            });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        // Out of every room but direct conversations, announced so every node's caches and sessions know.
        await rooms.RemoveFromAllRoomsAsync(userId, ct);
        // Sockets and pages close now, on every node; caches forget the old name.
        await sessions.RevokeAsync(userId, "deleted");
        // Display name, picture and address go too (a core without profiles has none to forget).
        if (profiles is not null) await profiles.ForgetAsync(userId, ct);

        var purged = PurgeResult.None;
        var uploads = 0;
        if (mode == AccountDeletionMode.RemoveMessages)
        {
            // The user asked for their messages to go: pinned ones too.
            purged = await purge.PurgeAsync(q => q.Where(m => m.SenderId == userId), $"account #{userId}", ct, keepExempt: false);
            uploads = await purge.PurgeUnusedUploadsAsync(userId, ct);
        }
        return new AccountDeletionResult(userId, oldName, tombstone, mode, purged, uploads);
    }
}
