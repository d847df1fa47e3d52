using System.Threading.RateLimiting;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Chat.Integrations;

/// <summary>An incoming webhook as the back office lists it.</summary>
public sealed record IncomingHookInfo(long Id, long RoomId, string Name, string Token, bool AnyChannel, bool Enabled,
    DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? LastUsedAt);

/// <summary>
/// Incoming webhooks (issue 16): the back office creates one for a room; a POST to its secret URL posts through
/// <see cref="ChatCommands.PostAsync"/> — the same checks, the single writer, the fan-out to tabs, sockets and other
/// nodes — as the hook's bot user, showing the payload's name and icon and marked as an integration's post.
/// </summary>
public sealed class IncomingHooks(IDbContextFactory<ChatDbContext> dbFactory, ChatRooms rooms, ChatCommands commands, IntegrationUsers identities,
    IOptions<IntegrationOptions> options, TimeProvider time) : IDisposable
{
    private readonly PartitionedRateLimiter<long> _rate = PartitionedRateLimiter.Create<long, long>(hookId =>
        RateLimitPartition.GetTokenBucketLimiter(hookId, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, options.Value.IncomingBurst),
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / Math.Max(1, options.Value.IncomingPerMinute),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    public static readonly ChatError UnknownHook = new("not_found", "There is no webhook at this address (wrong, regenerated or deleted).");
    public static readonly ChatError ChannelRefused = new("channel_refused", "This webhook may only post to its own room.");

    public async Task<IReadOnlyList<IncomingHookInfo>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.Set<IncomingWebhook>().AsNoTracking().OrderBy(h => h.Id).ToListAsync(ct)).Select(Info).ToList();
    }

    /// <summary>Creates a hook for a room (and its bot user); <paramref name="alsoWrite"/> adds to the same transaction (the audit entry).</summary>
    public async Task<ChatResult<IncomingHookInfo>> CreateAsync(long roomId, string? name, bool anyChannel, string createdBy,
        Action<ChatDbContext, IncomingWebhook>? alsoWrite = null, CancellationToken ct = default)
    {
        name = name?.Trim();
        if (string.IsNullOrEmpty(name)) return new ChatError("name_required", "Give the webhook a name.");
        if (name.Length > 80) return new ChatError("name_too_long", "The name is longer than 80 characters.");
        var room = await rooms.GetAsync(roomId, ct);
        if (room is null || room.IsDirect) return ChatError.NotFound("The room");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = identities.Add(db, "webhook");
        await db.SaveChangesAsync(ct);
        var hook = new IncomingWebhook
        {
            RoomId = room.Id,
            Name = name,
            Token = IntegrationUsers.NewToken(),
            PostAsUserId = user.Id,
            AnyChannel = anyChannel,
            CreatedAt = time.GetUtcNow(),
            CreatedBy = createdBy,
        };
        db.Set<IncomingWebhook>().Add(hook);
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        return Info(hook);
    }

    /// <summary>A new secret: the old URL stops working at once.</summary>
    public async Task<ChatResult<IncomingHookInfo>> RegenerateAsync(long id, Action<ChatDbContext, IncomingWebhook>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<IncomingWebhook>().FirstOrDefaultAsync(h => h.Id == id, ct);
        if (hook is null) return ChatError.NotFound("The webhook");
        hook.Token = IntegrationUsers.NewToken();
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        return Info(hook);
    }

    public async Task<bool> DeleteAsync(long id, Action<ChatDbContext, IncomingWebhook>? alsoWrite = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<IncomingWebhook>().FirstOrDefaultAsync(h => h.Id == id, ct);
        if (hook is null) return false;
        db.Remove(hook);
        alsoWrite?.Invoke(db, hook);
        await db.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>
    /// Posts what a request to <c>/hooks/{token}</c> carried. Errors: <c>not_found</c> (no such hook), <c>rate_limited</c>,
    /// <c>channel_refused</c>, and the post's own (<c>too_long</c>, <c>filtered</c>, <c>archived</c>, ...). Nothing is stored on an error.
    /// </summary>
    public async Task<ChatResult<ChatMessage>> PostAsync(string token, IncomingPost post, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 64) return UnknownHook;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hook = await db.Set<IncomingWebhook>().FirstOrDefaultAsync(h => h.Token == token && h.Enabled, ct);
        if (hook is null) return UnknownHook;
        var room = await rooms.GetAsync(hook.RoomId, ct);
        if (post.Channel is { } channel && !string.Equals(channel, room?.Slug, StringComparison.OrdinalIgnoreCase))
        {
            if (!hook.AnyChannel) return ChannelRefused;
            room = await rooms.FindAsync(channel.ToLowerInvariant(), ct);
            if (room is null || room.IsDirect) return ChatError.NotFound("The channel");
        }
        if (room is null) return ChatError.NotFound("The room");
        using (var lease = _rate.AttemptAcquire(hook.Id))
            if (!lease.IsAcquired) return ChatError.RateLimited;
        var me = await identities.GetAsync(hook.PostAsUserId, ct);
        if (me is null) return UnknownHook;
        if (room.IsPrivate) await rooms.EnsureMemberAsync(room.Id, me, ct);
        var result = await commands.PostAsync(me, room.Id, post.Text, ct: ct,
            style: new MessageStyle(As: new PostedAs(post.Username ?? hook.Name, post.IconUrl, $"webhook:{hook.Id}")));
        if (result.Ok)
        {
            hook.LastUsedAt = time.GetUtcNow();
            await db.SaveChangesAsync(ct);
        }
        return result;
    }

    private static IncomingHookInfo Info(IncomingWebhook h) =>
        new(h.Id, h.RoomId, h.Name, h.Token, h.AnyChannel, h.Enabled, h.CreatedAt, h.CreatedBy, h.LastUsedAt);

    public void Dispose() => _rate.Dispose();
}
