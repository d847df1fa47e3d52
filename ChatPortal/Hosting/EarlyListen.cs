using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;

namespace ChatPortal.Hosting;

/// <summary>
/// The portal takes its port first, before the ~1.5 s of its start-up (the EF Core model, the endpoints, the database
/// check): a connection made while it starts — every client of a reconnect storm after a restart (issue 19) — waits in
/// the listen queue and is served once the portal is ready, instead of being refused and backing off. Kestrel then
/// listens on those same sockets (<c>ListenHandle</c>), with the same backlog (<c>Portal:ListenBacklog</c>).
/// Only for plain <c>http://</c> addresses on an IP, <c>localhost</c> or a wildcard with a fixed port, and only when this
/// program is the process's entry point (an in-process test host brings its own server). Anything else — https,
/// <c>Kestrel:Endpoints</c>, a host name, port 0, a port this cannot take (Kestrel then reports it as before) — binds the
/// usual way. Off with <c>Portal:ListenEarly=false</c>.
/// </summary>
public static class EarlyListen
{
    /// <summary>Called first thing after the builder is made.</summary>
    public static void ListenEarly(this WebApplicationBuilder builder)
    {
        if (Assembly.GetEntryAssembly() != typeof(EarlyListen).Assembly) return;
        var config = builder.Configuration;
        var defaults = new PortalOptions();
        if (!config.GetValue($"{PortalOptions.Section}:{nameof(PortalOptions.ListenEarly)}", defaults.ListenEarly)) return;
        if (config.GetSection("Kestrel:Endpoints").GetChildren().Any()) return;
        var endpoints = Endpoints(config[WebHostDefaults.ServerUrlsKey]);
        if (endpoints is null) return;

        var backlog = Math.Max(1, config.GetValue($"{PortalOptions.Section}:{nameof(PortalOptions.ListenBacklog)}", defaults.ListenBacklog));
        var sockets = new List<Socket>();
        try
        {
            foreach (var (endpoint, optional) in endpoints)
            {
                var socket = TryBind(endpoint, backlog, optional);
                if (socket is not null) sockets.Add(socket);
            }
        }
        catch (SocketException)
        {
            foreach (var s in sockets) s.Dispose();
            return; // Kestrel binds as usual and reports why it cannot
        }

        // Kestrel owns the descriptors from here on (it closes them when it stops): these objects must never close them.
        var handles = sockets.Select(s =>
        {
            var handle = (ulong)s.SafeHandle.DangerousGetHandle();
            s.SafeHandle.SetHandleAsInvalid();
            return handle;
        }).ToList();
        // The configured URLs were bound here: Kestrel is to listen on these sockets only (without the addresses the host
        // hands it from the URLs it would also log "overriding address(es)" on every start).
        builder.Services.AddTransient<IStartupFilter, ForgetConfiguredAddresses>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var handle in handles) kestrel.ListenHandle(handle);
        });
    }

    /// <summary>Runs after the host has put the configured URLs in the server's addresses and before the server starts.</summary>
    private sealed class ForgetConfiguredAddresses(IServer server) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
        {
            if (server.Features.Get<IServerAddressesFeature>()?.Addresses is { IsReadOnly: false } addresses) addresses.Clear();
            return next;
        }
    }

    /// <summary>The endpoints of <paramref name="urls"/> (optional: ::1 of localhost), or null when one is not a plain http address.</summary>
    internal static List<(IPEndPoint Endpoint, bool Optional)>? Endpoints(string? urls)
    {
        if (string.IsNullOrWhiteSpace(urls)) return null;
        var list = new List<(IPEndPoint, bool)>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try { address = BindingAddress.Parse(url); }
            catch (FormatException) { return null; }
            if (address.IsUnixPipe || !string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase)
                || address.Port <= 0 || address.PathBase.Length > 0) return null;
            var host = address.Host.Trim('[', ']');
            if (host is "*" or "+")
                list.Add((new IPEndPoint(IPAddress.IPv6Any, address.Port), false)); // dual mode, IPv4 if no IPv6 (below)
            else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                list.Add((new IPEndPoint(IPAddress.Loopback, address.Port), false));
                list.Add((new IPEndPoint(IPAddress.IPv6Loopback, address.Port), true));
            }
            else if (IPAddress.TryParse(host, out var ip))
                list.Add((new IPEndPoint(ip, address.Port), false));
            else
                return null; // a host name: Kestrel decides what it means
        }
        return list;
    }

    private static Socket? TryBind(IPEndPoint endpoint, int backlog, bool optional)
    {
        Socket? socket = null;
        try
        {
            socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (endpoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            // A restart finds the old process's connections in TIME_WAIT on this port (Kestrel binds the same way).
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
        {
            socket?.Dispose();
            if (optional) return null;
            if (endpoint.Address.Equals(IPAddress.IPv6Any)) return TryBind(new IPEndPoint(IPAddress.Any, endpoint.Port), backlog, false);
            throw;
        }
        catch (SocketException)
        {
            socket?.Dispose();
            throw;
        }
    }
}
