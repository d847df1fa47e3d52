using System.Text.RegularExpressions;
using ChatPortal.Chat;
using ChatPortal.Data;

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
/// Rooms in the back office: checks the admin and the form, then calls the core (<see cref="ChatRooms"/>),
/// which writes the rows, announces the change to every session on every node, and takes this
/// class's audit entry into the same transaction.
/// </summary>
public sealed partial class AdminRooms(ChatRooms chat, UserDirectory users, AdminGuard guard, AdminAudit audit,
    Chat.Safeguards.ImageRetention imageRetention)
{
    /// <summary>Lowercase letters, digits and dashes; "dm-" is kept for direct conversations.</summary>
    public const string SlugPattern = "^(?!dm-|gdm-)[a-z0-9][a-z0-9-]{1,79}$";

    [GeneratedRegex(SlugPattern)]
    private static partial Regex SlugRegex();

    public async Task<IReadOnlyList<RoomRow>> ListAsync(AdminCaller caller, string? search = null, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return (await chat.ListAllAsync(search, 500, ct)).Select(r => new RoomRow(r.Room, r.Members, r.CreatedAt)).ToList();
    }

    public async Task<RoomInfo?> GetAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        var room = await chat.GetAsync(roomId, ct);
        return room is { IsDirect: false } ? room : null;
    }

    public async Task<AdminResult<RoomInfo>> CreateAsync(AdminCaller caller, RoomInput input, CancellationToken ct = default) =>
        await CreateAsync(await guard.RequireAsync(caller, ct), input, ct);

    /// <summary>For an actor already confirmed: a signed-in admin (above) or the server's command line.</summary>
    internal async Task<AdminResult<RoomInfo>> CreateAsync(AdminActor actor, RoomInput input, CancellationToken ct = default)
    {
        var invalid = Validate(input);
        if (invalid is not null) return invalid;
        var spec = Spec(input);
        var room = await chat.CreateAsync(spec, (db, r) => audit.Add(db, actor, AuditActions.RoomCreate, Target(r), Describe(r)), ct);
        return room is null ? SlugTaken(spec.Slug) : room;
    }

    public async Task<AdminResult<RoomInfo>> UpdateAsync(AdminCaller caller, long roomId, RoomInput input, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var invalid = Validate(input);
        if (invalid is not null) return invalid;
        var spec = Spec(input);
        var result = await chat.UpdateAsync(roomId, room =>
        {
            if (IsDefault(room) && (spec.Slug != room.Slug || spec.IsPrivate || spec.IsArchived)) return DefaultRoom;
            room.Slug = spec.Slug;
            room.Name = spec.Name;
            room.Topic = spec.Topic;
            room.IsPrivate = spec.IsPrivate;
            room.AllowGuests = spec.AllowGuests;
            room.IsArchived = spec.IsArchived;
            return null;
        }, (db, before, after) => audit.Add(db, actor, AuditActions.RoomUpdate, Target(after), $"{Describe(before)} → {Describe(after)}"), ct);
        return Result(result, spec.Slug);
    }

    public async Task<AdminResult> SetArchivedAsync(AdminCaller caller, long roomId, bool archived, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var result = await chat.UpdateAsync(roomId, room =>
        {
            if (archived && IsDefault(room)) return new ChatError("default_room", "The default room cannot be archived.");
            room.IsArchived = archived;
            return null;
        }, (db, _, after) => audit.Add(db, actor, archived ? AuditActions.RoomArchive : AuditActions.RoomUnarchive, Target(after)), ct);
        return Result(result, null).Status;
    }

    /// <summary>Deletes a room with its messages, members and bot settings (in the core's writer, in one transaction).</summary>
    public async Task<AdminResult> DeleteAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return NotFound;
        if (chat.IsDefault(room)) return AdminResult.Fail("default_room", "The default room cannot be deleted.");
        var images = await imageRetention.ImagesOfRoomAsync(roomId, ct); // their files go with the room
        var result = await chat.DeleteAsync(roomId,
            (db, r, messages) => audit.Add(db, actor, AuditActions.RoomDelete, Target(r), $"{messages} stored events removed"), ct);
        if (!result.Ok) return NotFound;
        await imageRetention.DeleteImagesAsync(images, CancellationToken.None);
        return AdminResult.Success;
    }

    /// <summary>A new invite code: links given out before stop working.</summary>
    public async Task<AdminResult<RoomInfo>> ResetInviteAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var result = await chat.UpdateAsync(roomId, room =>
        {
            room.InviteCode = ChatRooms.NewInviteCode();
            return null;
        }, (db, _, after) => audit.Add(db, actor, AuditActions.RoomInviteReset, Target(after)), ct);
        return Result(result, null);
    }

    public async Task<IReadOnlyList<RoomMemberRow>> MembersAsync(AdminCaller caller, long roomId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return (await chat.MembersSinceAsync(roomId, 1000, ct)).Select(m => new RoomMemberRow(m.User, m.JoinedAt)).ToList();
    }

    public async Task<AdminResult> AddMemberAsync(AdminCaller caller, long roomId, string? userName, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return NotFound;
        var user = string.IsNullOrWhiteSpace(userName) ? null : await users.FindByNameAsync(userName, ct);
        if (user is null) return AdminResult.Fail("user_not_found", $"No chat user is named \"{userName}\".", userName);
        if (!await chat.EnsureMemberAsync(roomId, user, ct)) return AdminResult.Success;
        await audit.WriteAsync(actor, AuditActions.MemberAdd, Target(room), user.Name, ct);
        return AdminResult.Success;
    }

    public async Task<AdminResult> RemoveMemberAsync(AdminCaller caller, long roomId, long userId, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await chat.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return NotFound;
        if (!await chat.RemoveMemberAsync(roomId, userId, ct)) return AdminResult.Success;
        var user = await users.GetAsync(userId, ct);
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
            return AdminResult.Fail("slug_invalid", "The slug needs 2–80 lowercase letters, digits or dashes (not starting with \"dm-\" or \"gdm-\").");
        if (input.Topic is { Length: > 500 }) return AdminResult.Fail("topic_too_long", "The topic is longer than 500 characters.");
        return null;
    }

    private bool IsDefault(Room r) => chat.IsDefault(RoomInfo.From(r));

    private static RoomSpec Spec(RoomInput input) => new(input.Slug.Trim(), input.Name.Trim(),
        string.IsNullOrWhiteSpace(input.Topic) ? null : input.Topic.Trim(), input.IsPrivate, input.AllowGuests && !input.IsPrivate, input.IsArchived);

    private static AdminResult<RoomInfo> Result(ChatResult<RoomInfo> result, string? slug) => result switch
    {
        { Ok: true } => result.Value!,
        { Error.Code: "not_found" } => NotFound,
        { Error.Code: "slug_taken" } => SlugTaken(slug ?? ""),
        _ => AdminResult.Fail(result.Error!.Code, result.Error.Message),
    };

    private static readonly ChatError DefaultRoom = new("default_room", "The default room keeps its slug and stays public and open.");

    private static readonly AdminResult NotFound = AdminResult.Fail("room_not_found", "The room was not found.");

    private static AdminResult SlugTaken(string slug) => AdminResult.Fail("slug_taken", $"Another room uses the slug \"{slug}\".", slug);

    private static string Target(RoomInfo r) => $"/rooms/{r.Slug}";

    private static string Describe(RoomInfo r) =>
        $"name={r.Name}; private={r.IsPrivate}; guests={r.AllowGuests}; archived={r.IsArchived}";
}
