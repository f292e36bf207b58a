// newswire.js without a server: the msgpack codec, and the reconnection
// policy (backoff, close codes) against a scripted fake WebSocket.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { NewswireClient, decodeMsgpack, encodeMsgpack } from '../newswire.js';
import { waitFor } from './helpers.mjs';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('msgpack', () => {
  test('encodes the spec example and the boundaries of each type', () => {
    // {"compact":true,"schema":0}, from msgpack.org
    assert.equal(hex(encodeMsgpack({ compact: true, schema: 0 })), '82a7636f6d70616374c3a6736368656d6100');
    const cases = [
      [null, 'c0'], [false, 'c2'], [true, 'c3'],
      [0, '00'], [127, '7f'], [128, 'cc80'], [255, 'ccff'], [256, 'cd0100'], [65535, 'cdffff'],
      [65536, 'ce00010000'], [4294967295, 'ceffffffff'], [4294967296, 'cf0000000100000000'],
      [-1, 'ff'], [-32, 'e0'], [-33, 'd0df'], [-128, 'd080'], [-129, 'd1ff7f'], [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'], [-2147483649, 'd3ffffffff7fffffff'],
      [1.5, 'cb3ff8000000000000'], ['', 'a0'], ['a'.repeat(31), 'bf' + '61'.repeat(31)],
      ['a'.repeat(32), 'd920' + '61'.repeat(32)], ['é', 'a2c3a9'],
      [[], '90'], [[1, [2]], '920191 02'.replace(' ', '')], [{}, '80'],
      [new Uint8Array([1, 2]), 'c4020102'],
    ];
    for (const [value, expected] of cases) {
      assert.equal(hex(encodeMsgpack(value)), expected, JSON.stringify(value));
    }
    assert.equal(hex(encodeMsgpack('x'.repeat(300))).slice(0, 6), 'da012c');
    assert.equal(hex(encodeMsgpack(new Array(16).fill(0))).slice(0, 6), 'dc0010');
  });

  test('round-trips a ninjs-like item, leaving out undefined like JSON', () => {
    const item = {
      type: 'item', id: '1795796770690-0', kind: 'new', topics: ['monde/afrique'], urgency: 2,
      item: { uri: 'urn:x', version: '1', headlines: [{ role: 'main', value: 'Côte d’Ivoire « test » 🎉' }],
              subjects: [{ relevance: 100 }], renditions: [{ width: 1.25e3, duration: 12.5 }], gone: undefined },
      big: 2 ** 40, neg: -(2 ** 40), nested: { a: { b: { c: [null, true, false] } } },
    };
    const back = decodeMsgpack(encodeMsgpack(item));
    assert.deepEqual(back, JSON.parse(JSON.stringify(item)));
  });

  test('decodes what other encoders write (float32, str8, map16, uint64, ext timestamp)', () => {
    assert.equal(decodeMsgpack(unhex('ca3fc00000')), 1.5);
    assert.equal(decodeMsgpack(unhex('d90161')), 'a');
    const map16 = 'de0001 a161 01';
    assert.deepEqual(decodeMsgpack(unhex(map16)), { a: 1 });
    assert.equal(decodeMsgpack(unhex('cf 00000000 ffffffff')), 4294967295);
    assert.equal(decodeMsgpack(unhex('cf ffffffff ffffffff')), 18446744073709551615n);
    assert.equal(decodeMsgpack(unhex('d6ff 00000001')).getTime(), 1000);
    assert.deepEqual(decodeMsgpack(unhex('d401 07')), { type: 1, data: new Uint8Array([7]) });
  });

  test('refuses truncated, trailing and invalid input without prototype pollution', () => {
    assert.throws(() => decodeMsgpack(unhex('a3 6162')), /truncated/);
    assert.throws(() => decodeMsgpack(unhex('c0 c0')), /extra bytes/);
    assert.throws(() => decodeMsgpack(unhex('c1')), /unknown type/);
    assert.throws(() => decodeMsgpack(unhex('dd ffffffff')), /truncated/);
    assert.throws(() => decodeMsgpack(unhex('a2 c328')), TypeError); // invalid UTF-8
    const polluted = decodeMsgpack(encodeMsgpack(JSON.parse('{"__proto__":{"x":1}}')));
    assert.deepEqual(Object.keys(polluted), ['__proto__']);
    assert.equal({}.x, undefined);
    assert.equal(polluted.x, undefined);
  });
});

// A WebSocket stand-in: each connection says hello, answers subscribe with
// `subscribed`, and the test closes it with any code.
function fakeServer() {
  const server = { sockets: [], sent: [] };
  class FakeWebSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocol = protocols[0];
      this.readyState = 0;
      server.sockets.push(this);
      setTimeout(() => {
        this.readyState = 1;
        this.deliver({ type: 'hello', protocol: 'newswire.v1' });
      }, 0);
    }

    deliver(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }

    send(data) {
      const msg = JSON.parse(data);
      server.sent.push(msg);
      if (msg.op === 'subscribe') {
        const answer = { type: 'subscribed', topics: msg.topics, min_urgency: 9 };
        if (msg.since) Object.assign(answer, { recovered: true, epoch: 'ab12' });
        setTimeout(() => this.deliver(answer), 0);
      }
    }

    close() { this.readyState = 3; }

    drop(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  }
  server.WebSocket = FakeWebSocket;
  server.current = () => server.sockets[server.sockets.length - 1];
  return server;
}

describe('reconnection policy', () => {
  function make(server, extra = {}) {
    const c = new NewswireClient({ url: 'ws://fake/v1/stream', topics: ['monde/#'], WebSocket: server.WebSocket,
      backoff: { initial: 10, max: 40 }, pingInterval: 0, ...extra });
    const events = [];
    for (const t of ['disconnect', 'error', 'subscribed', 'item']) c.on(t, (e) => events.push({ t, e }));
    return { c, events };
  }

  for (const code of [1006, 1012, 1013, 1011, 4029]) {
    test(`close ${code} is retried, resuming from the cursor`, async () => {
      const server = fakeServer();
      const { c, events } = make(server);
      c.connect();
      await waitFor(() => events.some((x) => x.t === 'subscribed'));
      server.current().deliver({ type: 'item', id: '5-0', kind: 'new', topics: ['monde/a'], urgency: 5, item: { uri: 'u' } });
      server.current().drop(code, 'bye');
      await waitFor(() => server.sockets.length === 2 && server.sent.length === 2);
      assert.deepEqual(server.sent[1], { op: 'subscribe', topics: ['monde/#'], since: '5-0' });
      const drop = events.find((x) => x.t === 'disconnect').e;
      assert.equal(drop.code, code);
      assert.equal(drop.willRetry, true);
      assert.ok(drop.delay >= 0 && drop.delay <= 10, `first delay ${drop.delay} within [0, initial]`);
      assert.equal(events.filter((x) => x.t === 'error').length, 0);
      c.close();
    });
  }

  for (const [code, name] of [[4001, 'invalid_token'], [4002, 'token_expired'], [4003, 'token_scope'],
    [4008, 'too_many_sessions'], [1008, 'too_many_topics']]) {
    test(`close ${code} stops with a fatal ${name} error`, async () => {
      const server = fakeServer();
      const { c, events } = make(server, { token: 'tok' });
      c.connect();
      await waitFor(() => events.some((x) => x.t === 'subscribed'));
      assert.deepEqual(server.sent[0], { op: 'auth', token: 'tok' });
      server.current().drop(code, 'no');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(server.sockets.length, 1);
      const err = events.find((x) => x.t === 'error').e;
      assert.deepEqual(err, { code: name, closeCode: code, message: 'no', fatal: true });
      assert.equal(c.state, 'closed');
    });
  }

  test('4002 after an authenticated session is retried when token is a function', async () => {
    const server = fakeServer();
    let n = 0;
    const { c, events } = make(server, { token: () => `tok${++n}` });
    c.connect();
    await waitFor(() => events.some((x) => x.t === 'subscribed'));
    server.current().deliver({ type: 'authenticated', topics: ['monde/#'] });
    server.current().drop(4002, 'token expired');
    await waitFor(() => server.sent.filter((m) => m.op === 'auth').length === 2);
    assert.equal(server.sent.filter((m) => m.op === 'auth')[1].token, 'tok2');
    assert.equal(events.find((x) => x.t === 'error').e.fatal, false);
    c.close();
  });

  test('backoff grows exponentially up to the cap, with full jitter, and resets after a resume', async () => {
    const server = fakeServer();
    const { c, events } = make(server, { backoff: { initial: 8, max: 32 } });
    const random = Math.random;
    Math.random = () => 0.999; // the top of each jitter range
    try {
      c.connect();
      await waitFor(() => events.some((x) => x.t === 'subscribed'));
      // Connections that fail before any subscribed: the ceiling doubles.
      const realSend = server.WebSocket.prototype.send;
      server.WebSocket.prototype.send = function () { this.drop(1013, 'server busy: retry'); };
      server.current().drop(1006);
      await waitFor(() => events.filter((x) => x.t === 'disconnect').length >= 5, { timeout: 2000 });
      const delays = events.filter((x) => x.t === 'disconnect').slice(0, 5).map((x) => x.e.delay);
      assert.deepEqual(delays, [7, 15, 31, 31, 31]);
      server.WebSocket.prototype.send = realSend;
      await waitFor(() => events.filter((x) => x.t === 'subscribed').length === 2, { timeout: 2000 });
      server.current().drop(1012);
      const last = events.filter((x) => x.t === 'disconnect').at(-1).e;
      assert.equal(last.delay, 7);
    } finally {
      Math.random = random;
      c.close();
    }
  });

  test('a connection that stops answering pings is dropped and resumed', async () => {
    const server = fakeServer();
    const { c, events } = make(server, { pingInterval: 20, pongTimeout: 30 });
    c.connect();
    await waitFor(() => events.some((x) => x.t === 'subscribed'));
    // The fake server never answers ping: after pingInterval of silence the
    // client pings, then gives up pongTimeout later.
    await waitFor(() => server.sockets.length === 2, { timeout: 1000, what: 'a new connection' });
    assert.ok(server.sent.some((m) => m.op === 'ping'));
    const drop = events.find((x) => x.t === 'disconnect').e;
    assert.equal(drop.code, 1006);
    assert.equal(drop.reason, 'no answer to ping');
    c.close();
  });

  test('close() and reconnect() while still connecting do not throw', async () => {
    const server = fakeServer();
    const { c } = make(server);
    c.connect();
    c.reconnect();
    c.close();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(c.state, 'closed');
  });

  test('de-duplicates by id and keeps the cursor of the last item', async () => {
    const server = fakeServer();
    const { c, events } = make(server);
    c.connect();
    await waitFor(() => events.some((x) => x.t === 'subscribed'));
    const ws = server.current();
    ws.deliver({ type: 'item', id: '10-0', kind: 'new', urgency: 5, item: { uri: 'a' } });
    ws.deliver({ type: 'item', id: '12-0', cursor: '10-0', kind: 'new', urgency: 1, item: { uri: 'b' } });
    ws.deliver({ type: 'item', id: '10-0', kind: 'new', urgency: 5, item: { uri: 'a' } });
    assert.deepEqual(events.filter((x) => x.t === 'item').map((x) => x.e.id), ['10-0', '12-0']);
    assert.equal(c.cursor, '10-0');
    ws.deliver({ type: 'item', id: '11-0', kind: 'new', urgency: 5, item: { uri: 'c' } });
    assert.equal(c.cursor, '11-0');
    c.close();
  });
});
