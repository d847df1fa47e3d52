using System.Net.WebSockets;
using ChatPortal.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.WebSockets;

/// <summary>
/// The auth deadline is for the client to send its credential, not for the server to finish with it.
/// In the 10,000-client reconnect storm (bench/storm.sh) guests were written behind thousands of others
/// and the server closed 6,212 sockets with <c>auth_timeout</c> whose <c>auth</c> had arrived in time;
/// each came back and queued again.
/// </summary>
[Collection(InProcessCollection.Name)]
public sealed class AuthDeadlineTests
{
    [Fact]
    public async Task A_guest_auth_sent_in_time_is_answered_even_when_the_server_takes_longer_than_the_deadline()
    {
        await using var portal = await InProcessPortal.StartAsync(new() { ["WebSockets:AuthTimeoutSeconds"] = "1" });
        string connectionString;
        await using (var db = await portal.Services.GetRequiredService<IDbContextFactory<ChatDbContext>>().CreateDbContextAsync())
            connectionString = db.Database.GetConnectionString()!;

        // Someone else holds SQLite's write lock: the guest's row waits for it (busy timeout 5 s), so the
        // server needs longer than the 1 s deadline to answer the auth.
        await using var locker = new SqliteConnection(connectionString);
        await locker.OpenAsync();
        await using (var begin = locker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }

        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        await ws.WaitForAsync(f => f.Is("hello"));
        var reply = ws.RequestAsync(new Dictionary<string, object?> { ["type"] = "auth", ["guest"] = true }, TimeSpan.FromSeconds(30));

        // Let the deadline pass twice over while the row still waits (time passing, not a timing assertion).
        await Task.WhenAny(ws.Closed, Task.Delay(TimeSpan.FromSeconds(2.5)));
        var closedMeanwhile = ws.CloseStatus;
        var reason = ws.CloseReason;
        await using (var rollback = locker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }

        Assert.True(closedMeanwhile is null, $"closed with {closedMeanwhile} {reason} while its auth was being answered");
        var welcome = await reply;
        Assert.True(welcome.Is("welcome"), welcome.ToString());
        Assert.Equal("guest", welcome.Get("user.kind"));
        Assert.Null(ws.CloseStatus);
    }

    [Fact]
    public async Task A_socket_that_sends_no_credential_is_still_closed_at_the_deadline()
    {
        await using var portal = await InProcessPortal.StartAsync(new() { ["WebSockets:AuthTimeoutSeconds"] = "1" });
        await using var ws = await WsClient.ConnectAsync(portal.BaseUri, "chatportal.v1");
        // A malformed auth (no credential) does not hold the deadline off either.
        Assert.Equal("bad_request", (await ws.RequestAsync("auth")).Get("code"));

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.WaitClosedAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("auth_timeout", ws.CloseReason);
    }
}
