using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatPortal.Chat.Conversations;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Governance;

/// <summary>What an import added (a second run of the same export adds nothing) and what it skipped.</summary>
/// <remarks><see cref="Reactions"/> counts reaction rows (one per user and emoji); <see cref="ReactionsSkipped"/> counts Slack
/// reactions (a name on a message) not stored: a name with no Unicode emoji in <see cref="SlackEmoji"/>, or one past the
/// distinct-emoji cap. Skipped ones stay in the import mapping (<c>Data.skipped_reactions</c>).</remarks>
public sealed record SlackImportResult(int UsersAdded, int RoomsAdded, int MessagesAdded, int ThreadReplies, int Reactions,
    int AlreadyThere, int Skipped, int ReactionsSkipped = 0)
{
    public override string ToString() =>
        $"{UsersAdded} users, {RoomsAdded} rooms, {MessagesAdded} messages ({ThreadReplies} thread replies, {Reactions} reactions) added; " +
        $"{AlreadyThere} messages were already imported; {Skipped} skipped (joins, leaves, empty); " +
        $"{ReactionsSkipped} reactions skipped (no Unicode emoji for the name, or over the cap)";
}

/// <summary>The export is not one we can read; nothing after the failing part was imported.</summary>
public sealed class SlackImportException(string message) : Exception(message);

/// <summary>
/// Imports a standard Slack export ZIP (<c>users.json</c>, <c>channels.json</c>, optionally
/// <c>groups.json</c> for private channels, and one folder per channel with a JSON file per day)
/// so a team can move in.
/// <list type="bullet">
/// <item>Users become chat users (kind Member) with no password: nobody can sign in as them until
/// an admin sets one (Chat users → Reset password). A Slack name that is taken here gets a
/// <c>-slack</c> suffix: an import never merges into an existing account.</item>
/// <item>Channels become rooms (public, or private for groups, with their members; archived stays archived).</item>
/// <item>Messages are stored in timestamp order with their original times, as posts of the mapped
/// user, with the client id <c>slack:CHANNEL:TS</c>. Slack markup (<c>&lt;@U1&gt;</c>, links,
/// entities) becomes plain text; files become "[file: name]" (their contents are not in the
/// export and are not fetched).</item>
/// <item>Thread replies become replies of the imported parent (<see cref="Message.ThreadId"/>), out of the
/// room's list unless Slack broadcast them (<c>thread_broadcast</c>/<c>reply_broadcast</c> → <see cref="Message.AlsoInRoom"/>);
/// the parent's author, the repliers and the members they mention follow the thread (as <see cref="Conversations.ChatThreads"/>
/// does for live replies), with the imported replies counted as read. A reply whose parent is not in the export stays in the room.</item>
/// <item>Reactions become rows of the <c>Reactions</c> table (the state history pages read), their Slack names mapped to
/// Unicode by <see cref="SlackEmoji"/>, validated by <see cref="Conversations.Emoji"/> and capped at
/// <see cref="Conversations.ChatReactions.MaxDistinctEmoji"/> distinct emoji a message; unknown names are skipped and counted.
/// No ReactionAdded event rows: those exist for live delivery and catch-up, and imported history is not live.</item>
/// <item>Idempotent: every user, channel and message is recorded in <c>ImportMappings</c>; a second
/// run finds them and adds nothing.</item>
/// </list>
/// The rows go straight into the database in batches (history, not live traffic: no fan-out,
/// no bots, no rate limit); search covers them at once through its unindexed-tail path.
/// </summary>
public sealed partial class SlackImport(IDbContextFactory<ChatDbContext> dbFactory, TimeProvider time, ILogger<SlackImport> log)
{
    public const string Source = "slack";
    public const string AuditAction = "import.slack";
    private const long MaxJsonBytes = 64L * 1024 * 1024;
    private const int MaxEntries = 200_000;
    private const int Batch = 500;
    private static readonly HashSet<string> SkippedSubtypes =
        ["channel_join", "channel_leave", "group_join", "group_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
         "channel_unarchive", "group_topic", "group_purpose", "group_name", "group_archive", "group_unarchive", "pinned_item", "unpinned_item"];

    public async Task<SlackImportResult> ImportAsync(string zipPath, string by, long? adminId = null, string? remoteIp = null,
        CancellationToken ct = default)
    {
        ZipArchive zip;
        try
        {
            zip = await ZipFile.OpenReadAsync(zipPath, ct);
        }
        catch (InvalidDataException)
        {
            throw new SlackImportException("The file is not a ZIP archive.");
        }
        await using (zip)
        {
            if (zip.Entries.Count > MaxEntries) throw new SlackImportException($"The archive has more than {MaxEntries} files.");
            var users = await ReadArrayAsync(zip, "users.json", required: true, ct);
            var channels = (await ReadArrayAsync(zip, "channels.json", required: true, ct)).Select(c => (c, false))
                .Concat((await ReadArrayAsync(zip, "groups.json", required: false, ct)).Select(c => (c, true))).ToList();

            var counts = new Counts();
            var userMap = await ImportUsersAsync(users, counts, ct);
            foreach (var (channel, isPrivate) in channels)
            {
                var id = Str(channel, "id");
                var name = Str(channel, "name");
                if (id is null || name is null) throw new SlackImportException("A channel in channels.json has no id or name.");
                var roomId = await ImportChannelAsync(channel, id, name, isPrivate, userMap, counts, ct);
                await ImportMessagesAsync(zip, id, name, roomId, userMap, counts, ct);
            }
            var result = new SlackImportResult(counts.Users, counts.Rooms, counts.Messages, counts.Replies, counts.Reactions, counts.Existing,
                counts.Skipped, counts.ReactionsSkipped);
            await using (var db = await dbFactory.CreateDbContextAsync(ct))
            {
                db.AuditLog.Add(new AuditEntry
                {
                    At = time.GetUtcNow(),
                    AdminId = adminId,
                    AdminName = by.Length > 64 ? by[..64] : by,
                    Action = AuditAction,
                    Target = Path.GetFileName(zipPath) is { Length: <= 200 } f ? f : "slack export",
                    Detail = result.ToString(),
                    RemoteIp = remoteIp,
                });
                await db.SaveChangesAsync(ct);
            }
            log.LogInformation("Slack import by {By}: {Result}", by, result);
            return result;
        }
    }

    private sealed class Counts
    {
        public int Users, Rooms, Messages, Replies, Reactions, Existing, Skipped, ReactionsSkipped;
    }

    private async Task<Dictionary<string, long>> ImportUsersAsync(List<JsonObject> users, Counts counts, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var map = await db.ImportMappings.AsNoTracking().Where(m => m.Source == Source && m.Kind == "user")
            .ToDictionaryAsync(m => m.ExternalId, m => m.LocalId, ct);
        foreach (var u in users)
        {
            var id = Str(u, "id");
            if (id is null || map.ContainsKey(id)) continue;
            var display = Str(u["profile"] as JsonObject, "display_name") is { Length: > 0 } d ? d : Str(u, "name") ?? id;
            var local = await AddUserAsync(db, display, Bool(u, "is_bot") ? UserKind.Bot : UserKind.Member, ct);
            db.ImportMappings.Add(Mapping("user", id, local, null));
            await db.SaveChangesAsync(ct);
            map[id] = local;
            counts.Users++;
        }
        return map;
    }

    /// <summary>A new user row with a free name derived from <paramref name="wanted"/> (never an existing account).</summary>
    private async Task<long> AddUserAsync(ChatDbContext db, string wanted, UserKind kind, CancellationToken ct)
    {
        var baseName = CleanName(wanted);
        for (var n = 0; ; n++)
        {
            var name = n == 0 ? baseName : Fit(baseName, n == 1 ? "-slack" : $"-slack{n}");
            var normalized = UserNames.Normalize(name);
            if (await db.Users.AnyAsync(x => x.NormalizedName == normalized, ct)) continue;
            var user = new ChatUser
            {
                Name = name,
                NormalizedName = normalized,
                Kind = kind,
                CreatedAt = time.GetUtcNow(),
                SecurityStamp = Auth.ChatAccounts.NewStamp(),
            };
            db.Users.Add(user);
            await db.SaveChangesAsync(ct);
            return user.Id;
        }
    }

    private static string CleanName(string s)
    {
        var kept = string.Concat(s.Trim().EnumerateRunes().Where(r => Rune.IsLetterOrDigit(r) || r.Value is '_' or '-' or '.' or ' ')
            .Select(r => r.ToString()));
        kept = MultipleSpaces().Replace(kept, " ").Trim();
        if (kept.Length < UserNames.MinLength) kept = "slack-" + kept;
        return kept.Length > UserNames.MaxLength ? kept[..UserNames.MaxLength].Trim() : kept;
    }

    private static string Fit(string name, string suffix) =>
        (name.Length + suffix.Length > UserNames.MaxLength ? name[..(UserNames.MaxLength - suffix.Length)] : name) + suffix;

    private async Task<long> ImportChannelAsync(JsonObject channel, string id, string name, bool isPrivate, Dictionary<string, long> users,
        Counts counts, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var known = await db.ImportMappings.AsNoTracking().FirstOrDefaultAsync(m => m.Source == Source && m.Kind == "channel" && m.ExternalId == id, ct);
        if (known is not null) return known.LocalId;
        var slugBase = SlugChars().Replace(name.ToLowerInvariant(), "-").Trim('-');
        if (slugBase.Length < 2) slugBase = "slack-" + slugBase;
        if (slugBase.StartsWith("dm-", StringComparison.Ordinal)) slugBase = "slack-" + slugBase;
        slugBase = slugBase.Length > 70 ? slugBase[..70] : slugBase;
        var slug = slugBase;
        for (var n = 1; await db.Rooms.AnyAsync(r => r.Slug == slug, ct); n++) slug = n == 1 ? $"{slugBase}-slack" : $"{slugBase}-slack{n}";
        var topic = Str(channel["topic"] as JsonObject, "value") is { Length: > 0 } t ? t : Str(channel["purpose"] as JsonObject, "value");
        var room = new Room
        {
            Slug = slug,
            Name = name.Length > 80 ? name[..80] : name,
            Topic = topic is { Length: > 500 } ? topic[..500] : string.IsNullOrEmpty(topic) ? null : topic,
            IsPrivate = isPrivate,
            IsArchived = Bool(channel, "is_archived"),
            InviteCode = ChatRooms.NewInviteCode(),
            CreatedAt = Long(channel, "created") is { } created ? DateTimeOffset.FromUnixTimeSeconds(created) : time.GetUtcNow(),
        };
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Rooms.Add(room);
        await db.SaveChangesAsync(ct);
        if (channel["members"] is JsonArray members)
        {
            foreach (var m in members.Select(x => x?.GetValue<string>()).Where(x => x is not null).Distinct())
                if (users.TryGetValue(m!, out var uid))
                    db.RoomMembers.Add(new RoomMember { RoomId = room.Id, UserId = uid, JoinedAt = room.CreatedAt });
        }
        db.ImportMappings.Add(Mapping("channel", id, room.Id, null));
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        counts.Rooms++;
        return room.Id;
    }

    private sealed record SlackMessage(string Ts, JsonObject Json);

    /// <summary>A message waiting for its batch: the row, its mapping data, its Slack parent and its reactions (emoji, our user).</summary>
    private sealed record Pending(SlackMessage Slack, Message Row, JsonObject? Data, string? ParentTs, List<(string Emoji, long UserId)> Reactions);

    /// <summary>Per channel: the room's members by name (for mentions) and which followers this import added.</summary>
    private sealed class ThreadContext
    {
        public required List<(long Id, string Name)> MemberNames { get; init; }
        public HashSet<(long Thread, long User)> Added { get; } = [];
    }

    private async Task ImportMessagesAsync(ZipArchive zip, string channelId, string channelName, long roomId, Dictionary<string, long> users,
        Counts counts, CancellationToken ct)
    {
        // One file per day: "<channel>/YYYY-MM-DD.json". Days sort by name; messages by ts within (ts order overall).
        var days = zip.Entries.Where(e => e.FullName.StartsWith(channelName + "/", StringComparison.Ordinal) && e.FullName.EndsWith(".json", StringComparison.Ordinal))
            .OrderBy(e => e.FullName, StringComparer.Ordinal).ToList();
        var all = new List<SlackMessage>();
        foreach (var day in days)
            foreach (var m in await ReadArrayAsync(day, ct))
                if (Str(m, "ts") is { } ts) all.Add(new SlackMessage(ts, m));
        all.Sort((a, b) => CompareTs(a.Ts, b.Ts));

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var known = await db.ImportMappings.AsNoTracking()
            .Where(m => m.Source == Source && m.Kind == "message" && m.ExternalId.StartsWith(channelId + ":"))
            .ToDictionaryAsync(m => m.ExternalId, m => m.LocalId, ct);
        var ids = users.Values.Distinct().ToList();
        var names = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Name, ct);
        var userNames = users.ToDictionary(kv => kv.Key, kv => names.GetValueOrDefault(kv.Value, kv.Key));

        // Mentions in replies are of the room's members (people), as for live replies.
        var memberNames = await (from rm in db.RoomMembers.AsNoTracking()
                                 where rm.RoomId == roomId
                                 join u in db.Users.AsNoTracking() on rm.UserId equals u.Id
                                 where u.Kind == UserKind.Member
                                 select new { u.Id, u.Name }).ToListAsync(ct);
        var threads = new ThreadContext { MemberNames = memberNames.Select(u => (u.Id, u.Name)).ToList() };
        var pending = new List<Pending>();
        foreach (var s in all)
        {
            var key = $"{channelId}:{s.Ts}";
            if (known.ContainsKey(key)) { counts.Existing++; continue; }
            var m = s.Json;
            if (Str(m, "subtype") is { } subtype && SkippedSubtypes.Contains(subtype)) { counts.Skipped++; continue; }
            var text = Plain(Str(m, "text") ?? "", userNames);
            if (m["files"] is JsonArray files)
                foreach (var f in files.OfType<JsonObject>())
                    text = (text.Length > 0 ? text + "\n" : "") + $"[file: {Str(f, "name") ?? Str(f, "title") ?? "?"}]";
            text = ChatCommands.CleanText(text);
            if (text.Length == 0) { counts.Skipped++; continue; }
            if (text.Length > 4000) text = text[..4000];
            var sender = await SenderAsync(db, m, users, counts, ct);
            var data = new JsonObject();
            var parentTs = Str(m, "thread_ts") is { } pts && pts != s.Ts ? pts : null;
            if (parentTs is not null) data["thread_ts"] = parentTs;
            var reactions = Reactions(m, users, data, counts);
            var row = new Message
            {
                RoomId = roomId,
                SenderId = sender,
                Kind = MessageKind.Text,
                Text = text,
                ClientMsgId = Clip($"slack:{channelId}:{s.Ts}", 64),
                CreatedAt = TsToTime(s.Ts),
                EditedAt = m["edited"] is JsonObject e && Str(e, "ts") is { } ets ? TsToTime(ets) : null,
                AlsoInRoom = parentTs is not null && Str(m, "subtype") is "thread_broadcast" or "reply_broadcast",
            };
            pending.Add(new Pending(s, row, data.Count > 0 ? data : null, parentTs, reactions));
            if (pending.Count >= Batch)
            {
                await SaveBatchAsync(db, channelId, roomId, pending, known, threads, counts, ct);
                pending.Clear();
            }
        }
        if (pending.Count > 0) await SaveBatchAsync(db, channelId, roomId, pending, known, threads, counts, ct);
    }

    /// <summary>
    /// A message's Slack reactions as (emoji, our user) pairs, by the reaction rules: one emoji each (mapped from the
    /// Slack name), at most <see cref="ChatReactions.MaxDistinctEmoji"/> distinct ones, one row per user and emoji.
    /// Names we cannot map, and reactions past the cap, are skipped, counted and kept in the mapping data.
    /// </summary>
    private static List<(string Emoji, long UserId)> Reactions(JsonObject m, Dictionary<string, long> users, JsonObject data, Counts counts)
    {
        var result = new List<(string, long)>();
        if (m["reactions"] is not JsonArray reactions) return result;
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<(string, long)>();
        var skipped = new JsonArray();
        foreach (var r in reactions.OfType<JsonObject>())
        {
            var name = Str(r, "name");
            var emoji = SlackEmoji.Map(name);
            if (emoji is null || !Conversations.Emoji.IsEmoji(emoji)
                || (!distinct.Contains(emoji) && distinct.Count >= ChatReactions.MaxDistinctEmoji))
            {
                counts.ReactionsSkipped++;
                skipped.Add(new JsonObject { ["name"] = name, ["users"] = r["users"]?.DeepClone() });
                continue;
            }
            distinct.Add(emoji);
            if (r["users"] is not JsonArray by) continue;
            foreach (var u in by.Select(x => x is JsonValue v && v.TryGetValue<string>(out var id) ? id : null))
                if (u is not null && users.TryGetValue(u, out var local) && seen.Add((emoji, local)))
                    result.Add((emoji, local));
        }
        if (skipped.Count > 0) data["skipped_reactions"] = skipped;
        return result;
    }

    /// <summary>
    /// One transaction: the rows, then (ids known) their thread parents, thread followers, reactions and mappings.
    /// A Slack parent is always older than its replies, so it is in this batch or already imported.
    /// </summary>
    private async Task SaveBatchAsync(ChatDbContext db, string channelId, long roomId, List<Pending> batch, Dictionary<string, long> known,
        ThreadContext threads, Counts counts, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Messages.AddRange(batch.Select(b => b.Row));
        await db.SaveChangesAsync(ct);
        var byTs = batch.ToDictionary(b => b.Slack.Ts, b => b.Row);
        foreach (var b in batch) known[$"{channelId}:{b.Slack.Ts}"] = b.Row.Id;

        var replies = new List<Pending>();
        foreach (var b in batch.Where(b => b.ParentTs is not null))
        {
            var parent = known.GetValueOrDefault($"{channelId}:{b.ParentTs}");
            if (parent == 0 || byTs.GetValueOrDefault(b.ParentTs!) is { ThreadId: not null })
            {
                b.Row.AlsoInRoom = false; // no parent here (not exported, or skipped): an ordinary message of the room
                continue;
            }
            b.Row.ThreadId = parent;
            b.Data!["thread_parent"] = parent;
            replies.Add(b);
        }
        if (replies.Count > 0) await AddFollowersAsync(db, roomId, replies, threads, ct);

        foreach (var b in batch)
        {
            // Slack has no reaction times: the message's time, in Slack's order (emoji and users show in that order).
            var order = 0;
            foreach (var (emoji, userId) in b.Reactions)
                db.Reactions.Add(new Reaction { MessageId = b.Row.Id, UserId = userId, Emoji = emoji, RoomId = roomId, CreatedAt = b.Row.CreatedAt.AddMilliseconds(order++) });
            db.ImportMappings.Add(Mapping("message", $"{channelId}:{b.Slack.Ts}", b.Row.Id, b.Data?.ToJsonString()));
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        counts.Messages += batch.Count;
        counts.Replies += replies.Count;
        counts.Reactions += batch.Sum(b => b.Reactions.Count);
    }

    /// <summary>
    /// The followers live replies get (<see cref="ChatThreads"/>): the parent's author, the repliers and the room members
    /// they mention, people only. Imported replies are history: each follower this import added has read the thread up
    /// to its last imported reply, so old Slack threads do not fill the Threads view with unread replies.
    /// </summary>
    private async Task AddFollowersAsync(ChatDbContext db, long roomId, List<Pending> replies, ThreadContext threads, CancellationToken ct)
    {
        var threadIds = replies.Select(r => r.Row.ThreadId!.Value).Distinct().ToList();
        var rootSenders = await db.Messages.AsNoTracking().Where(m => threadIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, m => m.SenderId, ct);
        var existing = await db.ThreadFollowers.Where(f => threadIds.Contains(f.ThreadId)).ToListAsync(ct);
        foreach (var thread in replies.GroupBy(r => r.Row.ThreadId!.Value))
        {
            var last = thread.Max(r => r.Row.Id);
            var wanted = new HashSet<long>();
            if (rootSenders.TryGetValue(thread.Key, out var root)) wanted.Add(root);
            foreach (var r in thread)
            {
                wanted.Add(r.Row.SenderId);
                if (r.Row.Text.Contains('@', StringComparison.Ordinal))
                    foreach (var (id, name) in threads.MemberNames.Where(u => Mentions.IsMentioned(r.Row.Text, u.Name))) wanted.Add(id);
            }
            var candidates = wanted.ToList();
            var people = await db.Users.AsNoTracking().Where(u => candidates.Contains(u.Id) && u.Kind == UserKind.Member).Select(u => u.Id).ToListAsync(ct);
            var followers = existing.Where(f => f.ThreadId == thread.Key).ToDictionary(f => f.UserId);
            foreach (var f in followers.Values.Where(f => threads.Added.Contains((thread.Key, f.UserId)) && f.LastReadId < last)) f.LastReadId = last;
            foreach (var userId in people.Where(u => !followers.ContainsKey(u)))
            {
                db.ThreadFollowers.Add(new ThreadFollower { ThreadId = thread.Key, UserId = userId, RoomId = roomId, LastReadId = last, FollowedAt = time.GetUtcNow() });
                threads.Added.Add((thread.Key, userId));
            }
        }
    }

    /// <summary>The mapped user; a bot or integration message without one gets a bot user of its own (mapped by bot id or name).</summary>
    private async Task<long> SenderAsync(ChatDbContext db, JsonObject m, Dictionary<string, long> users, Counts counts, CancellationToken ct)
    {
        if (Str(m, "user") is { } u && users.TryGetValue(u, out var id)) return id;
        var external = Str(m, "bot_id") ?? Str(m, "user") ?? Str(m, "username") ?? "unknown";
        if (users.TryGetValue(external, out id)) return id;
        var name = Str(m, "username") ?? Str(m["bot_profile"] as JsonObject, "name") ?? external;
        id = await AddUserAsync(db, name, Str(m, "user") is null ? UserKind.Bot : UserKind.Member, ct);
        db.ImportMappings.Add(Mapping("user", external, id, null));
        await db.SaveChangesAsync(ct);
        users[external] = id;
        counts.Users++;
        return id;
    }

    private ImportMapping Mapping(string kind, string external, long local, string? data) => new()
    {
        Source = Source,
        Kind = kind,
        ExternalId = Clip(external, 200),
        LocalId = local,
        Data = data,
        ImportedAt = time.GetUtcNow(),
    };

    /// <summary>Slack's markup as plain text: mentions by name, links with their label, HTML entities decoded.</summary>
    internal static string Plain(string text, IReadOnlyDictionary<string, string> userNames)
    {
        var s = SlackLink().Replace(text, match =>
        {
            var inner = match.Groups[1].Value;
            var bar = inner.IndexOf('|', StringComparison.Ordinal);
            var target = bar < 0 ? inner : inner[..bar];
            var label = bar < 0 ? null : inner[(bar + 1)..];
            if (target.StartsWith('@')) return "@" + (userNames.TryGetValue(target[1..], out var n) ? n : label ?? target[1..]);
            if (target.StartsWith('#')) return "#" + (label ?? target[1..]);
            if (target.StartsWith('!')) return "@" + (label ?? target[1..].Split('^')[0]);
            return label is null || label == target ? target : $"{label} ({target})";
        });
        return WebUtility.HtmlDecode(s);
    }

    private static int CompareTs(string a, string b) =>
        decimal.TryParse(a, NumberStyles.Number, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, NumberStyles.Number, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y) : string.CompareOrdinal(a, b);

    internal static DateTimeOffset TsToTime(string ts) =>
        decimal.TryParse(ts, NumberStyles.Number, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : throw new SlackImportException($"The timestamp \"{Clip(ts, 40)}\" is not a Slack ts.");

    private static async Task<List<JsonObject>> ReadArrayAsync(ZipArchive zip, string name, bool required, CancellationToken ct)
    {
        var entry = zip.GetEntry(name);
        if (entry is null)
            return required ? throw new SlackImportException($"The archive has no {name}: is it a Slack export?") : [];
        return await ReadArrayAsync(entry, ct);
    }

    private static async Task<List<JsonObject>> ReadArrayAsync(ZipArchiveEntry entry, CancellationToken ct)
    {
        if (entry.Length > MaxJsonBytes) throw new SlackImportException($"{entry.FullName} is larger than {MaxJsonBytes / 1024 / 1024} MB.");
        try
        {
            await using var s = await entry.OpenAsync(ct);
            var node = await JsonNode.ParseAsync(s, cancellationToken: ct);
            return node is JsonArray a ? a.OfType<JsonObject>().ToList() : throw new SlackImportException($"{entry.FullName} is not a JSON array.");
        }
        catch (JsonException ex)
        {
            throw new SlackImportException($"{entry.FullName} is not valid JSON: {ex.Message}");
        }
        catch (InvalidDataException ex)
        {
            throw new SlackImportException($"{entry.FullName} could not be read from the archive: {ex.Message}");
        }
    }

    private static string? Str(JsonObject? o, string name) =>
        o?[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool Bool(JsonObject? o, string name) => o?[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static long? Long(JsonObject? o, string name) =>
        o?[name] is JsonValue v ? v.TryGetValue<long>(out var l) ? l : v.TryGetValue<double>(out var d) ? (long)d : null : null;

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];

    [GeneratedRegex("<([^<>]+)>")]
    private static partial Regex SlackLink();

    [GeneratedRegex("[^a-z0-9-]+")]
    private static partial Regex SlugChars();

    [GeneratedRegex(" {2,}")]
    private static partial Regex MultipleSpaces();
}
