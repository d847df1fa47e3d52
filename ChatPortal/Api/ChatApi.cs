using ChatPortal.Chat;
using ChatPortal.Search;

namespace ChatPortal.Api;

/// <summary>
/// Rooms, members, messages and users for chat users and bots. Every handler is one call into the core
/// (<see cref="ChatRooms"/>, <see cref="UserRooms"/>, <see cref="ChatCommands"/>, <see cref="ChatHistory"/>,
/// <see cref="MessageSearch"/>) with the token's user: the same checks as the web view and the sockets, and a post
/// reaches every tab, socket and node because the core publishes it.
/// </summary>
public static class ChatApi
{
    public static void Map(RouteGroupBuilder api)
    {
        var rooms = api.MapGroup("/rooms").WithTags("Rooms");
        rooms.MapGet("", ListRoomsAsync).Read().WithSummary("Rooms in the caller's drawer (or, with browse=true, public rooms to join)")
            .Produces<List<ApiRoomListing>>();
        rooms.MapGet("/{room}", GetRoomAsync).Read().WithSummary("One room, by id or slug").Produces<ApiRoom>().ProducesProblem(404);
        rooms.MapPost("", CreateRoomAsync).Write().WithSummary("Create a room; the caller becomes its first member")
            .Accepts<CreateRoomRequest>("application/json").Produces<ApiRoom>(201).ProducesProblem(400).ProducesProblem(429);
        rooms.MapPost("/{room}/join", JoinRoomAsync).Write().WithSummary("Join a public room, or a private one with its invite code")
            .Accepts<JoinRoomRequest>("application/json").Produces<ApiRoom>().ProducesProblem(403).ProducesProblem(404);
        rooms.MapPost("/{room}/leave", LeaveRoomAsync).Write().WithSummary("Leave a room (not the default room)")
            .Produces(204).ProducesProblem(404).ProducesProblem(409);

        rooms.MapGet("/{room}/stats", StatsAsync).Read()
            .WithSummary("A room's numbers: visible posts, images, people who posted, members, the first post's time")
            .Produces<ApiRoomStats>().ProducesProblem(404);
        rooms.MapGet("/{room}/members", ListMembersAsync).Read().WithSummary("Members of a room the caller may read")
            .Produces<List<ApiUser>>().ProducesProblem(404);
        rooms.MapPost("/{room}/members", AddMemberAsync).Admin().WithSummary("Add a member by name (admin: the back office's rule)")
            .Accepts<AddMemberRequest>("application/json").Produces(204).ProducesProblem(403).ProducesProblem(404);
        rooms.MapDelete("/{room}/members/{userId:long}", RemoveMemberAsync).Write()
            .WithSummary("Remove a member: oneself (leave) with write scope; anyone else only with admin scope")
            .Produces(204).ProducesProblem(403).ProducesProblem(404);

        rooms.MapGet("/{room}/messages", HistoryAsync).Read()
            .WithSummary("A page of history: newest first page, or before/after a message id (limit ≤ 200), oldest first")
            .Produces<ApiMessagePage>().ProducesProblem(404);
        rooms.MapPost("/{room}/messages", PostAsync).Write().WithSummary("Post a message (stored, then delivered to every tab, socket and node)")
            .Accepts<PostMessageRequest>("application/json").Produces<ApiMessage>(201).ProducesProblem(400).ProducesProblem(403)
            .ProducesProblem(404).ProducesProblem(422).ProducesProblem(429);

        var messages = api.MapGroup("/messages").WithTags("Messages");
        messages.MapGet("/search", SearchAsync).Read().WithSummary("Search the rooms the caller may read (q ≥ 1 word; room optional), newest first")
            .Produces<ApiSearchPage>();
        messages.MapGet("/{id:long}", GetMessageAsync).Read().WithSummary("One message").Produces<ApiMessage>().ProducesProblem(404);
        messages.MapPatch("/{id:long}", EditAsync).Write().WithSummary("Edit one's own message (the web chat's rule)")
            .Accepts<EditMessageRequest>("application/json").Produces<ApiMessage>().ProducesProblem(400).ProducesProblem(403).ProducesProblem(404);
        messages.MapDelete("/{id:long}", DeleteAsync).Write().WithSummary("Delete one's own message").Produces(204).ProducesProblem(403).ProducesProblem(404);

        var users = api.MapGroup("/users").WithTags("Users");
        users.MapGet("/me", (HttpContext ctx, ApiViews views) => TypedResults.Ok(views.User(ctx.User.ApiUser()))).Read()
            .WithSummary("The token's user");
        users.MapGet("/{id:long}", GetUserAsync).Read().WithSummary("One user").Produces<ApiUser>().ProducesProblem(404);
        users.MapGet("", ListUsersAsync).Read()
            .WithSummary("Users by id, a page after ?after= (limit ≤ 1000, default 200; no guests, banned or deleted accounts); ?name= the user with exactly this name; ?online=true who is online on this node")
            .Produces<List<ApiUser>>();
    }

    // ---------------------------------------------------------------- rooms

    private static async Task<IResult> ListRoomsAsync(HttpContext ctx, ChatRooms rooms, UserRooms userRooms, bool? browse, string? q)
    {
        var me = ctx.User.ApiUser();
        if (browse == true)
        {
            var listed = await userRooms.BrowseAsync(me, q, ct: ctx.RequestAborted);
            return TypedResults.Ok(listed.Select(l => new ApiRoomListing(ApiRoom.From(l.Room), l.Members, l.Joined)).ToList());
        }
        var mine = await rooms.ListAsync(me, ctx.RequestAborted);
        return TypedResults.Ok(mine.Select(r => new ApiRoomListing(ApiRoom.From(r), -1, true)).ToList());
    }

    private static async Task<IResult> GetRoomAsync(string room, HttpContext ctx, ChatRooms rooms, RoomDirectory directory)
    {
        var (found, error) = await ReadableAsync(room, ctx, rooms, directory, allowArchived: true);
        return found is null ? error! : TypedResults.Ok(ApiRoom.From(found));
    }

    private static async Task<IResult> CreateRoomAsync(HttpContext ctx, UserRooms userRooms)
    {
        var (body, bad) = await ApiBody.ReadAsync<CreateRoomRequest>(ctx);
        if (body is null) return bad!;
        if (string.IsNullOrWhiteSpace(body.Name)) return ApiProblems.BadRequest("Give the room a name ('name').", "name_required");
        var created = await userRooms.CreateAsync(ctx.User.ApiUser(), body.Name, body.Topic, body.Private, ctx.RequestAborted);
        return created.Ok ? TypedResults.Created($"/api/v1/rooms/{created.Value!.Id}", ApiRoom.From(created.Value)) : ApiProblems.From(created.Error!);
    }

    private static async Task<IResult> JoinRoomAsync(string room, HttpContext ctx, ChatRooms rooms, UserRooms userRooms)
    {
        JoinRoomRequest? body = null;
        if (ctx.Request.ContentLength > 0 || ctx.Request.HasJsonContentType())
        {
            (body, var bad) = await ApiBody.ReadAsync<JoinRoomRequest>(ctx);
            if (body is null) return bad!;
        }
        var me = ctx.User.ApiUser();
        ChatResult<RoomInfo> joined;
        if (!string.IsNullOrWhiteSpace(body?.InviteCode))
        {
            joined = await rooms.JoinByInviteAsync(me, body.InviteCode.Trim(), ctx.RequestAborted);
        }
        else
        {
            var target = await FindAsync(room, rooms, ctx.RequestAborted);
            if (target is null) return ApiProblems.NotFound("The room");
            joined = await userRooms.JoinAsync(me, target.Id, ctx.RequestAborted);
        }
        return joined.Ok ? TypedResults.Ok(ApiRoom.From(joined.Value!)) : ApiProblems.From(joined.Error!);
    }

    private static async Task<IResult> LeaveRoomAsync(string room, HttpContext ctx, ChatRooms rooms, UserRooms userRooms)
    {
        var target = await FindAsync(room, rooms, ctx.RequestAborted);
        if (target is null) return ApiProblems.NotFound("The room");
        var left = await userRooms.LeaveAsync(ctx.User.ApiUser(), target.Id, ctx.RequestAborted);
        return left.Ok ? TypedResults.NoContent() : ApiProblems.From(left.Error!);
    }

    // ---------------------------------------------------------------- members

    private static async Task<IResult> StatsAsync(string room, HttpContext ctx, ChatRooms rooms, RoomDirectory directory, ChatHistory history)
    {
        var (found, error) = await ReadableAsync(room, ctx, rooms, directory, allowArchived: true);
        if (found is null) return error!;
        var s = await history.RoomStatsAsync(found.Id, ctx.RequestAborted);
        return TypedResults.Ok(new ApiRoomStats(found.Id, s.Messages, s.Images, s.Senders, s.Members, s.FirstMessageAt));
    }

    private static async Task<IResult> ListMembersAsync(string room, HttpContext ctx, ChatRooms rooms, RoomDirectory directory, ApiViews views,
        int? limit)
    {
        var (found, error) = await ReadableAsync(room, ctx, rooms, directory, allowArchived: true);
        if (found is null) return error!;
        var members = await rooms.ListMembersAsync(found.Id, Math.Clamp(limit ?? 200, 1, 1000), ctx.RequestAborted);
        return TypedResults.Ok(members.Select(views.User).ToList());
    }

    private static async Task<IResult> AddMemberAsync(string room, HttpContext ctx, ChatRooms rooms, Admin.AdminRooms admin)
    {
        var (body, bad) = await ApiBody.ReadAsync<AddMemberRequest>(ctx);
        if (body is null) return bad!;
        if (string.IsNullOrWhiteSpace(body.Name)) return ApiProblems.BadRequest("Name the user to add ('name').", "name_required");
        var target = await FindAsync(room, rooms, ctx.RequestAborted);
        if (target is null) return ApiProblems.NotFound("The room");
        var caller = AdminApi.Caller(ctx);
        if (caller is null) return AdminApi.NotAdmin();
        var result = await admin.AddMemberAsync(caller, target.Id, body.Name, ctx.RequestAborted);
        return result.Ok ? TypedResults.NoContent() : ApiProblems.From(result);
    }

    private static async Task<IResult> RemoveMemberAsync(string room, long userId, HttpContext ctx, ChatRooms rooms, UserRooms userRooms,
        Admin.AdminRooms admin)
    {
        var target = await FindAsync(room, rooms, ctx.RequestAborted);
        if (target is null) return ApiProblems.NotFound("The room");
        var me = ctx.User.ApiUser();
        if (userId == me.Id)
        {
            var left = await userRooms.LeaveAsync(me, target.Id, ctx.RequestAborted);
            return left.Ok ? TypedResults.NoContent() : ApiProblems.From(left.Error!);
        }
        // Removing someone else is the back office's action, with its rule and audit entry.
        if (!ctx.User.HasClaim(ApiTokenHandler.ScopeClaim, Auth.ApiScopeNames.Admin))
            return ApiProblems.Problem(StatusCodes.Status403Forbidden, "insufficient_scope", "Removing another member needs the 'admin' scope.");
        var caller = AdminApi.Caller(ctx);
        if (caller is null) return AdminApi.NotAdmin();
        var result = await admin.RemoveMemberAsync(caller, target.Id, userId, ctx.RequestAborted);
        return result.Ok ? TypedResults.NoContent() : ApiProblems.From(result);
    }

    // ---------------------------------------------------------------- messages

    private static async Task<IResult> HistoryAsync(string room, HttpContext ctx, ChatRooms rooms, ChatHistory history, ApiViews views,
        long? before, long? after, int? limit)
    {
        if (before is not null && after is not null) return ApiProblems.BadRequest("Give 'before' or 'after', not both.");
        var target = await FindAsync(room, rooms, ctx.RequestAborted);
        if (target is null) return ApiProblems.NotFound("The room");
        var size = Math.Clamp(limit ?? 50, 1, 200);
        var me = ctx.User.ApiUser();
        var page = after is { } a
            ? await history.NewerAsync(me, target.Id, a, size, ctx.RequestAborted)
            : await history.HistoryAsync(me, target.Id, before, size, ctx.RequestAborted);
        if (!page.Ok) return ApiProblems.From(page.Error!);
        var list = page.Value!.Select(views.Message).ToList();
        return TypedResults.Ok(new ApiMessagePage(list, list.Count > 0 ? list.Min(m => m.Id) : null, list.Count > 0 ? list.Max(m => m.Id) : null));
    }

    private static async Task<IResult> PostAsync(string room, HttpContext ctx, ChatRooms rooms, ChatCommands commands, ApiViews views)
    {
        var (body, bad) = await ApiBody.ReadAsync<PostMessageRequest>(ctx);
        if (body is null) return bad!;
        if (body.Text is null) return ApiProblems.BadRequest("The message needs a 'text'.", "empty");
        if (body.ClientId is { Length: > 64 }) return ApiProblems.BadRequest("'client_id' is longer than 64 characters.");
        var target = await FindAsync(room, rooms, ctx.RequestAborted);
        if (target is null) return ApiProblems.NotFound("The room");
        var links = body.QuoteId is not null || body.ThreadId is not null ? new MessageLinks(body.QuoteId, body.ThreadId, body.AlsoInRoom) : null;
        var posted = await commands.PostAsync(ctx.User.ApiUser(), target.Id, body.Text, body.ClientId, null, ctx.RequestAborted,
            ctx.Connection.RemoteIpAddress?.ToString(), links);
        return posted.Ok
            ? TypedResults.Created($"/api/v1/messages/{posted.Value!.Id}", views.Message(posted.Value))
            : ApiProblems.From(posted.Error!);
    }

    private static async Task<IResult> GetMessageAsync(long id, HttpContext ctx, ChatHistory history, RoomDirectory directory, ApiViews views)
    {
        var row = await history.GetRowAsync(id, ctx.RequestAborted);
        if (row is null || row.Kind is Data.MessageKind.Edit or Data.MessageKind.Delete) return ApiProblems.NotFound("The message");
        var room = await directory.GetAsync(row.RoomId, ctx.RequestAborted);
        // A message of a room the caller may not read answers exactly as a missing one.
        if (room is null || await directory.CheckReadAsync(ctx.User.ApiUser(), room, ctx.RequestAborted) is { Code: not "archived" })
            return ApiProblems.NotFound("The message");
        return TypedResults.Ok(views.Message(row));
    }

    private static async Task<IResult> EditAsync(long id, HttpContext ctx, ChatCommands commands, ApiViews views)
    {
        var (body, bad) = await ApiBody.ReadAsync<EditMessageRequest>(ctx);
        if (body is null) return bad!;
        if (body.Text is null) return ApiProblems.BadRequest("The edit needs a 'text'.", "empty");
        var edited = await commands.EditAsync(ctx.User.ApiUser(), id, body.Text, ctx.RequestAborted);
        return edited.Ok ? TypedResults.Ok(views.Message(edited.Value!)) : ApiProblems.From(edited.Error!);
    }

    private static async Task<IResult> DeleteAsync(long id, HttpContext ctx, ChatCommands commands)
    {
        var deleted = await commands.DeleteAsync(ctx.User.ApiUser(), id, ct: ctx.RequestAborted);
        return deleted.Ok ? TypedResults.NoContent() : ApiProblems.From(deleted.Error!);
    }

    private static async Task<IResult> SearchAsync(HttpContext ctx, MessageSearch search, ChatRooms rooms, ApiViews views, string? q, string? room,
        long? before, int? limit)
    {
        if (string.IsNullOrWhiteSpace(q)) return ApiProblems.BadRequest("Give the words to search for ('q').", "query_required");
        long? roomId = null;
        if (!string.IsNullOrWhiteSpace(room))
        {
            var target = await FindAsync(room, rooms, ctx.RequestAborted);
            if (target is null) return ApiProblems.NotFound("The room");
            roomId = target.Id;
        }
        var page = await search.SearchPageAsync(ctx.User.ApiUser(), q, roomId, Math.Clamp(limit ?? 50, 1, 200), before, ctx.RequestAborted);
        return TypedResults.Ok(new ApiSearchPage(page.Hits.Select(h => new ApiSearchHit(views.Message(h.Message), ApiRoom.From(h.Room))).ToList(),
            page.NextBefore));
    }

    // ---------------------------------------------------------------- users

    private static async Task<IResult> GetUserAsync(long id, HttpContext ctx, UserDirectory users, ApiViews views)
    {
        var state = await users.GetAsync(id, ctx.RequestAborted);
        return state is null ? ApiProblems.NotFound("The user") : TypedResults.Ok(views.User(state.User));
    }

    private static async Task<IResult> ListUsersAsync(HttpContext ctx, UserDirectory users, PresenceTracker presence, ApiViews views, string? name,
        int? limit, long? after, bool? online)
    {
        if (!string.IsNullOrWhiteSpace(name))
        {
            var found = await users.FindByNameAsync(name, ctx.RequestAborted);
            return TypedResults.Ok(found is null ? new List<ApiUser>() : [views.User(found)]);
        }
        var take = Math.Clamp(limit ?? 200, 1, 1000);
        if (online == true)
        {
            var list = new List<ApiUser>();
            foreach (var id in presence.OnlineUserIds().Order().Take(take))
            {
                if (await users.GetAsync(id, ctx.RequestAborted) is { Banned: false } state) list.Add(views.User(state.User));
            }
            return TypedResults.Ok(list);
        }
        if (after is < 0) return ApiProblems.BadRequest("'after' is the last user id of the previous page (0 or more).", "bad_request");
        var page = await users.ListAsync(after ?? 0, take, ctx.RequestAborted);
        return TypedResults.Ok(page.Select(views.User).ToList());
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>A room by id or slug (no access check: the core call that follows checks).</summary>
    internal static async Task<RoomInfo?> FindAsync(string room, ChatRooms rooms, CancellationToken ct) =>
        long.TryParse(room, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? await rooms.GetAsync(id, ct)
            : await rooms.FindAsync(room, ct);

    /// <summary>A room the caller may read (the core's rule); one they may not see answers as missing.</summary>
    private static async Task<(RoomInfo? Room, IResult? Error)> ReadableAsync(string room, HttpContext ctx, ChatRooms rooms, RoomDirectory directory,
        bool allowArchived)
    {
        var found = await FindAsync(room, rooms, ctx.RequestAborted);
        if (found is null) return (null, ApiProblems.NotFound("The room"));
        var denied = await directory.CheckReadAsync(ctx.User.ApiUser(), found, ctx.RequestAborted);
        if (denied is null || (allowArchived && denied.Code == "archived")) return (found, null);
        return (null, ApiProblems.From(denied));
    }
}
