using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// Issue 19: joins and leaves of a busy room must not cost O(room size) each. The room's subscriber set copied its
/// whole array on every join and leave (10,000 clients coming back to one room: 10,000 copies of up to 10,000 entries).
/// </summary>
public sealed class SubscriberSetTests
{
    private sealed class Counting : IChatSubscriber
    {
        public int Got;
        public bool Full;
        public bool TryDeliver(ChatEvent evt)
        {
            if (Full) return false;
            Got++;
            return true;
        }
        public void OnOverflow() { }
    }

    private static readonly ChatEvent Event = new ReadReceipt(1, new UserRef(1, "ann", UserKind.Member), 1);

    [Fact]
    public void Joins_and_leaves_of_a_room_of_ten_thousand_allocate_no_copy_of_the_room()
    {
        var set = new SubscriberSet();
        var crowd = Enumerable.Range(0, 10_000).Select(_ => new Counting()).ToList();
        foreach (var s in crowd) set.Add(s);
        Assert.Equal(10_000, set.Publish(Event)); // a snapshot exists now

        var late = Enumerable.Range(0, 1_000).Select(_ => new Counting()).ToList();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < late.Count; i++)
        {
            set.Add(late[i]);
            set.Remove(crowd[i * 7]); // leaves from all over the set
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // A copy per join or leave was 2,000 arrays of ~80 KB (~160 MB); now only the index and list grow (amortized).
        Assert.True(allocated < 2_000_000, $"{allocated:N0} bytes allocated for 1,000 joins and 1,000 leaves");
        Assert.Equal(10_000, set.Count);
    }

    [Fact]
    public void A_publish_reaches_exactly_those_subscribed_at_the_time_whatever_the_order_of_joins_and_leaves()
    {
        var set = new SubscriberSet();
        var all = Enumerable.Range(0, 300).Select(_ => new Counting()).ToList();
        var inSet = new HashSet<Counting>();
        var random = new Random(19);
        for (var round = 0; round < 2_000; round++)
        {
            var s = all[random.Next(all.Count)];
            if (inSet.Add(s)) set.Add(s);
            else
            {
                set.Remove(s);
                inSet.Remove(s);
            }
            set.Remove(new Counting()); // never subscribed: nothing changes
            if (round % 50 == 0)
            {
                var before = all.ToDictionary(x => x, x => x.Got);
                Assert.Equal(inSet.Count, set.Publish(Event));
                Assert.All(all, x => Assert.Equal(before[x] + (inSet.Contains(x) ? 1 : 0), x.Got));
            }
        }
        Assert.Equal(inSet.Count, set.Count);

        // A subscriber that refuses is dropped by the publish, and the rest still get it.
        var slow = inSet.First();
        slow.Full = true;
        Assert.Equal(inSet.Count - 1, set.Publish(Event));
        Assert.Equal(inSet.Count - 1, set.Count);
        Assert.Equal(inSet.Count - 1, set.Publish(Event));
    }
}
