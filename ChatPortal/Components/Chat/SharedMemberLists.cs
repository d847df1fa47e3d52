using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ChatPortal.Chat;

namespace ChatPortal.Components.Chat;

/// <summary>
/// The member list a room view offers after "@" (<see cref="ChatRooms.ListMembersAsync"/>, up to 200), read once for all
/// the views that open the room within a few seconds and shared by them (issue 19, item 3): every view read its own copy
/// (a query per page open and a UserRef and name per member per circuit). A view keeps the list it opened with, as
/// before; arrivals since are in the online list it is offered with.
/// </summary>
internal static class SharedMemberLists
{
    private static readonly TimeSpan FreshFor = TimeSpan.FromSeconds(5);

    // Per ChatRooms instance (one per host: a test process runs several hosts whose room ids overlap).
    private static readonly ConditionalWeakTable<ChatRooms, ConcurrentDictionary<long, (long At, Task<IReadOnlyList<UserRef>> List)>> Lists = new();

    public static Task<IReadOnlyList<UserRef>> GetAsync(ChatRooms rooms, long roomId)
    {
        var byRoom = Lists.GetValue(rooms, _ => new());
        var now = Environment.TickCount64;
        if (byRoom.TryGetValue(roomId, out var known) && now - known.At < FreshFor.TotalMilliseconds && !known.List.IsFaulted && !known.List.IsCanceled)
            return known.List;
        var list = rooms.ListMembersAsync(roomId);
        byRoom[roomId] = (now, list);
        if (byRoom.Count > 10_000) byRoom.Clear();
        return list;
    }
}
