using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using ChatPortal.Data;
using ChatPortal.Email;
using ChatPortal.Profiles;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using MimeKit;

namespace ChatPortal.Chat.Notifications;

/// <summary>
/// The email digest: every <see cref="EmailOptions.DigestCheckSeconds"/> it looks for users with a
/// remembered mention or direct message older than <see cref="EmailOptions.DigestDelayMinutes"/>,
/// takes everything remembered for them, keeps the ones still unread (the user's read position in that room is before them), and sends each user
/// one mail listing them, with a signed unsubscribe link that works without signing in. Rows are
/// deleted once mailed (or read, or no longer wanted); a failed send keeps them for the next round.
/// Quiet hours postpone the mail.
/// </summary>
public sealed class EmailDigest(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms chatRooms, ChatHistory history, NotificationSettings settings, Mailer mailer,
    EmailLinks links, ProfileDirectory profiles, IStringLocalizer<NotificationText> text, IOptions<EmailOptions> options, TimeProvider time,
    ILogger<EmailDigest> log) : BackgroundService
{
    private const int UsersPerRound = 200;
    private const int ItemsPerMail = 50;
    private long _mailed;

    public long Mailed => Interlocked.Read(ref _mailed);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!mailer.Enabled) return;
        var every = TimeSpan.FromSeconds(Math.Max(0.2, options.Value.DigestCheckSeconds));
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RunOnceAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex) { log.LogWarning(ex, "The email digest round failed; it is tried again"); }
            try { await Task.Delay(every, time, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One round: mails what is due; the number of mails sent.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var cutoff = now - TimeSpan.FromMinutes(Math.Max(0, options.Value.DigestDelayMinutes));
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var due = await db.PendingNotifications.AsNoTracking().Where(n => n.CreatedAt <= cutoff)
            .Select(n => n.UserId).Distinct().Take(UsersPerRound).ToListAsync(ct);
        var mails = new List<(MimeMessage Mail, List<long> Rows)>();
        var done = new List<long>();
        foreach (var userId in due)
        {
            // Once the oldest is due, everything waiting for the user goes into this one mail (one mail per round).
            var rows = await db.PendingNotifications.AsNoTracking().Where(n => n.UserId == userId)
                .OrderBy(n => n.MessageId).ToListAsync(ct);
            var s = await settings.GetAsync(userId, ct);
            var profile = await db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.UserId == userId, ct);
            var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == userId, ct);
            // Only to a confirmed address: nobody can have digests sent to an address they merely typed.
            if (user is null || user.BannedAt is not null || !s.Preference.EmailDigest || profile?.Email is null || !profile.EmailVerified)
            {
                done.AddRange(rows.Select(r => r.Id));
                continue;
            }
            if (NotificationSettings.IsQuiet(s.Preference, profile.TimeZone, now)) continue;

            var roomIds = rows.Select(r => r.RoomId).Distinct().ToList();
            var readUpTo = await db.RoomMembers.AsNoTracking().Where(m => m.UserId == userId && roomIds.Contains(m.RoomId))
                .ToDictionaryAsync(m => m.RoomId, m => m.LastReadMessageId, ct);
            var unread = rows.Where(r => r.MessageId > readUpTo.GetValueOrDefault(r.RoomId, long.MaxValue)).ToList();
            if (unread.Count == 0)
            {
                done.AddRange(rows.Select(r => r.Id));
                continue;
            }
            var messages = (await history.GetMessagesAsync(unread.Select(u => u.MessageId).Take(ItemsPerMail).ToList(), ct))
                .Where(m => !m.IsDeleted).ToList();
            if (messages.Count == 0)
            {
                done.AddRange(rows.Select(r => r.Id));
                continue;
            }
            var kinds = unread.ToDictionary(u => u.MessageId, u => u.Kind);
            var rooms = new Dictionary<long, RoomInfo>();
            foreach (var id in messages.Select(m => m.RoomId).Distinct())
                if (await chatRooms.GetAsync(id, ct) is { } r) rooms[id] = r;
            mails.Add((Compose(user, profile.Email, messages, kinds, rooms), rows.Select(r => r.Id).ToList()));
        }
        if (done.Count > 0) await db.PendingNotifications.Where(n => done.Contains(n.Id)).ExecuteDeleteAsync(ct);
        if (mails.Count == 0) return 0;
        await mailer.SendAsync(mails.Select(m => m.Mail).ToList(), ct);
        var sent = mails.SelectMany(m => m.Rows).ToList();
        await db.PendingNotifications.Where(n => sent.Contains(n.Id)).ExecuteDeleteAsync(ct);
        Interlocked.Add(ref _mailed, mails.Count);
        return mails.Count;
    }

    private MimeMessage Compose(ChatUser user, string email, IReadOnlyList<ChatMessage> messages, IReadOnlyDictionary<long, NotificationKind> kinds,
        IReadOnlyDictionary<long, RoomInfo> rooms)
    {
        var previous = CultureInfo.CurrentUICulture;
        CultureInfo.CurrentUICulture = NotificationDispatcher.CultureFor(user.Locale);
        try
        {
            var unsubscribe = links.Absolute("/email/unsubscribe?t=" + Uri.EscapeDataString(links.UnsubscribeToken(user.Id)));
            var oneClick = links.Absolute("/email/unsubscribe/one-click?t=" + Uri.EscapeDataString(links.UnsubscribeToken(user.Id)));
            var mail = new MimeMessage();
            mail.From.Add(mailer.From);
            mail.To.Add(new MailboxAddress(user.Name, email));
            mail.Subject = text["ChatPortal: {0} message(s) you have not read", messages.Count].Value;
            // RFC 8058: mail clients may offer a one-click unsubscribe.
            mail.Headers.Add("List-Unsubscribe", $"<{oneClick}>");
            mail.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");

            var plain = new StringBuilder();
            var html = new StringBuilder();
            var h = HtmlEncoder.Default;
            plain.AppendLine(text["Hello {0}, these messages are waiting for you:", user.Name].Value).AppendLine();
            html.Append("<p>").Append(h.Encode(text["Hello {0}, these messages are waiting for you:", user.Name].Value)).Append("</p><ul>");
            foreach (var m in messages)
            {
                var room = rooms.GetValueOrDefault(m.RoomId);
                var from = profiles.Get(m.Sender.Id)?.DisplayName ?? m.Sender.Name;
                var where = room is null ? "" : room.IsDirect ? text["direct message"].Value : "#" + room.Name;
                var why = kinds.GetValueOrDefault(m.Id) == NotificationKind.Mention ? text["mentioned you"].Value : "";
                var body = m.Text.Length == 0 ? text["(an image)"].Value : m.Text.Length > 300 ? m.Text[..300] + "…" : m.Text;
                var link = room is null ? links.Absolute("/")
                    : room.IsDirect ? links.Absolute($"/dm/{Uri.EscapeDataString(m.Sender.Name)}")
                    : links.Absolute($"/rooms/{room.Slug}?msg={m.Id}");
                plain.AppendLine($"[{where}] {from}{(why.Length > 0 ? " (" + why + ")" : "")}: {body}").AppendLine("  " + link);
                html.Append("<li><strong>").Append(h.Encode(from)).Append("</strong> · ").Append(h.Encode(where));
                if (why.Length > 0) html.Append(" · ").Append(h.Encode(why));
                html.Append("<br>").Append(h.Encode(body)).Append("<br><a href=\"").Append(h.Encode(link)).Append("\">")
                    .Append(h.Encode(text["Open"].Value)).Append("</a></li>");
            }
            html.Append("</ul>");
            var footer = text["You get this mail because you were away. Stop these mails:"].Value;
            plain.AppendLine().AppendLine(footer).AppendLine(unsubscribe);
            html.Append("<p style=\"color:#666\">").Append(h.Encode(footer)).Append(" <a href=\"").Append(h.Encode(unsubscribe)).Append("\">")
                .Append(h.Encode(text["Unsubscribe"].Value)).Append("</a></p>");
            mail.Body = new BodyBuilder { TextBody = plain.ToString(), HtmlBody = html.ToString() }.ToMessageBody();
            return mail;
        }
        finally
        {
            CultureInfo.CurrentUICulture = previous;
        }
    }
}
