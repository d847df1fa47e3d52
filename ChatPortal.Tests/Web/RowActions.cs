using AngleSharp.Dom;
using Bunit;
using ChatPortal.Components.Chat;

namespace ChatPortal.Tests.Web;

/// <summary>
/// A click on a message row's button as the browser delivers it (wwwroot/ChatPortal.lib.module.js): the buttons have
/// no handlers of their own, the click becomes the room view's one <c>rowaction</c> event on the list, carrying the
/// button's action, its row's message and its argument.
/// </summary>
public static class RowActions
{
    public static void Act(this IElement button)
    {
        var action = button.GetAttribute("data-act") ?? throw new InvalidOperationException("not a row button: " + button.OuterHtml);
        var row = button.Closest("[data-id]") ?? throw new InvalidOperationException("the button is in no message row");
        var list = button.Closest("#messages") ?? throw new InvalidOperationException("the row is in no message list");
        list.TriggerEvent("onrowaction", new RowActionEventArgs
        {
            Action = action,
            Id = long.Parse(row.GetAttribute("data-id")!, System.Globalization.CultureInfo.InvariantCulture),
            Arg = button.GetAttribute("data-arg"),
        });
    }
}
