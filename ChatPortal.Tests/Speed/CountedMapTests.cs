using ChatPortal.Chat;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: the caches that check their size on every write keep their own count (<see cref="CountedMap{TKey,TValue}"/>)
/// instead of asking the concurrent dictionary, which takes all its locks to count. The count must stay the number
/// of entries, or a cache would be emptied too early or grow past its limit.
/// </summary>
public sealed class CountedMapTests
{
    [Fact]
    public void The_count_follows_adds_replacements_removals_and_clears()
    {
        var map = new CountedMap<(long Room, long User), bool>();
        map.Set((1, 1), true);
        map.Set((1, 1), false); // a replacement, not a second entry
        map.Set((1, 2), true);
        Assert.False(map.TryAdd((1, 2), false));
        Assert.True(map.TryAdd((2, 1), true));
        Assert.Equal(3, map.Count);
        Assert.True(map.TryGetValue((1, 1), out var first));
        Assert.False(first);

        Assert.True(map.TryRemove((1, 2), out _));
        Assert.False(map.TryRemove((1, 2), out _)); // gone already: not counted twice
        Assert.Equal(2, map.Count);
        Assert.Equal([(1L, 1L), (2L, 1L)], map.Select(e => e.Key).Order().ToArray());

        map.Clear();
        Assert.Equal(0, map.Count);
        Assert.False(map.ContainsKey((1, 1)));
        map.Set((3, 3), true);
        Assert.Equal(1, map.Count);
    }

    [Fact]
    public async Task Writers_racing_on_the_same_keys_leave_the_count_equal_to_the_entries()
    {
        var map = new CountedMap<int, int>();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var random = new Random(w);
            for (var i = 0; i < 50_000; i++)
            {
                var key = random.Next(500);
                if (random.Next(3) == 0) map.TryRemove(key, out _);
                else map.Set(key, i);
            }
        }));
        await Task.WhenAll(writers);
        Assert.Equal(map.Count(), map.Count);
        Assert.InRange(map.Count, 1, 500);
    }
}
