using ChatPortal.Admin;
using ChatPortal.Chat;
using ChatPortal.Chat.Integrations;

namespace ChatPortal.Integrations;

/// <summary>Audit action names of the integrations (stable: stored and searched).</summary>
public static class IntegrationAudit
{
    public const string IncomingCreate = "webhook.create";
    public const string IncomingRegenerate = "webhook.regenerate";
    public const string IncomingDelete = "webhook.delete";
    public const string IncomingTest = "webhook.test";
    public const string OutgoingCreate = "outgoing.create";
    public const string OutgoingUpdate = "outgoing.update";
    public const string OutgoingDelete = "outgoing.delete";
    public const string OutgoingAutoDisable = "outgoing.auto_disable";
    public const string CommandCreate = "command.create";
    public const string CommandDelete = "command.delete";
}

/// <summary>The back office's Integrations page: every method checks the admin (<see cref="AdminGuard"/>) and writes an audit entry.</summary>
public sealed class AdminIntegrations(AdminGuard guard, AdminAudit audit, IncomingHooks incoming, OutgoingHooks outgoing, CustomCommands custom, ChatRooms rooms)
{
    // ---------------------------------------------------------------- custom slash commands

    public async Task<IReadOnlyList<CustomCommandInfo>> ListCommandsAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await custom.ListAllAsync(ct);
    }

    public async Task<AdminResult<CustomCommandInfo>> CreateCommandAsync(AdminCaller caller, string? name, string? url, string? description, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var created = await custom.CreateAsync(name, url, description, actor.Name,
            (db, c) => audit.Add(db, actor, IntegrationAudit.CommandCreate, $"command /{c.Name}", c.Url), ct);
        return created.Ok ? created.Value! : Fail(created.Error!);
    }

    public async Task<AdminResult> DeleteCommandAsync(AdminCaller caller, long id, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        return await custom.DeleteAsync(id, (db, c) => audit.Add(db, actor, IntegrationAudit.CommandDelete, $"command /{c.Name}"), ct)
            ? AdminResult.Success
            : AdminResult.Fail("not_found", "The command was not found.");
    }

    // ---------------------------------------------------------------- outgoing

    public async Task<IReadOnlyList<OutgoingHookInfo>> ListOutgoingAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await outgoing.ListAsync(ct);
    }

    public async Task<AdminResult<OutgoingHookInfo>> CreateOutgoingAsync(AdminCaller caller, OutgoingHookSpec spec, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var created = await outgoing.CreateAsync(spec, actor.Name,
            (db, h) => audit.Add(db, actor, IntegrationAudit.OutgoingCreate, $"outgoing webhook {h.Name}", $"{h.Url} rooms [{h.RoomIds}] words [{h.TriggerWords.Replace('\n', ' ')}]"), ct);
        return created.Ok ? created.Value! : Fail(created.Error!);
    }

    public async Task<AdminResult> SetOutgoingEnabledAsync(AdminCaller caller, long id, bool enabled, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var done = await outgoing.SetEnabledAsync(id, enabled,
            (db, h) => audit.Add(db, actor, IntegrationAudit.OutgoingUpdate, $"outgoing webhook {h.Id} {h.Name}", enabled ? "on" : "off"), ct);
        return done.Ok ? AdminResult.Success : Fail(done.Error!);
    }

    public async Task<AdminResult> DeleteOutgoingAsync(AdminCaller caller, long id, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        return await outgoing.DeleteAsync(id, (db, h) => audit.Add(db, actor, IntegrationAudit.OutgoingDelete, $"outgoing webhook {h.Id} {h.Name}"), ct)
            ? AdminResult.Success
            : AdminResult.Fail("not_found", "The webhook was not found.");
    }

    /// <summary>The delivery log: a hook's newest attempts.</summary>
    public async Task<IReadOnlyList<DeliveryAttemptInfo>> AttemptsAsync(AdminCaller caller, long hookId, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await outgoing.AttemptsAsync(hookId, 50, ct);
    }

    // ---------------------------------------------------------------- incoming

    public async Task<IReadOnlyList<IncomingHookInfo>> ListIncomingAsync(AdminCaller caller, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        return await incoming.ListAsync(ct);
    }

    public async Task<AdminResult<IncomingHookInfo>> CreateIncomingAsync(AdminCaller caller, long roomId, string? name, bool anyChannel, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var room = await rooms.GetAsync(roomId, ct);
        var created = await incoming.CreateAsync(roomId, name, anyChannel, actor.Name,
            (db, h) => audit.Add(db, actor, IntegrationAudit.IncomingCreate, $"webhook {h.Name} → /rooms/{room?.Slug}", anyChannel ? "any channel" : null), ct);
        return created.Ok ? created.Value! : Fail(created.Error!);
    }

    public async Task<AdminResult<IncomingHookInfo>> RegenerateIncomingAsync(AdminCaller caller, long id, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var done = await incoming.RegenerateAsync(id, (db, h) => audit.Add(db, actor, IntegrationAudit.IncomingRegenerate, $"webhook {h.Id} {h.Name}"), ct);
        return done.Ok ? done.Value! : Fail(done.Error!);
    }

    public async Task<AdminResult> DeleteIncomingAsync(AdminCaller caller, long id, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        return await incoming.DeleteAsync(id, (db, h) => audit.Add(db, actor, IntegrationAudit.IncomingDelete, $"webhook {h.Id} {h.Name}"), ct)
            ? AdminResult.Success
            : AdminResult.Fail("not_found", "The webhook was not found.");
    }

    /// <summary>The "send test" button: a message through the hook's own path, as a request to its URL would make.</summary>
    public async Task<AdminResult> TestIncomingAsync(AdminCaller caller, long id, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        var hook = (await incoming.ListAsync(ct)).FirstOrDefault(h => h.Id == id);
        if (hook is null) return AdminResult.Fail("not_found", "The webhook was not found.");
        var posted = await incoming.PostAsync(hook.Token, new IncomingPost($"Test message from {actor.Name} (back office): webhook \"{hook.Name}\" works.", null, null, null), ct);
        if (!posted.Ok) return Fail(posted.Error!);
        await audit.WriteAsync(actor, IntegrationAudit.IncomingTest, $"webhook {hook.Id} {hook.Name}", null, ct);
        return AdminResult.Success;
    }

    private static AdminResult Fail(ChatError e) => AdminResult.Fail(e.Code, e.Message);
}
