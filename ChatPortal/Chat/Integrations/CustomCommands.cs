using System.Text.Json;
using ChatPortal.Data;
using ChatPortal.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Integrations;

/// <summary>A custom command as the back office lists it.</summary>
public sealed record CustomCommandInfo(long Id, string Name, string Url, string Description, string Token, bool Enabled, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>
/// Admin-defined slash commands in Slack's / Mattermost's format (issue 16): <c>/name text</c> POSTs a form (<c>token,
/// team_domain, channel_id, channel_name, user_id, user_name, command, text, response_url, trigger_id</c>) through the
/// SSRF-safe client. The answer <c>{"response_type":"ephemeral"|"in_channel","text":…}</c> goes to the caller alone
/// (an <see cref="EphemeralReply"/>) or into the room (posted as the command's bot user). No answer within
/// <see cref="IntegrationOptions.CommandTimeout"/>: the caller is told "working…", a late answer is still used, and the
/// command may reply up to <see cref="IntegrationOptions.ResponseUrlMaxUses"/> times to its <c>response_url</c>
/// (<c>/hooks/respond/{token}</c>, single-purpose: that room and caller, expiring after <see cref="IntegrationOptions.ResponseUrlLifetime"/>).
/// </summary>
public sealed class CustomCommands(IDbContextFactory<ChatDbContext> dbFactory, SafeHttpClient http, ChatCommands commands, ChatRooms rooms,
    IntegrationUsers identities, IChatBackplane backplane, IOptions<IntegrationOptions> options, IOptions<Hosting.PortalOptions> portal,
    TimeProvider time, ILogger<CustomCommands> log, IServiceProvider services) : ICustomSlashCommands
{
    private readonly IntegrationOptions _o = options.Value;
    private volatile IReadOnlyList<CustomCommand> _cache = [];
    private long _loadedAt = long.MinValue;
    private int _loading;

    public IReadOnlyList<SlashCommandInfo> List()
    {
        RefreshSoon();
        return _cache.Where(c => c.Enabled).Select(c => new SlashCommandInfo(c.Name, $"/{c.Name} …", c.Description, BuiltIn: false)).ToList();
    }

    private void RefreshSoon()
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _loadedAt) < 5000 || Interlocked.Exchange(ref _loading, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try { await LoadAsync(CancellationToken.None); }
            catch (Exception ex) { log.LogWarning(ex, "Loading the custom commands failed"); }
            finally { Volatile.Write(ref _loading, 0); }
        });
    }

    private async Task<IReadOnlyList<CustomCommand>> LoadAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var all = await db.Set<CustomCommand>().AsNoTracking().OrderBy(c => c.Name).ToListAsync(ct);
        _cache = all;
        Interlocked.Exchange(ref _loadedAt, Environment.TickCount64);
        return all;
    }

    // ---------------------------------------------------------------- back office

    public async Task<IReadOnlyList<CustomCommandInfo>> ListAllAsync(CancellationToken ct = default) => (await LoadAsync(ct)).Select(Info).ToList();

    public async Task<ChatResult<CustomCommandInfo>> CreateAsync(string? name, string? url, string? description, string createdBy,
        Action<ChatDbContext, CustomCommand>? alsoWrite = null, CancellationToken ct = default)
    {
        name = name?.Trim().TrimStart('/').ToLowerInvariant();
        if (string.IsNullOrEmpty(name) || name.Length > 32 || !name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_') || !char.IsLetter(name[0]))
            return new ChatError("bad_command_name", "A command name is 1–32 lowercase letters, digits, '-' or '_', starting with a letter.");
        if (SlashCommands.BuiltIns.Any(b => b.Name == name)) return new ChatError("command_taken", $"/{name} is a built-in command.");
        if (!Uri.TryCreate(url?.Trim(), UriKind.Absolute, out var u) || u.Scheme is not ("https" or "http") || url!.Length > 2000)
            return new ChatError("bad_url", "The URL must be an absolute http(s) address.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Set<CustomCommand>().AnyAsync(c => c.Name == name, ct)) return new ChatError("command_taken", $"/{name} exists already.");
        var user = identities.Add(db, "command");
        await db.SaveChangesAsync(ct);
        var command = new CustomCommand
        {
            Name = name,
            Url = url.Trim(),
            Description = (description ?? "").Trim() is { Length: > 200 } d ? d[..200] : (description ?? "").Trim(),
            Token = IntegrationUsers.NewToken(),
            PostAsUserId = user.Id,
            CreatedAt = time.GetUtcNow(),
            CreatedBy = createdBy,
        };
        db.Set<CustomCommand>().Add(command);
        alsoWrite?.Invoke(db, command);
        await db.SaveChangesAsync(ct);
        await LoadAsync(ct);
        return Info(command);
    }

    public async Task<bool> DeleteAsync(long id, Action<ChatDbContext, CustomCommand>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var command = await db.Set<CustomCommand>().FirstOrDefaultAsync(c => c.Id == id, ct);
        if (command is null) return false;
        db.Remove(command);
        alsoWrite?.Invoke(db, command);
        await db.SaveChangesAsync(ct);
        await db.Set<CommandResponseUrl>().Where(r => r.CommandId == id).ExecuteDeleteAsync(ct);
        await LoadAsync(ct);
        return true;
    }

    private static CustomCommandInfo Info(CustomCommand c) => new(c.Id, c.Name, c.Url, c.Description, c.Token, c.Enabled, c.CreatedAt, c.CreatedBy);

    // ---------------------------------------------------------------- running

    public async Task<ChatResult<SlashOutcome>?> TryRunAsync(UserRef user, RoomInfo room, string name, string args, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var command = await db.Set<CustomCommand>().AsNoTracking().FirstOrDefaultAsync(c => c.Name == name && c.Enabled, ct);
        if (command is null) return null;
        // Anyone who may post in the room may run its commands (an in_channel answer is a post there).
        var (_, denied) = await commands.CheckPostAsync(user, room.Id, ct);
        if (denied is not null) return denied;

        var respond = new CommandResponseUrl
        {
            Token = IntegrationUsers.NewToken(),
            CommandId = command.Id,
            RoomId = room.Id,
            UserId = user.Id,
            ExpiresAt = time.GetUtcNow() + _o.ResponseUrlLifetime,
        };
        db.Set<CommandResponseUrl>().Add(respond);
        await db.Set<CommandResponseUrl>().Where(r => r.ExpiresAt < time.GetUtcNow()).ExecuteDeleteAsync(ct); // old ones go as new ones come
        await db.SaveChangesAsync(ct);

        var form = new Dictionary<string, string>
        {
            ["token"] = command.Token,
            ["team_id"] = "chatportal",
            ["team_domain"] = "chatportal",
            ["channel_id"] = room.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["channel_name"] = room.Slug,
            ["user_id"] = user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["user_name"] = user.Name,
            ["command"] = "/" + command.Name,
            ["text"] = args,
            ["response_url"] = BaseUrl() + "hooks/respond/" + respond.Token,
            ["trigger_id"] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)),
        };
        // The call runs on its own (bounded by the outgoing timeout); the caller waits at most CommandTimeout for it.
        var call = Task.Run(() => CallAsync(command, form), CancellationToken.None);
        var first = await Task.WhenAny(call, Task.Delay(_o.CommandTimeout, time, ct));
        if (first == call)
        {
            var (reply, error) = await call;
            if (error is not null) return new ChatError("command_failed", $"/{command.Name} failed: {error}");
            return reply is null ? new SlashOutcome(command.Name) : await ApplyAsync(command, room.Id, user, reply, ct);
        }
        _ = call.ContinueWith(async t =>
        {
            var (reply, error) = t.Result;
            if (reply is not null) await ApplyAsync(command, room.Id, user, reply, CancellationToken.None, tellCaller: true);
            else if (error is not null) Tell(user.Id, room.Id, "command_failed", $"/{command.Name} failed: {error}", command.Name, isError: true);
        }, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
        return new SlashOutcome(command.Name, Reply: $"/{command.Name}: working…", ReplyCode: "working", From: command.Name);
    }

    /// <summary>A late reply to <c>/hooks/respond/{token}</c>. Errors: <c>not_found</c> (unknown or expired), <c>used_up</c>, <c>bad_payload</c>.</summary>
    public async Task<ChatResult<bool>> RespondAsync(string token, string body, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 64) return ChatError.NotFound("The response URL");
        var reply = ParseReply(body, out var error);
        if (reply is null) return new ChatError("bad_payload", error ?? "The body must be JSON with \"text\".");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = time.GetUtcNow();
        var row = await db.Set<CommandResponseUrl>().AsNoTracking().FirstOrDefaultAsync(r => r.Token == token, ct);
        if (row is null || row.ExpiresAt < now) return ChatError.NotFound("The response URL");
        // Counted with a conditional update, so two replies at once cannot both take the last use.
        var max = Math.Max(1, _o.ResponseUrlMaxUses);
        if (await db.Set<CommandResponseUrl>().Where(r => r.Id == row.Id && r.Uses < max).ExecuteUpdateAsync(s => s.SetProperty(r => r.Uses, r => r.Uses + 1), ct) == 0)
            return new ChatError("used_up", $"This response URL has taken its {max} replies.");
        var command = await db.Set<CustomCommand>().AsNoTracking().FirstOrDefaultAsync(c => c.Id == row.CommandId, ct);
        var user = await identities.GetAsync(row.UserId, ct);
        if (command is null || user is null) return ChatError.NotFound("The response URL");
        var applied = await ApplyAsync(command, row.RoomId, user, reply, ct, tellCaller: true);
        return applied.Ok ? true : applied.Error!;
    }

    private sealed record Reply(bool InChannel, string Text, string? Username, string? IconUrl);

    private async Task<(Reply? Reply, string? Error)> CallAsync(CustomCommand command, Dictionary<string, string> form)
    {
        using var timeout = new CancellationTokenSource(_o.OutgoingTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, command.Url) { Content = new FormUrlEncodedContent(form) };
            request.Headers.UserAgent.ParseAdd("ChatPortal-Commands/1");
            using var response = await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode) return (null, $"HTTP {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > 64 * 1024) return (null, "the answer is too large");
            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            if (string.IsNullOrWhiteSpace(body)) return (null, null); // an empty 200: the command answers later or not at all
            var reply = ParseReply(body, out _) ?? new Reply(false, body.Length > 4000 ? body[..4000] : body, null, null); // plain text: ephemeral
            return (reply, null);
        }
        catch (OperationCanceledException)
        {
            return (null, $"no answer within {_o.OutgoingTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or SafeHttpException or IOException)
        {
            return (null, ex.InnerException is SafeHttpException s ? s.Message : ex.Message);
        }
    }

    private static Reply? ParseReply(string body, out string? error)
    {
        error = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(t.GetString()))
            {
                error = "The body must be a JSON object with a non-empty \"text\".";
                return null;
            }
            var type = r.TryGetProperty("response_type", out var rt) && rt.ValueKind == JsonValueKind.String ? rt.GetString() : "ephemeral";
            if (type is not ("ephemeral" or "in_channel"))
            {
                error = "\"response_type\" is \"ephemeral\" or \"in_channel\".";
                return null;
            }
            string? Str(string n) => r.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var icon = Str("icon_url") is { } i && Uri.TryCreate(i, UriKind.Absolute, out var iu) && iu.Scheme is "https" or "http" ? i : null;
            return new Reply(type == "in_channel", t.GetString()!, Str("username"), icon);
        }
        catch (JsonException)
        {
            error = "The body is not valid JSON.";
            return null;
        }
    }

    private async Task<ChatResult<SlashOutcome>> ApplyAsync(CustomCommand command, long roomId, UserRef caller, Reply reply, CancellationToken ct, bool tellCaller = false)
    {
        var text = reply.Text.Length > commands.Options.MaxMessageLength ? reply.Text[..commands.Options.MaxMessageLength] : reply.Text;
        if (!reply.InChannel)
        {
            if (tellCaller) Tell(caller.Id, roomId, "command_reply", text, command.Name);
            return new SlashOutcome(command.Name, Reply: text, ReplyCode: "command_reply", From: command.Name);
        }
        var me = await identities.GetAsync(command.PostAsUserId, ct);
        var room = await rooms.GetAsync(roomId, ct);
        if (me is null || room is null) return ChatError.NotFound("The room");
        if (room.IsPrivate) await rooms.EnsureMemberAsync(room.Id, me, ct);
        var posted = await commands.PostAsync(me, room.Id, text, ct: ct,
            style: new MessageStyle(As: new PostedAs(reply.Username ?? "/" + command.Name, reply.IconUrl, $"command:{command.Id}")));
        if (!posted.Ok)
        {
            if (tellCaller) Tell(caller.Id, roomId, posted.Error!.Code, posted.Error.Message, command.Name, isError: true);
            return posted.Error!;
        }
        return new SlashOutcome(command.Name, posted.Value);
    }

    private void Tell(long userId, long roomId, string code, string text, string from, bool isError = false) =>
        backplane.Publish(new EphemeralReply(roomId, userId, code, text, isError, from));

    private string BaseUrl()
    {
        var configured = portal.Value.PublicBaseUrl;
        // Without Portal:PublicBaseUrl, the first address the server listens on (fine on one node without a proxy).
        var b = string.IsNullOrWhiteSpace(configured)
            ? services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1/"
            : configured;
        return b.EndsWith('/') ? b : b + "/";
    }
}
