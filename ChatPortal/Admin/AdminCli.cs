using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.Admin;

/// <summary>
/// <c>dotnet run --project ChatPortal -- admin create|disable|enable|list [NAME]</c>: account
/// commands for whoever runs the server. It builds only the database and the admin services
/// (same configuration as the server, so the same data folder), applies migrations, and exits
/// without starting the web server. The password is read from standard input, or asked twice
/// without echo on a terminal.
/// </summary>
public static class AdminCli
{
    private const string Usage = """
        usage: ChatPortal admin create NAME     create an admin (password from stdin, or asked twice on a terminal)
               ChatPortal admin disable NAME    disable an admin (their open pages close within seconds)
               ChatPortal admin enable NAME     enable a disabled admin again
               ChatPortal admin list            list admins
               ChatPortal admin create-room SLUG... [--guests]   create public rooms (for members; --guests: guests too)
        """;

    private const string GuestsFlag = "--guests";

    /// <summary>Runs the command when the arguments name one; false means "start the server".</summary>
    public static async Task<bool> TryRunAsync(string[] args, TextReader? input = null, TextWriter? output = null, TextWriter? error = null)
    {
        if (args.Length == 0 || !string.Equals(args[0], "admin", StringComparison.OrdinalIgnoreCase)) return false;
        output ??= Console.Out;
        error ??= Console.Error;
        Environment.ExitCode = await RunAsync(args, input, output, error);
        return true;
    }

    private static async Task<int> RunAsync(string[] args, TextReader? input, TextWriter output, TextWriter error)
    {
        var command = args.Length > 1 ? args[1].ToLowerInvariant() : "";
        var name = args.Length > 2 && !args[2].StartsWith("--", StringComparison.Ordinal) ? args[2] : null;
        if (command is not ("create" or "disable" or "enable" or "list" or "create-room") || (command != "list" && name is null))
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        // Only "--key=value" settings go on to configuration; the command words stay out of it.
        var settings = args.Skip(2).Where(a => a.StartsWith("--", StringComparison.Ordinal) && a != GuestsFlag).ToArray();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = settings });
        builder.Logging.ClearProviders();
        builder.AddChatPortalData();
        builder.AddChatCore();
        builder.Services.AddSingleton<AdminGuard>();
        builder.Services.AddSingleton<AdminAudit>();
        builder.Services.AddSingleton<AdminAccounts>();
        builder.Services.AddSingleton<AdminRooms>();
        await using var app = builder.Build();
        await app.Services.InitializeDatabaseAsync();
        var accounts = app.Services.GetRequiredService<AdminAccounts>();
        var cli = new AdminActor(0, $"(command line: {Environment.UserName})", "local");

        switch (command)
        {
            case "list":
                var all = await accounts.ListAllAsync();
                if (all.Count == 0) await output.WriteLineAsync("No admins yet. Create one: admin create NAME");
                foreach (var a in all)
                    await output.WriteLineAsync($"{a.Name}\t{(a.Disabled ? "disabled" : "enabled")}\tcreated {a.CreatedAt:yyyy-MM-dd HH:mm}Z");
                return 0;
            case "create-room":
                // One or more slugs; each room is named after its slug (rename it in the back office).
                var rooms = app.Services.GetRequiredService<AdminRooms>();
                var guests = args.Contains(GuestsFlag);
                foreach (var slug in args.Skip(2).Where(a => !a.StartsWith("--", StringComparison.Ordinal)))
                {
                    var room = await rooms.CreateAsync(cli, new RoomInput { Slug = slug.Trim(), Name = slug.Trim(), AllowGuests = guests });
                    if (!room.Ok)
                    {
                        await error.WriteLineAsync($"{slug}: {room.Status.Message}");
                        return 1;
                    }
                    await output.WriteLineAsync($"Room \"{room.Value!.Name}\" created at /rooms/{room.Value.Slug}.");
                }
                return 0;
            case "create":
                var password = await ReadPasswordAsync(input, output, error);
                if (password is null) return 1;
                var created = await accounts.CreateAsync(name, password, cli);
                if (!created.Ok)
                {
                    await error.WriteLineAsync(created.Message);
                    return 1;
                }
                await output.WriteLineAsync($"Admin \"{name!.Trim()}\" created. Sign in at /admin/login.");
                return 0;
            default:
                var result = await accounts.SetDisabledAsync(name!, command == "disable", cli);
                if (!result.Ok)
                {
                    await error.WriteLineAsync(result.Message);
                    return 1;
                }
                await output.WriteLineAsync($"Admin \"{name}\" {command}d.");
                return 0;
        }
    }

    /// <summary>Standard input when redirected (first line), else asked twice without echo.</summary>
    private static async Task<string?> ReadPasswordAsync(TextReader? input, TextWriter output, TextWriter error)
    {
        string? password;
        if (input is not null || Console.IsInputRedirected)
        {
            password = await (input ?? Console.In).ReadLineAsync();
        }
        else
        {
            password = ReadHidden(output, "Password: ");
            var again = ReadHidden(output, "Repeat the password: ");
            if (password != again)
            {
                await error.WriteLineAsync("The two passwords differ; nothing was created.");
                return null;
            }
        }
        var problem = AdminAccounts.ValidatePassword(password);
        if (problem is not null)
        {
            await error.WriteLineAsync(problem);
            return null;
        }
        return password;
    }

    private static string ReadHidden(TextWriter output, string prompt)
    {
        output.Write(prompt);
        var chars = new List<char>();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (chars.Count > 0) chars.RemoveAt(chars.Count - 1);
                continue;
            }
            if (!char.IsControl(key.KeyChar)) chars.Add(key.KeyChar);
        }
        output.WriteLine();
        return new string([.. chars]);
    }
}
