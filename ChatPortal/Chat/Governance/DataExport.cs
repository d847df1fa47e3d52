using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat.Governance;

/// <summary>
/// Exports as ZIP files written straight to a stream (the HTTP response): a room for an admin
/// (<c>room.json</c>, a readable <c>room.html</c>, <c>images/</c>) and a user's own data
/// (<c>account.json</c>, <c>messages.json</c>, <c>messages.html</c>, <c>images/</c>). Messages are
/// read in pages by id and written as they come, through <see cref="Utf8JsonWriter"/> and a
/// <see cref="StreamWriter"/> on the entry's stream, so the export is never held in memory
/// whole, whatever the room's size. Every piece of user text in the HTML is encoded.
/// </summary>
public sealed class DataExport(IDbContextFactory<ChatDbContext> dbFactory, MessagePurge files, TimeProvider time)
{
    private const int Page = 1000;
    private static readonly HtmlEncoder Html = HtmlEncoder.Create(UnicodeRanges.All);
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The room's file name for downloads (slug only: safe in a header).</summary>
    public static string RoomFileName(RoomInfo room) => $"room-{room.Slug}-{DateTime.UtcNow:yyyyMMdd}.zip";

    /// <summary>Writes the room's export to <paramref name="output"/>; false when there is no such room.</summary>
    public Task<bool> WriteRoomAsync(long roomId, Stream output, CancellationToken ct = default) =>
        WriteAsync(output, sink => WriteRoomCoreAsync(roomId, sink, ct), ct);

    /// <summary>Streams an export through an output that is only written asynchronously, then flushes it.</summary>
    private static async Task<bool> WriteAsync(Stream output, Func<Stream, Task<bool>> write, CancellationToken ct)
    {
        var sink = new AsyncOnlyOutput(output);
        var ok = await write(sink);
        await sink.FlushAsync(ct);
        return ok;
    }

    private async Task<bool> WriteRoomCoreAsync(long roomId, Stream output, CancellationToken ct)
    {
        Room? room;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Id == roomId, ct);
        if (room is null) return false;
        var names = new Dictionary<long, string>();
        var images = new HashSet<string>(StringComparer.Ordinal);
        await using var zip = await ZipArchive.CreateAsync(output, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: Encoding.UTF8, ct);

        await using (var json = await zip.CreateEntry("room.json", CompressionLevel.Fastest).OpenAsync(ct))
        await using (var w = new Utf8JsonWriter(json, JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("exportedAt", time.GetUtcNow());
            w.WritePropertyName("room");
            WriteRoom(w, room);
            w.WriteStartArray("messages");
            await foreach (var m in PostsAsync(q => q.Where(x => x.RoomId == roomId), ct))
            {
                WriteMessage(w, m, await NameAsync(names, m.SenderId, ct), null);
                if (m.ImageId is not null) images.Add(m.ImageId);
                if (w.BytesPending > 32 * 1024) await w.FlushAsync(ct);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }

        var imageTypes = await ImageTypesAsync(images, ct);
        await using (var html = await zip.CreateEntry("room.html", CompressionLevel.Fastest).OpenAsync(ct))
        await using (var w = new StreamWriter(html, new UTF8Encoding(false), 16 * 1024))
        {
            await HeadAsync(w, $"{room.Name} (/rooms/{room.Slug})", room.Topic);
            await foreach (var m in PostsAsync(q => q.Where(x => x.RoomId == roomId), ct))
                await WriteHtmlMessageAsync(w, m, await NameAsync(names, m.SenderId, ct), null, imageTypes);
            await w.WriteAsync("</ol></body></html>\n");
        }
        await WriteImagesAsync(zip, imageTypes, ct);
        return true;
    }

    /// <summary>Writes everything stored about one chat user and by them to <paramref name="output"/>; false when there is no such user.</summary>
    public Task<bool> WriteUserAsync(long userId, Stream output, CancellationToken ct = default) =>
        WriteAsync(output, sink => WriteUserCoreAsync(userId, sink, ct), ct);

    private async Task<bool> WriteUserCoreAsync(long userId, Stream output, CancellationToken ct)
    {
        ChatUser? user;
        List<(RoomMember Member, Room Room)> memberships;
        List<ApiToken> tokens;
        List<StoredImage> uploads;
        UserProfile? profile;
        List<ExternalLogin> links;
        NotificationPreference? notify;
        List<(string Room, NotifyLevel Level)> roomLevels;
        List<Reaction> reactions;
        List<SavedMessage> saved;
        List<ThreadFollower> follows;
        ReadReceiptOptOut? receiptsOff;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == userId, ct);
            if (user is null) return false;
            memberships = (await (from m in db.RoomMembers where m.UserId == userId join r in db.Rooms on m.RoomId equals r.Id select new { m, r })
                .AsNoTracking().ToListAsync(ct)).Select(x => (x.m, x.r)).ToList();
            tokens = await db.ApiTokens.AsNoTracking().Where(t => t.UserId == userId).OrderBy(t => t.Id).ToListAsync(ct);
            uploads = await db.Images.AsNoTracking().Where(i => i.UploaderId == userId).OrderBy(i => i.CreatedAt).ToListAsync(ct);
            profile = await db.Profiles.AsNoTracking().FirstOrDefaultAsync(p => p.UserId == userId, ct);
            links = await db.ExternalLogins.AsNoTracking().Where(l => l.LocalId == userId && !l.ForAdmin).OrderBy(l => l.Id).ToListAsync(ct);
            notify = await db.NotificationPreferences.AsNoTracking().FirstOrDefaultAsync(p => p.UserId == userId, ct);
            roomLevels = (await (from n in db.RoomNotificationSettings
                                 where n.UserId == userId
                                 join r in db.Rooms on n.RoomId equals r.Id
                                 select new { r.Slug, n.Level }).AsNoTracking().ToListAsync(ct)).Select(x => (x.Slug, x.Level)).ToList();
            // What issue 15 keeps about the person: their reactions, saved messages, followed threads, the receipts opt-out.
            reactions = await db.Reactions.AsNoTracking().Where(r => r.UserId == userId).OrderBy(r => r.MessageId).ThenBy(r => r.CreatedAt).ToListAsync(ct);
            saved = await db.SavedMessages.AsNoTracking().Where(x => x.UserId == userId).OrderBy(x => x.SavedAt).ToListAsync(ct);
            follows = await db.ThreadFollowers.AsNoTracking().Where(f => f.UserId == userId).OrderBy(f => f.ThreadId).ToListAsync(ct);
            receiptsOff = await db.ReadReceiptOptOuts.AsNoTracking().FirstOrDefaultAsync(o => o.UserId == userId, ct);
        }
        var rooms = new Dictionary<long, Room>();
        await using var zip = await ZipArchive.CreateAsync(output, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: Encoding.UTF8, ct);

        await using (var json = await zip.CreateEntry("account.json", CompressionLevel.Fastest).OpenAsync(ct))
        await using (var w = new Utf8JsonWriter(json, JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("exportedAt", time.GetUtcNow());
            w.WriteNumber("id", user.Id);
            w.WriteString("name", user.Name);
            w.WriteString("kind", user.Kind.ToString());
            w.WriteString("createdAt", user.CreatedAt);
            WriteTime(w, "lastSeenAt", user.LastSeenAt);
            w.WriteString("lastIp", user.LastIp);
            w.WriteString("locale", user.Locale);
            w.WriteString("theme", user.Theme);
            WriteTime(w, "mutedUntil", user.MutedUntil);
            WriteTime(w, "bannedAt", user.BannedAt);
            WriteIdentity(w, user, profile, links, notify, roomLevels);
            w.WriteStartArray("rooms");
            foreach (var (m, r) in memberships)
            {
                w.WriteStartObject();
                w.WriteString("slug", r.Slug);
                w.WriteString("name", r.Name);
                w.WriteBoolean("direct", r.IsDirect);
                w.WriteString("joinedAt", m.JoinedAt);
                w.WriteNumber("lastReadMessageId", m.LastReadMessageId);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("apiTokens"); // labels and dates only: the tokens themselves were never stored
            foreach (var t in tokens)
            {
                w.WriteStartObject();
                w.WriteString("label", t.Name);
                w.WriteString("createdAt", t.CreatedAt);
                WriteTime(w, "lastUsedAt", t.LastUsedAt);
                WriteTime(w, "revokedAt", t.RevokedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("reactions");
            foreach (var r in reactions)
            {
                w.WriteStartObject();
                w.WriteNumber("messageId", r.MessageId);
                w.WriteString("room", (await RoomAsync(rooms, r.RoomId, ct))?.Slug);
                w.WriteString("emoji", r.Emoji);
                w.WriteString("at", r.CreatedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("savedMessages");
            foreach (var x in saved)
            {
                w.WriteStartObject();
                w.WriteNumber("messageId", x.MessageId);
                w.WriteString("savedAt", x.SavedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("followedThreads");
            foreach (var f in follows)
            {
                w.WriteStartObject();
                w.WriteNumber("threadId", f.ThreadId);
                w.WriteString("room", (await RoomAsync(rooms, f.RoomId, ct))?.Slug);
                w.WriteString("followedAt", f.FollowedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("readReceiptsHidden", receiptsOff is not null);
            w.WriteStartArray("images");
            foreach (var i in uploads)
            {
                w.WriteStartObject();
                w.WriteString("file", ImagePath(i.Id, i.ContentType));
                w.WriteString("originalName", i.OriginalName);
                w.WriteString("contentType", i.ContentType);
                w.WriteString("uploadedAt", i.CreatedAt);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }

        await using (var json = await zip.CreateEntry("messages.json", CompressionLevel.Fastest).OpenAsync(ct))
        await using (var w = new Utf8JsonWriter(json, JsonOptions))
        {
            w.WriteStartArray();
            await foreach (var m in PostsAsync(q => q.Where(x => x.SenderId == userId), ct))
            {
                WriteMessage(w, m, user.Name, await RoomAsync(rooms, m.RoomId, ct));
                if (w.BytesPending > 32 * 1024) await w.FlushAsync(ct);
            }
            w.WriteEndArray();
        }

        var imageTypes = uploads.ToDictionary(i => i.Id, i => i.ContentType, StringComparer.Ordinal);
        await using (var html = await zip.CreateEntry("messages.html", CompressionLevel.Fastest).OpenAsync(ct))
        await using (var w = new StreamWriter(html, new UTF8Encoding(false), 16 * 1024))
        {
            await HeadAsync(w, $"{user.Name}: messages", null);
            await foreach (var m in PostsAsync(q => q.Where(x => x.SenderId == userId), ct))
                await WriteHtmlMessageAsync(w, m, user.Name, await RoomAsync(rooms, m.RoomId, ct), imageTypes);
            await w.WriteAsync("</ol></body></html>\n");
        }
        await WriteImagesAsync(zip, imageTypes, ct);
        return true;
    }

    /// <summary>Posts (text and image, as they are now) in id order, one page at a time.</summary>
    private async IAsyncEnumerable<Message> PostsAsync(Func<IQueryable<Message>, IQueryable<Message>> select,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var after = 0L;
        while (true)
        {
            List<Message> page;
            await using (var db = await dbFactory.CreateDbContextAsync(ct))
                page = await select(db.Messages.AsNoTracking())
                    .Where(m => m.Id > after && (m.Kind == MessageKind.Text || m.Kind == MessageKind.Image))
                    .OrderBy(m => m.Id).Take(Page).ToListAsync(ct);
            foreach (var m in page) yield return m;
            if (page.Count < Page) yield break;
            after = page[^1].Id;
        }
    }

    private async Task<string> NameAsync(Dictionary<long, string> names, long userId, CancellationToken ct)
    {
        if (names.TryGetValue(userId, out var n)) return n;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return names[userId] = await db.Users.Where(u => u.Id == userId).Select(u => u.Name).FirstOrDefaultAsync(ct) ?? $"#{userId}";
    }

    private async Task<Room?> RoomAsync(Dictionary<long, Room> rooms, long roomId, CancellationToken ct)
    {
        if (rooms.TryGetValue(roomId, out var r)) return r;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(x => x.Id == roomId, ct);
        if (room is not null) rooms[roomId] = room;
        return room;
    }

    private async Task<Dictionary<string, string>> ImageTypesAsync(HashSet<string> ids, CancellationToken ct)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in ids.Chunk(500))
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            foreach (var i in await db.Images.AsNoTracking().Where(i => chunk.Contains(i.Id)).Select(i => new { i.Id, i.ContentType }).ToListAsync(ct))
                types[i.Id] = i.ContentType;
        }
        return types;
    }

    private async Task WriteImagesAsync(ZipArchive zip, Dictionary<string, string> images, CancellationToken ct)
    {
        foreach (var (id, type) in images.OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(files.ImageFolder, id);
            if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower) || !File.Exists(path)) continue;
            // Images are compressed already.
            await using var entry = await zip.CreateEntry(ImagePath(id, type), CompressionLevel.NoCompression).OpenAsync(ct);
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 16 * 1024, useAsync: true);
            await file.CopyToAsync(entry, ct);
        }
    }

    public static string ImagePath(string id, string contentType) => "images/" + id + contentType switch
    {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        _ => "",
    };

    private static void WriteRoom(Utf8JsonWriter w, Room room)
    {
        w.WriteStartObject();
        w.WriteNumber("id", room.Id);
        w.WriteString("slug", room.Slug);
        w.WriteString("name", room.Name);
        w.WriteString("topic", room.Topic);
        w.WriteBoolean("private", room.IsPrivate);
        w.WriteBoolean("direct", room.IsDirect);
        w.WriteBoolean("archived", room.IsArchived);
        w.WriteString("createdAt", room.CreatedAt);
        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, Message m, string sender, Room? room)
    {
        w.WriteStartObject();
        w.WriteNumber("id", m.Id);
        if (room is not null)
        {
            w.WriteString("room", room.Slug);
            w.WriteString("roomName", room.Name);
        }
        w.WriteNumber("senderId", m.SenderId);
        w.WriteString("sender", sender);
        w.WriteString("kind", m.Kind == MessageKind.Image ? "image" : "text");
        w.WriteString("text", m.Text);
        w.WriteString("createdAt", m.CreatedAt);
        WriteTime(w, "editedAt", m.EditedAt);
        WriteTime(w, "deletedAt", m.DeletedAt);
        if (m.ClientMsgId is not null) w.WriteString("clientId", m.ClientMsgId);
        if (m.ImageId is not null) w.WriteString("image", m.ImageId);
        w.WriteEndObject();
    }

    /// <summary>What issue 17 keeps about the person: profile, mute reason, provider sign-in links, notification settings.</summary>
    private static void WriteIdentity(Utf8JsonWriter w, ChatUser user, UserProfile? profile, List<ExternalLogin> links,
        NotificationPreference? notify, List<(string Room, NotifyLevel Level)> roomLevels)
    {
        w.WriteString("muteReason", user.MuteReason);
        w.WriteStartObject("profile");
        w.WriteString("displayName", profile?.DisplayName);
        w.WriteString("status", profile?.StatusText);
        w.WriteString("timeZone", profile?.TimeZone);
        w.WriteString("email", profile?.Email);
        w.WriteBoolean("emailVerified", profile?.EmailVerified == true);
        w.WriteBoolean("hasPicture", profile?.AvatarId is not null);
        w.WriteEndObject();
        w.WriteStartArray("signInLinks");
        foreach (var l in links)
        {
            w.WriteStartObject();
            w.WriteString("issuer", l.Issuer);
            w.WriteString("subject", l.Subject);
            w.WriteString("createdAt", l.CreatedAt);
            WriteTime(w, "lastSignInAt", l.LastSignInAt);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        var n = notify ?? new NotificationPreference { UserId = user.Id };
        w.WriteStartObject("notifications");
        w.WriteString("level", n.Level.ToString());
        w.WriteString("quietFrom", n.QuietFromMinute is { } from ? $"{from / 60:00}:{from % 60:00}" : null);
        w.WriteString("quietTo", n.QuietToMinute is { } to ? $"{to / 60:00}:{to % 60:00}" : null);
        w.WriteBoolean("sound", n.Sound);
        w.WriteBoolean("push", n.Push);
        w.WriteBoolean("emailDigest", n.EmailDigest);
        w.WriteStartArray("rooms");
        foreach (var (room, level) in roomLevels)
        {
            w.WriteStartObject();
            w.WriteString("room", room);
            w.WriteString("level", level.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTime(Utf8JsonWriter w, string name, DateTimeOffset? t)
    {
        if (t is { } v) w.WriteString(name, v);
        else w.WriteNull(name);
    }

    private static async Task HeadAsync(StreamWriter w, string title, string? topic)
    {
        await w.WriteAsync($$"""
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>{{Html.Encode(title)}}</title>
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'">
            <style>body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}ol{list-style:none;padding:0}
            li{margin:.5rem 0}.who{font-weight:600}.at{color:#777;font-size:.85em;margin-left:.4rem}.text{white-space:pre-wrap}
            .deleted{color:#999;font-style:italic}img{max-width:24rem;display:block;margin-top:.3rem}</style></head>
            <body><h1>{{Html.Encode(title)}}</h1>
            """);
        if (topic is not null) await w.WriteAsync($"<p>{Html.Encode(topic)}</p>");
        await w.WriteAsync("\n<ol>\n");
    }

    private static async Task WriteHtmlMessageAsync(StreamWriter w, Message m, string sender, Room? room, Dictionary<string, string> images)
    {
        await w.WriteAsync($"<li id=\"m{m.Id}\"><span class=\"who\">{Html.Encode(sender)}</span>");
        if (room is not null) await w.WriteAsync($" <span class=\"at\">{Html.Encode(room.IsDirect ? "direct" : room.Name)}</span>");
        await w.WriteAsync($"<span class=\"at\">{m.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z{(m.EditedAt is null ? "" : " (edited)")}</span><br>");
        if (m.DeletedAt is not null) await w.WriteAsync("<span class=\"deleted\">(deleted)</span>");
        else
        {
            if (m.Text.Length > 0) await w.WriteAsync($"<span class=\"text\">{Html.Encode(m.Text)}</span>");
            if (m.ImageId is { } id && images.TryGetValue(id, out var type)) await w.WriteAsync($"<img src=\"{ImagePath(id, type)}\" alt=\"image\">");
        }
        await w.WriteAsync("</li>\n");
    }
}
