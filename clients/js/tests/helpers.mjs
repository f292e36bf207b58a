// Test fixtures: a private redis-server and real newswired processes on free
// loopback ports (the Node counterpart of tests/integration/conftest.py).
//
// Environment: NEWSWIRED (default <repo>/build/daemon/newswired) and
// REDIS_SERVER (default redis-server on the PATH).

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { decodeMsgpack } from '../newswire.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// Whatever a test file started dies with it, even when a test fails midway
// or a fixture never reached its stop().
const children = new Set();
process.on('exit', () => {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});
function track(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}
export const JS_DIR = path.resolve(here, '..');
export const ROOT = path.resolve(JS_DIR, '..', '..');
export const NEWSWIRED = process.env.NEWSWIRED || path.join(ROOT, 'build', 'daemon', 'newswired');
export const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls fn until it returns a truthy value (awaited); fails after timeout ms. */
export async function waitFor(fn, { timeout = 5000, interval = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function exited(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode ?? proc.signalCode);
    else proc.once('exit', (code, sig) => resolve(code ?? sig));
  });
}

// One RESP command on a fresh connection (enough for PING and a few writes).
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(2000, () => { sock.destroy(); reject(new Error('redis timeout')); });
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) { sock.end(); resolve(buf.trim()); }
    });
    sock.on('connect', () => {
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    });
  });
}

export class Redis {
  async start() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'nwjs-redis-'));
    this.port = await freePort();
    this.proc = track(spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1',
      '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
      '--daemonize', 'no', '--logfile', path.join(this.dir, 'redis.log')], { stdio: 'ignore' }));
    this.proc.on('error', (err) => { this.spawnError = err; });
    await waitFor(async () => {
      if (this.spawnError) throw new Error(`cannot run ${REDIS_SERVER}: ${this.spawnError.message}`);
      try { return (await redisCommand(this.port, 'PING')) === '+PONG'; } catch { return false; }
    }, { what: 'redis-server to answer PING' });
    return this;
  }

  get url() { return `redis://127.0.0.1:${this.port}/0`; }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    await exited(this.proc);
    this.proc = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A newswired process with its own ports and its own Redis key prefix. */
export class Daemon {
  constructor(redis, { args = [], prefix, port, apiPort } = {}) {
    this.redis = redis;
    this.args = args;
    this.prefix = prefix || `js${randomBytes(5).toString('hex')}:`;
    this.port = port;
    this.apiPort = apiPort;
    this.logDir = mkdtempSync(path.join(os.tmpdir(), 'nwjs-daemon-'));
    this.logPath = path.join(this.logDir, 'newswired.log');
  }

  async start() {
    this.port = this.port || await freePort();
    this.apiPort = this.apiPort || await freePort();
    const fd = openSync(this.logPath, 'a');
    this.proc = track(spawn(NEWSWIRED, ['--redis', this.redis.url, '--listen', `127.0.0.1:${this.port}`,
      '--api-listen', `127.0.0.1:${this.apiPort}`, '--set', `redis_prefix=${this.prefix}`,
      '--log-level', 'info', ...this.args], { stdio: ['ignore', fd, fd] }));
    closeSync(fd);
    this.proc.on('error', (err) => { this.spawnError = err; });
    const proc = this.proc;
    try {
      await waitFor(async () => {
        if (this.spawnError) throw new Error(`cannot run ${NEWSWIRED}: ${this.spawnError.message}`);
        if (proc.exitCode !== null) throw new Error(`newswired exited with ${proc.exitCode}:\n${this.log()}`);
        try { return (await fetch(`${this.api}/readyz`)).status === 200; } catch { return false; }
      }, { timeout: 10000, what: 'newswired /readyz' });
    } catch (err) {
      await this.stop('SIGKILL');
      throw err;
    }
    return this;
  }

  /** Signals the daemon; resolves with its exit status. */
  async stop(signal = 'SIGTERM') {
    if (!this.proc) return null;
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
    const rc = await exited(proc);
    clearTimeout(timer);
    return rc;
  }

  /** Removes the log (call after stop(), once the log is no longer needed). */
  cleanup() {
    rmSync(this.logDir, { recursive: true, force: true });
  }

  log() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  get api() { return `http://127.0.0.1:${this.apiPort}`; }
  get http() { return `http://127.0.0.1:${this.port}`; }
  get ws() { return `ws://127.0.0.1:${this.port}/v1/stream`; }

  /** POSTs an item; resolves with the receipt (asserts a 2xx). */
  async publish(item, topics) {
    const t = Array.isArray(topics) ? topics.join(',') : topics;
    const r = await fetch(`${this.api}/v1/articles?topics=${encodeURIComponent(t)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(item),
    });
    const body = await r.json();
    if (r.status >= 300) throw new Error(`publish: ${r.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** DELETE /v1/articles/<uri>: the kill's receipt. */
  async kill(uri) {
    const r = await fetch(`${this.api}/v1/articles/${encodeURIComponent(uri)}`, { method: 'DELETE' });
    const body = await r.json();
    if (r.status >= 300) throw new Error(`kill: ${r.status} ${JSON.stringify(body)}`);
    return body;
  }
}

let counter = 0;

/** A minimal valid ninjs 2.2 item (like conftest.make_item). */
export function makeItem({ uri, version = '1', headline = 'Essai', urgency, ...extra } = {}) {
  counter += 1;
  const item = {
    uri: uri || `urn:newsml:test.example:${process.pid}-${Date.now()}-${counter}`,
    version: String(version),
    versioncreated: '2026-11-27T09:12:00Z',
    type: 'text',
    language: 'fr',
    headlines: [{ role: 'main', value: headline }],
    ...extra,
  };
  if (urgency !== undefined) item.urgency = urgency;
  return item;
}

/** An HS256 JWT signed with node:crypto. */
export function hs256(secret, claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/**
 * The ws package's WebSocket, instrumented: counts connection attempts,
 * records what the client sends (decoded), and while `blocked` is true
 * points new connections at a closed port (a network outage).
 */
export async function controlledWebSocket() {
  const deadPort = await freePort();
  const ctl = { blocked: false, attempts: 0, sockets: [], sent: [] };
  class TestWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(ctl.blocked ? `ws://127.0.0.1:${deadPort}/v1/stream` : url, protocols);
      ctl.attempts += 1;
      ctl.sockets.push(this);
    }

    send(data) {
      ctl.sent.push(typeof data === 'string' ? JSON.parse(data) : decodeMsgpack(data));
      super.send(data);
    }
  }
  ctl.WebSocket = TestWebSocket;
  ctl.current = () => ctl.sockets[ctl.sockets.length - 1];
  return ctl;
}

/** Records a client's events: rec.of('item') lists them, rec.next(...) waits. */
export function record(client, types) {
  const log = [];
  for (const type of types) client.on(type, (detail) => log.push({ type, detail }));
  return {
    log,
    of: (type) => log.filter((e) => e.type === type).map((e) => e.detail),
    next: (type, pred = () => true, timeout = 5000) => waitFor(
      () => log.find((e) => e.type === type && !e.taken && pred(e.detail) && (e.taken = true))?.detail,
      { timeout, what: `a '${type}' event` }),
  };
}
