using System.Globalization;
using System.Security.Cryptography;
using System.Threading.Channels;
using ChatPortal.Chat;
using ChatPortal.Chat.Safeguards;
using ChatPortal.Data;
using ChatPortal.WebSockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ChatPortal.Auth;

/// <summary>
/// Guests: real user rows (kind Guest, no password) with generated names, so their messages
/// have a sender like anyone's. Rooms decide whether guests may read and post there.
/// </summary>
/// <remarks>
/// Guest creation is limited per client address (<see cref="AddressLimits.TryCreateGuest"/>): rotating
/// guests must not buy a fresh per-user budget each time. Guests expire (<see cref="GuestExpiry"/>).
/// Rows are written by one loop in batches (one transaction for every guest that arrived meanwhile, and
/// the same for guests leaving): a connect storm of guests otherwise made one write transaction each,
/// and on SQLite the concurrent transactions spent their time in the busy handler's sleeps (issue 19).
/// </remarks>
public sealed class GuestAccounts : IDisposable
{
    /// <summary>The error a client gets when its address made too many guests.</summary>
    public static readonly ChatError TooMany = new("rate_limited", "Too many guests from your network; wait a moment or sign in.");

    private const int MaxBatch = 256;
    private const int MaxNameDraws = 64;

    private readonly IDbContextFactory<ChatDbContext> _dbFactory;
    private readonly UserDirectory _users;
    private readonly TimeProvider _time;
    private readonly IOptions<WebSocketEndpointOptions> _options;
    private readonly AddressLimits _limits;
    private readonly GuestExpiry _expiry;
    private readonly ILogger<GuestAccounts> _log;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });

    public GuestAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time,
        IOptions<WebSocketEndpointOptions> options, AddressLimits limits, GuestExpiry expiry, ILogger<GuestAccounts> log)
    {
        (_dbFactory, _users, _time, _options, _limits, _expiry, _log) = (dbFactory, users, time, options, limits, expiry, log);
        _ = Task.Run(RunAsync);
    }

    /// <summary>A new guest (its connection counts as open until <see cref="ForgetIfUnusedAsync"/>), or null when the address made too many.</summary>
    public async Task<UserRef?> CreateAsync(string? remoteIp, CancellationToken ct = default)
    {
        if (!_limits.TryCreateGuest(remoteIp)) return null;
        var request = new CreateRequest(remoteIp);
        if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(GuestAccounts));
        try
        {
            return await request.Done.Task.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The connection went away while its guest was being written: the row, once there, is not used.
            _ = request.Done.Task.ContinueWith(t => ForgetIfUnusedAsync(t.Result.Id), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
            throw;
        }
    }

    /// <summary>
    /// The guest's connection closed: a guest that posted nothing leaves no row behind (idle sockets
    /// must not grow the user table); one that did is marked seen now, which starts its expiry clock.
    /// </summary>
    public Task ForgetIfUnusedAsync(long guestId, CancellationToken ct = default)
    {
        _expiry.Closed(guestId);
        var request = new ForgetRequest(guestId);
        if (!_queue.Writer.TryWrite(request)) return Task.CompletedTask; // shutting down: the expiry sweep removes it later
        return request.Done.Task.WaitAsync(ct);
    }

    public void Dispose() => _queue.Writer.TryComplete();

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var r)) batch.Add(r);
            var creates = batch.OfType<CreateRequest>().ToList();
            var forgets = batch.OfType<ForgetRequest>().ToList();
            batch.Clear();
            if (forgets.Count > 0) await ForgetBatchAsync(forgets).ConfigureAwait(false);
            if (creates.Count > 0) await CreateBatchAsync(creates).ConfigureAwait(false);
        }
    }

    private async Task CreateBatchAsync(List<CreateRequest> requests)
    {
        try
        {
            var rows = await InsertAsync(requests).ConfigureAwait(false);
            for (var i = 0; i < requests.Count; i++)
            {
                _expiry.Opened(rows[i].Id);
                _users.Remember(rows[i]);
                requests[i].Done.TrySetResult(new UserRef(rows[i].Id, rows[i].Name, UserKind.Guest));
            }
        }
        catch (Exception ex) when (requests.Count > 1 && ex is DbUpdateException)
        {
            // A name taken between the check and the insert (another node drew it): one at a time, so
            // only that guest draws again.
            foreach (var r in requests) await CreateBatchAsync([r]).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Could not create {Count} guest accounts", requests.Count);
            foreach (var r in requests) r.Done.TrySetException(ex);
        }
    }

    private async Task<List<ChatUser>> InsertAsync(List<CreateRequest> requests)
    {
        var prefix = _options.Value.GuestNamePrefix.Trim();
        if (prefix.Length is 0 or > UserNames.MaxLength - 6) prefix = "Guest";
        await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var drawn = new HashSet<string>(StringComparer.Ordinal); // every name drawn, taken ones too: never drawn twice
        var rows = new List<ChatUser>(requests.Count);
        foreach (var r in requests)
        {
            var name = Draw(prefix, drawn);
            rows.Add(new ChatUser
            {
                Name = name,
                NormalizedName = UserNames.Normalize(name),
                Kind = UserKind.Guest,
                CreatedAt = now,
                LastSeenAt = now,
                LastIp = r.RemoteIp,
                SecurityStamp = ChatAccounts.NewStamp(),
            });
        }
        // Taken names are found before the insert and only those rows draw again: with tens of thousands
        // of guests in the table (a reconnect storm after a restart) nearly every batch of a few hundred
        // draws one, and redrawing the whole batch then never ended well. The unique index only catches
        // a true race (another node drawing the same name meanwhile).
        // Each round checks only the names drawn in the round before (the others are known free), so a
        // round costs one small query and rounds stop as soon as every name is free. With five of every nine
        // names taken a guest still holds a taken name after 10 rounds with chance (5/9)^10 ≈ 0.3 %, which
        // in a batch of 80 is one batch in five: the cap is far above that.
        var toCheck = rows;
        for (var draw = 0; draw < MaxNameDraws && toCheck.Count > 0; draw++)
        {
            var normalized = toCheck.Select(u => u.NormalizedName).ToList();
            var taken = await db.Users.Where(u => normalized.Contains(u.NormalizedName)).Select(u => u.NormalizedName)
                .ToListAsync().ConfigureAwait(false);
            if (taken.Count == 0) break;
            var again = new HashSet<string>(taken, StringComparer.Ordinal);
            toCheck = toCheck.Where(u => again.Contains(u.NormalizedName)).ToList();
            foreach (var row in toCheck)
            {
                row.Name = Draw(prefix, drawn);
                row.NormalizedName = UserNames.Normalize(row.Name);
            }
        }
        db.Users.AddRange(rows);
        await db.SaveChangesAsync().ConfigureAwait(false);
        return rows;
    }

    private static string Draw(string prefix, HashSet<string> drawn)
    {
        string name;
        do name = prefix + RandomNumberGenerator.GetInt32(100_000, 1_000_000).ToString(CultureInfo.InvariantCulture);
        while (!drawn.Add(UserNames.Normalize(name)));
        return name;
    }

    private async Task ForgetBatchAsync(List<ForgetRequest> requests)
    {
        try
        {
            var ids = requests.Select(r => r.GuestId).Distinct().ToList();
            await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
            await using var tx = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
            var unused = await db.Users
                .Where(u => ids.Contains(u.Id) && u.Kind == UserKind.Guest
                            && !db.Messages.Any(m => m.SenderId == u.Id)
                            && !db.Images.Any(i => i.UploaderId == u.Id))
                .Select(u => u.Id).ToListAsync().ConfigureAwait(false);
            if (unused.Count > 0) await db.Users.Where(u => unused.Contains(u.Id)).ExecuteDeleteAsync().ConfigureAwait(false);
            var used = ids.Except(unused).ToList();
            if (used.Count > 0)
            {
                var now = _time.GetUtcNow();
                await db.Users.Where(u => used.Contains(u.Id) && u.Kind == UserKind.Guest)
                    .ExecuteUpdateAsync(x => x.SetProperty(u => u.LastSeenAt, now)).ConfigureAwait(false);
            }
            await tx.CommitAsync().ConfigureAwait(false);
            foreach (var id in unused) _users.Invalidate(id);
            foreach (var r in requests) r.Done.TrySetResult();
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not remove {Count} unused guests", requests.Count);
            foreach (var r in requests) r.Done.TrySetException(ex);
        }
    }

    private abstract record Request;

    private sealed record CreateRequest(string? RemoteIp) : Request
    {
        public TaskCompletionSource<UserRef> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record ForgetRequest(long GuestId) : Request
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
