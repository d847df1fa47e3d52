using System.Globalization;
using System.Text;
using System.Text.Json;
using ChatPortal.Tests.WebSockets;
using CsCheck;
using Gen = CsCheck.Gen;

namespace ChatPortal.Tests.Reliability;

/// <summary>
/// Property-based fuzzing of the chatportal.v1 JSON layer (parser and dispatcher) on a real,
/// authenticated socket: whatever a frame holds, the server answers with defined frames (an
/// error with a stable code, or the command's normal reply), never server_error, never an
/// exception in its log, and the socket stays usable (a ping right after is answered in order).
/// </summary>
[Collection(RelyPortalCollection.Name)]
public sealed class ProtocolFuzzTests(RelyPortalFixture fx)
{
    private static readonly string[] Types =
        ["ping", "auth", "join", "leave", "send", "image", "edit", "delete", "typing", "history", "online", "rooms", "", "JOIN", "nope", "__proto__"];

    private static readonly string[] Fields =
        ["type", "id", "room", "room_id", "text", "client_id", "message_id", "since", "before", "limit", "ticket", "token", "guest", "user", "x"];

    private static Gen<string> Pick(string[] options) => Gen.Int[0, options.Length - 1].Select(i => options[i]);

    private static readonly Gen<string> Scalar = Gen.OneOf(
        Gen.Const("null"), Gen.Const("true"), Gen.Const("false"), Gen.Const("[]"), Gen.Const("{}"), Gen.Const("-1"), Gen.Const("0"),
        Gen.Const("1.5"), Gen.Const("1e400"), Gen.Const("9223372036854775808"), Gen.Const("\"lobby\""), Gen.Const("\"\\u0000\""),
        Gen.Const("[1,\"a\",{\"b\":null}]"),
        Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture)),
        Gen.String.Select(s => JsonSerializer.Serialize(s)),
        Gen.Char.Array[0, 80].Select(c => JsonSerializer.Serialize(new string(c))));

    private static readonly Gen<string> Pair = Gen.Select(Pick(Fields), Scalar, (k, v) => $"\"{k}\":{v}");

    /// <summary>Objects that look like requests: a known (or odd) type and fields of any JSON type.</summary>
    private static readonly Gen<string> RequestLike = Gen.Select(Pick(Types), Pair.Array[0, 6], Gen.Bool,
        (type, pairs, typeAsString) => "{" + string.Join(",", new[] { $"\"type\":{(typeAsString ? JsonSerializer.Serialize(type) : "7")}" }.Concat(pairs)) + "}");

    /// <summary>Text that is not a request: junk, truncated JSON, deep nesting, other JSON values.</summary>
    private static readonly Gen<string> Junk = Gen.OneOf(
        Gen.String,
        Scalar,
        RequestLike.Select(Gen.Int[0, 40], (s, cut) => s[..Math.Min(s.Length, cut)]),
        Gen.Int[1, 400].Select(n => new string('[', n) + new string(']', n)),
        Gen.Int[1, 200].Select(n => string.Concat(Enumerable.Repeat("{\"a\":", n)) + "1" + new string('}', n)),
        Gen.Const("{\"type\":\"send\",\"type\":\"join\"}"),
        Gen.Const("\uFEFF{\"type\":\"ping\"}"));

    private static readonly Gen<string> Frame = Gen.Frequency((3, RequestLike), (1, Junk));

    [Fact]
    public async Task Any_frame_gets_a_defined_answer_and_the_socket_lives_on()
    {
        var portal = fx.Portal;
        var errorsBefore = portal.ErrorLines().Count;
        await using var ws = await portal.MemberSocketAsync(PortalHelpers.UniqueName("fuzz"));
        var probe = 0;
        var codes = new HashSet<string>();

        Frame.Sample(text =>
        {
            var n = ++probe;
            var before = ws.Frames.Count;
            ws.SendTextAsync(text).GetAwaiter().GetResult();
            ws.SendTextAsync($"{{\"type\":\"ping\",\"id\":\"probe-{n}\"}}").GetAwaiter().GetResult();
            var pong = ws.WaitForAsync(f => f.Is("pong") && f.Get("reply_to") == $"probe-{n}").GetAwaiter().GetResult();
            var all = ws.Frames;
            var answers = all.Skip(before).TakeWhile(f => !ReferenceEquals(f, pong)).ToList();
            foreach (var f in answers)
            {
                Assert.True(f.TryJson(out var j) && j.ValueKind == JsonValueKind.Object && f.Type is { Length: > 0 },
                    $"undefined answer {f} to {text}");
                if (!f.Is("error")) continue;
                var code = f.Get("code") ?? "";
                Assert.Matches("^[a-z_]+$", code);
                Assert.NotEqual("server_error", code);
                Assert.False(string.IsNullOrWhiteSpace(f.Get("message")), f.ToString());
                lock (codes) codes.Add(code);
            }
            Assert.Null(ws.CloseStatus);
        }, iter: 400, threads: 1);

        // The generator reached the parser's and the dispatcher's error paths, not only one of them.
        Assert.Contains("bad_json", codes);
        Assert.Contains("unknown_type", codes);
        Assert.True(codes.Count >= 4, "codes seen: " + string.Join(", ", codes));
        Assert.Equal(errorsBefore, portal.ErrorLines().Count);
    }
}
