using ChatPortal.Chat;
using ChatPortal.Chat.Governance;
using ChatPortal.Hosting;

namespace ChatPortal.Data.Backup;

/// <summary>
/// <c>dotnet run --project ChatPortal -- backup FILE | restore FILE | import-slack FILE</c>: data
/// commands for whoever runs the server, with the server's configuration (so the same data folder;
/// <c>--Portal:DataPath=…</c> or <c>Portal__DataPath</c> points elsewhere). <c>backup</c> works
/// while the server runs; <c>restore</c> refuses to; <c>import-slack</c> may run either way.
/// </summary>
public static class DataCli
{
    private const string Usage = """
        usage: ChatPortal backup FILE          consistent online backup (database, images, keys) into a ZIP; the server may keep running
               ChatPortal restore FILE         put a backup back into the data folder (the server must be stopped; what is there is moved aside)
               ChatPortal import-slack FILE    import a Slack export ZIP (users, channels, messages); running it again adds nothing
        """;

    public static async Task<bool> TryRunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        if (args.Length == 0 || args[0].ToLowerInvariant() is not ("backup" or "restore" or "import-slack")) return false;
        output ??= Console.Out;
        error ??= Console.Error;
        Environment.ExitCode = await RunAsync(args, output, error);
        return true;
    }

    private static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var command = args[0].ToLowerInvariant();
        var file = args.Skip(1).FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
        if (file is null)
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }
        var settings = args.Skip(1).Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = settings });
        builder.Logging.ClearProviders();
        var portal = builder.Configuration.GetSection(PortalOptions.Section).Get<PortalOptions>() ?? new PortalOptions();
        var dataPath = portal.ResolveDataPath(builder.Environment.ContentRootPath);
        var postgres = Cluster.PostgresData.IsPostgres(portal.DatabaseProvider);
        try
        {
            switch (command)
            {
                case "backup" when postgres:
                case "restore" when postgres:
                    await error.WriteLineAsync("This installation uses PostgreSQL: back it up with pg_dump and restore with pg_restore " +
                        "(see README, Backup and restore), and copy the data folder's images/ and keys/ alongside.");
                    return 2;
                case "backup":
                    var connection = portal.ConnectionString is { Length: > 0 } cs ? cs : $"Data Source={Path.Combine(dataPath, DataBackup.DbName)}";
                    if (portal.ConnectionString is not { Length: > 0 } && !File.Exists(Path.Combine(dataPath, DataBackup.DbName)))
                    {
                        await error.WriteLineAsync($"There is no database in {dataPath}; nothing to back up.");
                        return 1;
                    }
                    await DataBackup.BackupAsync(dataPath, connection, file, output);
                    return 0;
                case "restore":
                    await DataBackup.RestoreAsync(dataPath, file, output);
                    return 0;
                default:
                    if (!File.Exists(file))
                    {
                        await error.WriteLineAsync($"{file} does not exist.");
                        return 1;
                    }
                    builder.AddChatPortalData();
                    builder.AddChatCore();
                    builder.Services.AddChatGovernanceServices(builder.Configuration);
                    await using (var app = builder.Build())
                    {
                        await app.Services.InitializeDatabaseAsync();
                        var result = await app.Services.GetRequiredService<SlackImport>()
                            .ImportAsync(Path.GetFullPath(file), $"(command line: {Environment.UserName})", remoteIp: "local");
                        await output.WriteLineAsync($"Slack import: {result}.");
                    }
                    return 0;
            }
        }
        catch (BackupException ex)
        {
            await error.WriteLineAsync(ex.Message);
            return 1;
        }
        catch (SlackImportException ex)
        {
            await error.WriteLineAsync($"Slack import stopped: {ex.Message} (what was imported before stays; running it again continues).");
            return 1;
        }
    }
}
