// In-process figures for the ChatPortal benchmark (scenarios 5 and 6): history and search in a
// room of 1,000,000 messages, and group commit vs one transaction per message. Short jobs, run
// in process (no per-benchmark project builds) so the whole run takes minutes.
//
//   dotnet run -c Release --project bench/ChatPortal.Benchmarks -- [--artifacts <dir>]
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ChatPortal.Benchmarks;

var artifacts = "BenchmarkDotNet.Artifacts";
for (var i = 0; i < args.Length - 1; i++)
    if (args[i] == "--artifacts") artifacts = args[i + 1];

IConfig Config(Job job) => ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
    .AddExporter(JsonExporter.Brief)
    .WithArtifactsPath(artifacts)
    .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

if (args.Contains("--signin")) // issue 8: failed sign-in time, known vs unknown name (docs/security.md)
{
    BenchmarkRunner.Run<SignInTimingBenchmarks>(Config(Job.Default.WithId("signin").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15)));
    return;
}
if (args.Contains("--directory")) // issue 19: a join or leave noted in the membership cache (bench/results.md)
{
    BenchmarkRunner.Run<DirectoryBenchmarks>(Config(Job.Default.WithId("directory").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15)));
    return;
}
if (args.Contains("--members")) // issue 19: an account's first join, SQL vs EF Core (bench/results.md)
{
    BenchmarkRunner.Run<MembershipBenchmarks>(Config(Job.Default.WithId("members").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15)));
    return;
}
BenchmarkRunner.Run<HistoryBenchmarks>(Config(Job.Default.WithId("history").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10)));
BenchmarkRunner.Run<StorageBenchmarks>(Config(Job.Default.WithId("storage").WithStrategy(RunStrategy.Monitoring)
    .WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5)));
