// GET /v1/events (proto/PROTOCOL.md, "Server-Sent Events") read by the npm
// `eventsource` package, a WHATWG EventSource for Node: items arrive as
// named events (new, update, kill, withhold) whose lastEventId is the wire
// id; when the daemon restarts (SIGTERM: a last `close` event, 1012) the
// EventSource reconnects by itself after the server's `retry: 3000`, sends
// Last-Event-ID, and the daemon resumes from it: across the restart every
// published id arrives exactly once, in order.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';

import { Daemon, Redis, makeItem, waitFor } from './helpers.mjs';

const KINDS = ['new', 'update', 'kill', 'withhold'];
const CONTROL = ['hello', 'subscribed', 'authenticated', 'error', 'close'];

let redis;
const daemons = [];
const sources = [];

async function daemon(opts) {
  const d = new Daemon(redis, opts);
  daemons.push(d);
  return d.start();
}

/** Compares two wire ids (<ms>-<seq>). */
function cmpId(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

/**
 * An EventSource on url whose requests go through a recording fetch (the
 * package's documented way to see or change a request), with every event
 * kept in order: { type, id, data, lastEventId, at }.
 */
function eventSource(url) {
  const requests = [];
  const log = [];
  const fetchSpy = (input, init) => {
    requests.push({ url: String(input), headers: { ...(init?.headers || {}) }, at: Date.now() });
    return fetch(input, init);
  };
  const es = new EventSource(url, { fetch: fetchSpy });
  sources.push(es);
  for (const type of [...KINDS, ...CONTROL, 'message']) {
    es.addEventListener(type, (ev) => {
      if (typeof ev.data !== 'string') {
        // not a server event: the EventSource's own 'error' (connection
        // lost or failed)
        log.push({ type: 'connection-error', message: ev.message, code: ev.code, at: Date.now() });
        return;
      }
      log.push({ type, data: JSON.parse(ev.data), lastEventId: ev.lastEventId, at: Date.now() });
    });
  }
  es.addEventListener('open', () => log.push({ type: 'open', at: Date.now() }));
  let taken = 0;
  return {
    es,
    log,
    requests,
    of: (...types) => log.filter((e) => types.includes(e.type)),
    items: () => log.filter((e) => KINDS.includes(e.type)),
    /** The next logged entry of one of types (in order, each taken once). */
    async next(types, timeout = 5000) {
      const want = Array.isArray(types) ? types : [types];
      return waitFor(() => {
        for (let i = taken; i < log.length; i++) {
          if (want.includes(log[i].type)) { taken = i + 1; return log[i]; }
        }
        return null;
      }, { timeout, what: `an EventSource '${want.join('|')}' event` });
    },
  };
}

before(async () => {
  redis = await new Redis().start();
});

after(async () => {
  for (const es of sources) es.close();
  for (const d of daemons) {
    const rc = await d.stop();
    assert.ok(rc === 0 || rc === null, `newswired exited with ${rc}:\n${d.log().slice(-3000)}`);
    d.cleanup();
  }
  await redis.stop();
});

describe('EventSource (npm eventsource)', () => {
  let d;
  before(async () => { d = await daemon(); });

  test('items arrive as named events whose lastEventId is the wire id', async () => {
    const src = eventSource(`${d.http}/v1/events?topics=monde/%23,sport`);
    const hello = await src.next('hello');
    assert.equal(hello.data.format, 'sse');
    const sub = await src.next('subscribed');
    assert.deepEqual(sub.data.topics, ['monde/#', 'sport']);
    assert.equal(src.es.readyState, EventSource.OPEN);

    const v1 = makeItem({ headline: 'Premier « titre » ✓', urgency: 2 });
    const receipts = [
      await d.publish(v1, 'monde/afrique,eco'),
      await d.publish({ ...v1, version: '2', headlines: [{ role: 'main', value: 'corrigé' }] }, 'monde/afrique'),
      await d.publish({ ...v1, version: '3', pubstatus: 'withheld' }, 'monde/afrique'),
    ];
    receipts.push(await d.kill(v1.uri));
    assert.deepEqual(receipts.map((r) => r.kind), KINDS.slice(0, 2).concat(['withhold', 'kill']));
    for (const r of receipts) {
      const ev = await src.next(KINDS);
      assert.equal(ev.type, r.kind);
      assert.equal(ev.lastEventId, r.id);
      assert.equal(ev.data.type, 'item');
      assert.equal(ev.data.id, r.id);
      assert.equal(ev.data.kind, r.kind);
      assert.deepEqual(ev.data.topics, ['monde/afrique']);
      assert.equal(ev.data.item.uri, v1.uri);
    }
    assert.equal(src.items().at(0).data.item.headlines[0].value, v1.headlines[0].value);
    assert.equal(src.of('message', 'error', 'close').length, 0);
    assert.equal(src.requests.length, 1);
    assert.equal(src.requests[0].headers['Last-Event-ID'], undefined);
    src.es.close();
  });

  test('a daemon restart: the EventSource reconnects with Last-Event-ID, every id once, in order', { timeout: 60000 }, async () => {
    // The daemon the EventSource reads restarts on the same port; a second
    // instance on the same Redis and prefix takes the publishes meanwhile.
    const sse = await daemon();
    const pub = await daemon({ prefix: sse.prefix });
    const src = eventSource(`${sse.http}/v1/events?topics=fil/%23`);
    await src.next('subscribed');

    const published = [];
    const before = [];
    for (let i = 0; i < 5; i++) before.push(await pub.publish(makeItem({ headline: `avant ${i}` }), 'fil/a'));
    published.push(...before);
    await waitFor(() => src.items().length === before.length, { what: 'the first items' });
    const lastBefore = src.items().at(-1).lastEventId;
    assert.equal(lastBefore, before.at(-1).id);

    // Publish all along the restart, on matching and other topics.
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; publishing || i < 10; i++) {
        published.push(await pub.publish(makeItem({ headline: `pendant ${i}`, urgency: 3 + (i % 7) }),
          i % 2 ? 'fil/a' : 'fil/b/c'));
        await pub.publish(makeItem({ headline: 'ailleurs' }), 'ailleurs');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    // SIGTERM: the stream's last event is close 1012, then the end of the
    // response; the daemon exits 0 and comes back on the same port.
    await waitFor(() => published.length >= before.length + 5, { what: 'publishes before the restart' });
    const rc = await sse.stop('SIGTERM');
    assert.equal(rc, 0, sse.log().slice(-2000));
    const close = await src.next('close');
    assert.deepEqual(close.data, { type: 'close', code: 1012, reason: 'service restart' });
    const idsAtClose = src.items().map((e) => e.lastEventId);
    await sse.start();

    // The EventSource reconnects by itself (after retry: 3000) with the id
    // of the last event it got, and the daemon resumes from there.
    const resumed = await src.next('subscribed', 15000);
    assert.equal(resumed.data.recovered, true);
    assert.ok(resumed.data.epoch);
    // (more than one attempt only if the daemon took over 3 s to restart)
    const reconnects = src.requests.slice(1);
    assert.ok(reconnects.length >= 1, JSON.stringify(src.requests));
    for (const r of reconnects) assert.equal(r.headers['Last-Event-ID'], idsAtClose.at(-1));
    assert.ok(reconnects[0].at - close.at >= 2500, `reconnected ${reconnects[0].at - close.at} ms after the close`);

    // A few more live items after the reconnection, then stop publishing.
    const mark = published.length;
    await waitFor(() => published.length >= mark + 5, { timeout: 10000, what: 'publishes after the restart' });
    publishing = false;
    await publisher;
    const want = published.filter((r) => r.status === 'published').map((r) => r.id);
    await waitFor(() => src.items().length >= want.length, { timeout: 10000, what: `${want.length} items` });
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may come
    const got = src.items().map((e) => e.lastEventId);
    assert.equal(new Set(got).size, got.length, 'an item was received twice');
    assert.deepEqual(got, want);
    for (let i = 1; i < got.length; i++) assert.ok(cmpId(got[i - 1], got[i]) < 0, `not in order at ${i}`);
    assert.ok(idsAtClose.length < want.length, 'items were published while the stream was down');
    assert.equal(src.of('hello').length, 2);
    assert.equal(src.of('error').length, 0);
    src.es.close();
  });
});
