// Point the sample at your server. In production a mini-program must use wss:// on a domain listed
// under "socket 合法域名" (and https:// for "request 合法域名") in the mini-program's admin console.
module.exports = {
  // The portal's public WebSocket URL (Portal:PublicWebSocketUrl), e.g. 'wss://chat.example.com/ws'.
  socketUrl: 'ws://127.0.0.1:5080/ws',
  // The portal's base URL, used to get an API token (POST /api/auth/token).
  baseUrl: 'http://127.0.0.1:5080',
  // The room to join (its slug: /rooms/{slug} on the web).
  room: 'lobby',
  // Leave empty to chat as a guest (where the room allows guests). A nickname + password signs in
  // (a new nickname creates the account, as on the web); the token is kept in storage.
  name: '',
  password: '',
};
