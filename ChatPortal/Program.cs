using ChatPortal.Admin;
using ChatPortal.Api;
using ChatPortal.Hosting;

if (await ChatPortal.Cluster.HealthProbe.RunIfAskedAsync(args)) return;
if (await AdminCli.TryRunAsync(args)) return; // "admin create NAME" etc.: account commands, no server
if (await ChatPortal.Data.Backup.DataCli.TryRunAsync(args)) return; // "backup FILE", "restore FILE", "import-slack FILE"

var builder = WebApplication.CreateBuilder(args);
builder.ListenEarly(); // the port first: connections made while the portal starts wait for it instead of being refused
builder.AddChatPortal();
builder.AddApi(); // REST API /api/v1 (issue 16)

var app = builder.Build();
app.MapChatPortal();
app.MapApi();
await app.InitializeChatPortalAsync();
await app.RunAsync();

/// <summary>Entry point; public so tests can host the app.</summary>
public partial class Program;
