using Microsoft.AspNetCore.Components;

namespace ChatPortal.Components.Chat;

/// <summary>
/// A click on a message row's button: what it does (its <c>data-act</c>), the row's message (<c>data-id</c>) and the
/// button's <c>data-arg</c> (a reaction's emoji). The room view has one handler for the buttons of all its rows
/// (<c>@onrowaction</c> on the list): each button was a handler of its own, ten per row in every circuit, each with its
/// delegate, its entry in the circuit's handler table and its frame. wwwroot/ChatPortal.lib.module.js raises the event.
/// </summary>
public sealed class RowActionEventArgs : EventArgs
{
    public string? Action { get; set; }
    public long Id { get; set; }
    public string? Arg { get; set; }
}

[EventHandler("onrowaction", typeof(RowActionEventArgs), enableStopPropagation: true, enablePreventDefault: true)]
// Razor finds custom events only on a class of exactly this name.
public static class EventHandlers;
