#!/usr/bin/env node
// Reconnect-storm driver (issue 19, item 2). Runs the REAL client kit, wwwroot-assets/chatportal.js,
// in Node: the kit's own browserSocket over the npm `ws` package as the global WebSocket, its own
// backoff with full jitter, re-join with the last event id and catch-up. Nothing of the kit is copied.
//
//   node storm.mjs --url=http://127.0.0.1:5871/ --clients=10000 --pid=<server pid>
//
// Storm mode (default): N guest clients join one room; a poster (a member with an API token, so the
// kit's retries with the same client id are idempotent) posts numbered messages at --rate per second
// through the kit. Then it waits for its controller (bench/storm.sh, or a test) on standard input:
//   stdout  {"event":"ready",...}        clients joined, messages flowing: restart the server now
//   stdin   stop                         the controller is about to stop the server (t = 0)
//   stdin   exited                       the old server process is gone (a connection the stopping
//                                        server still took does not count as back)
//   stdin   started <pid>                the server is up again (its new pid, for RSS/CPU)
// The clients reconnect on their own. Once every client has its `caught_up` after the drop, the poster
// posts --after seconds more, stops, and the driver checks that every client got every acknowledged
// message exactly once, in order, then prints one JSON summary line (last line of stdout) and exits.
//
// Connect mode (--mode=connect): the yardstick. N plain WebSockets to --url (a ws:// URL, e.g. the
// raw-Kestrel peer), each started at a random moment within --jitter ms (the kit's first try after a
// 1012 is random in 0..backoffBase = 500 ms), failed tries retried with the kit's backoff formula;
// reports the time until all N are open.
//
// Bounded: --timeout (hard cap, seconds) ends the process whatever happens; loopback is expected.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import WS from 'ws';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- arguments
const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)(?:=(.*))?$/s.exec(a);
  if (!m) { console.error(`bad argument ${a}`); process.exit(2); }
  return [m[1], m[2] ?? '1'];
}));
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]));
const cfg = {
  mode: args.mode ?? 'storm',
  url: args.url ?? 'http://127.0.0.1:5871/',
  kit: args.kit ?? new URL('../../wwwroot-assets/chatportal.js', import.meta.url).pathname,
  clients: num('clients', 10000),
  room: args.room ?? 'lobby',
  rate: num('rate', 5),            // poster messages per second
  warmup: num('warmup', 2),        // seconds of posting before "ready"
  after: num('after', 2),          // seconds of posting after everyone caught up
  cc: num('cc', 200),              // concurrent first connects (the initial ramp is not measured)
  jitter: num('jitter', 500),      // connect mode: start window, ms
  settle: num('settle', 15),       // seconds to wait for the last deliveries before judging
  // The kit's own options (its defaults when not given): a test shortens them to stay quick.
  backoffBase: args['backoff-base'] ? Number(args['backoff-base']) : undefined,
  backoffMax: args['backoff-max'] ? Number(args['backoff-max']) : undefined,
  // Clients connect from this many loopback addresses (127.0.x.y), as real clients come from many. 1 (the default):
  // the kernel's choice, 127.0.0.1. From one address a reconnect's source port can meet a TIME_WAIT the stopped server
  // left for the same pair of ports (a SYN refused that way is retransmitted a second later: ~3,000-4,000 per storm);
  // from many, each socket is bound before it connects, which costs every connect, the peer's too (bench/results.md).
  addresses: num('addresses', 1),
  pid: args.pid ? Number(args.pid) : 0,
  timeout: num('timeout', 600),
  label: args.label ?? '',
};
if (!(cfg.clients >= 1 && cfg.clients <= 20000)) { console.error('clients must be 1..20000'); process.exit(2); }
if (!(cfg.timeout > 0 && cfg.timeout <= 1800)) { console.error('timeout must be 0..1800 s'); process.exit(2); }
if (!(cfg.rate > 0 && cfg.rate <= 1000)) { console.error('rate must be 0..1000 per second'); process.exit(2); }
if (!(Number.isInteger(cfg.addresses) && cfg.addresses >= 1 && cfg.addresses <= 50000)) { console.error('addresses must be 1..50000'); process.exit(2); }
let nextAddress = 0;
const localAddress = () => {
  if (cfg.addresses === 1) return undefined; // no bind before connect: the kernel picks address and port
  const k = nextAddress++ % cfg.addresses;
  return `127.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;
};

const t0 = performance.now();
const now = () => performance.now() - t0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[storm ${(now() / 1000).toFixed(1)}s]`, ...a);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const hardTimer = setTimeout(() => finish('timeout'), cfg.timeout * 1000);
hardTimer.unref?.();

// ---------------------------------------------------------------- server process figures (/proc)
const CLK = 100;
function serverSample(pid) {
  if (!pid) return null;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { rssKiB: rss, cpuS: (Number(f[11]) + Number(f[12])) / CLK };
  } catch { return null; }
}
let serverPid = cfg.pid, peakRssKiB = 0;
// A timeline in 250 ms steps (storm mode, from "stop"): the server's and the driver's CPU, sockets opened,
// welcomes and catch-ups per step, to see where the time after a restart goes (idle, server- or driver-bound).
const STEP = 250;
let timeline = null, timelineT0 = 0;
const tl = (t) => {
  if (!timeline) return null;
  const k = Math.floor((t - timelineT0) / STEP);
  if (k < 0 || k > 2400) return null;
  while (timeline.length <= k) timeline.push({ t: timeline.length * STEP, srvCpuMs: 0, drvCpuMs: 0, opened: 0, welcomed: 0, caughtUp: 0, lagMs: 0 });
  return timeline[k];
};
const mark = (t, key) => { const b = tl(t); if (b) b[key]++; };
let lastSrvCpu = null, lastDrvCpu = null;
const sampler = setInterval(() => {
  const s = serverSample(serverPid);
  if (s) peakRssKiB = Math.max(peakRssKiB, s.rssKiB);
  if (timeline) {
    const b = tl(now());
    const d = process.cpuUsage();
    if (b && s && lastSrvCpu && lastSrvCpu.pid === serverPid) b.srvCpuMs += Math.max(0, (s.cpuS - lastSrvCpu.cpuS) * 1000);
    if (b && lastDrvCpu) b.drvCpuMs += cpuSecBetween(lastDrvCpu, d) * 1000;
    lastSrvCpu = s ? { pid: serverPid, cpuS: s.cpuS } : null;
    lastDrvCpu = d;
  }
}, 100);

// Event-loop lag: the driver shares the cores with the server; its own delay is part of every figure.
let maxLagMs = 0, windowLagMs = 0, lastTick = performance.now();
const lagTimer = setInterval(() => {
  const t = performance.now();
  maxLagMs = Math.max(maxLagMs, t - lastTick - 100);
  windowLagMs = Math.max(windowLagMs, t - lastTick - 100);
  const b = tl(t - t0);
  if (b) b.lagMs = Math.max(b.lagMs, Math.round(t - lastTick - 100));
  lastTick = t;
}, 100);

const st0 = (f) => { try { return f(); } catch { return null; } };
function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
const cpuSecBetween = (a, b) => (b.user - a.user + b.system - a.system) / 1e6;
const dist = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return { n: s.length, p50: r1(pct(s, 50)), p90: r1(pct(s, 90)), p99: r1(pct(s, 99)), max: r1(s[s.length - 1]) };
};

let finished = false;
let finishHook = null;
function finish(reason) {
  if (finished) return;
  finished = true;
  clearTimeout(hardTimer); clearInterval(sampler); clearInterval(lagTimer);
  let summary;
  try { summary = finishHook ? finishHook(reason) : { reason }; }
  catch (e) { summary = { reason: 'error', error: String(e && e.stack || e) }; }
  out({ event: 'summary', mode: cfg.mode, label: cfg.label, ...summary, node: process.version });
  setTimeout(() => process.exit(0), 200);
}

// ---------------------------------------------------------------- connect mode (the yardstick)
async function connectMode() {
  const N = cfg.clients;
  const openAt = new Array(N).fill(null);
  const sockets = new Array(N).fill(null);
  let open = 0, failures = 0, inFlight = 0, maxInFlight = 0;
  let done;
  const allOpen = new Promise((r) => { done = r; });
  const start = now();
  const tryOpen = (i, attempt) => {
    inFlight++; maxInFlight = Math.max(maxInFlight, inFlight);
    const ws = new WS(cfg.url, { perMessageDeflate: false, handshakeTimeout: 30000, localAddress: localAddress() });
    let settled = false;
    ws.on('open', () => {
      settled = true; inFlight--;
      openAt[i] = now() - start; sockets[i] = ws;
      if (++open === N) done();
    });
    ws.on('message', () => {});
    const fail = () => {
      if (settled) return;
      settled = true; inFlight--; failures++;
      // The kit's formula: random in 0 .. min(30 s, 500 ms * 2^attempt).
      const cap = Math.min(30000, 500 * Math.pow(2, attempt + 1));
      setTimeout(() => tryOpen(i, attempt + 1), Math.floor(Math.random() * cap));
    };
    ws.on('error', fail);
    ws.on('close', fail);
  };
  for (let i = 0; i < N; i++) setTimeout(() => tryOpen(i, 0), Math.floor(Math.random() * cfg.jitter));
  finishHook = (reason) => {
    const times = openAt.filter((x) => x != null);
    for (const s of sockets) { try { s?.terminate(); } catch { /* gone */ } }
    return {
      reason, url: cfg.url, clients: N, addresses: cfg.addresses, open, failures, maxInFlight, jitterMs: cfg.jitter,
      allOpenMs: open === N ? r1(Math.max(...times)) : null,
      openMs: dist(times),
      server: cfg.pid ? { pid: cfg.pid, rssKiBPeak: peakRssKiB } : null,
      driverMaxLagMs: r1(maxLagMs),
    };
  };
  await allOpen;
  finish('complete');
}

// ---------------------------------------------------------------- storm mode
async function stormMode() {
  // The kit, as a browser page would load it; ws is the page's WebSocket.
  globalThis.WebSocket = class extends WS {
    constructor(url, protocols) { super(url, protocols, { perMessageDeflate: false, handshakeTimeout: 30000, localAddress: localAddress() }); }
  };
  const ChatPortal = require(cfg.kit);
  const base = cfg.url.endsWith('/') ? cfg.url : cfg.url + '/';
  const wsUrl = base.replace(/^http/, 'ws') + 'ws';
  const run = randomBytes(4).toString('hex');
  const kitOptions = { url: wsUrl, backoffBase: cfg.backoffBase, backoffMax: cfg.backoffMax };
  const textRe = new RegExp(`^storm ${run} (\\d+)$`);

  // Every raw frame too (before the kit sees it), to count events the server sent twice on one client
  // (the kit would drop those silently): the kit's socket factory is its own browserSocket, observed.
  const observed = (state) => (url) => {
    const s = ChatPortal.browserSocket(url);
    state.attemptsTotal++;
    s.raw.on('open', () => { if (tExited != null) mark(now(), 'opened'); });
    s.raw.on('message', (data, isBinary) => {
      // Only frames the kit takes: after it gave up on a socket (no pong) it ignores what still arrives there.
      if (isBinary || (state.client && state.client._socket !== s)) return;
      const head = data.toString('utf8', 0, Math.min(data.length, 120));
      if (tExited != null && tAllCaughtUp == null) {
        // What the restart costs the clients' sockets, by kind (presence summaries, catch-up, replies…).
        const t = /^\{"type":"([a-z_]+)"/.exec(head);
        const k = t ? t[1] : 'other';
        framesAfterExit[k] = (framesAfterExit[k] || 0) + 1;
      }
      const m = /^\{"type":"message","room_id":\d+,"event_id":(\d+)/.exec(head);
      if (!m) return;
      const id = Number(m[1]);
      if (id <= state.rawMax) state.rawRepeats++;
      else state.rawMax = id;
    });
    return s;
  };

  // ---- the poster: a member with an API token
  const posterName = `storm${run}`;
  const tokenRes = await fetch(base + 'api/auth/token', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: posterName, password: `Storm-${randomBytes(9).toString('hex')}`, label: 'storm poster' }),
  });
  if (!tokenRes.ok) throw new Error(`poster token: HTTP ${tokenRes.status} ${await tokenRes.text()}`);
  const { token } = await tokenRes.json();

  // ---- the clients (guests, the kit's default auth)
  const N = cfg.clients;
  const clients = [];
  for (let i = 0; i < N; i++) {
    const st = {
      i, seen: [], rawMax: 0, rawRepeats: 0, attemptsTotal: 0,
      dropAt: null, dropCode: null, welcomeAt: null, caughtUpAt: null, attemptsAfterDrop: 0,
      welcomesBeforeExit: 0, droppedAgain: 0, replayed: 0, closes: [], ready: false,
    };
    clients.push(st);
  }
  // A connection counts once the old server is gone ("exited"): one the stopping server still
  // accepted is not a reconnect (it is dropped again when that server exits).
  let tStop = null, tExited = null, tStarted = null, tAllCaughtUp = null, caughtUpCount = 0, welcomedCount = 0;
  const closesAfterStop = {}, kitErrors = {};
  const framesAfterExit = {}; // frames the clients received from the old server's exit until all caught up, by type
  let allCaughtUpResolve;
  const allCaughtUp = new Promise((r) => { allCaughtUpResolve = r; });

  const makeClient = (st) => {
    const c = new ChatPortal.Client({ ...kitOptions, auth: () => ({ guest: true }), rooms: [cfg.room], socket: observed(st) });
    st.client = c;
    c.on('message', (f) => {
      const m = textRe.exec(f.message && f.message.text || '');
      if (!m) return;
      st.seen.push(Number(m[1]), f.event_id);
      if (st.welcomeAt != null && st.caughtUpAt == null) st.replayed++; // came with the catch-up
    });
    c.on('disconnect', (e) => {
      st.closes.push(e.code);
      if (tStop == null) return;
      const key = `${e.code} ${e.reason || ''}`.trim();
      closesAfterStop[key] = (closesAfterStop[key] || 0) + 1;
      if (st.dropAt == null) { st.dropAt = now(); st.dropCode = e.code; }
      if (st.welcomeAt != null) { welcomedCount--; st.welcomeAt = null; st.droppedAgain++; }
      if (st.caughtUpAt != null) { caughtUpCount--; st.caughtUpAt = null; }
    });
    c.on('error', (e) => {
      const key = (e && (e.code || e.message)) || 'error';
      kitErrors[key] = (kitErrors[key] || 0) + 1;
    });
    c.on('reconnecting', () => { if (st.dropAt != null) st.attemptsAfterDrop++; });
    c.on('welcome', (w) => {
      const userId = w && w.user ? w.user.id : null;
      if (st.dropAt == null) { st.firstUser = userId; return; }
      if (tExited == null) { st.welcomesBeforeExit++; return; } // the stopping server took it
      st.welcomeAt = now(); welcomedCount++;
      mark(st.welcomeAt, 'welcomed');
      st.sameGuest = userId != null && userId === st.firstUser; // the kit came back with the welcome's resume token
    });
    c.on('caught_up', () => {
      if (st.welcomeAt == null || st.caughtUpAt != null) return;
      st.caughtUpAt = now();
      mark(st.caughtUpAt, 'caughtUp');
      if (++caughtUpCount === N && tAllCaughtUp == null) { tAllCaughtUp = st.caughtUpAt; allCaughtUpResolve(); }
    });
    return c;
  };

  const ramp0 = now();
  {
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const st = clients[next++];
        const c = makeClient(st);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 60000);
          c.on('ready', () => { clearTimeout(t); st.ready = true; resolve(); });
          c.connect();
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(cfg.cc, N) }, worker));
  }
  const readyCount = clients.filter((s) => s.ready).length;
  log(`${readyCount}/${N} clients joined ${cfg.room} in ${((now() - ramp0) / 1000).toFixed(1)} s`);
  if (readyCount < N) throw new Error(`only ${readyCount} of ${N} clients joined before the storm`);

  const posterState = { rawMax: 0, rawRepeats: 0, attemptsTotal: 0 };
  const poster = new ChatPortal.Client({ ...kitOptions, auth: () => ({ token }), rooms: [], socket: observed(posterState) });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the poster did not get in')), 30000);
    poster.on('welcome', () => { clearTimeout(t); resolve(); });
    poster.on('stopped', (e) => reject(new Error(`poster stopped: ${e.reason}`)));
    poster.connect();
  });

  // ---- posting through the storm
  const acks = [null];          // acks[k] = message id of "storm <run> k"
  const sends = [];
  const sendErrors = [];
  let posted = 0, posting = true, ackedCount = 0;
  const interval = 1000 / cfg.rate;
  const postStart = performance.now();
  const postLoop = (async () => {
    while (posting) {
      const k = ++posted;
      const p = poster.send(cfg.room, `storm ${run} ${k}`).then(
        (ack) => { acks[k] = ack.event_id; ackedCount++; },
        (err) => { sendErrors.push({ k, code: err.code || String(err.message) }); });
      sends.push(p);
      const wait = postStart + posted * interval - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();

  await sleep(cfg.warmup * 1000);
  const rssBefore = serverSample(serverPid);

  // ---- the controller restarts the server
  const rl = readline.createInterface({ input: process.stdin });
  let cpuAtStarted = null, postedBeforeStop = 0, driverCpuAtStop = null, driverCpuAtStarted = null, driverCpuAtCaughtUp = null;
  const stopped = new Promise((resolve) => {
    rl.on('line', (line) => {
      const [cmd, arg] = line.trim().split(/\s+/);
      if (cmd === 'stop' && tStop == null) { tStop = now(); timelineT0 = tStop; timeline = []; driverCpuAtStop = process.cpuUsage(); postedBeforeStop = posted; log('stop'); resolve(); }
      if (cmd === 'exited' && tExited == null) { tExited = now(); log(`old server exited; ${clients.filter((s) => s.dropAt != null).length} dropped`); }
      if (cmd === 'started' && tStarted == null) {
        tStarted = now();
        if (tExited == null) tExited = tStarted;
        if (arg) { serverPid = Number(arg); peakRssKiB = 0; }
        cpuAtStarted = serverSample(serverPid);
        driverCpuAtStarted = process.cpuUsage();
        log(`started (pid ${serverPid}); ${welcomedCount} back so far`);
      }
    });
    rl.on('close', resolve); // no controller: judge what we have
  });
  let lastK = 0, cpuAtCaughtUp = null, rssAtCaughtUp = 0;
  finishHook = (reason) => judge(reason);
  out({ event: 'ready', clients: N, posted, run });
  await stopped;
  if (tStop == null) throw new Error('standard input closed before "stop"');

  const progress = setInterval(() => {
    const lag = Math.round(windowLagMs); windowLagMs = 0;
    log(`back ${welcomedCount}/${N}, caught up ${caughtUpCount}/${N}, posted ${posted}, acked ${ackedCount}; driver lag ${lag} ms; closes ${JSON.stringify(closesAfterStop)}; kit errors ${JSON.stringify(kitErrors)}`);
  }, 2000);
  await Promise.race([allCaughtUp, sleep(Math.max(1000, cfg.timeout * 1000 - now() - 30000))]);
  cpuAtCaughtUp = serverSample(serverPid);
  driverCpuAtCaughtUp = process.cpuUsage();
  rssAtCaughtUp = peakRssKiB;
  log(tAllCaughtUp != null ? `all ${N} caught up ${((tAllCaughtUp - tStop) / 1000).toFixed(2)} s after the stop` : `only ${caughtUpCount}/${N} caught up`);

  await sleep(cfg.after * 1000);
  posting = false;
  await postLoop;
  // Every send resolves once acknowledged (the kit retries with the same client id) or fails for good.
  await Promise.race([Promise.all(sends), sleep(cfg.settle * 1000)]);
  lastK = posted;
  const lastId = Math.max(0, ...acks.filter((x) => x != null));
  // Wait (bounded) until every client has seen the last acknowledged message.
  const settleEnd = performance.now() + cfg.settle * 1000;
  const lastSeenId = (st) => (st.seen.length ? st.seen[st.seen.length - 1] : 0);
  while (performance.now() < settleEnd && clients.some((st) => lastSeenId(st) < lastId)) await sleep(100);
  clearInterval(progress);
  rl.close();

  function judge(reason) {
    if (!lastK) lastK = posted;
    // ---- judge: every client got every acknowledged message once, in order
    const unacked = [];
    for (let k = 1; k <= lastK; k++) if (acks[k] == null) unacked.push(k);
    const idsOfK = new Map(); // k -> set of message ids seen anywhere (two ids: stored twice)
    let gaps = 0, duplicates = 0, outOfOrder = 0, clientsWithGaps = 0, clientsWithDuplicates = 0, foreign = 0;
    let rawRepeats = 0, clientsNotBack = 0, clientsNotCaughtUp = 0;
    const firstGaps = [];
    const count = new Uint32Array(lastK + 1);
    for (const st of clients) {
      count.fill(0);
      let prevId = 0, g = 0, d = 0;
      for (let j = 0; j < st.seen.length; j += 2) {
        const k = st.seen[j], id = st.seen[j + 1];
        if (!idsOfK.has(k)) idsOfK.set(k, new Set());
        idsOfK.get(k).add(id);
        if (id <= prevId) outOfOrder++;
        prevId = id;
        if (k < 1 || k > lastK || acks[k] !== id) { foreign++; continue; }
        if (++count[k] > 1) d++;
      }
      for (let k = 1; k <= lastK; k++) {
        if (acks[k] != null && count[k] === 0) {
          g++;
          if (firstGaps.length < 10) firstGaps.push({ client: st.i, k, id: acks[k] });
        }
      }
      gaps += g; duplicates += d;
      if (g) clientsWithGaps++;
      if (d) clientsWithDuplicates++;
      rawRepeats += st.rawRepeats;
      if (st.welcomeAt == null) clientsNotBack++;
      if (st.caughtUpAt == null) clientsNotCaughtUp++;
    }
    let storedTwice = 0;
    for (const ids of idsOfK.values()) if (ids.size > 1) storedTwice++;

    const rel = (x) => (x == null ? null : x - tStop);
    const back = clients.filter((s) => s.welcomeAt != null);
    const codes = {};
    for (const st of clients) { const k = String(st.dropCode); codes[k] = (codes[k] || 0) + 1; }
    const welcomesBeforeExit = clients.reduce((a, s) => a + s.welcomesBeforeExit, 0);
    const droppedAgain = clients.reduce((a, s) => a + s.droppedAgain, 0);
    const srvEnd = serverSample(serverPid);
    for (const st of clients) { try { st.client.close(); } catch { /* gone */ } }
    try { poster.close(); } catch { /* gone */ }
    return {
      reason,
      url: cfg.url, room: cfg.room, clients: N, addresses: cfg.addresses, ratePerS: cfg.rate,
      kitBackoff: { base: st0(() => clients[0].client.backoffBase), max: st0(() => clients[0].client.backoffMax) },
      posted: lastK, postedBeforeStop, acked: lastK - unacked.length, unacked: unacked.slice(0, 20), sendErrors: sendErrors.slice(0, 20),
      gaps, duplicates, outOfOrder, foreign, storedTwice, rawRepeats, clientsWithGaps, clientsWithDuplicates, firstGaps,
      clientsNotBack, clientsNotCaughtUp,
      ok: reason === 'complete' && unacked.length === 0 && gaps === 0 && duplicates === 0 && outOfOrder === 0
        && foreign === 0 && storedTwice === 0 && rawRepeats === 0 && clientsNotCaughtUp === 0 && sendErrors.length === 0,
      // Times in ms from "stop" (the controller's signal, just before it stopped the server).
      serverExitedMs: r1(rel(tExited)),
      serverStartedMs: r1(rel(tStarted)),
      allCaughtUpMs: r1(rel(tAllCaughtUp)),
      allCaughtUpAfterStartedMs: tAllCaughtUp != null && tStarted != null ? r1(tAllCaughtUp - tStarted) : null,
      dropMs: dist(clients.filter((s) => s.dropAt != null).map((s) => rel(s.dropAt))),
      dropCodes: codes,
      framesAfterExit,
      welcomeMs: dist(back.map((s) => rel(s.welcomeAt))),
      caughtUpMs: dist(clients.filter((s) => s.caughtUpAt != null).map((s) => rel(s.caughtUpAt))),
      caughtUpAfterWelcomeMs: dist(clients.filter((s) => s.caughtUpAt != null).map((s) => s.caughtUpAt - s.welcomeAt)),
      triesAfterDrop: dist(clients.map((s) => s.attemptsAfterDrop)),
      welcomesBeforeExit, droppedAgain, closesAfterStop, kitErrors,
      sameGuestAfterRestart: back.filter((s) => s.sameGuest).length,
      timelineStepMs: STEP,
      timeline: (timeline || []).slice(0, Math.ceil(((tAllCaughtUp ?? now()) - tStop) / STEP) + 1).map((b) => ({ ...b, srvCpuMs: Math.round(b.srvCpuMs), drvCpuMs: Math.round(b.drvCpuMs) })),
      replayedInCatchUp: clients.reduce((a, s) => a + s.replayed, 0),
      clientsWithReplay: clients.filter((s) => s.replayed > 0).length,
      server: serverPid ? {
        pid: serverPid,
        rssKiBBeforeStop: rssBefore?.rssKiB ?? null,
        rssKiBPeakAfterRestart: rssAtCaughtUp || null,
        rssKiBEnd: srvEnd?.rssKiB ?? null,
        cpuSecStartedToCaughtUp: cpuAtStarted && cpuAtCaughtUp ? r1(cpuAtCaughtUp.cpuS - cpuAtStarted.cpuS) : null,
      } : null,
      driver: {
        cpuSec: r1(cpuSecBetween({ user: 0, system: 0 }, process.cpuUsage())),
        // Node runs the driver on one thread: CPU seconds close to the wall time of a window mean it was saturated.
        cpuSecStopToCaughtUp: driverCpuAtStop && driverCpuAtCaughtUp ? r1(cpuSecBetween(driverCpuAtStop, driverCpuAtCaughtUp)) : null,
        cpuSecStartedToCaughtUp: driverCpuAtStarted && driverCpuAtCaughtUp ? r1(cpuSecBetween(driverCpuAtStarted, driverCpuAtCaughtUp)) : null,
        maxLagMs: r1(maxLagMs), rssMiB: r1(process.memoryUsage().rss / 1048576),
      },
    };
  }
  finish(tAllCaughtUp != null ? 'complete' : 'not-all-caught-up');
}

(cfg.mode === 'connect' ? connectMode() : stormMode()).catch((e) => {
  log(String(e && e.stack || e));
  if (!finishHook) finishHook = (reason) => ({ reason, error: String(e && e.message || e) });
  finish('error');
});
