namespace ChatPortal.Components.Chat;

/// <summary>Tells the tab's drawer that the user muted or unmuted a room (per circuit: the room menu and the drawer are in one tab).</summary>
public sealed class RoomMuteSignal
{
    public event Action? Changed;

    public void Raise() => Changed?.Invoke();
}
