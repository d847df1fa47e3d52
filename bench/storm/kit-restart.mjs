// Checks the client kit's reconnect schedule around a server restart in Node (run by ChatPortal.Tests
// Bench.KitRestartTests): after a close 1012 (service restart) tries refused before the socket opens
// must not grow the backoff window (the server is not listening yet; a refused try costs it nothing),
// and the kit must come back once the server listens again. After a drop without 1012 (a crash), the
// window must still grow with every refused try. Prints one JSON line: the 'reconnecting' events of each case.
import { createRequire } from 'node:module';
import { WebSocketServer, WebSocket as WS } from 'ws';
const require = createRequire(import.meta.url);
const kitPath = process.argv[2] || new URL('../../wwwroot-assets/chatportal.js', import.meta.url).pathname;

globalThis.WebSocket = class extends WS {
  constructor(url, protocols) { super(url, protocols, { perMessageDeflate: false }); }
};
const ChatPortal = require(kitPath);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listen(port) {
  const server = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (p) => p.values().next().value });
  server.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'hello', protocol: 'chatportal.v1' }));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'auth') ws.send(JSON.stringify({ type: 'welcome', reply_to: f.id, user: { id: 1, name: 'k' } }));
      if (f.type === 'ping') ws.send(JSON.stringify({ type: 'pong', reply_to: f.id }));
    });
  });
  return new Promise((r) => server.on('listening', () => r(server)));
}

async function stop(server, how) {
  for (const ws of server.clients) {
    if (how === 'restart') ws.close(1012, 'server_shutdown');
    else ws.terminate(); // a crash: no close frame
  }
  await new Promise((r) => server.close(r));
}

async function scenario(how) {
  let server = await listen(0);
  const port = server.address().port;
  const client = new ChatPortal.Client({ url: `ws://127.0.0.1:${port}/ws`, backoffBase: 50, backoffMax: 800 });
  const events = [];
  let readies = 0;
  client.on('reconnecting', (e) => events.push(e));
  client.on('ready', () => readies++);
  client.connect();
  for (let i = 0; i < 50 && readies < 1; i++) await sleep(20);
  await stop(server, how);
  await sleep(1500); // down: every try is refused
  const whileDown = events.slice();
  server = await listen(port);
  for (let i = 0; i < 200 && readies < 2; i++) await sleep(20);
  client.close();
  await new Promise((r) => server.close(r));
  return { whileDown, backAgain: readies >= 2 };
}

const restart = await scenario('restart');
const crash = await scenario('crash');
console.log(JSON.stringify({ restart, crash }));
process.exit(0);
