using System.Globalization;
using System.Threading.Channels;
using ChatPortal.Data;
using ChatPortal.Email;
using ChatPortal.Profiles;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Notifications;

/// <summary>Marker for push and email texts (<c>NotificationText.resx</c>, <c>NotificationText.zh-CN.resx</c>).</summary>
public sealed class NotificationText;

/// <summary>
/// The writer's hook: each stored post is queued (never waited on; a full queue drops the oldest)
/// for <see cref="NotificationDispatcher"/>, off the hot path.
/// </summary>
public sealed class NotificationInbox(IOptions<NotificationOptions> options) : IStoredEventObserver
{
    private readonly Channel<ChatMessage> _queue = Channel.CreateBounded<ChatMessage>(
        new BoundedChannelOptions(Math.Max(16, options.Value.QueueCapacity)) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    internal ChannelReader<ChatMessage> Reader => _queue.Reader;

    public void OnStored(ChatEvent evt)
    {
        if (evt is MessagePosted { Message: { Sender.IsBot: false, IsDeleted: false } m }) _queue.Writer.TryWrite(m);
    }

    internal void Complete() => _queue.Writer.TryComplete();
}

/// <summary>One person to tell about one message, and why.</summary>
public sealed record NotificationTarget(long UserId, string Name, string? Locale, NotificationKind Kind);

/// <summary>
/// Decides who hears about a stored message and how: the other person of a direct conversation,
/// the members a message @mentions, and members whose level for the room is "all"; each as their
/// settings say (level per room, quiet hours, push on/off, digest on/off). A push goes out only when
/// the user has no open tab or socket anywhere (this node's presence and, in a cluster, the other
/// nodes'); the email digest gets a row whenever an address is known, and mails it only if the
/// message is still unread after the digest delay.
/// </summary>
public sealed class NotificationDispatcher(NotificationInbox inbox, IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms,
    PresenceTracker presence, NotificationSettings settings, PushSender push, Mailer mailer, ProfileDirectory profiles,
    IStringLocalizer<NotificationText> text, TimeProvider time, ILogger<NotificationDispatcher> log, IRemotePresence? remote = null)
    : BackgroundService
{
    private long _pushes;
    private long _handled;

    /// <summary>Messages looked at (tests wait on it instead of sleeping).</summary>
    public long Handled => Interlocked.Read(ref _handled);
    public long Pushes => Interlocked.Read(ref _pushes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = inbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (reader.TryRead(out var m))
                {
                    try { await HandleAsync(m, stoppingToken); }
                    catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                    catch (Exception ex) { log.LogError(ex, "Notifications for message {Id} failed", m.Id); }
                    finally { Interlocked.Increment(ref _handled); }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        inbox.Complete();
        await base.StopAsync(cancellationToken);
    }

    internal async Task HandleAsync(ChatMessage m, CancellationToken ct)
    {
        var room = await rooms.GetAsync(m.RoomId, ct);
        if (room is null || room.IsArchived) return;
        var targets = await TargetsAsync(room, m, ct);
        if (targets.Count == 0) return;
        var online = OnlineUserIds();
        var now = time.GetUtcNow();
        foreach (var t in targets)
        {
            var s = await settings.GetAsync(t.UserId, ct);
            var level = room.IsDirect ? s.Preference.Level : s.LevelFor(room.Id);
            if (level == NotifyLevel.None) continue;
            if (t.Kind == NotificationKind.Message && level != NotifyLevel.All) continue;

            if (s.Preference.EmailDigest && mailer.Enabled) await RememberForDigestAsync(t, m, now, ct);

            if (!s.Preference.Push || online.Contains(t.UserId)) continue;
            if (NotificationSettings.IsQuiet(s.Preference, profiles.Get(t.UserId)?.TimeZone, now)) continue;
            var payload = Payload(t, room, m);
            if (await push.SendAsync(t.UserId, payload, ct) > 0) Interlocked.Increment(ref _pushes);
        }
    }

    private HashSet<long> OnlineUserIds()
    {
        var ids = new HashSet<long>(presence.OnlineUserIds());
        if (remote is not null) ids.UnionWith(remote.OnlineUserIds());
        return ids;
    }

    private async Task<List<NotificationTarget>> TargetsAsync(RoomInfo room, ChatMessage m, CancellationToken ct)
    {
        // Most posts concern nobody beyond those online: no @ and nobody here wants every message.
        // That answer comes from memory; the database is asked only about the few who may be told.
        var mentions = m.Text.Contains('@', StringComparison.Ordinal);
        var everything = room.IsDirect ? [] : (await settings.WantingEverythingAsync(room.Id, ct)).Where(id => id != m.Sender.Id).ToList();
        if (!room.IsDirect && !mentions && everything.Count == 0) return [];

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var members = from rm in db.RoomMembers
                      where rm.RoomId == room.Id && rm.UserId != m.Sender.Id
                      join u in db.Users on rm.UserId equals u.Id
                      where u.Kind == UserKind.Member && u.BannedAt == null
                      select new { u.Id, u.Name, u.Locale };
        if (room.IsDirect)
            return await members.Select(u => new NotificationTarget(u.Id, u.Name, u.Locale, NotificationKind.Direct)).ToListAsync(ct);

        var targets = new Dictionary<long, NotificationTarget>();
        if (mentions)
        {
            // Names may contain spaces and any script: compare each member's full name with the text.
            await foreach (var u in members.AsAsyncEnumerable().WithCancellation(ct))
                if (Mentions.IsMentioned(m.Text, u.Name)) targets[u.Id] = new(u.Id, u.Name, u.Locale, NotificationKind.Mention);
        }
        // Members who asked for every message of this room (or of every room, without an override).
        if (everything.Count > 0)
            foreach (var u in await members.Where(u => everything.Contains(u.Id)).ToListAsync(ct))
                targets.TryAdd(u.Id, new(u.Id, u.Name, u.Locale, NotificationKind.Message));
        return [.. targets.Values];
    }

    private async Task RememberForDigestAsync(NotificationTarget t, ChatMessage m, DateTimeOffset now, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.PendingNotifications.Add(new PendingNotification { UserId = t.UserId, RoomId = m.RoomId, MessageId = m.Id, Kind = t.Kind, CreatedAt = now });
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException) { } // already remembered (the same message seen twice)
    }

    private PushPayload Payload(NotificationTarget t, RoomInfo room, ChatMessage m)
    {
        var culture = CultureFor(t.Locale);
        var previous = CultureInfo.CurrentUICulture;
        CultureInfo.CurrentUICulture = culture;
        try
        {
            var from = profiles.Get(m.Sender.Id)?.DisplayName ?? m.Sender.Name;
            var title = t.Kind switch
            {
                NotificationKind.Direct => text["Message from {0}", from].Value,
                NotificationKind.Mention => text["{0} mentioned you in #{1}", from, room.Name].Value,
                _ => text["{0} in #{1}", from, room.Name].Value,
            };
            var body = m.Image is not null && m.Text.Length == 0 ? text["(an image)"].Value
                : m.Text.Length > 140 ? m.Text[..140] + "…" : m.Text;
            var url = room.IsDirect ? $"/dm/{Uri.EscapeDataString(m.Sender.Name)}" : $"/rooms/{room.Slug}?msg={m.Id}";
            return new PushPayload(title, body, url, $"room-{room.Id}");
        }
        finally
        {
            CultureInfo.CurrentUICulture = previous;
        }
    }

    internal static CultureInfo CultureFor(string? locale) =>
        locale is not null && locale.StartsWith("zh", StringComparison.OrdinalIgnoreCase) ? CultureInfo.GetCultureInfo("zh-CN") : CultureInfo.GetCultureInfo("en");
}
