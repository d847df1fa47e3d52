using System.Text.RegularExpressions;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Setup;

/// <summary>
/// Guards the build steps that only a fresh machine exercises. test.sh runs the Dockerfile's
/// restore and publish lines so CI proves them; these tests fail as soon as the two drift apart,
/// or when a restore leaves out a property that changes what the publish needs (the ReadyToRun
/// compiler pack is only restored when the restore itself sees PublishReadyToRun=true: a publish
/// with --no-restore then fails with NETSDK1094 on an empty NuGet cache).
/// </summary>
public sealed partial class BuildStepsTests
{
    [Fact]
    public void Test_sh_runs_the_dockerfiles_restore_and_publish_lines()
    {
        var docker = Steps(DockerfileCommands());
        var testSh = Steps(ShellCommands("test.sh"));

        Assert.Equal(docker["restore"], testSh["restore"]);
        Assert.Equal(docker["publish"], testSh["publish"]);
    }

    [Theory]
    [InlineData("Dockerfile")]
    [InlineData("test.sh")]
    public void A_no_restore_publish_follows_a_restore_with_the_same_runtime_and_properties(string file)
    {
        var steps = Steps(file == "Dockerfile" ? DockerfileCommands() : ShellCommands(file));
        var restore = steps["restore"];
        var publish = steps["publish"];
        Assert.Contains("--no-restore", publish);

        // Everything that decides which packages the publish needs must have been seen by the restore.
        foreach (var arg in publish.Where(a => a.StartsWith("-p:", StringComparison.Ordinal) || a.StartsWith("-r ", StringComparison.Ordinal)))
            Assert.True(restore.Contains(arg), $"{file}: the publish uses '{arg}' but the restore does not, so an empty NuGet cache lacks what the publish needs.");
    }

    [Fact]
    public void The_benchmark_publishes_the_way_the_dockerfile_does()
    {
        var docker = Steps(DockerfileCommands())["publish"].Where(a => a != "--no-restore").ToList();
        var bench = Steps(ShellCommands("bench/run.sh"))["publish"];
        // bench/run.sh publishes with its own implicit restore, which sees the same properties.
        Assert.DoesNotContain("--no-restore", bench);
        Assert.Equal(docker, bench);
    }

    /// <summary>Lines of the Dockerfile's RUN instructions that call dotnet, continuations joined.</summary>
    private static IEnumerable<string> DockerfileCommands() =>
        Joined("Dockerfile").Where(l => l.StartsWith("RUN dotnet ", StringComparison.Ordinal)).Select(l => l["RUN ".Length..]);

    /// <summary>Every "dotnet restore|publish ..." of a shell script, cut at the next && ; } or line end.</summary>
    private static IEnumerable<string> ShellCommands(string file) =>
        Joined(file).Where(l => !l.StartsWith('#')).SelectMany(l => DotnetCommand().Matches(l).Select(m => m.Value.Trim()));

    private static IEnumerable<string> Joined(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, file)).Replace("\\\n", " ", StringComparison.Ordinal);
        return text.Split('\n').Select(l => Spaces().Replace(l.Trim(), " "));
    }

    /// <summary>
    /// The restore and publish command of a file as a normalized argument list: where the output
    /// goes, how much it prints and shell plumbing are left out; everything that decides what is
    /// restored, built and published stays, in order.
    /// </summary>
    private static Dictionary<string, List<string>> Steps(IEnumerable<string> commands)
    {
        var steps = new Dictionary<string, List<string>>();
        foreach (var command in commands)
        {
            var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .TakeWhile(w => w is not ("&&" or "\\" or ">/dev/null" or "|" or ";") && !w.StartsWith('>') && !w.StartsWith("2>", StringComparison.Ordinal))
                .ToList();
            if (words.Count < 2 || words[1] is not ("restore" or "publish")) continue;
            var args = new List<string>();
            for (var i = 2; i < words.Count; i++)
            {
                var w = words[i].Trim('"');
                switch (w)
                {
                    case "-o" or "--output" or "-v" or "--verbosity": i++; break; // where it goes, how loud
                    case "-nologo" or "--nologo": break;
                    case "-r" or "--runtime": args.Add($"-r {words[++i]}"); break;
                    case "-c" or "--configuration": args.Add($"-c {words[++i]}"); break;
                    default: args.Add(w.Replace("$ROOT/", "", StringComparison.Ordinal)); break;
                }
            }
            Assert.False(steps.ContainsKey(words[1]), $"more than one dotnet {words[1]} line");
            steps[words[1]] = args;
        }
        Assert.True(steps.ContainsKey("publish"), "no dotnet publish line found");
        return steps;
    }

    [GeneratedRegex(@"dotnet (restore|publish) [^&;}]*")]
    private static partial Regex DotnetCommand();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
