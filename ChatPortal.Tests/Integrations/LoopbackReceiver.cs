using System.Net;
using System.Text;

namespace ChatPortal.Tests.Integrations;

/// <summary>One request a receiver got.</summary>
public sealed record ReceivedRequest(int Number, string Method, string? ContentType, IReadOnlyDictionary<string, string> Headers, string Body, int AnsweredStatus);

/// <summary>
/// A real HTTP receiver on loopback (HttpListener started by the test): <paramref name="answer"/> decides each reply from the
/// request's number (1-based) and body. Stopped and disposed with the test.
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, string, (int Status, string Body, TimeSpan Delay)> _answer;
    private readonly List<ReceivedRequest> _requests = [];
    private readonly Task _loop;
    private int _count;

    /// <param name="port">A port to listen on (a receiver started again where an earlier one listened); a free one when null.</param>
    public LoopbackReceiver(Func<int, string, (int Status, string Body, TimeSpan Delay)> answer, int? port = null)
    {
        _answer = answer;
        Port = port ?? Infrastructure.PortalProcess.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/hook";

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get { lock (_requests) return [.. _requests]; }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(async () =>
            {
                using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
                var body = await reader.ReadToEndAsync();
                var n = Interlocked.Increment(ref _count);
                var (status, reply, delay) = _answer(n, body);
                var headers = ctx.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => ctx.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
                lock (_requests) _requests.Add(new ReceivedRequest(n, ctx.Request.HttpMethod, ctx.Request.ContentType, headers, body, status));
                if (delay > TimeSpan.Zero) await Task.Delay(delay);
                try
                {
                    ctx.Response.StatusCode = status;
                    var bytes = Encoding.UTF8.GetBytes(reply);
                    ctx.Response.ContentType = reply.StartsWith('{') ? "application/json" : "text/plain";
                    await ctx.Response.OutputStream.WriteAsync(bytes);
                    ctx.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    // the caller gave up (a timeout test): nothing to answer
                }
            });
        }
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds for the requests so far.</summary>
    public async Task WaitForAsync(Func<IReadOnlyList<ReceivedRequest>, bool> condition, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition(Requests))
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"The receiver's requests never met the condition; got {Requests.Count}.");
            await Task.Delay(50);
        }
    }

    private int _disposed;

    /// <summary>Stops listening; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _listener.Stop();
        _listener.Close();
        try { await _loop; } catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException) { }
    }
}
