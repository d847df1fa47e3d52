using BenchmarkDotNet.Attributes;
using ChatPortal.Chat;
using ChatPortal.Data;

namespace ChatPortal.Benchmarks;

/// <summary>
/// Scenario 5 in process: 50 concurrent senders, every message durably stored (WAL,
/// synchronous=FULL) before its task completes. <see cref="GroupCommit"/> goes through
/// <see cref="ChatCommands.BeginPostAsync"/> with 32 posts in flight per sender, as a socket pipelines
/// them (the single writer commits whatever has queued in one transaction); the baseline stores each message in its own transaction (one SaveChanges per
/// message), same database settings, same run. Each figure is per message: acks/s = 1 / time.
/// </summary>
[MemoryDiagnoser]
public class StorageBenchmarks
{
    public const int Senders = 50;
    public const int GroupPerSender = 400;
    public const int BaselinePerSender = 4;
    public const int Window = 32;
    private BenchCore _core = null!;
    private RoomInfo _room = null!;
    private UserRef[] _users = [];
    private int _round;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"chatportal-bench-storage-{Guid.NewGuid():N}");
        _core = await BenchCore.StartAsync(dir);
        _room = await _core.RoomAsync("storage");
        _users = new UserRef[Senders];
        for (var i = 0; i < Senders; i++) _users[i] = await _core.UserAsync($"sender{i}");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _core.DisposeAsync();
        try { Directory.Delete(_core.DataDir, true); } catch (IOException) { }
    }

    /// <summary>
    /// Each sender keeps up to <see cref="Window"/> posts in flight, as a socket does
    /// (<see cref="ChatCommands.BeginPostAsync"/>: queued in order, acked once committed).
    /// </summary>
    [Benchmark(Description = "group commit: ChatCommands.BeginPostAsync, 50 senders, 32 in flight each", OperationsPerInvoke = Senders * GroupPerSender)]
    public async Task GroupCommit()
    {
        var round = Interlocked.Increment(ref _round);
        await Task.WhenAll(_users.Select(u => Task.Run(async () =>
        {
            var inFlight = new Queue<Task<ChatResult<ChatMessage>>>();
            for (var i = 0; i < GroupPerSender; i++)
            {
                if (inFlight.Count == Window) Check(await inFlight.Dequeue());
                inFlight.Enqueue(await _core.Commands.BeginPostAsync(u, _room.Id, $"message {i} of {u.Name}", $"g{round}-{i}"));
            }
            while (inFlight.Count > 0) Check(await inFlight.Dequeue());
        })));
    }

    private static void Check(ChatResult<ChatMessage> r)
    {
        if (!r.Ok) throw new InvalidOperationException(r.Error!.Message);
    }

    [Benchmark(Baseline = true, Description = "baseline: one transaction per message, 50 senders", OperationsPerInvoke = Senders * BaselinePerSender)]
    public async Task OneTransactionPerMessage()
    {
        var round = Interlocked.Increment(ref _round);
        await Task.WhenAll(_users.Select(u => Task.Run(async () =>
        {
            for (var i = 0; i < BaselinePerSender; i++)
            {
                await using var db = await _core.DbFactory.CreateDbContextAsync();
                db.Messages.Add(new Message
                {
                    RoomId = _room.Id, SenderId = u.Id, Kind = MessageKind.Text, Text = $"message {i} of {u.Name}",
                    ClientMsgId = $"b{round}-{i}", CreatedAt = DateTimeOffset.UtcNow,
                });
                await db.SaveChangesAsync();
            }
        })));
    }
}
