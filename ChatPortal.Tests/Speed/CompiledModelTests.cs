#pragma warning disable EF1001 // the design-time services that `dotnet ef dbcontext optimize` runs
using ChatPortal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Design.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Scaffolding;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Speed;

/// <summary>
/// SQLite runs on the compiled model in ChatPortal/Data/CompiledModel (issue 19: building the model was ~0.3 s of every
/// start, which a restart under a reconnect storm waits for). It is generated code and must be generated again whenever
/// the model changes; this test generates it from OnModelCreating the way the tool does and compares it with what is
/// committed, file by file.
/// </summary>
public sealed class CompiledModelTests
{
    internal const string Regenerate =
        "rm -r ChatPortal/Data/CompiledModel && dotnet tool restore && dotnet dotnet-ef dbcontext optimize --project ChatPortal --context ChatPortal.Data.ChatDbContext " +
        "--output-dir Data/CompiledModel --namespace ChatPortal.Data.CompiledModel && rm ChatPortal/Data/CompiledModel/ChatDbContextAssemblyAttributes.cs";

    [Fact]
    public void The_committed_compiled_model_is_what_the_model_generates_now()
    {
        var committed = Path.Combine(RepoRoot(), "ChatPortal", "Data", "CompiledModel");
        var generated = Path.Combine(Path.GetTempPath(), "chatportal-compiled-" + Guid.NewGuid().ToString("N"));
        try
        {
            // No UseModel: this context builds its model from OnModelCreating, as the tool does.
            using var db = new ChatDbContext(new DbContextOptionsBuilder<ChatDbContext>().UseSqlite("Data Source=:memory:").Options);
            var services = new DesignTimeServicesBuilder(typeof(ChatDbContext).Assembly, typeof(ChatDbContext).Assembly,
                new OperationReporter(null), []).Build(db);
            var files = services.GetRequiredService<ICompiledModelScaffolder>().ScaffoldModel(
                db.GetService<IDesignTimeModel>().Model, generated,
                new CompiledModelCodeGenerationOptions
                {
                    ContextType = typeof(ChatDbContext),
                    ModelNamespace = "ChatPortal.Data.CompiledModel",
                    Language = "C#",
                });
            var fresh = files.Select(Path.GetFileName).Where(f => f != "ChatDbContextAssemblyAttributes.cs").Order(StringComparer.Ordinal).ToList();
            var kept = Directory.GetFiles(committed, "*.cs").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Assert.True(fresh.Count > 20, $"only {fresh.Count} files generated");
            Assert.True(fresh.SequenceEqual(kept), $"The compiled model's files differ from the model's; run: {Regenerate}");
            foreach (var name in fresh)
            {
                var now = Lines(Path.Combine(generated, name!));
                var was = Lines(Path.Combine(committed, name!));
                var at = Enumerable.Range(0, Math.Max(now.Length, was.Length))
                    .FirstOrDefault(i => i >= now.Length || i >= was.Length || now[i] != was[i], -1);
                Assert.True(at < 0, at < 0 ? "" : $"{name} is behind the model at line {at + 1}: generated now " +
                    $"'{(at < now.Length ? now[at].Trim() : "(end)")}', committed '{(at < was.Length ? was[at].Trim() : "(end)")}'; run: {Regenerate}");
            }
        }
        finally
        {
            if (Directory.Exists(generated)) Directory.Delete(generated, recursive: true);
        }
    }

    [Fact]
    public async Task The_portal_runs_on_the_compiled_model_on_sqlite()
    {
        await using var core = await CoreHarness.StartAsync();
        var model = await core.WithDbAsync(db => Task.FromResult(db.Model));
        Assert.Same(ChatPortal.Data.CompiledModel.ChatDbContextModel.Instance, model);
    }

    // A generated model gets a new random id each time; everything else must match.
    private static string[] Lines(string path) => File.ReadAllLines(path)
        .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"modelId: new Guid\(""[0-9a-f-]+""\)", "modelId: (any)")).ToArray();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ChatPortal.sln"))) return dir.FullName;
        throw new InvalidOperationException("ChatPortal.sln not found above " + AppContext.BaseDirectory);
    }
}
