using System.Threading.Channels;
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;

namespace ChatPortal.Chat;

/// <summary>
/// New memberships written in batches (issue 19): one loop takes every first join that arrived meanwhile and writes
/// them in one transaction (one context, one commit), as guests' rows are (<c>GuestAccounts</c>). A thousand bots
/// connecting for the first time each become a member of the lobby; written one transaction each, on SQLite their
/// concurrent write transactions queued on the database's one write lock and cost ~1.3 ms of server CPU per connect
/// (with the writes taken out of the path, 0.5 ms). Used by <see cref="ChatRooms.EnsureMemberAsync"/> once its
/// caches and read say the user is not a member; the announcement (<see cref="MemberAdded"/>) goes out from here
/// before the caller's task completes, also when the caller stopped waiting.
/// </summary>
internal sealed class MemberWrites : IDisposable
{
    private const int MaxBatch = 256;

    private readonly IDbContextFactory<ChatDbContext> _dbFactory;
    private readonly RoomDirectory _directory;
    private readonly TimeProvider _time;
    private readonly Func<MemberAdded, Task> _announce;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });

    public MemberWrites(IDbContextFactory<ChatDbContext> dbFactory, RoomDirectory directory, TimeProvider time, Func<MemberAdded, Task> announce)
    {
        (_dbFactory, _directory, _time, _announce) = (dbFactory, directory, time, announce);
    }

    private int _started;

    /// <summary>Makes the user a member of the room; true when this call made them one (false: they were already).</summary>
    public Task<bool> AddAsync(long roomId, UserRef user, CancellationToken ct)
    {
        var request = new Request(roomId, user);
        if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(MemberWrites));
        if (Interlocked.Exchange(ref _started, 1) == 0) _ = Task.Run(RunAsync); // the loop starts with the first join
        return request.Done.Task.WaitAsync(ct);
    }

    public void Dispose() => _queue.Writer.TryComplete();

    private sealed class Request(long roomId, UserRef user)
    {
        public long RoomId { get; } = roomId;
        public UserRef User { get; } = user;
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var r)) batch.Add(r);
            await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<Request> batch)
    {
        HashSet<Request> made;
        try
        {
            made = await InsertAsync(batch).ConfigureAwait(false);
        }
        catch (DbUpdateException) when (batch.Count > 1)
        {
            // A row made between the read and the insert (another node, another process): one at a time, so only that
            // request finds its row there.
            foreach (var r in batch) await WriteAsync([r]).ConfigureAwait(false);
            return;
        }
        catch (DbUpdateException)
        {
            // Joined at the same moment elsewhere: the row exists, which is all we wanted.
            _directory.SetMember(batch[0].RoomId, batch[0].User.Id, true);
            batch[0].Done.TrySetResult(false);
            return;
        }
        catch (Exception ex)
        {
            foreach (var r in batch) r.Done.TrySetException(ex);
            return;
        }
        foreach (var r in batch)
        {
            if (made.Contains(r))
            {
                try
                {
                    await _announce(new MemberAdded(r.RoomId, r.User)).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    r.Done.TrySetException(ex); // stored; the caches and sessions learn of it at the next join
                    continue;
                }
            }
            else _directory.SetMember(r.RoomId, r.User.Id, true);
            r.Done.TrySetResult(made.Contains(r));
        }
    }

    /// <summary>Writes the rows of the batch that do not exist yet in one transaction; returns the requests that made one.</summary>
    private async Task<HashSet<Request>> InsertAsync(List<Request> batch)
    {
        await using var db = await _dbFactory.CreateDbContextAsync().ConfigureAwait(false);
        var roomIds = batch.Select(r => r.RoomId).Distinct().ToList();
        var userIds = batch.Select(r => r.User.Id).Distinct().ToList();
        var existing = (await db.RoomMembers.AsNoTracking()
                .Where(m => roomIds.Contains(m.RoomId) && userIds.Contains(m.UserId))
                .Select(m => new { m.RoomId, m.UserId })
                .ToListAsync().ConfigureAwait(false))
            .Select(m => (m.RoomId, m.UserId)).ToHashSet();
        var made = new HashSet<Request>();
        var wanted = new HashSet<(long RoomId, long UserId)>();
        foreach (var r in batch)
        {
            // The same user twice in one batch (two tabs): the first makes the row.
            if (!existing.Contains((r.RoomId, r.User.Id)) && wanted.Add((r.RoomId, r.User.Id))) made.Add(r);
        }
        if (made.Count == 0) return made;

        var now = _time.GetUtcNow();
        foreach (var roomId in made.Select(r => r.RoomId).Distinct())
        {
            // Unread counts start at the newest message: one indexed MAX per room (a batch is mostly one room).
            var last = await db.Messages.Where(m => m.RoomId == roomId).MaxAsync(m => (long?)m.Id).ConfigureAwait(false) ?? 0;
            foreach (var r in made.Where(r => r.RoomId == roomId))
                db.RoomMembers.Add(new RoomMember { RoomId = roomId, UserId = r.User.Id, JoinedAt = now, LastReadMessageId = last });
        }
        // Joining a public room they once left lists it in their drawer again (deleted in the same transaction).
        var departures = await db.RoomDepartures
            .Where(d => roomIds.Contains(d.RoomId) && userIds.Contains(d.UserId))
            .ToListAsync().ConfigureAwait(false);
        db.RoomDepartures.RemoveRange(departures.Where(d => wanted.Contains((d.RoomId, d.UserId))));
        await db.SaveChangesAsync().ConfigureAwait(false);
        return made;
    }
}
