namespace ChatPortal.Hosting;

/// <summary>
/// Once the app is stopping, new requests get a 503 and the connection is closed. Without
/// this, a Blazor tab whose circuit socket the shutdown has just closed reconnects at once,
/// Kestrel (which stops listening a moment later) still accepts it, and that new socket keeps
/// the process alive until the shutdown timeout: a restart with open tabs ends in a kill.
/// </summary>
public static class ShutdownGate
{
    public static IApplicationBuilder UseShutdownGate(this IApplicationBuilder app)
    {
        var stopping = app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        return app.Use((ctx, next) =>
        {
            if (!stopping.IsCancellationRequested) return next(ctx);
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            ctx.Response.Headers.Connection = "close";
            ctx.Response.Headers.RetryAfter = "2";
            return Task.CompletedTask;
        });
    }
}
