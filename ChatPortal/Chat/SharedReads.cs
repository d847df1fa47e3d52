namespace ChatPortal.Chat;

/// <summary>
/// Reads of the same key shared by those who ask while one runs: they wait for it to end and then share the next read
/// (one database read for all of them). A read is shared only by those who asked before it started, so it sees
/// everything stored before each of them asked — a caller that registered its live feed first misses nothing between
/// the read and the feed. Alone, a caller reads at once. After a restart thousands of clients come back at the same
/// moment (issue 19's reconnect storm) and each read its own copy of the same rows.
/// </summary>
/// <remarks>The read runs without the callers' cancellation (it is theirs together); a caller stops waiting with <c>WaitAsync</c>.</remarks>
public sealed class SharedReads<TKey, TValue>(Func<TKey, Task<TValue>> read) where TKey : notnull
{
    private readonly Dictionary<TKey, Waiting> _running = [];

    private sealed class Waiting
    {
        /// <summary>Those who asked while the read ran: they share the one after it.</summary>
        public TaskCompletionSource<TValue>? Next;
    }

    public Task<TValue> ReadAsync(TKey key)
    {
        TaskCompletionSource<TValue> first;
        lock (_running)
        {
            if (_running.TryGetValue(key, out var running))
                return (running.Next ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
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
            try
            {
                current.TrySetResult(await read(key).ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                current.TrySetException(ex);
            }
            lock (_running)
            {
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
