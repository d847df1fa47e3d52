using ChatPortal.Chat;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;

namespace ChatPortal.Admin;

/// <summary>The remote address of this circuit's browser, taken when its connection comes up.</summary>
public sealed class ClientAddress
{
    public string? RemoteIp { get; set; }
}

/// <summary>
/// Per circuit (scoped): turns the circuit's current authentication state into the
/// <see cref="AdminCaller"/> every admin service checks. After revalidation finds the admin
/// disabled, the state is anonymous and every further call is refused.
/// </summary>
public sealed class AdminSession(AuthenticationStateProvider auth, ClientAddress client)
{
    public async Task<AdminCaller> CallerAsync() => new((await auth.GetAuthenticationStateAsync()).User, client.RemoteIp);
}

/// <summary>
/// Counts connected browser tabs for the dashboard and notes each circuit's remote address for
/// the audit log. The circuit's hub connection is a real HTTP request, so its address is there
/// when the connection comes up.
/// </summary>
public sealed class AdminCircuitHandler(ClientAddress client, IHttpContextAccessor http, ChatMetrics metrics) : CircuitHandler
{
    private int _counted;

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        if (http.HttpContext?.Connection.RemoteIpAddress is { } ip) client.RemoteIp = ip.ToString();
        if (Interlocked.Exchange(ref _counted, 1) == 0) metrics.WebConnectionOpened();
        return Task.CompletedTask;
    }

    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _counted, 0) == 1) metrics.WebConnectionClosed();
        return Task.CompletedTask;
    }

    public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken) =>
        OnConnectionDownAsync(circuit, cancellationToken);
}
