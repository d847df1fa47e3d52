using Microsoft.AspNetCore.Components.Server.Circuits;

namespace ChatPortal.Components.Chat;

/// <summary>
/// The address of the client behind this circuit (after forwarded headers), for the per-address
/// limits of the core (posts, uploads). Null when it could not be told; then only the per-user
/// limits apply to this tab.
/// </summary>
public sealed class ClientAddress
{
    public string? Value { get; set; }
}

/// <summary>
/// Fills <see cref="ClientAddress"/> when the circuit opens: that happens inside the circuit's own
/// connection request (the SignalR connection that carries the circuit), whose HttpContext is the
/// one the forwarded-headers middleware has already resolved. Components run after this.
/// </summary>
public sealed class ClientAddressCircuitHandler(ClientAddress address, IHttpContextAccessor http) : CircuitHandler
{
    public override Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        address.Value ??= http.HttpContext?.Connection.RemoteIpAddress?.ToString();
        return Task.CompletedTask;
    }

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        // A reconnect may come from a new address (a phone changing networks): count the current one.
        if (http.HttpContext?.Connection.RemoteIpAddress?.ToString() is { } now) address.Value = now;
        return Task.CompletedTask;
    }
}
