using System.Net;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.Infrastructure;
using ChatPortal.Tests.WebSockets;

namespace ChatPortal.Tests.Api;

/// <summary>The REST API on PostgreSQL (a real server started on loopback): a token from the account page posts and reads back.</summary>
public sealed class RestApiPostgresTests
{
    [Fact]
    public async Task A_rest_post_is_stored_in_postgres_and_read_back_through_history()
    {
        await using var pg = await PostgresServer.StartAsync();
        var db = await pg.CreateDatabaseAsync("api");
        await using var portal = await PortalProcess.StartAsync(new Dictionary<string, string>
        {
            ["Portal__DatabaseProvider"] = "Postgres",
            ["Portal__ConnectionString"] = db,
        });
        var token = await portal.TokenAsync(PortalHelpers.UniqueName("pgapi"));
        using var http = portal.Bearer(token);
        var posted = await http.SendAsync(HttpMethod.Post, "/api/v1/rooms/lobby/messages", new { text = "stored in PostgreSQL", client_id = "pg-1" });
        Assert.Equal(HttpStatusCode.Created, posted.Status);
        var id = posted.Body.GetProperty("id").GetInt64();

        var rows = await PgQueries.MessagesAsync(db);
        Assert.Contains(rows, r => r.Id == id && r.Text == "stored in PostgreSQL");
        var page = await http.SendAsync(HttpMethod.Get, "/api/v1/rooms/lobby/messages?limit=10");
        Assert.Contains(page.Body.GetProperty("messages").EnumerateArray(), m => m.GetProperty("id").GetInt64() == id);
        (await http.SendAsync(HttpMethod.Post, "/api/v1/rooms/lobby/messages", raw: "not json")).AssertProblem(HttpStatusCode.BadRequest, "bad_json");
    }
}
