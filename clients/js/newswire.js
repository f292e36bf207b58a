// Newswire client for browsers and Node: one dependency-free ES module.
//
//   import { NewswireClient } from './newswire.js';
//   const client = new NewswireClient({ url: 'wss://wire.example/v1/stream',
//                                       topics: ['monde/#'], minUrgency: 3 });
//   client.on('new', (msg) => show(msg.item));
//   client.on('update', (msg) => replace(msg.item));    // a correction
//   client.on('kill', (msg) => remove(msg.item.uri));
//   client.on('withhold', (msg) => hide(msg.item.uri));
//   client.on('reset', () => clearEverything());         // cursor not recovered
//   client.connect();
//
// The protocol is proto/PROTOCOL.md ("WebSocket protocol"). What this module
// adds on top of a bare WebSocket:
//   - JSON (newswire.v1.json) or msgpack (newswire.v1.msgpack) sessions; the
//     msgpack codec is below, so the module needs nothing else;
//   - reconnection with capped exponential backoff and full jitter (delay =
//     random(0, min(max, initial * 2^attempt))), so that thousands of widgets
//     dropped by one restart do not come back in the same millisecond;
//   - resume: every reconnect subscribes with `since` = the cursor of the last
//     item seen (its `cursor` when present, else its `id`) and the `epoch` of
//     the last `subscribed` that carried one, so nothing is missed or repeated;
//   - `recovered: false` is reported as a 'reset' event: the app should forget
//     what it shows, the server then sends the most recent items instead;
//   - de-duplication by item id across reconnects (a bounded set of ids);
//   - tokens: the `token` option is sent as an `auth` message before any
//     subscription (not in the URL, where it would end up in access logs);
//   - close codes: authorization failures (4001, 4002, 4003, 4008) and
//     requests the server can never accept (1008, 1009) stop the client with a
//     fatal 'error' event instead of retrying forever; everything else (1012
//     restart, 1013 try again, 1006 network loss, ...) is retried;
//   - an application-level ping, since browsers hide WebSocket pings: a
//     silent connection is dropped and resumed instead of hanging forever.
//
// In Node (20 has no global WebSocket) pass the `ws` package's class as the
// `WebSocket` option, or let connect() import it (it must then be installed).

export const PROTOCOL_JSON = 'newswire.v1.json';
export const PROTOCOL_MSGPACK = 'newswire.v1.msgpack';

// ---------------------------------------------------------------------------
// msgpack (https://github.com/msgpack/msgpack/blob/master/spec.md): the subset
// a JSON-like value needs, plus bin and ext on decoding (bin becomes a
// Uint8Array, ext type -1 a Date, other ext types {type, data}).

const MAX_DEPTH = 512; // deeper input is refused rather than overflowing the stack

const utf8Encoder = new TextEncoder();
// fatal: a frame with invalid UTF-8 is an error, not silently patched text
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

class ByteWriter {
  constructor() {
    this.bytes = new Uint8Array(256);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
  }

  reserve(n) {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(v) { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  u16(v) { this.reserve(2); this.view.setUint16(this.length, v); this.length += 2; }
  u32(v) { this.reserve(4); this.view.setUint32(this.length, v); this.length += 4; }
  u64(v) { this.reserve(8); this.view.setBigUint64(this.length, v); this.length += 8; }
  i64(v) { this.reserve(8); this.view.setBigInt64(this.length, v); this.length += 8; }
  f64(v) { this.reserve(8); this.view.setFloat64(this.length, v); this.length += 8; }
  raw(b) { this.reserve(b.length); this.bytes.set(b, this.length); this.length += b.length; }

  // A type byte followed by an 8-, 16- or 32-bit length.
  head(len, fix, fixMax, t8, t16, t32) {
    if (fix !== null && len <= fixMax) this.u8(fix | len);
    else if (t8 !== null && len <= 0xff) { this.u8(t8); this.u8(len); }
    else if (len <= 0xffff) { this.u8(t16); this.u16(len); }
    else { this.u8(t32); this.u32(len); }
  }
}

function encodeInto(w, value, depth) {
  if (depth > MAX_DEPTH) throw new RangeError('msgpack: value nested too deeply');
  if (value === null || value === undefined) return w.u8(0xc0);
  switch (typeof value) {
    case 'boolean':
      return w.u8(value ? 0xc3 : 0xc2);
    case 'number':
      if (Number.isSafeInteger(value)) return encodeInt(w, value);
      w.u8(0xcb);
      return w.f64(value);
    case 'bigint':
      if (value >= 0n && value <= 0xffffffffffffffffn) { w.u8(0xcf); return w.u64(value); }
      if (value < 0n && value >= -0x8000000000000000n) { w.u8(0xd3); return w.i64(value); }
      throw new RangeError('msgpack: bigint out of the 64-bit range');
    case 'string': {
      const b = utf8Encoder.encode(value);
      w.head(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      return w.raw(b);
    }
    case 'object':
      break;
    default:
      throw new TypeError(`msgpack: cannot encode a ${typeof value}`);
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    const b = value instanceof Uint8Array ? value : new Uint8Array(value);
    w.head(b.length, null, 0, 0xc4, 0xc5, 0xc6);
    return w.raw(b);
  }
  if (Array.isArray(value)) {
    w.head(value.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const v of value) encodeInto(w, v, depth + 1);
    return undefined;
  }
  if (typeof value.toJSON === 'function') return encodeInto(w, value.toJSON(), depth + 1); // Date
  // Like JSON.stringify, properties whose value is undefined are left out.
  const keys = Object.keys(value).filter((k) => value[k] !== undefined);
  w.head(keys.length, 0x80, 15, null, 0xde, 0xdf);
  for (const k of keys) {
    encodeInto(w, k, depth + 1);
    encodeInto(w, value[k], depth + 1);
  }
  return undefined;
}

function encodeInt(w, v) {
  if (v >= 0) {
    if (v < 0x80) return w.u8(v);
    if (v <= 0xff) { w.u8(0xcc); return w.u8(v); }
    if (v <= 0xffff) { w.u8(0xcd); return w.u16(v); }
    if (v <= 0xffffffff) { w.u8(0xce); return w.u32(v); }
    w.u8(0xcf);
    return w.u64(BigInt(v));
  }
  if (v >= -32) return w.u8(v & 0xff); // negative fixint
  if (v >= -0x80) { w.u8(0xd0); w.reserve(1); w.view.setInt8(w.length, v); w.length += 1; return undefined; }
  if (v >= -0x8000) { w.u8(0xd1); w.reserve(2); w.view.setInt16(w.length, v); w.length += 2; return undefined; }
  if (v >= -0x80000000) { w.u8(0xd2); w.reserve(4); w.view.setInt32(w.length, v); w.length += 4; return undefined; }
  w.u8(0xd3);
  return w.i64(BigInt(v));
}

/** Encodes a JSON-like value (plus Uint8Array, bigint) as msgpack bytes. */
export function encodeMsgpack(value) {
  const w = new ByteWriter();
  encodeInto(w, value, 0);
  return w.bytes.slice(0, w.length);
}

class ByteReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw new RangeError('msgpack: truncated input');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8() { return this.view.getUint8(this.need(1)); }
  u16() { return this.view.getUint16(this.need(2)); }
  u32() { return this.view.getUint32(this.need(4)); }
  take(n) { const at = this.need(n); return this.bytes.subarray(at, at + n); }
}

// Integers past 2^53 stay exact as bigint; smaller ones are plain numbers.
function exact(big) {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big) : big;
}

function decodeValue(r, depth) {
  if (depth > MAX_DEPTH) throw new RangeError('msgpack: input nested too deeply');
  const t = r.u8();
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if (t <= 0x8f) return decodeMap(r, t & 0x0f, depth);
  if (t <= 0x9f) return decodeArray(r, t & 0x0f, depth);
  if (t <= 0xbf) return utf8Decoder.decode(r.take(t & 0x1f));
  switch (t) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return r.take(r.u8()).slice();
    case 0xc5: return r.take(r.u16()).slice();
    case 0xc6: return r.take(r.u32()).slice();
    case 0xc7: return decodeExt(r, r.u8());
    case 0xc8: return decodeExt(r, r.u16());
    case 0xc9: return decodeExt(r, r.u32());
    case 0xca: return r.view.getFloat32(r.need(4));
    case 0xcb: return r.view.getFloat64(r.need(8));
    case 0xcc: return r.u8();
    case 0xcd: return r.u16();
    case 0xce: return r.u32();
    case 0xcf: return exact(r.view.getBigUint64(r.need(8)));
    case 0xd0: return r.view.getInt8(r.need(1));
    case 0xd1: return r.view.getInt16(r.need(2));
    case 0xd2: return r.view.getInt32(r.need(4));
    case 0xd3: return exact(r.view.getBigInt64(r.need(8)));
    case 0xd4: return decodeExt(r, 1);
    case 0xd5: return decodeExt(r, 2);
    case 0xd6: return decodeExt(r, 4);
    case 0xd7: return decodeExt(r, 8);
    case 0xd8: return decodeExt(r, 16);
    case 0xd9: return utf8Decoder.decode(r.take(r.u8()));
    case 0xda: return utf8Decoder.decode(r.take(r.u16()));
    case 0xdb: return utf8Decoder.decode(r.take(r.u32()));
    case 0xdc: return decodeArray(r, r.u16(), depth);
    case 0xdd: return decodeArray(r, r.u32(), depth);
    case 0xde: return decodeMap(r, r.u16(), depth);
    case 0xdf: return decodeMap(r, r.u32(), depth);
    default: throw new RangeError(`msgpack: unknown type byte 0x${t.toString(16)}`);
  }
}

function decodeArray(r, n, depth) {
  // Every element takes at least one byte: a huge count in a short input is
  // refused before allocating for it.
  if (n > r.bytes.length - r.pos) throw new RangeError('msgpack: truncated input');
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeValue(r, depth + 1);
  return out;
}

function decodeMap(r, n, depth) {
  if (2 * n > r.bytes.length - r.pos) throw new RangeError('msgpack: truncated input');
  const out = {};
  for (let i = 0; i < n; i++) {
    const k = decodeValue(r, depth + 1);
    const key = typeof k === 'string' ? k : String(k);
    const v = decodeValue(r, depth + 1);
    // An own "__proto__" property, as JSON.parse makes, never the prototype.
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function decodeExt(r, len) {
  const type = r.view.getInt8(r.need(1));
  const data = r.take(len);
  if (type === -1) { // the timestamp extension
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (len === 4) return new Date(v.getUint32(0) * 1000);
    if (len === 8) {
      const hi = v.getUint32(0);
      const nsec = hi >>> 2;
      const sec = (hi & 0x3) * 0x100000000 + v.getUint32(4);
      return new Date(sec * 1000 + nsec / 1e6);
    }
    if (len === 12) return new Date(Number(v.getBigInt64(4)) * 1000 + v.getUint32(0) / 1e6);
  }
  return { type, data: data.slice() };
}

/** Decodes one msgpack value (Uint8Array or ArrayBuffer); extra bytes are an error. */
export function decodeMsgpack(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const r = new ByteReader(bytes);
  const value = decodeValue(r, 0);
  if (r.pos !== bytes.length) throw new RangeError('msgpack: extra bytes after the value');
  return value;
}

// ---------------------------------------------------------------------------
// Stream ids ("<ms>-<seq>", Redis stream ids): the order of the wire.

/** Compares two wire ids: negative, 0 or positive like a sort comparator. */
export function compareIds(a, b) {
  const [am, as = '0'] = String(a).split('-');
  const [bm, bs = '0'] = String(b).split('-');
  // Both parts are decimal integers that may exceed 2^53: compare as strings
  // of digits (longer is larger), without parsing.
  const cmp = (x, y) => (x.length - y.length) || (x < y ? -1 : x > y ? 1 : 0);
  return cmp(am, bm) || cmp(as, bs);
}

// ---------------------------------------------------------------------------
// The client

// Close codes after which reconnecting would fail the same way: the client
// stops and says why. (4002 is retried once when `token` is a function and
// the session had been authenticated: the token expired, a fresh one may do.)
const FATAL_CLOSES = {
  4001: 'invalid_token',
  4002: 'token_expired',
  4003: 'token_scope',
  4008: 'too_many_sessions',
  1008: 'too_many_topics',
  1009: 'message_too_big',
};

const DEFAULTS = {
  format: 'json',
  backoff: { initial: 500, max: 30000 },
  pingInterval: 25000, // below the server's 30 s idle ping, so a silent link is noticed
  pongTimeout: 10000,
  dedupeSize: 5000,
};

function normalizeTopics(topics) {
  if (topics === undefined || topics === null) return [];
  const list = typeof topics === 'string' ? topics.split(',') : Array.from(topics);
  return list.map((t) => String(t).trim()).filter((t) => t !== '');
}

async function resolveWebSocket(given) {
  if (given) return given;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  // Node < 22 has no WebSocket: use the `ws` package. The specifier is held in
  // a variable so that browser bundlers do not try to resolve it.
  const name = 'ws';
  const mod = await import(name);
  return mod.WebSocket || mod.default;
}

/**
 * A Newswire WebSocket session that survives disconnections.
 *
 * Options: url (string, or an array of instance URLs tried in turn), topics,
 * minUrgency (1-9), format ('json' | 'msgpack'), token (string, or a function
 * returning one or a promise of one, called at each connection), since and
 * epoch (a cursor saved earlier), WebSocket (the class to use), backoff
 * ({initial, max} in ms), pingInterval and pongTimeout (ms, 0 disables),
 * dedupeSize (how many item ids are remembered).
 *
 * Events (client.on(name, fn) returns a function that removes fn):
 *   item (every item message, after de-duplication), then one of new, update,
 *   kill, withhold; duplicate (an item dropped as already seen); reset
 *   ({epoch, cursor}: the cursor was not recovered); hello, subscribed,
 *   unsubscribed, authenticated, pong (the server's messages); message (every
 *   server message, raw); state ({state}); disconnect ({code, reason,
 *   willRetry, delay}); error ({code, message, fatal, closeCode?}).
 */
export class NewswireClient {
  constructor(options = {}) {
    if (!options.url) throw new TypeError('NewswireClient: the url option is required');
    this.urls = Array.isArray(options.url) ? options.url.slice() : [options.url];
    this.format = options.format === 'msgpack' ? 'msgpack' : DEFAULTS.format;
    this.minUrgency = options.minUrgency;
    this.token = options.token;
    this.backoff = { ...DEFAULTS.backoff, ...(options.backoff || {}) };
    this.pingInterval = options.pingInterval ?? DEFAULTS.pingInterval;
    this.pongTimeout = options.pongTimeout ?? DEFAULTS.pongTimeout;
    this.dedupeSize = options.dedupeSize ?? DEFAULTS.dedupeSize;
    this.WebSocketClass = options.WebSocket;

    this.topics = new Set(normalizeTopics(options.topics));
    /** The resume cursor: `cursor` of the last item when present, else its `id`. */
    this.cursor = options.since || null;
    /** The wire's epoch, from the last `subscribed` that carried one. */
    this.epoch = options.epoch || null;
    this.state = 'idle'; // idle, connecting, open, reconnecting, closed

    this._listeners = new Map();
    this._seen = new Set(); // insertion-ordered: the oldest ids go first
    this._ws = null;
    this._ready = false; // hello received and auth + subscribe sent on this._ws
    this._urlIndex = 0;
    this._attempt = 0;
    this._retryTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._lastReceived = 0;
    this._authenticated = false;
  }

  // --- events ---------------------------------------------------------------

  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this._listeners.get(type)?.delete(fn);
  }

  once(type, fn) {
    const off = this.on(type, (e) => { off(); fn(e); });
    return off;
  }

  _emit(type, detail) {
    for (const fn of [...(this._listeners.get(type) || [])]) {
      try {
        fn(detail);
      } catch (err) {
        // A failing listener must not break the session; rethrown later so
        // that it is still reported (console, or Node's uncaught handler).
        setTimeout(() => { throw err; }, 0);
      }
    }
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit('state', { state });
  }

  // --- public API -----------------------------------------------------------

  /** Opens the session (and keeps it open until close()). Returns this. */
  connect() {
    if (this.state === 'connecting' || this.state === 'open') return this;
    this._attempt = 0;
    this._open();
    return this;
  }

  /** Closes for good: no reconnection until connect() is called again. */
  close() {
    this._clearTimers();
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      this._detach(ws);
      try { ws.close(1000, 'client closed'); } catch { /* already closed */ }
    }
    this._setState('closed');
  }

  /** Drops the current connection and resumes at once (as after a network loss). */
  reconnect() {
    if (this.state === 'closed' || this.state === 'idle') return this.connect();
    this._lost(1006, 'reconnect requested', 0);
    return this;
  }

  /** Adds patterns (and optionally sets the urgency filter). */
  subscribe(topics, { minUrgency } = {}) {
    const list = normalizeTopics(topics);
    for (const t of list) this.topics.add(t);
    if (minUrgency !== undefined) this.minUrgency = minUrgency;
    if (this._ready && list.length > 0) {
      const op = { op: 'subscribe', topics: list };
      if (this.minUrgency !== undefined) op.min_urgency = this.minUrgency;
      this._send(op);
    }
  }

  unsubscribe(topics) {
    const list = normalizeTopics(topics);
    for (const t of list) this.topics.delete(t);
    if (this._ready && list.length > 0) this._send({ op: 'unsubscribe', topics: list });
  }

  /** Presents a new token (before the current one expires). */
  async setToken(token) {
    this.token = token;
    if (this._ready && token) this._send({ op: 'auth', token: await this._tokenValue() });
  }

  // --- connection -----------------------------------------------------------

  async _open() {
    this._clearTimers();
    this._setState(this._attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let WS;
    try {
      WS = await resolveWebSocket(this.WebSocketClass);
    } catch (err) {
      this._emit('error', { code: 'no_websocket', fatal: true,
        message: `no WebSocket implementation (install the ws package in Node): ${err.message}` });
      this._setState('closed');
      return;
    }
    if (this.state === 'closed') return; // close() while importing
    this.WebSocketClass = WS;
    const url = this.urls[this._urlIndex % this.urls.length];
    const protocol = this.format === 'msgpack' ? PROTOCOL_MSGPACK : PROTOCOL_JSON;
    let ws;
    try {
      ws = new WS(url, [protocol]);
    } catch (err) {
      // A malformed URL: retrying cannot help.
      this._emit('error', { code: 'bad_url', fatal: true, message: err.message });
      this._setState('closed');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this._ws = ws;
    this._ready = false;
    this._authenticated = false;
    this._lastReceived = Date.now();
    ws.onmessage = (ev) => this._onMessage(ws, ev.data);
    ws.onclose = (ev) => { if (ws === this._ws) this._lost(ev.code, ev.reason || ''); };
    // An error is always followed by close, which decides what to do.
    ws.onerror = () => {};
  }

  _detach(ws) {
    ws.onmessage = null;
    ws.onclose = null;
    // Kept as a no-op: the ws package throws an 'error' event that has no
    // listener (closing a socket that is still connecting emits one).
    ws.onerror = () => {};
  }

  // The connection is gone (closed by the server, the network, or us):
  // decide between a reconnection and a stop. delayOverride forces a delay.
  _lost(code, reason, delayOverride) {
    const ws = this._ws;
    this._ws = null;
    this._ready = false;
    this._clearTimers();
    if (ws) {
      this._detach(ws);
      // A link that stopped answering will not answer a close handshake
      // either: the ws package can drop it at once, browsers only close().
      try {
        if (typeof ws.terminate === 'function') ws.terminate();
        else ws.close();
      } catch { /* closing or closed */ }
    }
    if (this.state === 'closed') return;

    const fatal = FATAL_CLOSES[code];
    const renewable = code === 4002 && typeof this.token === 'function' && this._authenticated;
    if (fatal && !renewable) {
      this._emit('disconnect', { code, reason, willRetry: false });
      this._emit('error', { code: fatal, closeCode: code, message: reason || fatal, fatal: true });
      this._setState('closed');
      return;
    }
    if (fatal) this._emit('error', { code: fatal, closeCode: code, message: reason || fatal, fatal: false });

    // Full jitter: uniformly random in [0, min(max, initial * 2^attempt)].
    const ceiling = Math.min(this.backoff.max, this.backoff.initial * 2 ** Math.min(this._attempt, 30));
    const delay = delayOverride ?? Math.floor(Math.random() * ceiling);
    this._attempt += 1;
    // With several instances, a restart (1012) or a refusal moves to the next.
    this._urlIndex += 1;
    this._emit('disconnect', { code, reason, willRetry: true, delay });
    this._setState('reconnecting');
    this._retryTimer = setTimeout(() => { this._retryTimer = null; this._open(); }, delay);
  }

  _clearTimers() {
    clearTimeout(this._retryTimer);
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._retryTimer = this._pingTimer = this._pongTimer = null;
  }

  async _tokenValue() {
    return typeof this.token === 'function' ? await this.token() : this.token;
  }

  _send(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return false;
    // The server takes only the frame type of the session's subprotocol.
    ws.send(ws.protocol === PROTOCOL_MSGPACK ? encodeMsgpack(msg) : JSON.stringify(msg));
    return true;
  }

  // After hello: present the token, then subscribe, resuming from the cursor.
  async _start(ws) {
    if (this.token) {
      let token;
      try {
        token = await this._tokenValue();
      } catch (err) {
        this._emit('error', { code: 'token_unavailable', message: String(err && err.message), fatal: false });
        if (ws === this._ws) this._lost(1006, 'no token');
        return;
      }
      if (ws !== this._ws) return;
      if (token) this._send({ op: 'auth', token });
    }
    this._ready = true;
    if (this.topics.size > 0) {
      const op = { op: 'subscribe', topics: [...this.topics] };
      if (this.minUrgency !== undefined) op.min_urgency = this.minUrgency;
      if (this.cursor) {
        op.since = this.cursor;
        if (this.epoch) op.epoch = this.epoch;
      }
      this._send(op);
    } else {
      this._attempt = 0;
      this._setState('open');
    }
    this._startPing(ws);
  }

  _startPing(ws) {
    if (!this.pingInterval) return;
    this._pingTimer = setInterval(() => {
      if (ws !== this._ws || this._pongTimer) return;
      if (Date.now() - this._lastReceived < this.pingInterval) return;
      this._send({ op: 'ping' });
      if (this.pongTimeout) {
        this._pongTimer = setTimeout(() => {
          this._pongTimer = null;
          if (ws === this._ws) this._lost(1006, 'no answer to ping');
        }, this.pongTimeout);
      }
    }, this.pingInterval);
  }

  _onMessage(ws, data) {
    if (ws !== this._ws) return;
    this._lastReceived = Date.now();
    clearTimeout(this._pongTimer); // any message shows the link is alive
    this._pongTimer = null;
    let msg;
    try {
      if (typeof data === 'string') msg = JSON.parse(data);
      else msg = decodeMsgpack(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    } catch (err) {
      this._emit('error', { code: 'bad_frame', message: err.message, fatal: false });
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    this._emit('message', msg);
    switch (msg.type) {
      case 'hello':
        this._emit('hello', msg);
        this._start(ws);
        break;
      case 'subscribed':
        this._onSubscribed(msg);
        break;
      case 'item':
        this._onItem(msg);
        break;
      case 'authenticated':
        this._authenticated = true;
        this._emit('authenticated', msg);
        break;
      case 'error':
        // A refused message (the session stays open): e.g. a forbidden topic.
        this._emit('error', { code: msg.code, message: msg.message, fatal: false });
        break;
      default:
        if (typeof msg.type === 'string') this._emit(msg.type, msg); // pong, unsubscribed
    }
  }

  _onSubscribed(msg) {
    if (typeof msg.epoch === 'string' && msg.epoch) this.epoch = msg.epoch;
    this._attempt = 0; // the server took us back: the next drop starts the backoff afresh
    this._setState('open');
    if (msg.recovered === false) {
      // The cursor means nothing to this wire any more (a new epoch, trimmed
      // history, or a gap too long): the server now sends the most recent
      // items instead. Forget the ids seen, so that those items come through,
      // and tell the app to start over.
      this._seen.clear();
      this._emit('reset', { epoch: this.epoch, cursor: this.cursor });
    }
    this._emit('subscribed', msg);
  }

  _onItem(msg) {
    const id = String(msg.id);
    this.cursor = msg.cursor || id;
    if (this._seen.has(id)) {
      this._emit('duplicate', msg);
      return;
    }
    this._seen.add(id);
    if (this._seen.size > this.dedupeSize) this._seen.delete(this._seen.values().next().value);
    this._emit('item', msg);
    if (['new', 'update', 'kill', 'withhold'].includes(msg.kind)) this._emit(msg.kind, msg);
  }
}

export default NewswireClient;
