using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace ChatPortal.Chat;

/// <summary>
/// A <see cref="ConcurrentDictionary{TKey,TValue}"/> that keeps its own count, for the caches that check their size on
/// every write. <see cref="ConcurrentDictionary{TKey,TValue}.Count"/> takes every one of the dictionary's locks, and a
/// dictionary made with the default constructor adds locks as its table grows (up to 1,024): with a few thousand
/// memberships cached, the membership cache's size check cost 1.6 % of the server's CPU while a thousand bots connected
/// for the first time (issue 19). <see cref="Count"/> here is one read; it may be off by the writes that raced a
/// <see cref="Clear"/>, which a size limit can live with. Enumerating takes no locks.
/// </summary>
public sealed class CountedMap<TKey, TValue> : IEnumerable<KeyValuePair<TKey, TValue>> where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TValue> _map;
    private int _count;

    public CountedMap(IEqualityComparer<TKey>? comparer = null) => _map = new ConcurrentDictionary<TKey, TValue>(comparer);

    /// <summary>The number of entries (see the class's remarks on races with <see cref="Clear"/>).</summary>
    public int Count => Math.Max(0, Volatile.Read(ref _count));

    public bool TryGetValue(TKey key, [MaybeNullWhen(false)] out TValue value) => _map.TryGetValue(key, out value);

    public bool ContainsKey(TKey key) => _map.ContainsKey(key);

    public bool TryAdd(TKey key, TValue value)
    {
        if (!_map.TryAdd(key, value)) return false;
        Interlocked.Increment(ref _count);
        return true;
    }

    /// <summary>Adds or replaces the entry; counted once however many threads set the same key.</summary>
    public void Set(TKey key, TValue value)
    {
        while (true)
        {
            if (_map.TryGetValue(key, out var old))
            {
                if (_map.TryUpdate(key, value, old)) return;
            }
            else if (TryAdd(key, value)) return;
        }
    }

    public bool TryRemove(TKey key, [MaybeNullWhen(false)] out TValue value)
    {
        if (!_map.TryRemove(key, out value)) return false;
        Interlocked.Decrement(ref _count);
        return true;
    }

    public void Clear()
    {
        _map.Clear();
        Volatile.Write(ref _count, 0);
    }

    public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator() => _map.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
