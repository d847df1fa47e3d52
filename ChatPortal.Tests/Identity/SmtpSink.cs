using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MimeKit;

namespace ChatPortal.Tests.Identity;

/// <summary>
/// A minimal SMTP server on a loopback port that accepts every mail and keeps it (parsed by
/// MimeKit): enough for MailKit's client (EHLO, MAIL, RCPT, DATA with dot-stuffing, QUIT; no TLS).
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<MimeMessage> _mails = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly Task _loop;

    public SmtpSink()
    {
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public IReadOnlyList<MimeMessage> Mails => [.. _mails];

    /// <summary>Settings for a portal that should send its mail here.</summary>
    public Dictionary<string, string> PortalSettings(double digestMinutes = 0.05) => new()
    {
        ["Email__Host"] = "127.0.0.1",
        ["Email__Port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Email__Security"] = "None",
        ["Email__From"] = "ChatPortal <chat@portal.test>",
        ["Email__DigestDelayMinutes"] = digestMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Email__DigestCheckSeconds"] = "0.5",
    };

    /// <summary>Waits (bounded) for a mail to <paramref name="to"/> that matches.</summary>
    public async Task<MimeMessage> WaitForAsync(string to, Func<MimeMessage, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var found = _mails.FirstOrDefault(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, to, StringComparison.OrdinalIgnoreCase)) && (match?.Invoke(m) ?? true));
            if (found is not null) return found;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"No mail to {to} within the time; got: {string.Join(" | ", _mails.Select(m => $"{m.To} {m.Subject}"))}");
            await _arrived.WaitAsync(left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
        }
    }

    public IReadOnlyList<MimeMessage> To(string address) =>
        [.. _mails.Where(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase)))];

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.Latin1);
                await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
                await writer.WriteLineAsync("220 sink.test ESMTP ready");
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                    switch (verb)
                    {
                        case "EHLO":
                            await writer.WriteLineAsync("250-sink.test");
                            await writer.WriteLineAsync("250 8BITMIME");
                            break;
                        case "HELO":
                        case "MAIL":
                        case "RCPT":
                        case "RSET":
                        case "NOOP":
                            await writer.WriteLineAsync("250 OK");
                            break;
                        case "DATA":
                            await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                            var data = new StringBuilder();
                            while (await reader.ReadLineAsync(_stop.Token) is { } d && d != ".")
                                data.Append(d.StartsWith('.') ? d[1..] : d).Append("\r\n");
                            using (var ms = new MemoryStream(Encoding.Latin1.GetBytes(data.ToString())))
                                _mails.Enqueue(await MimeMessage.LoadAsync(ms));
                            _arrived.Release();
                            await writer.WriteLineAsync("250 OK queued");
                            break;
                        case "QUIT":
                            await writer.WriteLineAsync("221 Bye");
                            return;
                        default:
                            await writer.WriteLineAsync("502 Command not implemented");
                            break;
                    }
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
            catch (IOException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try { await _loop; }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
