using ChatPortal.Profiles;

namespace ChatPortal.Components.Chat;

/// <summary>
/// One view's link to <see cref="ProfileDirectory"/>'s changes, shared by its <see cref="UserChip"/>s (the
/// online list cascades it). Each chip subscribing to the singleton directory itself put every chip of every
/// circuit in one copy-on-write array: N circuits × M chips listeners, each subscribe copying all of them.
/// Here a view subscribes once, when its first chip does.
/// </summary>
public sealed class ProfileFeed(ProfileDirectory profiles) : IDisposable
{
    private readonly Lock _gate = new();
    private Action<ProfileCard>[] _listeners = [];
    private IDisposable? _subscription;
    private bool _disposed;

    public ProfileCard? Get(long userId) => profiles.Get(userId);

    public IDisposable Subscribe(Action<ProfileCard> listener)
    {
        lock (_gate)
        {
            if (_disposed) return Nothing.Instance;
            _subscription ??= profiles.Subscribe(Changed);
            _listeners = [.. _listeners, listener];
        }
        return new Subscription(this, listener);
    }

    internal int Listeners => Volatile.Read(ref _listeners).Length;

    private void Changed(ProfileCard card)
    {
        foreach (var l in Volatile.Read(ref _listeners)) l(card);
    }

    private void Remove(Action<ProfileCard> listener)
    {
        lock (_gate) _listeners = [.. _listeners.Where(l => !ReferenceEquals(l, listener))];
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _listeners = [];
            _subscription?.Dispose();
            _subscription = null;
        }
    }

    private sealed class Subscription(ProfileFeed feed, Action<ProfileCard> listener) : IDisposable
    {
        public void Dispose() => feed.Remove(listener);
    }

    private sealed class Nothing : IDisposable
    {
        public static readonly Nothing Instance = new();
        public void Dispose() { }
    }
}
