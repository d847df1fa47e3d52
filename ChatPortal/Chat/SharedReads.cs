namespace ChatPortal.Chat;

/// <summary>
/// Reads of the same key shared by those who ask while one runs: they wait for it to end and then share the next read
/// (one database read for all of them). A read is shared only by those who asked before it started, so it sees
/// everything stored before each of them asked — a caller that registered its live feed first misses nothing between
/// the read and the feed. Alone, a caller reads at once. After a restart thousands of clients come back at the same
/// moment (issue 19's reconnect storm) and each read its own copy of the same rows.
/// </summary>
/// <remarks>
/// The read runs without the callers' cancellation (it is theirs together); a caller stops waiting with <c>WaitAsync</c>.
/// With <paramref name="version"/> (a counter that moves before anything that could change the result is delivered) a
/// finished read is also kept: a caller who asks while the counter still shows what it showed when that read started
/// gets it without a read — nothing it could miss happened in between, and what happens later reaches its live feed.
/// </remarks>
public sealed class SharedReads<TKey, TValue>(Func<TKey, Task<TValue>> read, Func<TKey, long>? version = null) where TKey : notnull
{
    /// <summary>
    /// Kept results at most (a room's catch-ups after a restart share one key; older keys are dropped together). A kept
    /// catch-up holds up to a page of events, so few are kept; one found out of date is dropped at once.
    /// </summary>
    internal const int MaxKept = 32;

    private readonly Dictionary<TKey, Waiting> _running = [];
    private readonly Dictionary<TKey, (long Version, Task<TValue> Result)> _kept = [];

    private sealed class Waiting
    {
        /// <summary>Those who asked while the read ran: they share the one after it.</summary>
        public TaskCompletionSource<TValue>? Next;

        /// <summary>The read running now, and the counter when it started (null: not known yet, or no counter).</summary>
        public TaskCompletionSource<TValue>? Current;
        public long? StartedAt;
    }

    /// <summary>Reads (or shares or reuses a read) that starts after this call, or whose result nothing changed since it started.</summary>
    public Task<TValue> ReadAsync(TKey key)
    {
        TaskCompletionSource<TValue> first;
        var now = version?.Invoke(key);
        lock (_running)
        {
            if (now is { } v && _kept.TryGetValue(key, out var kept))
            {
                if (kept.Version == v) return kept.Result;
                _kept.Remove(key); // the room moved since: never valid again
            }
            if (_running.TryGetValue(key, out var running))
            {
                // Nothing changed since the running read started: its result is this caller's too.
                if (now is { } w && running.StartedAt == w && running.Current is { } current) return current.Task;
                return (running.Next ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            first = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _running[key] = new Waiting();
        }
        _ = RunAsync(key, first);
        return first.Task;
    }

    private async Task RunAsync(TKey key, TaskCompletionSource<TValue> current)
    {
        while (true)
        {
            var startedAt = version?.Invoke(key); // before the read: what it will see is at least this
            lock (_running) (_running[key].Current, _running[key].StartedAt) = (current, startedAt);
            var ok = false;
            try
            {
                current.TrySetResult(await read(key).ConfigureAwait(false));
                ok = true;
            }
            catch (Exception ex)
            {
                current.TrySetException(ex);
            }
            lock (_running)
            {
                if (ok && startedAt is { } v)
                {
                    if (_kept.Count >= MaxKept && !_kept.ContainsKey(key)) _kept.Clear();
                    _kept[key] = (v, current.Task);
                }
                var state = _running[key];
                if (state.Next is null)
                {
                    _running.Remove(key);
                    return;
                }
                (current, state.Next) = (state.Next, null);
            }
        }
    }
}
