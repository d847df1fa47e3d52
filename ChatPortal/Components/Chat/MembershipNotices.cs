using ChatPortal.Chat;
using Microsoft.Extensions.Localization;

namespace ChatPortal.Components.Chat;

/// <summary>
/// Arrivals and departures of a busy room held back for the room view's next tick: one "joined" and one
/// "left the room" notice a second, naming the first few people and counting the rest.
/// </summary>
internal sealed class MembershipNotices
{
    /// <summary>Names shown in one notice; the others are counted.</summary>
    internal const int Named = 3;

    private readonly List<string> _joined = [];
    private readonly List<string> _left = [];
    private int _moreJoined;
    private int _moreLeft;

    public bool IsEmpty => _joined.Count == 0 && _left.Count == 0;

    public void Joined(string name) => Add(_joined, ref _moreJoined, name);

    public void Left(string name) => Add(_left, ref _moreLeft, name);

    /// <summary>A busy room's summary from the core: its named users (but the viewer, <paramref name="me"/>), and the others it counted.</summary>
    public void Add(MembershipSummary summary, long me)
    {
        foreach (var u in summary.Joined) if (u.Id != me) Joined(u.Name);
        _moreJoined += summary.JoinedCount - summary.Joined.Count;
        foreach (var u in summary.Left) if (u.Id != me) Left(u.Name);
        _moreLeft += summary.LeftCount - summary.Left.Count;
    }

    private static void Add(List<string> names, ref int more, string name)
    {
        if (names.Count < Named) names.Add(name);
        else more++;
    }

    public void Clear()
    {
        _joined.Clear();
        _left.Clear();
        _moreJoined = _moreLeft = 0;
    }

    /// <summary>The notices for what was held (none, one or two), and starts again.</summary>
    public IReadOnlyList<string> Take(IStringLocalizer<ChatText> l)
    {
        if (IsEmpty) return [];
        var notices = new List<string>(2);
        if (_joined.Count > 0)
            notices.Add((_moreJoined > 0 ? l["{0} and {1} others joined", string.Join(", ", _joined), _moreJoined] : l["{0} joined", string.Join(", ", _joined)]).Value);
        if (_left.Count > 0)
            notices.Add((_moreLeft > 0 ? l["{0} and {1} others left the room", string.Join(", ", _left), _moreLeft] : l["{0} left the room", string.Join(", ", _left)]).Value);
        Clear();
        return notices;
    }
}
