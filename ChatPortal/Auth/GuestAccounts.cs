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
/// the same for guests leaving or coming back): a connect storm of guests otherwise made one write
/// transaction each, and on SQLite the concurrent transactions spent their time in the busy handler's
/// sleeps (issue 19).
/// A <c>chatportal.v1</c> guest gets a resume token (<see cref="SignInAsync"/>): with it the same guest comes
/// back after a reconnect, a page reload or a server restart, as a live-chat visitor does in Rocket.Chat, and a
/// restart's reconnect storm reads its guests instead of writing ten thousand new ones (and deleting the old ones
/// while the old process stops). Such a guest's row stays when its socket closes; the expiry sweep removes it once
/// it has been away for <see cref="GuestOptions.UnusedExpireMinutes"/> (posted nothing) or
/// <see cref="GuestOptions.ExpireAfterHours"/> (posted). A plain-socket guest cannot come back and goes at close.
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
    private readonly IOptions<GuestOptions> _guestOptions;
    private readonly GuestResumeTokens _resume;
    private readonly CancellationToken _stopping;
    private readonly ILogger<GuestAccounts> _log;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });

    public GuestAccounts(IDbContextFactory<ChatDbContext> dbFactory, UserDirectory users, TimeProvider time,
        IOptions<WebSocketEndpointOptions> options, AddressLimits limits, GuestExpiry expiry, IOptions<GuestOptions> guestOptions,
        GuestResumeTokens resume, IHostApplicationLifetime lifetime, ILogger<GuestAccounts> log)
    {
        (_dbFactory, _users, _time, _options, _limits, _expiry, _guestOptions, _log) = (dbFactory, users, time, options, limits, expiry, guestOptions, log);
        _resume = resume;
        _stopping = lifetime.ApplicationStopping;
        _ = Task.Run(RunAsync);
    }

    /// <summary>A new guest (its connection counts as open until <see cref="ClosedAsync"/>), or null when the address made too many.</summary>
    public async Task<UserRef?> CreateAsync(string? remoteIp, CancellationToken ct = default) =>
        (await CreateRowAsync(remoteIp, ct))?.User;

    /// <summary>
    /// A <c>chatportal.v1</c> guest: the one <paramref name="resume"/> names when that token is valid and its guest is
    /// still there and not banned or kicked since (<see cref="GuestSignIn.Resumed"/>), otherwise a new one (null when the
    /// address made too many). Coming back is not making a guest: it does not count against the address's guest limit.
    /// </summary>
    public async Task<GuestSignIn?> SignInAsync(string? remoteIp, string? resume, CancellationToken ct = default)
    {
        if (!_guestOptions.Value.Resumable)
            return await CreateAsync(remoteIp, ct) is { } plain ? new GuestSignIn(plain, null, false) : null;
        if (await _resume.ReadAsync(resume, ct) is { } claim)
        {
            var request = new ResumeRequest(claim);
            if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(GuestAccounts));
            var back = await AwaitOpenedAsync(request.Done.Task, b => b?.User.Id, resumable: true, ct);
            // The same token while it has more than half its time left; a fresh one after that.
            var fresh = claim.Expires - _time.GetUtcNow() > TimeSpan.FromHours(_guestOptions.Value.ResumeHours / 2);
            if (back is not null) return new GuestSignIn(back.Value.User, fresh ? resume : await IssueResumeAsync(back.Value.User.Id, back.Value.Stamp, ct), true);
        }
        return await CreateRowAsync(remoteIp, ct) is { } made
            ? new GuestSignIn(made.User, await IssueResumeAsync(made.User.Id, made.Stamp, ct), false)
            : null;
    }

    /// <summary>
    /// A connection of the guest closed. A guest that cannot come back (<paramref name="resumable"/> false: a plain
    /// socket) and posted nothing leaves no row behind (idle sockets must not grow the user table); any other is marked
    /// seen now, which starts its expiry clock. While the server stops nothing is written: its guests come back to the
    /// next process with their resume tokens, and the sweep removes those that do not.
    /// </summary>
    public Task ClosedAsync(long guestId, bool resumable, CancellationToken ct = default)
    {
        _expiry.Closed(guestId);
        resumable &= _guestOptions.Value.Resumable;
        if (resumable && _stopping.IsCancellationRequested) return Task.CompletedTask;
        CloseRequest request = resumable ? new SeenRequest(guestId) : new ForgetRequest(guestId);
        if (!_queue.Writer.TryWrite(request)) return Task.CompletedTask; // shutting down: the expiry sweep removes it later
        return request.Done.Task.WaitAsync(ct);
    }

    private async Task<(UserRef User, string Stamp)?> CreateRowAsync(string? remoteIp, CancellationToken ct)
    {
        if (!_limits.TryCreateGuest(remoteIp)) return null;
        var request = new CreateRequest(remoteIp);
        if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(GuestAccounts));
        var made = await AwaitOpenedAsync(request.Done.Task, m => m.User.Id, resumable: false, ct);
        return (made.User, made.Stamp);
    }

    /// <summary>
    /// Waits for a guest the loop opened (<see cref="GuestExpiry.Opened"/>); when the connection went away meanwhile the
    /// guest, once there, is closed again (a new row that nobody used goes).
    /// </summary>
    private async Task<T> AwaitOpenedAsync<T>(Task<T> opened, Func<T, long?> guestId, bool resumable, CancellationToken ct)
    {
        try
        {
            return await opened.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _ = opened.ContinueWith(t => guestId(t.Result) is { } id ? ClosedAsync(id, resumable) : Task.CompletedTask,
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
            throw;
        }
    }

    private ValueTask<string> IssueResumeAsync(long guestId, string stamp, CancellationToken ct) =>
        _resume.IssueAsync(guestId, stamp, _time.GetUtcNow() + TimeSpan.FromHours(_guestOptions.Value.ResumeHours), ct);

    public void Dispose() => _queue.Writer.TryComplete();

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var r)) batch.Add(r);
            var creates = batch.OfType<CreateRequest>().ToList();
            var forgets = batch.OfType<ForgetRequest>().ToList();
            var seen = batch.OfType<SeenRequest>().ToList();
            var resumes = batch.OfType<ResumeRequest>().ToList();
            batch.Clear();
            if (forgets.Count > 0) await ForgetBatchAsync(forgets).ConfigureAwait(false);
            if (seen.Count > 0) await SeenBatchAsync(seen).ConfigureAwait(false);
            if (resumes.Count > 0) await ResumeBatchAsync(resumes).ConfigureAwait(false);
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
                requests[i].Done.TrySetResult((new UserRef(rows[i].Id, rows[i].Name, UserKind.Guest), rows[i].SecurityStamp));
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

    /// <summary>
    /// Guests coming back, read in one query: each one whose row is there, still a guest, not banned and with the stamp
    /// its token was issued with (a kick or ban changes it) is open again. One that has been away long enough that another
    /// node's sweep could take it for idle is marked seen first (a storm after a restart writes nothing).
    /// </summary>
    private async Task ResumeBatchAsync(List<ResumeRequest> requests)
    {
        try
        {
            var ids = requests.Select(r => r.Claim.GuestId).Distinct().ToList();
            await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
            var rows = await db.Users.AsNoTracking()
                .Where(u => ids.Contains(u.Id) && u.Kind == UserKind.Guest && u.BannedAt == null && u.DeletedAt == null)
                .ToDictionaryAsync(u => u.Id).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var markBefore = now - _guestOptions.Value.UnusedAfter / 2;
            var back = requests.Select(r => rows.TryGetValue(r.Claim.GuestId, out var row) && GuestResumeTokens.Matches(r.Claim, row.SecurityStamp) ? row : null).ToList();
            var mark = back.OfType<ChatUser>().Where(u => (u.LastSeenAt ?? u.CreatedAt) < markBefore).Select(u => u.Id).Distinct().ToList();
            if (mark.Count > 0
                && await db.Users.Where(u => mark.Contains(u.Id)).ExecuteUpdateAsync(x => x.SetProperty(u => u.LastSeenAt, now)).ConfigureAwait(false) < mark.Count)
            {
                // A sweep removed some of them between the read and the mark: those are gone, not back.
                var still = (await db.Users.Where(u => mark.Contains(u.Id)).Select(u => u.Id).ToListAsync().ConfigureAwait(false)).ToHashSet();
                for (var i = 0; i < back.Count; i++)
                    if (back[i] is { } gone && mark.Contains(gone.Id) && !still.Contains(gone.Id)) back[i] = null;
            }
            for (var i = 0; i < requests.Count; i++)
            {
                if (back[i] is not { } row)
                {
                    requests[i].Done.TrySetResult(null);
                    continue;
                }
                _expiry.Opened(row.Id);
                _users.Remember(row);
                requests[i].Done.TrySetResult((new UserRef(row.Id, row.Name, UserKind.Guest), row.SecurityStamp));
            }
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not read {Count} returning guests", requests.Count);
            foreach (var r in requests) r.Done.TrySetException(ex);
        }
    }

    /// <summary>Resumable guests whose connections closed: marked seen, which starts their expiry clock (nothing is deleted).</summary>
    private async Task SeenBatchAsync(List<SeenRequest> requests)
    {
        try
        {
            var ids = requests.Select(r => r.GuestId).Distinct().ToList();
            var now = _time.GetUtcNow();
            await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
            await db.Users.Where(u => ids.Contains(u.Id) && u.Kind == UserKind.Guest)
                .ExecuteUpdateAsync(x => x.SetProperty(u => u.LastSeenAt, now)).ConfigureAwait(false);
            foreach (var r in requests) r.Done.TrySetResult();
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not mark {Count} guests as seen", requests.Count);
            foreach (var r in requests) r.Done.TrySetException(ex);
        }
    }

    private abstract record Request;

    private sealed record CreateRequest(string? RemoteIp) : Request
    {
        public TaskCompletionSource<(UserRef User, string Stamp)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record ResumeRequest(GuestResumeClaim Claim) : Request
    {
        public TaskCompletionSource<(UserRef User, string Stamp)?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record SeenRequest(long GuestId) : CloseRequest(GuestId);

    private abstract record CloseRequest(long GuestId) : Request
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record ForgetRequest(long GuestId) : CloseRequest(GuestId);
}

/// <summary>A <c>chatportal.v1</c> guest signed in: who, the token to come back with (null when resuming is off), and whether it came back.</summary>
public sealed record GuestSignIn(UserRef User, string? Resume, bool Resumed);
