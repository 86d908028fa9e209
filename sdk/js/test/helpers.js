// Test helpers: a real `parley serve` on a free loopback port with a temp
// data dir (the binary from $PARLEY_BIN, else built from this tree), SDK
// clients wired to Node's `ws`, a fake clock, and waiting for events
// without fixed sleeps.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { encodePNG } from '../../../internal/devtools/nodetest/png.mjs';
import { Parley } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');

let builtBin = '';
/** The parley binary: $PARLEY_BIN, or built once per test process. */
export function parleyBin() {
  if (process.env.PARLEY_BIN) return process.env.PARLEY_BIN;
  if (!builtBin) {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-sdk-bin-'));
    builtBin = path.join(dir, 'parley');
    execFileSync('go', ['build', '-o', builtBin, './cmd/parley'], { cwd: repoRoot, stdio: 'inherit' });
  }
  return builtBin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One `parley serve` process; start() again after stop() restarts it on the same port and data. */
export class Server {
  /** @param {string[]} args more flags */
  constructor(args = []) {
    this.args = args;
    this.tmp = mkdtempSync(path.join(tmpdir(), 'parley-sdk-'));
    this.logPath = path.join(this.tmp, 'parley.log');
    this.proc = null;
    this.port = 0;
  }

  get base() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    if (!this.port) this.port = await freePort();
    const out = openSync(this.logPath, 'a');
    this.proc = spawn(parleyBin(), [
      'serve', '--addr', `127.0.0.1:${this.port}`, '--data-dir', path.join(this.tmp, 'data'),
      // Cheap password hashes, and no limit on logins: tests log in a lot.
      '--password-memory-kib', '64', '--password-time', '1', '--auth-rate-limit', '0',
      ...this.args,
    ], { stdio: ['ignore', out, out] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) throw new Error(`parley exited at start:\n${this.tail()}`);
      try {
        const r = await fetch(`${this.base}/healthz`);
        if (r.ok) return this;
      } catch { /* not listening yet */ }
      await sleep(25); // polling the readiness endpoint, as web/e2e does
    }
    throw new Error(`parley did not become healthy:\n${this.tail()}`);
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    await this.exited;
  }

  async close() {
    await this.stop('SIGKILL');
    rmSync(this.tmp, { recursive: true, force: true });
  }

  tail() {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** Fast reconnects for tests: the backoff starts at 20 ms and never exceeds 300 ms. */
export const FAST = { backoffMinMs: 20, backoffMaxMs: 300 };

/**
 * A client of server (not logged in).
 * @param {Server} server
 * @param {import('../src/index.js').ParleyOptions} [opts]
 */
export function client(server, opts = {}) {
  return new Parley({ baseUrl: server.base, WebSocket: /** @type {any} */ (WebSocket), ...FAST, ...opts });
}

let seq = 0;
/** A unique username for this run. */
export function uname(prefix = 'u') {
  seq++;
  return `${prefix}${process.pid}_${seq}`.slice(0, 32);
}

export const PASSWORD = 'correct horse battery';

/**
 * Registers a new user and logs it in.
 * @param {Server} server
 * @param {string} [prefix]
 * @param {import('../src/index.js').ParleyOptions} [opts]
 */
export async function user(server, prefix = 'u', opts = {}) {
  const c = client(server, opts);
  const name = uname(prefix);
  await c.register(name, PASSWORD, prefix);
  await c.login(name, PASSWORD);
  c.username = name;
  return c;
}

/**
 * Resolves with the first event of type that matches pred; rejects after ms.
 * @template {keyof import('../src/index.js').ParleyEvents} K
 * @param {Parley} c
 * @param {K} type
 * @param {(arg: import('../src/index.js').ParleyEvents[K]) => boolean} [pred]
 * @param {number} [ms]
 * @returns {Promise<import('../src/index.js').ParleyEvents[K]>}
 */
export function next(c, type, pred = () => true, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${String(type)} event within ${ms} ms`)); }, ms);
    const off = c.on(type, (arg) => {
      if (!pred(arg)) return;
      clearTimeout(timer);
      off();
      resolve(arg);
    });
  });
}

/**
 * Collects every event of type; wait(n) resolves once n have come.
 * @param {Parley} c
 * @param {string} type
 */
export function collect(c, type, ms = 20_000) {
  const items = [];
  const waiters = [];
  c.on(/** @type {any} */ (type), (x) => {
    items.push(x);
    for (const w of [...waiters]) if (items.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(items); }
  });
  return {
    items,
    wait(n) {
      if (items.length >= n) return Promise.resolve(items);
      return new Promise((resolve, reject) => {
        const w = { n, resolve: (v) => { clearTimeout(t); resolve(v); } };
        const t = setTimeout(() => reject(new Error(`${items.length} ${type} events of ${n} within ${ms} ms`)), ms);
        waiters.push(w);
      });
    },
  };
}

/**
 * Polls an async condition (for state only the server holds) until true.
 * @param {string} what
 * @param {() => Promise<boolean>} cond
 */
export async function until(what, cond, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A clock the test moves by hand. */
export class FakeClock {
  /**
   * @param {number} [start]
   * @param {number} [tick] how far each reading moves the clock: code that reads it twice sees time pass, as on a real host
   */
  constructor(start = 1_790_000_000_000, tick = 0) {
    this.t = start;
    this.tick = tick;
    this.timers = new Map();
    this.nextId = 1;
  }

  now() {
    const t = this.t;
    this.t += this.tick;
    return t;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id) { this.timers.delete(id); }

  /** Moves time forward, firing due timers in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let first = null;
      for (const [id, tm] of this.timers) if (tm.at <= end && (!first || tm.at < first[1].at)) first = [id, tm];
      if (!first) break;
      this.timers.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].fn();
    }
    this.t = Math.max(this.t, end);
  }
}

/** A WebSocket double: records what is sent; the test opens, answers and closes it. */
export function fakeSockets() {
  const made = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.handlers = {};
      made.push(this);
    }
    addEventListener(type, fn) { (this.handlers[type] ||= []).push(fn); }
    fire(type, ev = {}) { for (const fn of this.handlers[type] || []) fn(ev); }
    send(data) { this.sent.push(JSON.parse(data)); }
    close(code = 1000, reason = '') { this.closedWith = { code, reason }; this.readyState = 3; }
    open() { this.readyState = 1; this.fire('open'); }
    recv(frame) { this.fire('message', { data: JSON.stringify(frame) }); }
    drop(code, reason = '') { this.readyState = 3; this.fire('close', { code, reason }); }
  }
  return { FakeWS, made };
}

// ---- a PNG made here, so the tests need no fixture ----

/** A w×h RGB PNG of a gradient. */
export function png(w, h) {
  return new Uint8Array(encodePNG(w, h, (x, y) => [(x * 255) / w, (y * 255) / h, 128]));
}
