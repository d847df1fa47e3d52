using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ChatPortal.Auth;

/// <summary>
/// Confusable skeletons of nicknames (Unicode TR39 §4): two names with the same skeleton look
/// alike (<c>admin</c> and <c>аdmin</c> with a Cyrillic а, <c>ａｄｍｉｎ</c>, <c>𝐚𝐝𝐦𝐢𝐧</c>). The
/// skeleton comes from ICU's spoof checker (<c>uspoof_getSkeleton</c>, with Unicode's full
/// confusables data) in the system's ICU — the library .NET itself uses for globalization on Linux.
/// Where no ICU can be loaded (invariant-globalization builds, other platforms), a built-in subset
/// is used instead: NFKC (fullwidth, mathematical alphanumerics, other compatibility forms),
/// Cyrillic, Greek and Armenian letters that look Latin, and the digits and letters TR39 maps to
/// each other (0/o, 1/l/I, rn/m, vv/w). <see cref="Source"/> says which one is in use.
/// </summary>
/// <remarks>
/// The key compared is <see cref="Of"/>: NFKC, lower case, then the skeleton, lower case again —
/// nicknames are unique regardless of case, so their look-alikes must be too. A new name is also
/// checked with the skeleton of its original case (<see cref="Keys"/>), which catches <c>I</c>/<c>l</c>.
/// </remarks>
public static class NameSkeletons
{
    private static readonly IcuSpoof? Icu = IcuSpoof.TryLoad();

    /// <summary>"icu &lt;version&gt;" or "built-in subset".</summary>
    public static string Source => Icu is { } i ? $"icu {i.Version}" : "built-in subset";

    /// <summary>The stored skeleton of a name (the key look-alikes share).</summary>
    public static string Of(string name) => Of(name, forceBuiltIn: false);

    internal static string Of(string name, bool forceBuiltIn)
    {
        var lower = name.Trim().Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        return Skeleton(lower, forceBuiltIn).ToLowerInvariant();
    }

    /// <summary>The keys a new name is checked with: <see cref="Of"/>, and the skeleton of its original case.</summary>
    public static IReadOnlyList<string> Keys(string name)
    {
        var first = Of(name);
        var cased = Skeleton(name.Trim().Normalize(NormalizationForm.FormKC), false).ToLowerInvariant();
        return cased == first ? [first] : [first, cased];
    }

    private static string Skeleton(string s, bool forceBuiltIn) =>
        !forceBuiltIn && Icu is { } icu && icu.Skeleton(s) is { } fromIcu ? fromIcu : BuiltIn(s);

    // ------------------------------------------------------------------ built-in subset

    /// <summary>Look-alikes mapped to their Latin prototype (TR39's direction), after NFKC and lower-casing.</summary>
    private static readonly Dictionary<int, string> Map = BuildMap();

    private static Dictionary<int, string> BuildMap()
    {
        var m = new Dictionary<int, string>();
        void Add(string from, string to)
        {
            foreach (var r in from.EnumerateRunes()) m[r.Value] = to;
        }
        // Cyrillic
        Add("аɑα", "a"); Add("ьЬ", "b"); Add("сϲ", "c"); Add("ԁ", "d"); Add("еє", "e"); Add("һ", "h");
        Add("іıɩιӏ", "i"); Add("ј", "j"); Add("кκ", "k"); Add("оοσ০੦", "o"); Add("рρ", "p"); Add("ԛ", "q");
        Add("ѕ", "s"); Add("ԝѡ", "w"); Add("хχ", "x"); Add("уγ", "y"); Add("ʏ", "y"); Add("ɡ", "g");
        Add("ν", "v"); Add("ո", "n"); Add("ս", "u"); Add("υ", "u"); Add("ց", "g"); Add("օ", "o");
        Add("ʜ", "h"); Add("ɴ", "n"); Add("ʀ", "r"); Add("ᴛ", "t"); Add("ᴍ", "m"); Add("ᴋ", "k");
        // Digits and letters TR39 maps to each other.
        Add("0", "o"); Add("1|ǀ", "l"); Add("5", "s");
        Add("m", "rn"); Add("w", "vv");
        return m;
    }

    internal static string BuiltIn(string s)
    {
        var sb = new StringBuilder(s.Length + 4);
        foreach (var r in s.Normalize(NormalizationForm.FormKC).EnumerateRunes())
        {
            // Combining marks (é = e + ´ after decomposition) are kept: TR39 keeps them too.
            if (Map.TryGetValue(r.Value, out var to)) sb.Append(to);
            else sb.Append(r.ToString());
        }
        return sb.ToString();
    }

    /// <summary>ICU's spoof checker through the system library (no package; the same ICU .NET loads).</summary>
    private sealed class IcuSpoof
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate IntPtr OpenFn(ref int status);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        private delegate int SkeletonFn(IntPtr checker, uint type, [MarshalAs(UnmanagedType.LPWStr)] string id, int length,
            [Out] char[] dest, int capacity, ref int status);

        private readonly IntPtr _checker;
        private readonly SkeletonFn _skeleton;
        private readonly Lock _gate = new();

        private IcuSpoof(IntPtr checker, SkeletonFn skeleton, int version)
        {
            _checker = checker;
            _skeleton = skeleton;
            Version = version;
        }

        public int Version { get; }

        public static IcuSpoof? TryLoad()
        {
            if (AppContext.TryGetSwitch("System.Globalization.Invariant", out var invariant) && invariant) return null;
            if (!OperatingSystem.IsLinux()) return null;
            try
            {
                for (var v = 90; v >= 50; v--)
                {
                    if (!NativeLibrary.TryLoad($"libicui18n.so.{v}", out var lib)) continue;
                    // ICU renames its symbols per version (uspoof_open_72) unless built without renaming.
                    var suffix = NativeLibrary.TryGetExport(lib, $"uspoof_open_{v}", out _) ? $"_{v}" : "";
                    if (!NativeLibrary.TryGetExport(lib, "uspoof_open" + suffix, out var open)
                        || !NativeLibrary.TryGetExport(lib, "uspoof_getSkeleton" + suffix, out var skeleton))
                        continue;
                    var status = 0;
                    var checker = Marshal.GetDelegateForFunctionPointer<OpenFn>(open)(ref status);
                    if (status > 0 || checker == IntPtr.Zero) continue; // U_FAILURE
                    var spoof = new IcuSpoof(checker, Marshal.GetDelegateForFunctionPointer<SkeletonFn>(skeleton), v);
                    return spoof.Skeleton("test") is null ? null : spoof;
                }
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
            }
            return null;
        }

        public string? Skeleton(string s)
        {
            lock (_gate)
            {
                var dest = new char[Math.Max(16, s.Length * 4 + 8)];
                var status = 0;
                var n = _skeleton(_checker, 0, s, s.Length, dest, dest.Length, ref status);
                if (status == 15 /* U_BUFFER_OVERFLOW_ERROR */ && n > dest.Length)
                {
                    dest = new char[n + 1];
                    status = 0;
                    n = _skeleton(_checker, 0, s, s.Length, dest, dest.Length, ref status);
                }
                return status > 0 || n < 0 ? null : new string(dest, 0, Math.Min(n, dest.Length));
            }
        }
    }
}
