// Bounded WebSocket load generator for ChatPortal (and for the peers in ../shared/bench, which
// speak the original's plain JSON envelope). N connections, K senders x M messages, fixed rate
// or as fast as possible; prints ONE JSON summary line and exits by itself (--timeout).
//
//   dotnet run -c Release --project bench/ChatPortal.LoadGen -- --url=ws://127.0.0.1:5080/ws \
//       --conns=1000 --senders=10 --msgs=200 --rate=0 --pid=<server pid> --label=chatportal
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ChatPortal.LoadGen;

if (args.Contains("--mode=soak")) return await Soak.MainAsync(args); // bench/soak.sh: long steady run with a verdict
var options = LoadOptions.Parse(args);
if (options.Mode == "circuits")
{
    var circuits = await ChatPortal.LoadGen.Circuits.CircuitUsers.RunAsync(options);
    Console.WriteLine(JsonSerializer.Serialize(circuits, ChatPortal.LoadGen.Circuits.CircuitSummaryJson.Default.CircuitSummary));
    return circuits.Error is null && circuits.Connected == options.Conns ? 0 : 1;
}
if (options.Mode == "web")
{
    var web = await WebUsers.RunAsync(options);
    Console.WriteLine(JsonSerializer.Serialize(web, WebSummaryJson.Default.WebSummary));
    return web.Error is null ? 0 : 1;
}
var summary = await LoadRun.RunAsync(options);
Console.WriteLine(JsonSerializer.Serialize(summary, SummaryJson.Default.Summary));
return summary.Error is null ? 0 : 1;
