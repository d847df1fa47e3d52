#!/usr/bin/env python3
"""Markdown section for bench/results.md from bench/storm.sh's JSON lines (storm first, then the peer runs).

usage: report.py runs.jsonl "<load before>" "<load after>" <commit>
"""
import json
import sys
import time


def fmt(x, digits=0):
    if x is None:
        return "—"
    if isinstance(x, (int, float)):
        return f"{x:,.{digits}f}"
    return str(x)


def dist(d):
    if not d or not d.get("n"):
        return "—"
    return f"{fmt(d['p50'])} / {fmt(d['p90'])} / {fmt(d['p99'])} / {fmt(d['max'])}"


def main():
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    load_before, load_after, commit = sys.argv[2], sys.argv[3], sys.argv[4]
    storm, peers = runs[0], runs[1:]
    peer_times = sorted(p["allOpenMs"] for p in peers if p.get("allOpenMs") is not None)
    peer = peer_times[(len(peer_times) - 1) // 2] if peer_times else None
    t = storm.get("allCaughtUpMs")
    ratio = t / peer if t is not None and peer else None
    after = storm.get("allCaughtUpAfterStartedMs")
    ratio_after = after / peer if after is not None and peer else None
    n = storm.get("clients")
    srv = storm.get("server") or {}
    verdict = "yes" if ratio is not None and ratio <= 3 and storm.get("ok") else "**no**"

    print()
    print(f"## Reconnect storm (issue 19, item 2): {fmt(n)} clients, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(f"`bench/storm.sh` at {commit}: the client kit (`wwwroot-assets/chatportal.js`) run in Node by "
          "`bench/storm/storm.mjs` (ws 8.23.0 as its WebSocket), guests in the lobby, a member posting "
          f"{fmt(storm.get('ratePerS'))} numbered messages/s through the kit; graceful stop (1012), a new process on "
          "the same data folder; time from the stop. Yardstick: the raw-Kestrel peer accepting the same number of "
          "sockets opened the same way (each within the kit's first-try window of 500 ms, failed tries retried "
          "with the kit's backoff), median of the runs. Release/ReadyToRun build, loopback, the driver on the "
          f"same 2 cores. **Load average {load_before} before the restart, {load_after} after** (the cores are "
          "shared with other agents: rough figures).")
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| every client got every acknowledged message once, in order | {'yes' if storm.get('ok') else '**no** (' + str(storm.get('reason')) + ')'} — "
          f"{fmt(storm.get('acked'))} of {fmt(storm.get('posted'))} acked; gaps {fmt(storm.get('gaps'))}, duplicates "
          f"{fmt(storm.get('duplicates'))}, out of order {fmt(storm.get('outOfOrder'))}, stored twice {fmt(storm.get('storedTwice'))}, "
          f"events the server sent twice {fmt(storm.get('rawRepeats'))}; clients not caught up {fmt(storm.get('clientsNotCaughtUp'))}; "
          f"back as the same guest {fmt(storm.get('sameGuestAfterRestart'))} |")
    print(f"| close code the clients got | {', '.join(f'{k}: {fmt(v)}' for k, v in (storm.get('dropCodes') or {}).items())} |")
    print(f"| stop → old process exited → new one serving (ms) | {fmt(storm.get('serverExitedMs'))} → {fmt(storm.get('serverStartedMs'))} |")
    print(f"| **stop → all {fmt(n)} caught up (ms)** | **{fmt(t)}** ({fmt(after)} after the new process listened) |")
    print(f"| per client, from the stop: back (welcome) p50 / p90 / p99 / max ms | {dist(storm.get('welcomeMs'))} |")
    print(f"| per client, from the stop: caught up p50 / p90 / p99 / max ms | {dist(storm.get('caughtUpMs'))} |")
    print(f"| per client, welcome → caught up p50 / p90 / p99 / max ms | {dist(storm.get('caughtUpAfterWelcomeMs'))} |")
    print(f"| kit connection tries after the drop p50 / p90 / p99 / max | {dist(storm.get('triesAfterDrop'))} |")
    print(f"| server RSS before the stop; peak after the restart (KiB) | {fmt(srv.get('rssKiBBeforeStop'))}; {fmt(srv.get('rssKiBPeakAfterRestart'))} |")
    print(f"| server CPU from serving to all caught up (s) | {fmt(srv.get('cpuSecStartedToCaughtUp'), 1)} |")
    print(f"| raw-Kestrel peer: all {fmt(n)} sockets accepted (ms), per run | {', '.join(fmt(p.get('allOpenMs')) for p in peers)} (median {fmt(peer)}) |")
    print(f"| **ratio** (stop → all caught up) / (peer accepts all); target ≤ 3 | **{fmt(ratio, 2)}** (from the new process serving: {fmt(ratio_after, 2)}) — met: {verdict} |")
    drv = storm.get("driver") or {}
    print(f"| driver CPU s; max event-loop lag ms | {fmt(drv.get('cpuSec'), 1)}; {fmt(drv.get('maxLagMs'))} |")
    print(f"| driver CPU s (one Node thread) from serving to all caught up; from the stop | "
          f"{fmt(drv.get('cpuSecStartedToCaughtUp'), 1)}; {fmt(drv.get('cpuSecStopToCaughtUp'), 1)} |")


if __name__ == "__main__":
    main()
