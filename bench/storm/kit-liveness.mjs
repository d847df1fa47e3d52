// Checks the client kit's liveness rule in Node (run by ChatPortal.Tests Bench.KitLivenessTests):
// a server that never answers pings but keeps sending frames must keep the kit connected; once it
// goes silent too, the kit must give up on the link ("no pong") and reconnect. Prints one JSON line.
import { createRequire } from 'node:module';
import { WebSocketServer, WebSocket as WS } from 'ws';
const require = createRequire(import.meta.url);
const kitPath = process.argv[2] || new URL('../../wwwroot-assets/chatportal.js', import.meta.url).pathname;

globalThis.WebSocket = class extends WS {
  constructor(url, protocols) { super(url, protocols, { perMessageDeflate: false }); }
};
const ChatPortal = require(kitPath);

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => p.values().next().value });
await new Promise((r) => server.on('listening', r));
let connections = 0, pingsSeen = 0, chatty = true;
server.on('connection', (ws) => {
  connections++;
  ws.send(JSON.stringify({ type: 'hello', protocol: 'chatportal.v1' }));
  const timer = setInterval(() => { if (chatty) ws.send(JSON.stringify({ type: 'typing', room_id: 1, user: { id: 9, name: 'x' } })); }, 100);
  ws.on('close', () => clearInterval(timer));
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === 'auth') ws.send(JSON.stringify({ type: 'welcome', reply_to: f.id, user: { id: 1, name: 'k' } }));
    if (f.type === 'ping') pingsSeen++; // never answered
  });
});

const url = `ws://127.0.0.1:${server.address().port}/ws`;
// pongTimeout (below the ping interval: each ping restarts it) well above the frames' 100 ms: an event-loop stall on a loaded machine (CI runs tests side by side) let the
// kit's timer fire before the frames that were due were read, and the test saw a drop that was the machine's, not the kit's.
const client = new ChatPortal.Client({ url, pingInterval: 1000, pongTimeout: 800, backoffBase: 50, backoffMax: 100 });
const closes = [];
client.on('close', (e) => closes.push(e));
client.on('disconnected', (e) => closes.push(e));
client.connect();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 50 && client.state !== 'ready'; i++) await sleep(100);
const readyFirst = client.state === 'ready';
await sleep(4000);
const whileChatty = { connections, pingsSeen, state: client.state };
chatty = false;
for (let i = 0; i < 40 && connections < 2; i++) await sleep(100);
const result = { readyFirst, whileChatty, afterSilence: { connections, state: client.state } };
console.log(JSON.stringify(result));
client.close();
server.close();
process.exit(0);
