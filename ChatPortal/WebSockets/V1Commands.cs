using ChatPortal.Chat.Integrations;

namespace ChatPortal.WebSockets;

/// <summary>The <c>chatportal.v1</c> <c>command</c> request (issue 16): one call to <see cref="SlashCommands"/>.</summary>
internal sealed partial class V1Protocol
{
    private async Task CommandAsync(Request r)
    {
        if (!SlashCommands.IsCommand(r.Frame.Text))
        {
            Error(r.Id, "bad_request", "command needs \"room\" and \"text\" starting with \"/\", e.g. \"/me waves\".");
            return;
        }
        if (r.Frame.ClientId is { Length: > MaxClientIdLength })
        {
            Error(r.Id, "bad_client_id", $"client_id is longer than {MaxClientIdLength} characters.");
            return;
        }
        var (room, error) = await ResolveRoomAsync(r.Me, r.Frame, r.Ct);
        if (room is null)
        {
            Error(r.Id, error!);
            return;
        }
        var result = await _s.Slash.RunAsync(r.Me, room.Id, r.Frame.Text, conn.RemoteIp, r.Frame.ClientId, r.Ct);
        if (!result.Ok) Error(r.Id, result.Error!);
        else conn.Send(PlainWireFormat.Json(new CommandDoneFrame(r.Id, room.Id, result.Value!.Command, result.Value.Posted?.Id), J.CommandDoneFrame));
    }
}
