// newswire.js against a real newswired and redis-server (started here, on
// free ports, stopped at the end).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { NewswireClient, PROTOCOL_MSGPACK, compareIds } from '../newswire.js';
import { Daemon, Redis, controlledWebSocket, hs256, makeItem, record, sleep, waitFor } from './helpers.mjs';

const EVENTS = ['item', 'new', 'update', 'kill', 'withhold', 'duplicate', 'reset', 'subscribed',
  'authenticated', 'error', 'disconnect', 'state'];

// Quick reconnections for the tests (production defaults: 0.5 s to 30 s).
const FAST = { initial: 20, max: 100 };

let redis;
const clients = [];
const daemons = [];

function client(options) {
  const c = new NewswireClient({ WebSocket, backoff: FAST, ...options });
  clients.push(c);
  return c;
}

async function daemon(opts) {
  const d = new Daemon(redis, opts);
  daemons.push(d);
  return d.start();
}

async function connected(c, rec) {
  c.connect();
  await rec.next('subscribed');
}

before(async () => {
  redis = await new Redis().start();
});

after(async () => {
  for (const c of clients) c.close();
  for (const d of daemons) {
    const rc = await d.stop();
    assert.ok(rc === 0 || rc === null, `newswired exited with ${rc}:\n${d.log().slice(-3000)}`);
    d.cleanup();
  }
  await redis.stop();
});

describe('receiving', () => {
  let d;
  before(async () => { d = await daemon(); });

  for (const format of ['json', 'msgpack']) {
    test(`an item arrives (${format})`, async () => {
      const ctl = await controlledWebSocket();
      const c = client({ url: d.ws, topics: ['monde/#'], format, WebSocket: ctl.WebSocket });
      const rec = record(c, EVENTS);
      await connected(c, rec);
      assert.equal(ctl.current().protocol, format === 'msgpack' ? PROTOCOL_MSGPACK : 'newswire.v1.json');
      const item = makeItem({ headline: `Bonjour « ${format} » é ✓`, urgency: 2 });
      const receipt = await d.publish(item, 'monde/afrique,sport');
      const got = await rec.next('new');
      assert.equal(got.id, receipt.id);
      assert.equal(got.kind, 'new');
      assert.deepEqual(got.topics, ['monde/afrique']);
      assert.equal(got.urgency, 2);
      assert.equal(got.item.uri, item.uri);
      assert.equal(got.item.headlines[0].value, item.headlines[0].value);
      assert.equal(c.cursor, receipt.id);
      assert.equal(rec.of('item').length, 1);
      // The ops went out in the session's frame type (the server refuses the
      // other one with an error message, which would show here).
      assert.equal(rec.of('error').length, 0);
      c.close();
    });
  }

  test('in Node without a WebSocket option, the ws package is imported; pings are answered', async () => {
    assert.equal(globalThis.WebSocket, undefined, 'Node 20 has no global WebSocket');
    const c = client({ url: d.ws, topics: ['monde/#'], WebSocket: undefined, pingInterval: 30 });
    const rec = record(c, [...EVENTS, 'pong']);
    await connected(c, rec);
    await rec.next('pong');
    await rec.next('pong');
    assert.equal(c.state, 'open');
    assert.equal(rec.of('disconnect').length, 0);
    c.close();
  });

  test('min_urgency filters routine items', async () => {
    const c = client({ url: d.ws, topics: ['monde/#'], minUrgency: 2 });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    await d.publish(makeItem({ headline: 'routine', urgency: 5 }), 'monde/x');
    const flash = await d.publish(makeItem({ headline: 'flash', urgency: 1 }), 'monde/x');
    const got = await rec.next('item');
    assert.equal(got.id, flash.id);
    await sleep(100);
    assert.equal(rec.of('item').length, 1);
    c.close();
  });

  test('a correction comes as an update event', async () => {
    const c = client({ url: d.ws, topics: ['monde/#'] });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    const v1 = makeItem({ headline: 'Premier titre' });
    await d.publish(v1, 'monde/x');
    await rec.next('new');
    const receipt = await d.publish({ ...v1, version: '2', headlines: [{ role: 'main', value: 'Titre corrigé' }] }, 'monde/x');
    const upd = await rec.next('update');
    assert.equal(upd.id, receipt.id);
    assert.equal(upd.item.uri, v1.uri);
    assert.equal(upd.item.version, '2');
    assert.equal(upd.item.headlines[0].value, 'Titre corrigé');
    c.close();
  });

  test('a kill comes as a kill event, a withhold as a withhold event', async () => {
    const c = client({ url: d.ws, topics: ['monde/#'], format: 'msgpack' });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    const a = makeItem({ headline: 'à tuer' });
    const b = makeItem({ headline: 'à retenir' });
    await d.publish(a, 'monde/x');
    await d.publish(b, 'monde/y');
    await rec.next('new', (m) => m.item.uri === a.uri);
    await rec.next('new', (m) => m.item.uri === b.uri);
    const killReceipt = await d.kill(a.uri);
    const kill = await rec.next('kill');
    assert.equal(kill.id, killReceipt.id);
    assert.equal(kill.item.uri, a.uri);
    assert.equal(kill.item.pubstatus, 'canceled');
    await d.publish({ ...b, version: '2', pubstatus: 'withheld' }, 'monde/y');
    const held = await rec.next('withhold');
    assert.equal(held.item.uri, b.uri);
    c.close();
  });
});

describe('reconnecting', () => {
  let d;
  before(async () => { d = await daemon(); });

  test('a connection lost on the client side resumes without gap or duplicate', async () => {
    const ctl = await controlledWebSocket();
    const c = client({ url: d.ws, topics: ['monde/#'], WebSocket: ctl.WebSocket });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    const a = await d.publish(makeItem({ headline: 'A' }), 'monde/x');
    await rec.next('item', (m) => m.id === a.id);

    // The network goes: the socket dies without a close handshake, and the
    // next attempts fail until it comes back.
    ctl.blocked = true;
    ctl.current().terminate();
    const drop = await rec.next('disconnect');
    assert.equal(drop.code, 1006);
    assert.equal(drop.willRetry, true);
    const missed = [];
    for (const h of ['B1', 'B2', 'B3']) missed.push(await d.publish(makeItem({ headline: h }), 'monde/x'));
    await waitFor(() => ctl.attempts >= 3, { what: 'failed reconnection attempts' });
    ctl.blocked = false;

    const resumed = await rec.next('subscribed', (m) => 'recovered' in m);
    assert.equal(resumed.recovered, true);
    const live = await d.publish(makeItem({ headline: 'C' }), 'monde/x');
    await rec.next('item', (m) => m.id === live.id);
    // The resume asked from A's id, with no epoch yet (none was ever given).
    const sub = ctl.sent.filter((m) => m.op === 'subscribe').at(-1);
    assert.equal(sub.since, a.id);
    assert.equal(sub.epoch, undefined);
    assert.deepEqual(rec.of('item').map((m) => m.id), [a.id, ...missed.map((r) => r.id), live.id]);
    assert.equal(rec.of('duplicate').length, 0);
    assert.equal(c.epoch, resumed.epoch);
    assert.equal(rec.of('reset').length, 0);
    c.close();
  });

  test('a daemon restart (SIGTERM, 1012) is resumed with the epoch, items published meanwhile arrive once', async () => {
    // A second instance on the same Redis and prefix takes the publishes
    // while the first one is down.
    const other = await daemon({ prefix: d.prefix });
    const ctl = await controlledWebSocket();
    const c = client({ url: d.ws, topics: ['monde/#'], WebSocket: ctl.WebSocket });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    const first = await other.publish(makeItem({ headline: 'avant' }), 'monde/x');
    await rec.next('item', (m) => m.id === first.id);
    c.reconnect(); // a first resume, so that the client holds an epoch
    const sub1 = await rec.next('subscribed', (m) => m.recovered === true);
    assert.ok(c.epoch && c.epoch === sub1.epoch);

    const rc = await d.stop('SIGTERM');
    assert.equal(rc, 0);
    const drop = await rec.next('disconnect', (e) => e.code === 1012);
    assert.equal(drop.willRetry, true);
    const during = [];
    for (const h of ['pendant 1', 'pendant 2']) during.push(await other.publish(makeItem({ headline: h }), 'monde/y'));
    await sleep(150); // let it fail to reconnect a few times
    await d.start(); // same ports, same prefix

    const sub2 = await rec.next('subscribed', (m) => m.recovered === true, 10000);
    assert.equal(sub2.epoch, sub1.epoch);
    const lastSub = ctl.sent.filter((m) => m.op === 'subscribe').at(-1);
    assert.equal(lastSub.since, first.id);
    assert.equal(lastSub.epoch, sub1.epoch);
    const after1 = await other.publish(makeItem({ headline: 'après' }), 'monde/x');
    await rec.next('item', (m) => m.id === after1.id);
    assert.deepEqual(rec.of('item').map((m) => m.id), [first.id, ...during.map((r) => r.id), after1.id]);
    assert.equal(rec.of('duplicate').length, 0);
    c.close();
  });

  test('items replayed after a rewound cursor are dropped as duplicates', async () => {
    const c = client({ url: d.ws, topics: ['dup/#'] });
    const rec = record(c, EVENTS);
    const before0 = await d.publish(makeItem({ headline: 'avant' }), 'autre');
    await connected(c, rec);
    const a = await d.publish(makeItem({ headline: 'A' }), 'dup/x');
    const b = await d.publish(makeItem({ headline: 'B' }), 'dup/x');
    await rec.next('item', (m) => m.id === b.id);
    // Resume from an older cursor: the server sends A and B again.
    c.cursor = before0.id;
    c.reconnect();
    await rec.next('subscribed', (m) => m.recovered === true);
    const dups = [await rec.next('duplicate'), await rec.next('duplicate')];
    assert.deepEqual(dups.map((m) => m.id), [a.id, b.id]);
    const cc = await d.publish(makeItem({ headline: 'C' }), 'dup/x');
    await rec.next('item', (m) => m.id === cc.id);
    assert.deepEqual(rec.of('item').map((m) => m.id), [a.id, b.id, cc.id]);
    c.close();
  });

  test('recovered:false emits reset, then the recent items come through', async () => {
    const a = await d.publish(makeItem({ headline: 'récent' }), 'reset/x');
    // A cursor from another epoch (a wire whose history was lost).
    const c = client({ url: d.ws, topics: ['reset/#'], since: a.id, epoch: 'deadbeef' });
    const rec = record(c, EVENTS);
    c.connect();
    const reset = await rec.next('reset');
    const sub = rec.of('subscribed')[0];
    assert.equal(sub.recovered, false);
    assert.notEqual(sub.epoch, 'deadbeef');
    assert.equal(reset.epoch, sub.epoch);
    assert.equal(c.epoch, sub.epoch);
    // Instead of a replay, the server sends the pattern's recent items, after
    // the subscribed that says so: the app resets first, then refills.
    const item = await rec.next('item', (m) => m.id === a.id);
    assert.equal(item.item.headlines[0].value, 'récent');
    const order = rec.log.filter((e) => e.type === 'reset' || e.type === 'item').map((e) => e.type);
    assert.deepEqual(order, ['reset', 'item']);
    c.close();
  });

  test('ids compare in wire order', () => {
    assert.ok(compareIds('1795796770690-0', '1795796770690-1') < 0);
    assert.ok(compareIds('999-5', '1000-0') < 0);
    assert.equal(compareIds('12-3', '12-3'), 0);
    assert.ok(compareIds('18446744073709551615-0', '9-9') > 0);
  });
});

describe('tokens', () => {
  const secret = 'a-test-secret-that-is-long-enough-0123456789';
  let d;
  before(async () => {
    d = await daemon({ args: ['--set', `jwt_secret=${secret}`, '--set', 'public_topics=sport/#'] });
  });
  const now = () => Math.floor(Date.now() / 1000);

  test('a token sent as an auth message grants its topics', async () => {
    const ctl = await controlledWebSocket();
    const token = hs256(secret, { topics: ['monde/#'], exp: now() + 600, sub: 'partner-1' });
    const c = client({ url: d.ws, topics: ['monde/#'], token, WebSocket: ctl.WebSocket });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    const auth = rec.of('authenticated')[0];
    assert.equal(auth.sub, 'partner-1');
    assert.deepEqual(auth.topics, ['monde/#']);
    assert.deepEqual(ctl.sent.map((m) => m.op), ['auth', 'subscribe']);
    assert.equal(ctl.sent[0].token, token);
    assert.ok(!ctl.current().url.includes('token'), 'the token stays out of the URL');
    const r = await d.publish(makeItem({ headline: 'réservé' }), 'monde/x');
    assert.equal((await rec.next('item')).id, r.id);
    c.close();
  });

  test('without a token, a non-public topic is refused (error event, session stays)', async () => {
    const c = client({ url: d.ws, topics: ['monde/#'] });
    const rec = record(c, EVENTS);
    c.connect();
    const err = await rec.next('error');
    assert.equal(err.code, 'forbidden');
    assert.equal(err.fatal, false);
    c.subscribe(['sport/#']);
    const sub = await rec.next('subscribed');
    assert.deepEqual(sub.topics, ['sport/#']);
    assert.equal(c.state, 'open');
    c.close();
  });

  const fatal = [
    ['an invalid token closes with 4001', () => hs256('another-secret-another-secret-0123456', { topics: ['monde/#'], exp: now() + 600 }), 4001, 'invalid_token'],
    ['an expired token closes with 4002', () => hs256(secret, { topics: ['monde/#'], exp: now() - 60 }), 4002, 'token_expired'],
  ];
  for (const [name, make, code, errCode] of fatal) {
    test(`${name}: error event, no blind retry`, async () => {
      const ctl = await controlledWebSocket();
      const c = client({ url: d.ws, topics: ['monde/#'], token: make(), WebSocket: ctl.WebSocket });
      const rec = record(c, EVENTS);
      c.connect();
      const err = await rec.next('error', (e) => e.fatal);
      assert.equal(err.code, errCode);
      assert.equal(err.closeCode, code);
      const drop = rec.of('disconnect')[0];
      assert.equal(drop.code, code);
      assert.equal(drop.willRetry, false);
      await sleep(300);
      assert.equal(ctl.attempts, 1);
      assert.equal(c.state, 'closed');
    });
  }

  test('a token over its max_conn closes the extra session with 4008', async () => {
    const token = hs256(secret, { topics: ['monde/#'], exp: now() + 600, sub: 'solo', max_conn: 1 });
    const c1 = client({ url: d.ws, topics: ['monde/#'], token });
    const rec1 = record(c1, EVENTS);
    await connected(c1, rec1);
    const c2 = client({ url: d.ws, topics: ['monde/#'], token });
    const rec2 = record(c2, EVENTS);
    c2.connect();
    const err = await rec2.next('error', (e) => e.fatal);
    assert.equal(err.closeCode, 4008);
    assert.equal(c2.state, 'closed');
    assert.equal(c1.state, 'open');
    c1.close();
  });

  test('an auth with a token that does not cover the subscriptions closes with 4003', async () => {
    const c = client({ url: d.ws, topics: ['monde/#'], token: hs256(secret, { topics: ['monde/#'], exp: now() + 600 }) });
    const rec = record(c, EVENTS);
    await connected(c, rec);
    await c.setToken(hs256(secret, { topics: ['sport/#'], exp: now() + 600 }));
    const err = await rec.next('error', (e) => e.fatal);
    assert.equal(err.closeCode, 4003);
    assert.equal(err.code, 'token_scope');
    assert.equal(c.state, 'closed');
  });
});
