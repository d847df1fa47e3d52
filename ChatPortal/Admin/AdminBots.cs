using ChatPortal.Bots;
using ChatPortal.Chat;

namespace ChatPortal.Admin;

/// <summary>A bot's switches: its global setting and its per-room settings (null: not set, the default applies).</summary>
public sealed record BotSwitchRow(string Bot, bool? Global, IReadOnlyDictionary<long, bool?> Rooms);

/// <summary>Turns registered bots on and off, globally and per room, through <see cref="BotSwitches"/>.</summary>
public sealed class AdminBots(IEnumerable<IChatBot> bots, BotSwitches switches, AdminGuard guard, AdminAudit audit)
{
    public IReadOnlyList<string> BotNames { get; } = bots.Select(b => b.Name).Distinct().Order(StringComparer.Ordinal).ToList();

    public async Task<IReadOnlyList<BotSwitchRow>> ListAsync(AdminCaller caller, IReadOnlyList<RoomInfo> rooms, CancellationToken ct = default)
    {
        await guard.RequireAsync(caller, ct);
        var list = new List<BotSwitchRow>();
        foreach (var bot in BotNames)
        {
            var perRoom = new Dictionary<long, bool?>();
            foreach (var room in rooms) perRoom[room.Id] = await switches.GetAsync(bot, room.Id, ct);
            list.Add(new BotSwitchRow(bot, await switches.GetAsync(bot, null, ct), perRoom));
        }
        return list;
    }

    /// <summary>Sets a bot on/off globally (<paramref name="room"/> null) or in one room; null clears the setting.</summary>
    public async Task<AdminResult> SetAsync(AdminCaller caller, string bot, RoomInfo? room, bool? enabled, CancellationToken ct = default)
    {
        var actor = await guard.RequireAsync(caller, ct);
        if (!BotNames.Contains(bot)) return AdminResult.Fail("bot_not_found", $"No bot is named \"{bot}\".", bot);
        await switches.SetAsync(bot, room?.Id, enabled, ct);
        await audit.WriteAsync(actor, AuditActions.BotSwitch, room is null ? $"bot {bot} (all rooms)" : $"bot {bot} in /rooms/{room.Slug}",
            enabled switch { true => "on", false => "off", null => "default" }, ct);
        return AdminResult.Success;
    }
}
