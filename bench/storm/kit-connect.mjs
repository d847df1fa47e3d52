// How the client kit connects (run by ChatPortal.Tests WebSockets.KitConnectTests against a real portal):
//   node kit-connect.mjs <kit.js> <ws url> <token> <room>
// 1. A mini-program (ChatPortal.wxSocket over a stand-in for wx.connectSocket, built on the `ws` package, which can
//    set request headers as wx can) with a token: the token and the room go with the upgrade (?join=), no frame
//    from the client before it is in the room.
// 2. A socket that cannot set headers (a browser's) with a token: the room on the upgrade, auth as soon as the socket
//    opens, before the server's hello was read; dropped, it comes back naming the room with the last event id seen.
// 3. The mini-program with a bad token: the upgrade is refused (401, which a socket sees as an error); the next try
//    sends the token in an auth frame, gets token_invalid and stops.
// 4. A server that ignores ?join= (an older one; here the socket factory leaves it out of the URL): its hello has no
//    "joins", so the kit joins by frame.
// Prints one JSON line.
import { createRequire } from 'node:module';
import { WebSocket as WS } from 'ws';
const require = createRequire(import.meta.url);
const [kitPath, url, token, room] = process.argv.slice(2);
const ChatPortal = require(kitPath);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (what, ms = 15000) => {
  for (let waited = 0; !what(); waited += 20) {
    if (waited > ms) return false;
    await sleep(20);
  }
  return true;
};

/** What one client's sockets did, in order: 'open', 'upgrade-refused', '→auth', '←hello', … */
function recorder() {
  return { log: [], upgrades: [] };
}
function typeOf(data) {
  try { return JSON.parse(typeof data === 'string' ? data : data.toString()).type; } catch { return 'binary'; }
}

/** A stand-in for wx.connectSocket (the SocketTask API) on the `ws` package: it sends the header it is given. */
function fakeWx(rec) {
  return {
    connectSocket({ url: u, protocols, header }) {
      rec.upgrades.push({ authorization: header && header.Authorization ? header.Authorization.split(' ')[0] : null,
        join: new URL(u).searchParams.get('join') });
      const ws = new WS(u, protocols, { headers: header || {}, perMessageDeflate: false });
      const handlers = {};
      ws.on('open', () => { rec.log.push('open'); handlers.open && handlers.open({}); });
      ws.on('message', (d, isBinary) => {
        const text = isBinary ? d : d.toString();
        rec.log.push('←' + typeOf(text));
        handlers.message && handlers.message({ data: text });
      });
      ws.on('close', (code, reason) => handlers.close && handlers.close({ code, reason: reason.toString() }));
      ws.on('error', (e) => {
        const refused = /Unexpected server response: (\d+)/.exec(e.message); // the upgrade was answered, not with 101
        if (refused) rec.log.push('upgrade-' + refused[1]);
        handlers.error && handlers.error({ errMsg: 'error' });
      });
      return {
        send: ({ data }) => { rec.log.push('→' + typeOf(data)); ws.send(data); },
        close: ({ code, reason }) => { try { ws.close(code, reason); } catch { ws.terminate(); } },
        onOpen: (f) => { handlers.open = f; },
        onMessage: (f) => { handlers.message = f; },
        onClose: (f) => { handlers.close = f; },
        onError: (f) => { handlers.error = f; },
      };
    },
  };
}

/** A socket without headers (as a browser's), recording like the above; dropJoin: the URL without ?join= (an older server). */
function plainSocket(rec, dropJoin = false) {
  return function (u) {
    const target = new URL(u);
    rec.upgrades.push({ authorization: null, join: target.searchParams.get('join') });
    if (dropJoin) target.searchParams.delete('join');
    const ws = new WS(target.toString(), ChatPortal.PROTOCOL, { perMessageDeflate: false });
    rec.last = ws;
    const s = {
      send: (data) => { rec.log.push('→' + typeOf(data)); ws.send(data); },
      close: (code, reason) => { try { ws.close(code || 1000, reason || ''); } catch { ws.terminate(); } },
      onopen: null, onmessage: null, onclose: null,
    };
    ws.on('open', () => { rec.log.push('open'); s.onopen && s.onopen(); });
    ws.on('message', (d, isBinary) => {
      const text = isBinary ? d : d.toString();
      rec.log.push('←' + typeOf(text));
      s.onmessage && s.onmessage(text);
    });
    ws.on('close', (code, reason) => s.onclose && s.onclose(code, reason.toString()));
    ws.on('error', () => { /* close follows */ });
    return s;
  };
}

const result = {};

// 1. The mini-program with its token on the upgrade.
const wxRec = recorder();
const wxErrors = [];
const wxClient = new ChatPortal.Client({ url, socket: ChatPortal.wxSocket(fakeWx(wxRec)), auth: () => ({ token }), rooms: [room] });
wxClient.on('error', (e) => wxErrors.push(e.code || e.message));
let wxReady = false;
wxClient.on('ready', () => { wxReady = true; });
wxClient.connect();
await until(() => wxReady);

// 2. A socket without headers, the same token in an auth frame sent at once.
const plainRec = recorder();
const plainClient = new ChatPortal.Client({ url, socket: plainSocket(plainRec), auth: () => ({ token }), rooms: [room] });
const plainGot = [];
let plainReady = false, plainReadies = 0;
plainClient.on('ready', () => { plainReady = true; plainReadies++; });
plainClient.on('message', (m) => plainGot.push(m.message.text));
plainClient.connect();
await until(() => plainReady);

let ack = null;
if (wxReady && plainReady) ack = await wxClient.send(room, 'from a mini-program, token on the upgrade').then((a) => a.type, (e) => 'error ' + (e.code || e.message));
await until(() => plainGot.includes('from a mini-program, token on the upgrade'), 10000);
result.header = { ready: wxReady, upgrades: wxRec.upgrades, log: wxRec.log, errors: wxErrors, user: wxClient.user && wxClient.user.name, ack };
// The connection drops: the kit comes back naming the room with the last event id it saw (the server replays after it).
const lastId = plainClient.rooms[room] && plainClient.rooms[room].lastId;
const firstLog = plainRec.log.slice();
plainRec.last.terminate();
await until(() => plainReadies >= 2);
result.frame = { ready: plainReady, upgrades: plainRec.upgrades, log: firstLog, got: plainGot, lastId, readies: plainReadies };
wxClient.close();
plainClient.close();

// 4. A server that does not join rooms named on the upgrade: the hello has no "joins", the kit sends its join frame.
const oldRec = recorder();
const oldClient = new ChatPortal.Client({ url, socket: plainSocket(oldRec, true), auth: () => ({ token }), rooms: [room] });
let oldReady = false;
oldClient.on('ready', () => { oldReady = true; });
oldClient.connect();
await until(() => oldReady);
result.older = { ready: oldReady, log: oldRec.log, joined: !!(oldClient.rooms[room] && oldClient.rooms[room].id) };
oldClient.close();

// 3. A bad token: refused on the upgrade, then refused by frame with its reason, and the client stops.
const badRec = recorder();
const badClient = new ChatPortal.Client({ url, socket: ChatPortal.wxSocket(fakeWx(badRec)), auth: () => ({ token: 'cpt_not-a-real-token' }),
  rooms: [room], backoffBase: 50, backoffMax: 100 });
let stopped = null;
badClient.on('stopped', (e) => { stopped = e; });
badClient.connect();
await until(() => stopped !== null);
result.bad = { state: badClient.state, stopped, upgrades: badRec.upgrades, log: badRec.log };
badClient.close();

console.log(JSON.stringify(result));
process.exit(0);
