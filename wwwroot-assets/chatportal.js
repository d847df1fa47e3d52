/*!
 * chatportal.js — a small client for ChatPortal's WebSocket protocol "chatportal.v1".
 * No dependencies; works in browsers and in WeChat mini-programs (ChatPortal.wxSocket(wx)).
 *
 *   const client = new ChatPortal.Client({
 *     url: 'wss://chat.example.com/ws',
 *     auth: ChatPortal.ticketAuth(),          // or () => ({ token: 'cpt_…' }) or () => ({ guest: true })
 *     rooms: ['lobby'],
 *   });
 *   client.on('message', m => console.log(ChatPortal.displayName(m.message.user), m.message.text));
 *   client.connect();
 *   client.send('lobby', 'hello');            // a Promise that resolves with the ack (after the server stored it)
 *   client.sendImage('lobby', blob);          // an image; client.sendFile('lobby', file) any file (a download for others)
 *
 * What it does for you: authenticates on every (re)connect — the rooms go with the upgrade request (?join=, each with
 * the last event id seen), auth as soon as the socket is open, and where the socket can carry headers (wxSocket) the
 * token goes with the upgrade request too — reconnects with exponential backoff and
 * full jitter (after a server restart, close 1012, it keeps trying every backoffBase until the server
 * listens again, for at most restartWindow), re-joins rooms with the last event id seen (the server sends everything after it, in
 * order), drops events it has already seen, and re-sends unacknowledged messages with the same
 * client id (the server never stores a retry twice). A guest comes back as the same guest (the welcome's
 * resume token goes with the next guest auth; kept in options.storage too, so a reload keeps the guest).
 * See docs/protocol.md for the frames.
 */
(function (root, factory) {
  var api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.ChatPortal = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict';

  var PROTOCOL = 'chatportal.v1';
  var GUEST_RESUME_KEY = 'chatportal.guest.resume';
  // Closes after which reconnecting cannot help: the app must do something (sign in again, new token).
  var FATAL = { session_revoked: 1, token_revoked: 1, token_invalid: 1, guests_not_allowed: 1 };
  // Send errors worth another try later; every other error rejects the send.
  var RETRYABLE = { storage_failed: 1, unavailable: 1 };

  // ---------------------------------------------------------------- sockets

  /** The browser's WebSocket behind the small interface the client uses. */
  function browserSocket(url) {
    var ws = new WebSocket(url, PROTOCOL);
    ws.binaryType = 'arraybuffer';
    var s = {
      send: function (data) { ws.send(data); },
      close: function (code, reason) { try { ws.close(code || 1000, reason || ''); } catch (e) { /* already closing */ } },
      onopen: null, onmessage: null, onclose: null,
    };
    ws.onopen = function () { if (s.onopen) s.onopen(); };
    ws.onmessage = function (e) { if (s.onmessage) s.onmessage(e.data); };
    ws.onclose = function (e) { if (s.onclose) s.onclose(e.code, e.reason); };
    ws.onerror = function () { /* onclose follows */ };
    s.raw = ws;
    return s;
  }

  /**
   * A socket factory for WeChat mini-programs: new ChatPortal.Client({ socket: ChatPortal.wxSocket(wx), … }).
   * A mini-program can set request headers, so a token goes with the upgrade (Authorization: Bearer) instead of
   * in an auth frame: the connection is set up in one round trip (docs/protocol.md §2.1).
   */
  function wxSocket(wx) {
    var factory = function (url, options) {
      var request = { url: url, protocols: [PROTOCOL] };
      if (options && options.headers) request.header = options.headers;
      var task = wx.connectSocket(request);
      var closed = false;
      var s = {
        send: function (data) { task.send({ data: data }); },
        close: function (code, reason) { task.close({ code: code || 1000, reason: reason || '' }); },
        onopen: null, onmessage: null, onclose: null,
      };
      function ended(code, reason) {
        if (closed) return;
        closed = true;
        if (s.onclose) s.onclose(code, reason);
      }
      task.onOpen(function () { if (s.onopen) s.onopen(); });
      task.onMessage(function (r) { if (s.onmessage) s.onmessage(r.data); });
      task.onClose(function (r) { ended(r && r.code, r && r.reason); });
      task.onError(function () { ended(1006, 'error'); });
      s.raw = task;
      return s;
    };
    factory.headers = true; // it takes { headers } as its second argument
    return factory;
  }

  /**
   * Auth for a page served by the portal to a signed-in user: a fresh single-use ticket on every
   * connect; a guest when nobody is signed in (if fallbackToGuest).
   */
  function ticketAuth(options) {
    options = options || {};
    var base = options.baseUrl || '';
    return function () {
      return fetch(base + '/api/ws/ticket', { method: 'POST', credentials: 'same-origin' }).then(function (r) {
        if (r.ok) return r.json().then(function (j) { return { ticket: j.ticket }; });
        if (options.fallbackToGuest !== false) return { guest: true };
        throw new Error('not signed in');
      });
    };
  }

  function randomId() {
    var c = typeof crypto !== 'undefined' && crypto.getRandomValues ? crypto : null;
    var bytes = new Uint8Array(12);
    if (c) c.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    var s = '';
    for (var j = 0; j < bytes.length; j++) s += (bytes[j] < 16 ? '0' : '') + bytes[j].toString(16);
    return s;
  }

  // ---------------------------------------------------------------- client

  function Client(options) {
    if (!options || !options.url) throw new Error('ChatPortal.Client needs { url }');
    this.url = options.url;
    this.auth = options.auth || function () { return { guest: true }; };
    this.socketFactory = options.socket || browserSocket;
    this.storage = options.storage || null; // { get(key), set(key, value) } to keep cursors across reloads
    this.backoffBase = options.backoffBase || 500;
    this.backoffMax = options.backoffMax || 30000;
    this.restartWindow = options.restartWindow || 30000;
    this.pingInterval = options.pingInterval || 25000;
    this.pongTimeout = options.pongTimeout || 10000;
    this.requestTimeout = options.requestTimeout || 15000;
    this.autoJoinDirect = options.autoJoinDirect !== false;
    this.state = 'idle';       // idle | connecting | ready | closed | stopped
    this.user = null;
    this.rooms = {};           // slug -> { slug, id, lastId, want }
    this._roomById = {};
    this._handlers = {};
    this._pending = {};        // request id -> { resolve, reject, timer }
    this._outbox = [];         // unacknowledged sends, in order
    this._nextId = 1;
    this._attempt = 0;
    this._restartUntil = 0;    // after a 1012: until then a refused try does not grow the backoff
    this._guestResume = (this.storage && this.storage.get(GUEST_RESUME_KEY)) || null; // to come back as the same guest
    this._socket = null;
    this._stopped = false;
    var self = this;
    (options.rooms || []).forEach(function (r) { self._room(r).want = true; });
  }

  Client.prototype.on = function (event, fn) { (this._handlers[event] = this._handlers[event] || []).push(fn); return this; };
  Client.prototype.off = function (event, fn) {
    var list = this._handlers[event];
    if (list) this._handlers[event] = list.filter(function (f) { return f !== fn; });
    return this;
  };
  Client.prototype._emit = function (event, data) {
    (this._handlers[event] || []).slice().forEach(function (fn) {
      try { fn(data); } catch (e) { if (typeof console !== 'undefined') console.error(e); }
    });
  };

  Client.prototype._room = function (slug) {
    var r = this.rooms[slug];
    if (!r) {
      var saved = this.storage ? Number(this.storage.get('chatportal.last.' + slug)) : 0;
      r = this.rooms[slug] = { slug: slug, id: null, lastId: saved > 0 ? saved : null, want: false, joined: false };
    }
    return r;
  };

  Client.prototype._setCursor = function (room, id) {
    if (!(id > 0) || (room.lastId && id <= room.lastId)) return false;
    room.lastId = id;
    if (this.storage) this.storage.set('chatportal.last.' + room.slug, String(id));
    return true;
  };

  // ---------------------------------------------------------------- connection

  Client.prototype.connect = function () {
    this._stopped = false;
    if (this.state === 'connecting' || this.state === 'ready') return this;
    this._open();
    return this;
  };

  /** Closes for good (no reconnect). Unsent messages stay in the outbox until connect() again. */
  Client.prototype.close = function () {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    if (this._socket) this._socket.close(1000, 'bye');
    this._setState('closed');
  };

  Client.prototype._setState = function (s) {
    if (this.state === s) return;
    this.state = s;
    this._emit('state', s);
  };

  Client.prototype._open = function () {
    var self = this;
    this._setState('connecting');
    var attempt = this._opens = (this._opens || 0) + 1;
    // The credentials are got while the socket connects (a ticket is a request of its own).
    var credentials = Promise.resolve().then(function () { return self.auth(); });
    credentials.catch(function () { /* reported where it is used */ });
    if (this.socketFactory.headers !== true || this._frameAuthOnly) {
      this._connect(credentials, null);
      return;
    }
    // A socket that can carry headers: a token goes with the upgrade request, no auth frame.
    credentials.then(function (c) {
      if (self._stopped || self._opens !== attempt) return;
      if (c && typeof c.token === 'string') self._connect(null, { Authorization: 'Bearer ' + c.token }, c);
      else self._connect(credentials, null);
    }, function (err) {
      if (self._stopped || self._opens !== attempt) return;
      self._emit('error', err);
      self._scheduleReconnect();
    });
  };

  /**
   * Opens the socket. With credentials, the auth frame goes as soon as it is open (the server's hello is not
   * waited for) and the rooms' joins right behind it; with headers (the token on the upgrade), only the joins.
   */
  Client.prototype._connect = function (credentials, headers, headerCredentials) {
    var self = this;
    var socket;
    // The rooms go with the upgrade request too (?join=lobby:1041): the server joins them once the socket is
    // authenticated, so no join frame is needed (with a token on the upgrade, no frame at all).
    var named = this._namedRooms();
    var url = this.url;
    if (named.length) {
      url += (url.indexOf('?') < 0 ? '?' : '&') + 'join=' + named.map(function (r) {
        return r.lastId ? r.slug + ':' + r.lastId : r.slug;
      }).join(',');
    }
    try {
      socket = headers ? this.socketFactory(url, { headers: headers }) : this.socketFactory(url);
    } catch (e) {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    this._welcomed = false;
    this._earlyJoins = null;
    this._upgradeJoins = {};
    this._joinsSent = false;
    for (var i = 0; i < named.length; i++) this._expectUpgradeJoin(named[i]);
    var opened = false, started = false;
    var start = function () {
      if (started || self._socket !== socket) return;
      started = true;
      if (credentials) self._authenticate(socket, credentials);
      else self._joinEarly();
    };
    this._socketHello = function (hello) {
      // A server that does not join rooms named on the upgrade (an older one): join them with frames.
      if (named.length && !Array.isArray(hello.joins)) {
        self._settleUpgradeJoins();
        if (self._joinsSent) self._joinEarly(); // else they go with the auth (or at the start), as usual
      }
      start(); // a socket that did not say it opened
      // The token on the upgrade did not arrive (a proxy dropped the header): authenticate with a frame after all.
      if (headers && hello.authenticated !== true) {
        self._frameAuthOnly = true;
        self._authenticate(socket, Promise.resolve(headerCredentials));
      }
    };
    socket.onmessage = function (data) { if (self._socket === socket) self._onFrame(data); };
    socket.onclose = function (code, reason) {
      if (self._socket !== socket) return;
      // The upgrade with the token was refused (HTTP 401 looks like a network error here): the next try
      // sends the token in an auth frame, where a bad token gets its reason (token_invalid) and stops the client.
      if (headers && !self._welcomed) self._frameAuthOnly = true;
      self._onClose(code, reason, opened);
    };
    socket.onopen = function () { opened = true; start(); };
  };

  Client.prototype._onClose = function (code, reason, opened) {
    this._socket = null;
    this._settleUpgradeJoins();
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    for (var slug in this.rooms) this.rooms[slug].joined = false;
    var pending = this._pending;
    this._pending = {};
    for (var id in pending) {
      clearTimeout(pending[id].timer);
      pending[id].reject(new Error('disconnected')); // unacked sends stay in the outbox and go again
    }
    this._emit('disconnect', { code: code, reason: reason });
    if (this._stopped) { this._setState('closed'); return; }
    if (code === 1008 && FATAL[reason]) {
      this._stopped = true;
      this._setState('stopped');
      this._emit('stopped', { code: code, reason: reason });
      return;
    }
    if (code === 1012) this._restartUntil = Date.now() + this.restartWindow;
    // Refused while the server restarts (the socket never opened): that cost the server nothing, so the
    // next try comes as soon as the first one would. Once a socket opens, the server is up and busy with
    // everyone coming back: from then on every failure doubles the window as usual.
    this._scheduleReconnect(!opened && Date.now() < this._restartUntil);
  };

  /** Exponential backoff with full jitter: many clients of a restarted server do not come back at once. */
  Client.prototype._scheduleReconnect = function (restarting) {
    var self = this;
    this._setState('connecting');
    var cap = restarting ? this.backoffBase : Math.min(this.backoffMax, this.backoffBase * Math.pow(2, this._attempt));
    if (!restarting) this._attempt = Math.min(this._attempt + 1, 16);
    var delay = Math.floor(Math.random() * cap);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(function () { if (!self._stopped) self._open(); }, delay);
    this._emit('reconnecting', { delay: delay, attempt: this._attempt });
  };

  Client.prototype._write = function (frame) {
    if (!this._socket) return false;
    try {
      this._socket.send(typeof frame === 'string' || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  };

  // ---------------------------------------------------------------- requests

  /** Sends a request frame and resolves with the reply (rejects with an Error carrying .code on an error frame). */
  Client.prototype.request = function (frame) {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (self.state !== 'ready' && frame.type !== 'auth' && frame.type !== 'join') {
        reject(new Error('not connected'));
        return;
      }
      var id = self._nextId++;
      frame.id = id;
      var entry = { resolve: resolve, reject: reject };
      entry.timer = setTimeout(function () {
        if (self._pending[id] === entry) {
          delete self._pending[id];
          reject(new Error('timeout'));
        }
      }, self.requestTimeout);
      self._pending[id] = entry;
      if (!self._write(frame)) {
        delete self._pending[id];
        clearTimeout(entry.timer);
        reject(new Error('not connected'));
      }
    });
  };

  /** Joins a room (now, and again after every reconnect, from the last event seen). */
  Client.prototype.join = function (slug) {
    var room = this._room(slug);
    room.want = true;
    if (this.state === 'ready' && !room.joined) return this._join(room);
    return Promise.resolve(room);
  };

  Client.prototype.leave = function (slug) {
    var room = this._room(slug);
    room.want = false;
    if (!room.joined) return Promise.resolve();
    room.joined = false;
    return this.request({ type: 'leave', room: slug });
  };

  Client.prototype._join = function (room, early) {
    var self = this;
    var frame = { type: 'join', room: room.slug };
    if (room.lastId) frame.since = room.lastId;
    room.joined = true;
    return this.request(frame).then(function (reply) {
      self._joinedRoom(room, reply);
      self._emit('joined', reply);
      return room;
    }, function (err) {
      room.joined = false;
      // A join sent with the auth fails with it (the auth's own error is reported), or with the connection.
      if (!(early && (err.code === 'not_authenticated' || err.message === 'disconnected'))) self._emit('error', err);
      throw err;
    });
  };

  /**
   * Sends a message; resolves with the ack once the server has stored it. Survives reconnects:
   * it is re-sent with the same client id until acknowledged.
   */
  Client.prototype.send = function (slug, text) { return this._enqueue({ type: 'send', room: slug, text: text }); };

  /** A quote-reply: the message quotes messageId (shown above it in the room). */
  Client.prototype.reply = function (slug, quoteId, text) { return this._enqueue({ type: 'send', room: slug, text: text, quote: quoteId }); };

  /**
   * A reply in the thread of rootId: it stays out of the room (others get it as 'thread_message')
   * unless alsoInRoom. Retried with the same client id like send.
   */
  Client.prototype.replyInThread = function (slug, rootId, text, alsoInRoom) {
    var f = { type: 'send', room: slug, text: text, thread_id: rootId };
    if (alsoInRoom) f.also_in_room = true;
    return this._enqueue(f);
  };

  /** A direct message to a user by name (the conversation is created on first use). */
  Client.prototype.sendTo = function (userName, text) { return this._enqueue({ type: 'send', to: userName, text: text }); };

  /** Sends an image (ArrayBuffer or Blob): announced, then the bytes as one binary frame. */
  Client.prototype.sendImage = function (slug, data) { return this._sendBytes({ type: 'image', room: slug }, data); };

  /**
   * Sends any file as an attachment (a File or Blob, or an ArrayBuffer): announced with its name (the File's
   * own, unless name is given), then the bytes as one binary frame; resolves with the ack, retried like send.
   * The server takes the type from the content and serves it only as a download (message.file).
   * Errors: file_empty, file_too_large, file_quota, files_disabled, rate_limited.
   */
  Client.prototype.sendFile = function (slug, data, name) {
    var fileName = name || (data && typeof data.name === 'string' && data.name) || 'file';
    return this._sendBytes({ type: 'file', room: slug, name: fileName }, data);
  };

  Client.prototype._sendBytes = function (frame, data) {
    var self = this;
    var bytes = typeof Blob !== 'undefined' && data instanceof Blob ? data.arrayBuffer() : Promise.resolve(data);
    return bytes.then(function (buf) { return self._enqueue(frame, buf); });
  };

  Client.prototype._enqueue = function (frame, binary) {
    var self = this;
    frame.client_id = randomId();
    return new Promise(function (resolve, reject) {
      var item = { frame: frame, binary: binary, resolve: resolve, reject: reject, inFlight: false };
      self._outbox.push(item);
      self._emit('queued', { client_id: frame.client_id, frame: frame });
      if (self.state === 'ready') self._flushOutbox();
    });
  };

  Client.prototype._flushOutbox = function () {
    var self = this;
    this._outbox.forEach(function (item) {
      if (item.inFlight) return;
      item.inFlight = true;
      var copy = {};
      for (var k in item.frame) copy[k] = item.frame[k];
      var sent = self.request(copy);
      if (item.binary) self._write(item.binary); // the very next binary frame belongs to the announcement
      sent.then(function (ack) {
        self._outbox.splice(self._outbox.indexOf(item), 1);
        item.resolve(ack);
      }, function (err) {
        item.inFlight = false;
        if (err.code && !RETRYABLE[err.code]) {
          self._outbox.splice(self._outbox.indexOf(item), 1);
          item.reject(err);
        }
        // Otherwise (disconnected, timeout, storage hiccup) it stays and goes again with the same client id.
      });
    });
  };

  Client.prototype.edit = function (messageId, text) { return this.request({ type: 'edit', message_id: messageId, text: text }); };
  Client.prototype.remove = function (messageId) { return this.request({ type: 'delete', message_id: messageId }); };
  /** Reacts with one emoji (resolves with the message's reactions); unreact takes it back. Errors: unknown_emoji, too_many_reactions. */
  Client.prototype.react = function (messageId, emoji) { return this.request({ type: 'react', message_id: messageId, emoji: emoji }); };
  Client.prototype.unreact = function (messageId, emoji) { return this.request({ type: 'unreact', message_id: messageId, emoji: emoji }); };
  /** Pins a message in its room (changed: false when it already was; nothing is posted either way). */
  Client.prototype.pin = function (messageId) { return this.request({ type: 'pin', message_id: messageId }); };
  Client.prototype.unpin = function (messageId) { return this.request({ type: 'unpin', message_id: messageId }); };
  Client.prototype.pins = function (slug) { return this.request({ type: 'pins', room: slug }); };
  /** Saved messages are personal: save, unsave, and the list from every room. */
  Client.prototype.save = function (messageId) { return this.request({ type: 'save', message_id: messageId }); };
  Client.prototype.unsave = function (messageId) { return this.request({ type: 'unsave', message_id: messageId }); };
  Client.prototype.savedMessages = function () { return this.request({ type: 'saved_messages' }); };
  /** A thread: its first message and replies (resolves with {root, replies, following}). */
  Client.prototype.thread = function (rootId) { return this.request({ type: 'thread', message_id: rootId }); };
  Client.prototype.follow = function (rootId) { return this.request({ type: 'follow', message_id: rootId }); };
  Client.prototype.unfollow = function (rootId) { return this.request({ type: 'unfollow', message_id: rootId }); };
  /** The threads you follow, latest activity first, each with replies and unread. */
  Client.prototype.threads = function () { return this.request({ type: 'threads' }); };
  Client.prototype.threadRead = function (rootId) { return this.request({ type: 'thread_read', message_id: rootId }); };
  /**
   * Read receipts: say how far you read; list the room's cursors; hide yours everywhere (hidden: true).
   * Others' moves arrive as the 'receipt' event (one member) or the 'receipts' event (several at once: f.cursors).
   */
  Client.prototype.markRead = function (slug, messageId) { return this.request({ type: 'read', room: slug, message_id: messageId }); };
  Client.prototype.receipts = function (slug) { return this.request({ type: 'receipts', room: slug }); };
  Client.prototype.hideReadReceipts = function (hidden) { return this.request({ type: 'read_receipts', hidden: hidden !== false }); };
  /**
   * Applies a 'reaction', 'pin' or 'link_preview' event to a message object of this protocol (from 'message' or 'history'):
   * the event carries the whole new state, so nothing is counted on the client.
   */
  function applyToMessage(message, event) {
    if (!message || !event || message.id !== event.message_id) return message;
    if (event.type === 'reaction') message.reactions = event.reactions.length ? event.reactions : undefined;
    if (event.type === 'pin') message.pinned = event.pinned || undefined;
    if (event.type === 'link_preview') message.preview = event.preview || undefined; // none: an edit took the link out
    return message;
  }
  Client.prototype.history = function (slug, before, limit) {
    var f = { type: 'history', room: slug, limit: limit || 50 };
    if (before) f.before = before;
    return this.request(f);
  };
  Client.prototype.online = function (slug) { return this.request({ type: 'online', room: slug }); };

  /** Typing notice, throttled to one per 3 s per room (call it on every key press). */
  Client.prototype.typing = function (slug) {
    var room = this._room(slug);
    var now = Date.now();
    if (this.state !== 'ready' || !room.joined || (room.typedAt && now - room.typedAt < 3000)) return;
    room.typedAt = now;
    this._write({ type: 'typing', room: slug });
  };

  // ---------------------------------------------------------------- incoming

  Client.prototype._onFrame = function (data) {
    // Any frame proves the link, not only the pong: a busy server answers a ping after the replies
    // queued before it, and a client that gave up on a link full of catch-up frames would reconnect
    // and queue the same work again (10,000 kit clients after a restart did exactly that).
    clearTimeout(this._pongTimer);
    if (typeof data !== 'string') {
      this._emit('binary', data);
      return;
    }
    var f;
    try { f = JSON.parse(data); } catch (e) { return; }
    if (f.reply_to !== undefined) {
      // A reply: settle its request. The welcome also starts the session.
      var p = this._pending[f.reply_to];
      if (p) {
        delete this._pending[f.reply_to];
        clearTimeout(p.timer);
        if (f.type === 'error') {
          var err = new Error(f.message);
          err.code = f.code;
          p.reject(err);
        } else {
          p.resolve(f);
        }
      } else if (f.type === 'error') {
        this._emit('error', f);
      }
      if (f.type === 'welcome') this._ready(f);
      return;
    }
    switch (f.type) {
      case 'hello': if (this._socketHello) this._socketHello(f); break;
      case 'welcome': this._ready(f); break; // the token came with the upgrade: a welcome that answers no request
      case 'message':
      case 'message_edited':
      case 'message_deleted':
      case 'thread_message':
      case 'reaction': // stored events too: they move the cursor and replay on catch-up
      case 'pin':
        var room = this._roomById[f.room_id];
        if (room && !this._setCursor(room, f.event_id)) return; // seen already (catch-up overlap, retry)
        this._emit(f.type, f);
        break;
      case 'caught_up':
        var r = this._roomById[f.room_id];
        if (r) this._setCursor(r, f.last_id);
        this._emit('caught_up', f);
        break;
      case 'direct':
        if (this.autoJoinDirect && f.room) {
          var dm = this._room(f.room.slug);
          if (!dm.lastId && f.event_id) dm.lastId = f.event_id - 1;
          if (!dm.want) this.join(f.room.slug);
        }
        this._emit('direct', f);
        break;
      case 'joined': // a room named on the upgrade (a join frame's reply has reply_to)
        this._upgradeJoinAnswered(f.room && f.room.slug, f, true);
        this._emit('joined', f);
        break;
      case 'error': // one without reply_to: about a room named on the upgrade, or the socket's
        if (f.room) this._upgradeJoinAnswered(f.room, f, false);
        this._emit('error', f);
        break;
      case 'left': // the server took us out (the room became private or closed to guests)
        var gone = this._roomById[f.room_id];
        if (gone) { gone.joined = false; gone.want = false; }
        this._emit('left', f);
        break;
      default: this._emit(f.type, f); // presence, typing, room_changed, error (without reply_to), …
    }
  };

  Client.prototype._authenticate = function (socket, credentials) {
    var self = this;
    credentials.then(function (c) {
      if (self._socket !== socket) return;
      var frame = { type: 'auth' };
      for (var k in c) frame[k] = c[k];
      if (frame.guest === true && !frame.resume && self._guestResume) frame.resume = self._guestResume;
      self.request(frame).catch(function (err) { self._emit('error', err); });
      self._joinEarly(); // taken after the auth: the server handles a socket's frames in order
    }, function (err) {
      self._emit('error', err);
      if (self._socket === socket) socket.close(1000, 'no credentials');
    });
  };

  /**
   * The rooms to name on the upgrade request: wanted, with a slug the server takes (others are joined by frames,
   * where a bad name gets its error), and a query of a few KB at most (a request line has a limit).
   */
  Client.prototype._namedRooms = function () {
    var named = [], length = 0;
    for (var slug in this.rooms) {
      var room = this.rooms[slug];
      if (!room.want || room.joined || !/^[a-z0-9-]{1,80}$/.test(slug)) continue;
      length += slug.length + 18;
      if (length > 4000) break;
      named.push(room);
    }
    return named;
  };

  /** A room named on the upgrade: joined (by the server) until its joined or error frame says otherwise. */
  Client.prototype._expectUpgradeJoin = function (room) {
    var self = this;
    room.joined = true;
    var done = new Promise(function (resolve) { self._upgradeJoins[room.slug] = { room: room, resolve: resolve }; });
    this._earlyJoins = (this._earlyJoins || []).concat([done]);
  };

  /** A room's joined frame (the reply to a join, or for a room named on the upgrade): its id, and a first cursor. */
  Client.prototype._joinedRoom = function (room, joined) {
    room.id = joined.room.id;
    this._roomById[room.id] = room;
    if (!room.lastId) this._setCursor(room, joined.last_id);
  };

  /** The server's answer to a room named on the upgrade: joined (ok) or an error naming it. */
  Client.prototype._upgradeJoinAnswered = function (slug, f, ok) {
    var pending = this._upgradeJoins && this._upgradeJoins[slug];
    if (!pending) return;
    delete this._upgradeJoins[slug];
    if (ok) this._joinedRoom(pending.room, f);
    else pending.room.joined = false;
    pending.resolve();
  };

  /** Rooms named on the upgrade that got no answer (the socket closed, or the server ignored them): not joined. */
  Client.prototype._settleUpgradeJoins = function () {
    var pending = this._upgradeJoins || {};
    this._upgradeJoins = {};
    for (var slug in pending) {
      pending[slug].room.joined = false;
      pending[slug].resolve();
    }
  };

  /** The rooms' joins, sent before the welcome arrives (one round trip instead of two). */
  Client.prototype._joinEarly = function () {
    this._joinsSent = true;
    var joins = [];
    for (var slug in this.rooms) {
      var room = this.rooms[slug];
      if (room.want && !room.joined) joins.push(this._join(room, true).catch(function () { /* reported as error */ }));
    }
    this._earlyJoins = (this._earlyJoins || []).concat(joins);
  };

  Client.prototype._ready = function (welcome) {
    var self = this;
    this.user = welcome.user;
    if (typeof welcome.resume === 'string') {
      this._guestResume = welcome.resume;
      if (this.storage) this.storage.set(GUEST_RESUME_KEY, welcome.resume);
    }
    this._attempt = 0;
    this._restartUntil = 0;
    this._welcomed = true;
    this._frameAuthOnly = false; // the next connect tries the header again (the server is up, the token good)
    var joins = this._earlyJoins || [];
    this._earlyJoins = null;
    for (var slug in this.rooms) {
      var room = this.rooms[slug];
      if (room.want && !room.joined) joins.push(this._join(room).catch(function () { /* reported as error */ }));
    }
    this._setState('ready');
    this._startPing();
    this._emit('welcome', welcome);
    // Unacked sends go after the joins were requested: frames are handled in order, so the retries
    // land after the catch-up has been queued.
    this._flushOutbox();
    Promise.all(joins).then(function () { self._emit('ready', welcome); });
  };

  /** Application pings: a browser cannot see protocol pings, so a silent dead connection is noticed here. */
  Client.prototype._startPing = function () {
    var self = this;
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(function () {
      if (self.state !== 'ready') return;
      self._write({ type: 'ping', id: 'keepalive' });
      clearTimeout(self._pongTimer);
      self._pongTimer = setTimeout(function () {
        if (self._socket) self._socket.close(4000, 'no pong');
        // Some sockets never report the close of a dead link: do it ourselves.
        var s = self._socket;
        if (s) { self._socket = null; s.onclose = null; self._onClose(1006, 'no pong'); }
      }, self.pongTimeout);
    }, this.pingInterval);
  };

  // User objects ({id, name, kind} and, when the user set them, display_name, avatar, status):
  // how to show them.

  /** The display name when the user chose one, else the nickname (which is what @mentions use). */
  function displayName(user) {
    return (user && (user.display_name || user.name)) || '';
  }

  /**
   * The user's picture as an absolute URL, or null. Avatars are paths on the portal (`/avatars/…`):
   * pass the portal's base URL (e.g. 'https://chat.example.com') where the page is not served by it.
   */
  function avatarUrl(user, baseUrl) {
    if (!user || typeof user.avatar !== 'string' || user.avatar.charAt(0) !== '/') return null;
    return (baseUrl ? String(baseUrl).replace(/\/+$/, '') : '') + user.avatar;
  }

  return {
    Client: Client,
    PROTOCOL: PROTOCOL,
    browserSocket: browserSocket,
    wxSocket: wxSocket,
    ticketAuth: ticketAuth,
    displayName: displayName,
    avatarUrl: avatarUrl,
    applyToMessage: applyToMessage,
  };
});
