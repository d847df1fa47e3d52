#!/usr/bin/env python3
"""Turns the JSON lines of bench/run.sh (and BenchmarkDotNet's brief JSON) into bench/results.md."""
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys

runs_path = sys.argv[1]
bdn_dir = sys.argv[2] if len(sys.argv) > 2 else ""
runs = [json.loads(l) for l in open(runs_path) if l.strip()]


def pick(scenario, server):
    return [r for r in runs if r.get("scenario") == scenario and r.get("server") == server and not r.get("error")]


def med(scenario, server, key):
    vals = [r[key] for r in pick(scenario, server) if key in r]
    return statistics.median(vals) if vals else None


def fmt(v, digits=0, unit=""):
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ok(cond):
    return "—" if cond is None else ("yes" if cond else "**no**")


def bdn():
    out = {}
    if not bdn_dir:
        return out
    for f in glob.glob(os.path.join(bdn_dir, "results", "*-report-brief.json")):
        for b in json.load(open(f))["Benchmarks"]:
            out[b["Method"]] = (b["Statistics"]["Median"], b.get("Memory", {}).get("BytesAllocatedPerOperation"))
    return out


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def mem_total():
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
b = bdn()
reps = max([r.get("rep", 1) for r in runs if r.get("scenario") == "fanout"] or [1])

print("# ChatPortal benchmark results\n")
print(f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
print(f"- Machine: {nproc} cores ({cpu_model()}), {mem_total()} memory; load average at the end {' '.join(load)} "
      "(the benchmark's own load, last of all 200 Chromium pages; the load generator and the browser share the "
      "server's cores: compare ratios against the peers of the same run)")
print(f"- Load scenarios: medians of {reps} repetitions, servers interleaved; the load generator "
      "(`bench/ChatPortal.LoadGen`) runs on the same 2 cores as the server it measures.")
print("- Produced by `bench/run.sh`; raw JSON lines in `bench/results-raw.jsonl`.\n")

rows = []
# 1. fan-out
cp, nd, ks = (med("fanout", s, "deliveriesPerSecond") for s in ("chatportal", "node", "kestrel"))
r1 = None if None in (cp, nd, ks) else (cp >= 3 * nd and cp >= 0.8 * ks)
rows.append(("1. Fan-out: 1,000 plain sockets, 10×200 burst — deliveries/s", fmt(cp), fmt(nd), fmt(ks),
             "≥ 3× Node, ≥ 0.8× Kestrel",
             f"{ok(r1)} ({cp / nd:.2f}× Node, {cp / ks:.2f}× Kestrel)" if r1 is not None else "—"))
# 2. steady latency
cp, nd, ks = (med("steady", s, "latencyP99Ms") for s in ("chatportal", "node", "kestrel"))
p50 = [med("steady", s, "latencyP50Ms") for s in ("chatportal", "node", "kestrel")]
r2 = None if None in (cp, ks) else cp <= ks
rows.append(("2. Steady: 1,000 sockets, 100 msg/s in — p99 (p50) ms",
             f"{fmt(cp, 1)} ({fmt(p50[0], 1)})", f"{fmt(nd, 1)} ({fmt(p50[1], 1)})", f"{fmt(ks, 1)} ({fmt(p50[2], 1)})",
             "≤ Kestrel's p99 (aim ≤ 25)", ok(r2)))
# 3. idle memory
def per_socket(server):
    r = pick("idle", server)
    if not r:
        return None
    r = r[0]
    return (r["serverRssAfterKiB"] - r["serverRssBeforeKiB"]) / max(1, r["connected"])
idle = {s: per_socket(s) for s in ("chatportal", "node", "kestrel")}
conns = next((r["connected"] for r in pick("idle", "chatportal")), None)
rows.append((f"3. Idle: {fmt(conns)} sockets — server KiB per socket above the empty server",
             fmt(idle["chatportal"], 1), fmt(idle["node"], 1), fmt(idle["kestrel"], 1), "≤ 10 KiB",
             ok(None if idle["chatportal"] is None else idle["chatportal"] <= 10)))
# 4. web users: headless circuits (ChatPortal and the bare Blazor template), or the old Chromium run
w = next((r for r in runs if r.get("scenario") == "webusers" and r.get("server") == "chatportal"), None)
t = next((r for r in runs if r.get("scenario") == "webusers" and r.get("server") == "blazor-template"), None)
if w and "circuits" in w and w.get("connected"):
    ratio = w["kibPerCircuit"] / t["kibPerCircuit"] if t and t.get("kibPerCircuit") else None
    rows.append((f"4. Web users: {fmt(w['connected'])} of {fmt(w['circuits'])} signed-in Blazor circuits in one room (headless circuit driver) — "
                 f"KiB per circuit; p99 (p50) delivery ms; loss",
                 f"{fmt(w['kibPerCircuit'])} KiB; p99 {fmt(w['p99Ms'])} ({fmt(w['p50Ms'])}) ms; loss {w['loss']}",
                 "n/a", f"bare Blazor template: {fmt(t['kibPerCircuit']) if t else '—'} KiB" + (f" ({ratio:.1f}×)" if ratio else ""),
                 "≤ 2× the template's KiB; p99 ≤ 500 ms",
                 ok(None if ratio is None else ratio <= 2 and w["p99Ms"] <= 500 and w["connected"] == w["circuits"])))
elif w and not w.get("error") and "pages" in w:
    rows.append((f"4. Web users: {w['ready']} of {w['pages']} signed-in Blazor pages in one room (headless Chromium) — KiB per circuit; p99 delivery ms",
                 f"{fmt(w['kibPerCircuit'])} KiB; p99 {fmt(w['p99Ms'])} ms", "n/a", "n/a", "≤ 150 KiB; ≤ 250 ms",
                 ok(w["kibPerCircuit"] <= 150 and w["p99Ms"] <= 250)))
else:
    rows.append(("4. Web users: signed-in Blazor circuits", "not measured (see below)", "n/a", "n/a",
                 "≤ 2× the template's KiB; p99 ≤ 500 ms", "—"))
# 5. storage
v1 = med("storage", "chatportal", "acksPerSecond")
g = b.get("GroupCommit")
base = b.get("OneTransactionPerMessage")
g_rate = 1e9 / g[0] if g else None
b_rate = 1e9 / base[0] if base else None
rows.append(("5. Storage: acks/s, 50 v1 senders (a room each, window 32), SQLite (WAL, synchronous=FULL) — through chatportal.v1",
             fmt(v1), "n/a", "n/a", "≥ 20,000/s", ok(None if v1 is None else v1 >= 20000)))
shared = med("storage-shared", "chatportal", "acksPerSecond")
if shared is not None:
    rows.append(("5. (for comparison) the same 50 senders all in one room: every message also goes to 50 sockets — acks/s; deliveries/s",
                 f"{fmt(shared)}; {fmt(med('storage-shared', 'chatportal', 'deliveriesPerSecond'))}", "n/a", "n/a", "—", "—"))
rows.append(("5. Storage in process: ChatService.BeginPostAsync, 50 senders × 32 in flight (group commit) vs one transaction per message",
             f"{fmt(g_rate)}/s vs {fmt(b_rate)}/s", "n/a", "n/a", "≥ 20,000/s and ≥ 10× baseline",
             ok(None if g_rate is None else g_rate >= 20000 and g_rate >= 10 * b_rate)
             + (f" ({g_rate / b_rate:.1f}×)" if g_rate and b_rate else "")))
# 6. history/search
for key, label, target in (("LatestPage", "6. History, 1,000,000-message room: latest page (50) — median ms", 2),
                           ("OlderPage", "6. History: an older page (middle of the room) — median ms", 2),
                           ("ChineseSearch", "6. Search: Chinese substring in that room — median ms", 50)):
    v = b.get(key)
    ms = v[0] / 1e6 if v else None
    rows.append((label, fmt(ms, 2), "n/a", "n/a", f"≤ {target} ms", ok(None if ms is None else ms <= target)))
# 7. cold start
cs = [r["coldStartMs"] for r in runs if r.get("scenario") == "coldstart"]
cs_med = statistics.median(cs) if cs else None
rows.append(("7. Cold start to the first served page (fresh data folder) — median ms", fmt(cs_med), "n/a", "n/a",
             "≤ 1,500 ms", ok(None if cs_med is None else cs_med <= 1500)))
# connection setup
cps = [med(sc, s, "connectsPerSecond") for sc, s in (("fanout", "chatportal"), ("fanout", "node"), ("fanout", "kestrel"))]
rows.append(("Connection setup (fan-out runs, 50 concurrent connects) — sockets/s", fmt(cps[0]), fmt(cps[1]), fmt(cps[2]), "—", "—"))

print("## Scenarios\n")
print("| scenario | ChatPortal | Node `ws` peer | raw Kestrel peer | target | met? |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")

print("\nThe peers store nothing and check nothing; ChatPortal stores every message (SQLite, WAL, "
      "synchronous=FULL) before anyone sees it. Benchmark-only settings (environment variables of the "
      "ChatPortal process, see the top of `bench/run.sh`): `Chat__RateLimitBurst`/`Chat__RateLimitPerSecond` "
      "= 1,000,000, `WebSockets__MaxConnectionsPerIp` = 100,000, `WebSockets__SendQueueCapacity` = 4,096, `WebSockets__AuthTimeoutSeconds` = 60. "
      "The shipped defaults (`appsettings.json`) are unchanged.\n")

if b:
    print("## In process (BenchmarkDotNet, short job)\n")
    print("| benchmark | median | allocated per op |")
    print("|---|---|---|")
    for k, (m, alloc) in sorted(b.items()):
        print(f"| {k} | {m / 1e3:,.1f} µs | {fmt(alloc)} B |")
    print()

print("## Every load run\n")
print("| run | connected | connects/s | deliveries/s | acks/s | p50 ms | p99 ms | loss | server RSS before → peak KiB | server CPU s | error |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    if r.get("scenario") == "coldstart":
        continue
    print(f"| {r.get('label', '')} | {fmt(r.get('connected'))} | {fmt(r.get('connectsPerSecond'))} | {fmt(r.get('deliveriesPerSecond'))} | "
          f"{fmt(r.get('acksPerSecond'))} | {fmt(r.get('latencyP50Ms'), 1)} | {fmt(r.get('latencyP99Ms'), 1)} | {r.get('loss', '—')} | "
          f"{fmt(r.get('serverRssBeforeKiB'))} → {fmt(r.get('serverRssPeakKiB'))} | {r.get('serverCpuSeconds', '—')} | {r.get('error') or ''} |")
print(f"\nCold starts (ms): {', '.join(str(c) for c in cs)}\n")

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes):
    print(open(notes).read())
