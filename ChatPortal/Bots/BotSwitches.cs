using System.Collections.Concurrent;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Bots;

/// <summary>
/// Which bot may answer in which room. A row for the room wins over the bot's global row; with neither,
/// <c>Bots:EnabledByDefault</c> decides (true: "@小爱 gets a reply" out of the box, product feature 6). Cached;
/// <see cref="SetAsync"/> refreshes the cache and tells the bot runner (<see cref="Changed"/>).
/// </summary>
public sealed class BotSwitches(IDbContextFactory<ChatDbContext> dbFactory, IOptions<BotOptions> options)
{
    private readonly ConcurrentDictionary<(string Bot, long? Room), bool?> _cache = new();

    /// <summary>Raised after a switch changed, with the bot's name: its connection joins or leaves rooms, connects or goes away.</summary>
    public event Action<string>? Changed;

    public async ValueTask<bool> IsEnabledAsync(string bot, long roomId, CancellationToken ct = default)
    {
        var room = await GetAsync(bot, roomId, ct);
        if (room is not null) return room.Value;
        return await GetAsync(bot, null, ct) ?? options.Value.EnabledByDefault;
    }

    /// <summary>Whether the bot is on anywhere (globally, or in at least one room): otherwise it stays disconnected.</summary>
    public async ValueTask<bool> AnyEnabledAsync(string bot, CancellationToken ct = default)
    {
        if (await GetAsync(bot, null, ct) ?? options.Value.EnabledByDefault) return true;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.BotSettings.AsNoTracking().AnyAsync(b => b.BotName == bot && b.RoomId != null && b.Enabled, ct);
    }

    /// <summary>The explicit setting for a room (or globally, with null), or null when not set.</summary>
    public async ValueTask<bool?> GetAsync(string bot, long? roomId, CancellationToken ct = default)
    {
        if (_cache.TryGetValue((bot, roomId), out var cached)) return cached;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.BotSettings.AsNoTracking().FirstOrDefaultAsync(b => b.BotName == bot && b.RoomId == roomId, ct);
        return _cache[(bot, roomId)] = row?.Enabled;
    }

    /// <summary>Sets a bot on or off in a room (or globally with <paramref name="roomId"/> null); null clears the setting.</summary>
    public async Task SetAsync(string bot, long? roomId, bool? enabled, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.BotSettings.FirstOrDefaultAsync(b => b.BotName == bot && b.RoomId == roomId, ct);
        if (enabled is null)
        {
            if (row is not null) db.BotSettings.Remove(row);
        }
        else if (row is null)
        {
            db.BotSettings.Add(new BotSetting { BotName = bot, RoomId = roomId, Enabled = enabled.Value });
        }
        else
        {
            row.Enabled = enabled.Value;
        }
        await db.SaveChangesAsync(ct);
        _cache[(bot, roomId)] = enabled;
        Changed?.Invoke(bot);
    }
}
