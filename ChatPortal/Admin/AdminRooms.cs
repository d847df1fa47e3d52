using System.Text.RegularExpressions;
using ChatPortal.Chat;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Admin;

/// <summary>What an admin edits about a room (the form model; <see cref="AdminRooms.Validate"/> checks it, on the server).</summary>
public sealed class RoomInput
{
    public string Name { get; set; } = "";
    public string Slug { get; set; } = "";
    public string? Topic { get; set; }

    public bool IsPrivate { get; set; }
    public bool AllowGuests { get; set; }
    public bool IsArchived { get; set; }

    public static RoomInput From(RoomInfo r) => new()
    {
        Name = r.Name,
        Slug = r.Slug,
        Topic = r.Topic,
        IsPrivate = r.IsPrivate,
        AllowGuests = r.AllowGuests,
        IsArchived = r.IsArchived,
    };
}

public sealed record RoomRow(RoomInfo Room, int Members, DateTimeOffset CreatedAt);

public sealed record RoomMemberRow(UserRef User, DateTimeOffset JoinedAt);

/// <summary>
/// Rooms in the back office. Room rows are written here (the core has no "create room"), then
/// <see cref="ChatService.RoomChangedAsync"/> refreshes the core's cache and tells open views;
/// membership goes through the core's own methods.
/// </summary>
public sealed partial class AdminRooms(IDbContextFactory<ChatDbContext> dbFactory, ChatService chat, AdminGuard guard,
    AdminAudit audit, TimeProvider time, Chat.Safeguards.ImageRetention imageRetention)
{
    /// <summary>Lowercase letters, digits and dashes; "dm-" is kept for direct conversations.</summary>
    public const string SlugPattern = "^(?!dm-)[a-z0-9][a-z0-9-]{1,79}$";

    [GeneratedRegex(SlugPattern)]
    private static partial Regex SlugRegex();

    public async Task<IReadOnlyList<RoomRow>> ListAsync(AdminCaller caller, string? search = null, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Rooms.AsNoTracking().Where(r => !r.IsDirect);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = $"%{AdminAudit.EscapeLike(search.Trim())}%";
            q = q.Where(r => EF.Functions.Like(r.Name, s, "\\") || EF.Functions.Like(r.Slug, s, "\\")
                || (r.Topic != null && EF.Functions.Like(r.Topic, s, "\\")));
        }
        var rows = await q.OrderBy(r => r.IsArchived).ThenBy(r => r.Id)
            .Select(r => new { Room = r, Members = db.RoomMembers.Count(m => m.RoomId == r.Id) })
            .Take(500).ToListAsync(ct);
        return rows.Select(r => new RoomRow(RoomInfo.From(r.Room), r.Members, r.Room.CreatedAt)).ToList();
    }

    public async Task<RoomInfo?> GetAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        var room = await chat.GetRoomAsync(roomId, ct);
        return room is { IsDirect: false } ? room : null;
    }

    public async Task<AdminResult<RoomInfo>> CreateAsync(AdminCaller caller, RoomInput input, CancellationToken ct = default) =>
        await CreateAsync(await guard.RequireAsync(caller, ct), input, ct);

    /// <summary>For an actor already confirmed: a signed-in admin (above) or the server's command line.</summary>
    internal async Task<AdminResult<RoomInfo>> CreateAsync(AdminActor actor, RoomInput input, CancellationToken ct = default)
    {
        var invalid = Validate(input);
        if (invalid is not null) return invalid;
        var slug = input.Slug.Trim();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Rooms.AnyAsync(r => r.Slug == slug, ct)) return SlugTaken(slug);
        var room = new Room
        {
            Slug = slug,
            Name = input.Name.Trim(),
            Topic = string.IsNullOrWhiteSpace(input.Topic) ? null : input.Topic.Trim(),
            IsPrivate = input.IsPrivate,
            AllowGuests = input.AllowGuests && !input.IsPrivate,
            IsArchived = input.IsArchived,
            InviteCode = ChatService.NewInviteCode(),
            CreatedAt = time.GetUtcNow(),
        };
        db.Rooms.Add(room);
        audit.Add(db, actor, AuditActions.RoomCreate, Target(room), Describe(room));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return SlugTaken(slug);
        }
        await chat.RoomChangedAsync(room.Id, ct);
        return RoomInfo.From(room);
    }

    public async Task<AdminResult<RoomInfo>> UpdateAsync(AdminCaller caller, long roomId, RoomInput input, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var invalid = Validate(input);
        if (invalid is not null) return invalid;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.FirstOrDefaultAsync(r => r.Id == roomId && !r.IsDirect, ct);
        if (room is null) return NotFound;
        var slug = input.Slug.Trim();
        if (IsDefault(room) && (slug != room.Slug || input.IsPrivate || input.IsArchived))
            return AdminResult.Fail("default_room", "The default room keeps its slug and stays public and open.");
        if (slug != room.Slug && await db.Rooms.AnyAsync(r => r.Slug == slug, ct)) return SlugTaken(slug);
        var before = Describe(room);
        room.Slug = slug;
        room.Name = input.Name.Trim();
        room.Topic = string.IsNullOrWhiteSpace(input.Topic) ? null : input.Topic.Trim();
        room.IsPrivate = input.IsPrivate;
        room.AllowGuests = input.AllowGuests && !input.IsPrivate;
        room.IsArchived = input.IsArchived;
        audit.Add(db, actor, AuditActions.RoomUpdate, Target(room), $"{before} → {Describe(room)}");
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return SlugTaken(slug);
        }
        await chat.RoomChangedAsync(room.Id, ct);
        return RoomInfo.From(room);
    }

    public async Task<AdminResult> SetArchivedAsync(AdminCaller caller, long roomId, bool archived, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.FirstOrDefaultAsync(r => r.Id == roomId && !r.IsDirect, ct);
        if (room is null) return NotFound;
        if (archived && IsDefault(room)) return AdminResult.Fail("default_room", "The default room cannot be archived.");
        if (room.IsArchived == archived) return AdminResult.Success;
        room.IsArchived = archived;
        audit.Add(db, actor, archived ? AuditActions.RoomArchive : AuditActions.RoomUnarchive, Target(room));
        await db.SaveChangesAsync(ct);
        await chat.RoomChangedAsync(room.Id, ct);
        return AdminResult.Success;
    }

    /// <summary>Deletes a room with its messages, members and bot settings, in one transaction.</summary>
    public async Task<AdminResult> DeleteAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.AsNoTracking().FirstOrDefaultAsync(r => r.Id == roomId && !r.IsDirect, ct);
        if (room is null) return NotFound;
        if (IsDefault(room)) return AdminResult.Fail("default_room", "The default room cannot be deleted.");
        var images = await imageRetention.ImagesOfRoomAsync(roomId, ct); // removed with the room (issue 20, item 5)
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var messages = await db.Messages.Where(m => m.RoomId == roomId).ExecuteDeleteAsync(ct);
            await db.RoomMembers.Where(m => m.RoomId == roomId).ExecuteDeleteAsync(ct);
            await db.BotSettings.Where(b => b.RoomId == roomId).ExecuteDeleteAsync(ct);
            await db.Rooms.Where(r => r.Id == roomId).ExecuteDeleteAsync(ct);
            audit.Add(db, actor, AuditActions.RoomDelete, Target(room), $"{messages} stored events removed");
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        await chat.RoomChangedAsync(roomId, ct); // drops the core's cached copy
        await imageRetention.DeleteImagesAsync(images, CancellationToken.None);
        return AdminResult.Success;
    }

    /// <summary>A new invite code: links given out before stop working.</summary>
    public async Task<AdminResult<RoomInfo>> ResetInviteAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var room = await db.Rooms.FirstOrDefaultAsync(r => r.Id == roomId && !r.IsDirect, ct);
        if (room is null) return NotFound;
        room.InviteCode = ChatService.NewInviteCode();
        audit.Add(db, actor, AuditActions.RoomInviteReset, Target(room));
        await db.SaveChangesAsync(ct);
        await chat.RoomChangedAsync(room.Id, ct);
        return RoomInfo.From(room);
    }

    public async Task<IReadOnlyList<RoomMemberRow>> MembersAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await (from m in db.RoomMembers
                          where m.RoomId == roomId
                          join u in db.Users on m.UserId equals u.Id
                          orderby u.Name
                          select new { u.Id, u.Name, u.Kind, m.JoinedAt }).AsNoTracking().Take(1000).ToListAsync(ct);
        return rows.Select(r => new RoomMemberRow(new UserRef(r.Id, r.Name, r.Kind), r.JoinedAt)).ToList();
    }

    public async Task<AdminResult> AddMemberAsync(AdminCaller caller, long roomId, string? userName, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetRoomAsync(roomId, ct);
        if (room is null || room.IsDirect) return NotFound;
        var user = string.IsNullOrWhiteSpace(userName) ? null : await chat.Users.FindByNameAsync(userName, ct);
        if (user is null) return AdminResult.Fail("user_not_found", $"No chat user is named \"{userName}\".", userName);
        if (await chat.IsMemberAsync(roomId, user.Id, ct)) return AdminResult.Success;
        await chat.EnsureMemberAsync(roomId, user.Id, ct);
        await audit.WriteAsync(actor, AuditActions.MemberAdd, Target(room), user.Name, ct);
        return AdminResult.Success;
    }

    public async Task<AdminResult> RemoveMemberAsync(AdminCaller caller, long roomId, long userId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetRoomAsync(roomId, ct);
        if (room is null || room.IsDirect) return NotFound;
        var user = await chat.Users.GetAsync(userId, ct);
        if (!await chat.RemoveMemberAsync(roomId, userId, ct)) return AdminResult.Success;
        await audit.WriteAsync(actor, AuditActions.MemberRemove, Target(room), user?.User.Name ?? $"#{userId}", ct);
        return AdminResult.Success;
    }

    /// <summary>Null when the input is acceptable, else the first problem.</summary>
    public static AdminResult? Validate(RoomInput input)
    {
        var name = input.Name?.Trim() ?? "";
        if (name.Length == 0) return AdminResult.Fail("name_required", "The room needs a name.");
        if (name.Length > 80) return AdminResult.Fail("name_too_long", "The name is longer than 80 characters.");
        if (!SlugRegex().IsMatch(input.Slug?.Trim() ?? ""))
            return AdminResult.Fail("slug_invalid", "The slug needs 2–80 lowercase letters, digits or dashes (not starting with \"dm-\").");
        if (input.Topic is { Length: > 500 }) return AdminResult.Fail("topic_too_long", "The topic is longer than 500 characters.");
        return null;
    }

    private bool IsDefault(Room r) => r.Slug == chat.Options.DefaultRoomSlug.Trim().ToLowerInvariant();

    private static readonly AdminResult NotFound = AdminResult.Fail("room_not_found", "The room was not found.");

    private static AdminResult SlugTaken(string slug) => AdminResult.Fail("slug_taken", $"Another room uses the slug \"{slug}\".", slug);

    private static string Target(Room r) => $"/rooms/{r.Slug}";

    private static string Target(RoomInfo r) => $"/rooms/{r.Slug}";

    private static string Describe(Room r) =>
        $"name={r.Name}; private={r.IsPrivate}; guests={r.AllowGuests}; archived={r.IsArchived}";
}
