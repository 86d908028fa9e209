// End-to-end test of Parley's web client in a real browser: Debian's
// chromium driven by playwright-core, three users in three browser
// contexts (and a fourth who uses the keyboard alone), against a real
// `parley serve` that this script starts (and restarts). axe-core checks
// every screen it visits: a serious or critical finding fails the run.
// Run by internal/web/e2e_test.go; by hand (after npm ci in web/e2e):
//
//   go build -o /tmp/parley ./cmd/parley && PARLEY_BIN=/tmp/parley node web/e2e/e2e.mjs
//
// Environment: PARLEY_BIN (required), PARLEY_CHROMIUM (default
// /usr/bin/chromium), PARLEY_SCREENSHOTS (default web/e2e/screenshots/).

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHTTPServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePNG } from '../../internal/devtools/nodetest/png.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.PARLEY_BIN;
const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.PARLEY_SCREENSHOTS || path.join(here, 'screenshots');
const WAIT = 15_000; // for one expectation
const DEADLINE = 200_000; // for the whole run (under the Go test's 4 minutes); about 100 s on a shared machine

if (!BIN) {
  console.error('PARLEY_BIN must name a built parley binary');
  process.exit(2);
}

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const watchdog = setTimeout(() => {
  console.error(`e2e: still running after ${DEADLINE / 1000}s; giving up`);
  process.exit(1);
}, DEADLINE);
watchdog.unref();

// ---- the server ----

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

class Server {
  /** flags are given on every start (the push receiver's host). */
  constructor(port, dataDir, logPath, flags = []) {
    this.port = port;
    this.flags = flags;
    this.dataDir = dataDir;
    this.logPath = logPath;
    this.proc = null;
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Starts the server; args are more flags, env replaces variables of this process's environment. */
  async start({ args = [], env = {} } = {}) {
    const out = openSync(this.logPath, 'a');
    this.proc = spawn(BIN, [
      'serve', '--addr', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir,
      '--password-memory-kib', '64', '--password-time', '1', ...this.flags, ...args,
    ], { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) throw new Error(`parley exited at start:\n${this.tail()}`);
      try {
        const r = await fetch(`${this.base}/healthz`);
        if (r.ok) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`parley did not become healthy:\n${this.tail()}`);
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill(signal);
    const r = await this.exited;
    log(`server stopped (${signal}): code ${r.code}, signal ${r.sig}`);
  }

  tail() {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a push service of our own ----

/**
 * A local stand-in for a browser vendor's push service (RFC 8030): it
 * takes every POST, answers 201 and keeps what came (path, headers, body
 * length). The Go tests decrypt what it would get (internal/push); here it
 * checks that the server pushes to the endpoint the page subscribed, and
 * how (VAPID, aes128gcm).
 */
async function pushReceiver() {
  const got = [];
  const srv = createHTTPServer((req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      got.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(parts) });
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${srv.address().port}`;
  return { host, base: `http://${host}`, got, close: () => new Promise((resolve) => srv.close(resolve)) };
}

// ---- a PNG made here, so the test needs no fixture ----

/** A w×h RGB sunset: a sky gradient, a sun and the sea. */
function png(w, h) {
  return encodePNG(w, h, (x, y) => {
    const sea = y > h * 0.62;
    const sun = (x - w * 0.5) ** 2 + (y - h * 0.6) ** 2 < (h * 0.16) ** 2;
    const t = y / h;
    if (sun) return [255, 200, 60];
    if (sea) return [20 + 40 * t, 60 + 50 * t, 120 + 60 * t];
    return [255 - 60 * t, 120 + 60 * t, 80 + 120 * t];
  });
}

// ---- the users ----

class User {
  constructor(name, display, page, base) {
    this.name = name;
    this.display = display;
    this.page = page;
    this.base = base;
    this.id = '';
    this.errors = [];
    page.on('pageerror', (e) => this.errors.push(e.message));
    page.on('console', (m) => {
      // The socket failing while the server restarts is expected noise.
      if (m.type() === 'error' && !/WebSocket|Failed to load resource/.test(m.text())) log(`${name} console: ${m.text()}`);
    });
  }

  async register() {
    const p = this.page;
    await p.goto(this.base);
    const first = this.name === 'alice'; // one user's screens are checked: the others' are the same
    if (first) await checkA11y(p, 'sign in');
    await p.getByRole('tab', { name: 'Create account' }).click();
    await p.getByLabel('Username', { exact: true }).fill(this.name);
    await p.getByLabel('Display name').fill(this.display);
    await p.getByLabel('Password').fill('correct horse battery');
    if (first) {
      await shot(p, '01-create-account');
      await checkA11y(p, 'create account');
    }
    await p.getByRole('button', { name: 'Create account' }).click();
    await p.getByTestId('my-id').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
    if (first) await checkA11y(p, 'empty conversation list');
    this.id = (await p.getByTestId('my-id').textContent()).trim();
    log(`${this.display} registered: ${this.id}`);
  }

  /** Leaves the page: the socket closes and the user goes offline. */
  async leave() { await this.page.goto('about:blank'); }

  /** Comes back: the token in localStorage signs the user straight in. */
  async come(pathname = '/') {
    await this.page.goto(this.base + pathname);
    await this.page.getByTestId('my-id').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
  }

  async openChat(title) {
    // The link's name is its text: the title first, then ", online",
    // ", N unread", the time and the last message.
    const esc = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await this.page.getByRole('link', { name: new RegExp(`^${esc}( |,|$)`) }).click();
    await this.page.locator('#chat-title', { hasText: title }).waitFor({ timeout: WAIT });
  }

  async send(text) {
    const box = this.page.getByLabel('Message', { exact: true });
    await box.fill(text);
    await box.press('Enter');
  }

  bubbles(text) { return this.page.locator('#messages li[data-testid="message"]', { hasText: text }); }

  async expectStatus(text, status) {
    await this.page.locator(`#messages li.msg.mine[data-status="${status}"]`, { hasText: text })
      .waitFor({ timeout: WAIT });
    log(`${this.display} sees "${text}" as ${status}`);
  }

  async expectSubtitle(re) {
    await this.page.getByTestId('chat-subtitle').filter({ hasText: re }).waitFor({ timeout: WAIT });
    log(`${this.display}'s header says ${(await this.page.getByTestId('chat-subtitle').textContent()).trim()}`);
  }

  async token() {
    return this.page.evaluate(() => JSON.parse(localStorage.getItem('parley.session')).token);
  }
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  log(`screenshot ${path.relative(process.cwd(), file)}`);
}

// axe-core, run inside the page on every screen the test visits. Injected
// with page.evaluate, over the DevTools protocol: page.addScriptTag adds an
// inline <script>, which the page's CSP (script-src 'self') refuses, and
// bypassCSP would test the page under a weaker policy than it ships with.
const AXE = readFileSync(path.join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * Runs axe-core over the page as it is now and fails on any serious or
 * critical violation, naming the rule, its impact and the elements.
 */
async function checkA11y(page, screen) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
  if (!found.length) {
    log(`a11y ${screen}: no serious or critical violations`);
    return;
  }
  const text = found.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target}\n      ${n.summary.replace(/\n/g, '\n      ')}`).join('\n')}`).join('\n');
  await shot(page, `failure-a11y-${screen.replace(/\W+/g, '-')}`);
  throw new Error(`accessibility, ${screen}: ${found.length} serious or critical axe violation(s):\n${text}`);
}

/** The focused element, named as a screen reader would roughly say it; null for none (the body). */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const text = (n) => (n.nodeType === Node.TEXT_NODE ? n.data
      : n.nodeType === Node.ELEMENT_NODE && n.getAttribute('aria-hidden') !== 'true' ? [...n.childNodes].map(text).join(' ') : '');
    const name = el.getAttribute('aria-label') || (el.labels && el.labels[0] ? text(el.labels[0]) : text(el));
    return { tag: el.tagName.toLowerCase(), id: el.id, name: name.replace(/\s+/g, ' ').trim() };
  });
}

/** Waits until the focus is in the element sel matches, and returns it. */
async function focusIn(page, sel, what) {
  try {
    await page.waitForFunction((s) => document.activeElement && document.activeElement.closest(s), sel, { timeout: WAIT });
  } catch {
    throw new Error(`${what}: the focus is on ${JSON.stringify(await focused(page))}, not in ${sel}`);
  }
  return focused(page);
}

/** Presses Tab (Shift+Tab with back) until the focused element's name matches re. */
async function tabTo(page, re, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    if (f && re.test(f.name)) return f;
  }
  throw new Error(`${re} not reached in ${max} presses of ${back ? 'Shift+Tab' : 'Tab'}; the focus is on ${JSON.stringify(await focused(page))}`);
}

function expectEqual(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${got}, want ${want}`);
}

/**
 * Asks check() again until it returns true (an outcome, such as what the
 * server answers), for at most WAIT. Used where nothing in the DOM changes
 * when the outcome happens; everything else waits on the DOM.
 */
async function until(what, check) {
  const deadline = Date.now() + WAIT;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${WAIT / 1000}s`);
    await sleep(100);
  }
}

/** Waits for a promise the test resolves itself (a frame dropped, say), for at most WAIT. */
function within(what, promise) {
  let timer;
  const late = new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`${what}: not after ${WAIT / 1000}s`)), WAIT); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** What the server says it can process, and its limits (GET /api/v1/server), asked from user's page. */
async function serverInfo(user) {
  return user.page.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const r = await fetch('/api/v1/server', { headers: { Authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`GET /api/v1/server: HTTP ${r.status}`);
    return r.json();
  });
}

/**
 * A recipient's status of a message, as the server has it (GET
 * /messages/{id}/status, asked from the sender's page).
 */
async function serverStatus(sender, messageId, recipientId) {
  return sender.page.evaluate(async ([messageId, rid]) => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const r = await fetch(`/api/v1/messages/${encodeURIComponent(messageId)}/status`, { headers: { Authorization: `Bearer ${token}` } });
    const res = await r.json();
    return (res.recipients || []).find((x) => x.user_id === rid)?.status;
  }, [messageId, recipientId]);
}

// ---- the run ----

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  for (const f of readdirSync(SHOTS)) if (/^failure-.*\.png$/.test(f)) rmSync(path.join(SHOTS, f));
  const tmp = mkdtempSync(path.join(tmpdir(), 'parley-e2e-'));
  const receiver = await pushReceiver();
  // The server may push to the receiver: http, on a loopback address.
  const server = new Server(await freePort(), path.join(tmp, 'data'), path.join(tmp, 'parley.log'),
    ['--push-allow-insecure-host', receiver.host]);
  // However the script ends (the watchdog's exit included), the server goes too.
  process.on('exit', () => { if (server.proc && server.proc.exitCode === null) server.proc.kill('SIGKILL'); });
  await server.start();
  log(`parley serving at ${server.base}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync',
      // A fake microphone and camera, allowed without a prompt: voice notes.
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    ],
  });
  const users = [];
  try {
    const newUser = async (name, display) => {
      // Carol and Dave are on a phone-sized screen: one column at a time.
      const viewport = name === 'carol' || name === 'dave' ? { width: 390, height: 760 } : { width: 1180, height: 760 };
      const ctx = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC', permissions: ['microphone'] });
      const u = new User(name, display, await ctx.newPage(), server.base);
      users.push(u);
      return u;
    };
    for (const [name, display] of [['alice', 'Alice Liddell'], ['bob', 'Bob Marley'], ['carol', 'Carol King']]) await newUser(name, display);
    const [alice, bob, carol] = users;
    for (const u of users) await u.register();

    await oneToOne(alice, bob);
    await group(alice, bob, carol);
    await findable(alice, carol);
    await listAfterReconnect(alice, carol);
    await paging(bob, carol);
    await image(alice, bob);
    await voiceAndVideo(alice, bob);
    await tooLong(alice);
    await restart(alice, bob, server);
    await pushBack(bob, alice);
    await withoutFFmpeg(alice, server, tmp);
    await signOutIn(carol);
    await devices(alice, await newUser('alice-laptop', 'Alice Liddell'));
    await contactsScreen(alice, bob, carol);
    await blocking(alice, bob);
    await replies(alice, bob);
    await lifecycle(alice, bob);
    await profileAndAvatar(alice, bob);
    const dave = await newUser('dave', 'Dave Brubeck');
    await keyboardOnly(dave, alice);
    await inviteLink(alice, bob, dave);
    await deleteAccount(dave, alice);
    await bots(alice, bob);
    const erin = await pushUser(browser, server, receiver);
    users.push(erin);
    await push(erin, alice, server, receiver);

    for (const u of users) {
      if (u.errors.length) throw new Error(`${u.display}'s page threw: ${u.errors.join('; ')}`);
    }
    log('all steps passed');
  } catch (e) {
    for (const u of users) await shot(u.page, `failure-${u.name}`).catch(() => {});
    console.error(`server log (tail):\n${server.tail()}`);
    throw e;
  } finally {
    await browser.close();
    await server.stop();
    await receiver.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function oneToOne(alice, bob) {
  log('== 1:1: sent, delivered, read; online and last seen; typing');
  await bob.leave(); // Bob is offline, so Alice's first message stays at one tick
  const a = alice.page;
  await a.getByRole('button', { name: 'New chat' }).click();
  // By username, as people say it: with an @ and in any case.
  await a.getByLabel('Their username or user ID').fill(`@${bob.name.toUpperCase()}`);
  await a.locator('.lookup', { hasText: 'Bob Marley' }).waitFor({ timeout: WAIT });
  await shot(a, '02-new-chat-dialog');
  await checkA11y(a, 'new chat dialog');
  await a.getByRole('button', { name: 'Start chat' }).click();
  await a.locator('#chat-title', { hasText: 'Bob Marley' }).waitFor({ timeout: WAIT });
  await alice.expectSubtitle(/last seen/);

  await alice.send('Hi Bob! Are you there?');
  await alice.expectStatus('Hi Bob! Are you there?', 'sent');
  await shot(a, '03-sent-one-tick');
  await checkA11y(a, '1:1 chat, sent, peer last seen');

  await bob.come(); // connects: the queued message is delivered and acknowledged
  await alice.expectStatus('Hi Bob! Are you there?', 'delivered');
  await alice.expectSubtitle(/^online$/);
  await bob.page.locator('#conv-list li.unread', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  expectEqual((await bob.page.getByTestId('unread').first().textContent()).trim(), '1', "Bob's unread count");
  await shot(bob.page, '04-list-unread');
  await checkA11y(bob.page, 'conversation list with unread');

  await bob.openChat('Alice Liddell'); // visible chat: read receipt
  await alice.expectStatus('Hi Bob! Are you there?', 'read');

  await bob.page.getByLabel('Message', { exact: true }).pressSequentially('Yes, just', { delay: 20 });
  await alice.expectSubtitle(/typing/);
  await checkA11y(a, 'typing indicator');
  await bob.send('Yes, just got here. Hello Alice!');
  await alice.bubbles('Yes, just got here').waitFor({ timeout: WAIT });
  await alice.expectSubtitle(/^online$/);
  await shot(a, '05-read-blue-ticks');
  await checkA11y(a, '1:1 chat, read');

  // Every control on the chat screen has a name a screen reader can say.
  const unnamed = await a.evaluate(() => [...document.querySelectorAll('button, input, textarea, a[href]')]
    .filter((el) => !el.closest('[hidden]') && el.getAttribute('aria-hidden') !== 'true' && el.type !== 'file')
    .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || (el.id && document.querySelector(`label[for="${el.id}"]`))))
    .map((el) => el.outerHTML.slice(0, 80)));
  expectEqual(unnamed.join('\n'), '', 'controls without an accessible name');

  await bob.leave();
  await alice.expectSubtitle(/last seen today at/);
  await shot(a, '06-last-seen');
  await bob.come();
  await alice.expectSubtitle(/^online$/);
}

async function group(alice, bob, carol) {
  log('== group of three: aggregate receipts, per-member detail, members added and removed');
  const a = alice.page;
  await a.getByRole('button', { name: 'New group' }).click();
  await a.getByLabel('Group name').fill('Weekend trip');
  // Contacts are suggested as a name is typed: Bob (a 1:1 peer) for "Bo".
  const members = a.getByLabel('Members’ usernames or user IDs');
  await members.fill('Bo');
  const suggested = a.getByRole('group', { name: 'Suggested contacts' }).getByRole('button', { name: 'Add Bob Marley (@bob)' });
  await suggested.waitFor({ timeout: WAIT });
  await checkA11y(a, 'new group dialog with a suggested contact');
  await suggested.click();
  expectEqual(await members.inputValue(), '@bob\n', 'the members after choosing a suggestion');
  // Of several names, the one that belongs to no one is named, as they
  // are typed and when the group is refused.
  await members.fill('@bob\nnobody-at-all\ncarol');
  const named = 'No user called nobody-at-all.';
  await a.locator('.lookup.bad', { hasText: named }).waitFor({ timeout: WAIT });
  expectEqual(await a.locator('.lookup').textContent(), named, 'lookup of three names, one unknown');
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.locator('dialog .form-error', { hasText: named }).waitFor({ timeout: WAIT });
  await checkA11y(a, 'new group dialog with an error');
  await members.fill('@bob\nCarol');
  await a.locator('.lookup', { hasText: 'Carol King' }).waitFor({ timeout: WAIT });
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.locator('#chat-title', { hasText: 'Weekend trip' }).waitFor({ timeout: WAIT });

  await alice.send('Who is in for Saturday?');
  await alice.expectStatus('Who is in for Saturday?', 'delivered'); // both online: both devices have it
  await bob.openChat('Weekend trip');
  await bob.bubbles('Who is in for Saturday?').waitFor({ timeout: WAIT });
  // One of two has read it (the server has Bob's receipt): still grey.
  const question = await a.locator('#messages li.msg.mine', { hasText: 'Who is in for Saturday?' }).getAttribute('data-id');
  await until("the server has Bob's read receipt", async () => (await serverStatus(alice, question, bob.id)) === 'read');
  expectEqual(await a.locator('#messages li.msg.mine', { hasText: 'Who is in' }).getAttribute('data-status'), 'delivered', 'aggregate with one reader');
  await carol.openChat('Weekend trip');
  await carol.send('Me! Count me in.');
  await alice.expectStatus('Who is in for Saturday?', 'read');

  await a.locator('#messages li.msg.mine', { hasText: 'Who is in' }).getByRole('button', { name: /Read/ }).click();
  const pop = a.getByRole('dialog', { name: 'Message info' });
  await pop.locator('.receipt', { hasText: 'Bob Marley' }).filter({ hasText: 'Read' }).waitFor({ timeout: WAIT });
  await pop.locator('.receipt', { hasText: 'Carol King' }).filter({ hasText: 'Read' }).waitFor({ timeout: WAIT });
  // The delivery trace below: each reader, and its one device, which
  // acknowledged the message.
  const trace = pop.getByRole('region', { name: 'Delivery' });
  await trace.locator('.trace-recipient', { hasText: 'Bob Marley · read' }).locator('.trace-device', { hasText: 'acknowledged' }).waitFor({ timeout: WAIT });
  await trace.locator('.trace-recipient', { hasText: 'Carol King · read' }).locator('.trace-device', { hasText: 'acknowledged' }).waitFor({ timeout: WAIT });
  await shot(a, '07-group-receipts');
  await checkA11y(a, 'group chat with message info');
  await a.keyboard.press('Escape');
  await pop.waitFor({ state: 'detached', timeout: WAIT });

  await a.getByRole('button', { name: 'Group members' }).click();
  const dlg = a.getByRole('dialog', { name: /members/ });
  await dlg.getByRole('button', { name: 'Remove Carol King' }).click();
  await bob.page.locator('#messages li.system', { hasText: 'Alice Liddell removed Carol King' }).waitFor({ timeout: WAIT });
  await dlg.getByLabel('Add a member by username or user ID').fill(carol.id);
  await dlg.getByRole('button', { name: 'Add', exact: true }).click();
  await dlg.locator('.member', { hasText: 'Carol King' }).waitFor({ timeout: WAIT });
  await shot(a, '08-group-members');
  await checkA11y(a, 'group members dialog');
  await a.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  await bob.page.locator('#messages li.system', { hasText: 'Alice Liddell added Carol King' }).waitFor({ timeout: WAIT });
  await a.locator('#messages li.system', { hasText: 'You added Carol King' }).waitFor({ timeout: WAIT });

  await alice.send('Welcome back, Carol');
  await carol.bubbles('Welcome back, Carol').waitFor({ timeout: WAIT });

  // A mention: Bob, in another chat, sees the group marked with an @.
  await bob.openChat('Alice Liddell');
  await alice.send('@Bob Marley can you bring the map?');
  const mentioned = bob.page.locator('#conv-list li', { hasText: 'Weekend trip' }).getByTestId('mentioned');
  await mentioned.waitFor({ timeout: WAIT });
  await checkA11y(bob.page, 'conversation list with a mention');
  await bob.openChat('Weekend trip');
  await mentioned.waitFor({ state: 'detached', timeout: WAIT });

  // Alice, an admin, pins the question: Bob sees it above the history.
  const q = a.locator('#messages li.msg.mine', { hasText: 'Who is in for Saturday?' });
  await q.hover();
  await q.getByRole('button', { name: 'Pin message' }).click();
  await bob.page.locator('#pinned-bar:not([hidden])').getByTestId('pinned').filter({ hasText: 'Who is in for Saturday?' }).waitFor({ timeout: WAIT });
  await bob.page.locator('#messages li.system', { hasText: 'Alice Liddell pinned a message' }).waitFor({ timeout: WAIT });
  await checkA11y(bob.page, 'group chat with a pinned message');
  await shot(carol.page, '09-phone-group');
  await checkA11y(carol.page, 'group chat on a phone');
  await carol.page.getByRole('button', { name: 'Back to chats' }).click();
  await carol.page.locator('#conv-list').waitFor({ timeout: WAIT });
  await checkA11y(carol.page, 'conversation list on a phone');
  await bob.bubbles('Welcome back, Carol').waitFor({ timeout: WAIT });
  await shot(bob.page, '09-group-system-messages');
  await checkA11y(bob.page, 'group chat with system messages');
}

async function findable(alice, carol) {
  log('== who can find me by username: nobody, then everyone again');
  const c = carol.page;
  const choice = c.getByLabel('Who can find me by username');
  await choice.selectOption('nobody');
  await c.locator('.toast', { hasText: 'No one can find you by username' }).waitFor({ timeout: WAIT });
  await checkA11y(c, 'settings: hidden from lookups by name, on a phone');
  const a = alice.page;
  await a.getByRole('button', { name: 'New chat' }).click();
  const dlg = a.getByRole('dialog', { name: 'New chat' });
  await dlg.getByLabel('Their username or user ID').fill('carol');
  await dlg.locator('.lookup.bad', { hasText: 'No user called carol.' }).waitFor({ timeout: WAIT });
  await dlg.getByRole('button', { name: 'Start chat' }).click();
  await dlg.locator('.form-error', { hasText: 'No user called carol.' }).waitFor({ timeout: WAIT });
  await checkA11y(a, 'new chat dialog, no user by that name');
  await a.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  await choice.selectOption('everyone');
  await c.locator('.toast', { hasText: 'Everyone can find you' }).waitFor({ timeout: WAIT });
  expectEqual(await choice.inputValue(), 'everyone', "Carol's choice after changing it back");
}

async function paging(bob, carol) {
  log('== history paging: 110 messages; the newest 50 first, older pages on scrolling up and from the button');
  const N = 110;
  // Carol's page sends them over its own socket, as fast as it can.
  const n = await carol.page.evaluate(async ([token, bobId, total]) => {
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const r = await fetch('/api/v1/conversations', { method: 'POST', headers: auth, body: JSON.stringify({ type: '1:1', participants: [bobId] }) });
    const conv = await r.json();
    const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    let acks = 0;
    const done = new Promise((ok) => {
      ws.onmessage = (e) => { if (JSON.parse(e.data).type === 'message_ack' && ++acks === total) ok(); };
    });
    for (let i = 1; i <= total; i++) {
      ws.send(JSON.stringify({ type: 'message', client_message_id: crypto.randomUUID(), conversation_id: conv.conversation_id, message_type: 'text', content: `Paging message ${i}` }));
    }
    await done;
    ws.close();
    return acks;
  }, [await carol.token(), bob.id, N]);
  expectEqual(n, N, 'messages acknowledged');
  const b = bob.page;
  const nth = (i) => b.locator('#messages .text', { hasText: new RegExp(`^Paging message ${i}$`) });
  const older = b.getByRole('button', { name: 'Load older messages' });
  await b.locator('#conv-list li.unread', { hasText: 'Carol King' }).filter({ hasText: '99+' }).waitFor({ timeout: WAIT });
  await bob.openChat('Carol King');
  await nth(N).waitFor({ timeout: WAIT });
  expectEqual(await bob.bubbles('Paging message').count(), 50, 'messages on the first page');
  await older.waitFor({ timeout: WAIT }); // there is more

  // Each wait below is for the messages of a page to be in the DOM, never
  // for the button: scrolling to the top loads the next page by itself
  // and hides the button once there is nothing more, so a test that
  // scrolls the button into view and then clicks it races the load (it
  // lost on a busy machine). The page comes in one render, so once its
  // oldest message is there, all of it is.
  await b.locator('#messages-scroll').evaluate((el) => { el.scrollTop = 0; });
  await nth(N - 99).waitFor({ timeout: WAIT });
  expectEqual(await bob.bubbles('Paging message').count(), 100, 'messages after scrolling to the top');
  // The button, for the keyboard: clicked where it is, without the
  // scrolling into view that would load the page by itself.
  await older.dispatchEvent('click');
  await nth(1).waitFor({ timeout: WAIT });
  expectEqual(await bob.bubbles('Paging message').count(), N, 'messages after the button');
  await older.waitFor({ state: 'hidden', timeout: WAIT }); // nothing older
  await checkA11y(b, '1:1 chat, 110 messages paged in');
  log('Bob paged back to message 1');
}

async function listAfterReconnect(alice, carol) {
  log('== after a reconnect: the list is fetched again, and its answer does not roll back a newer preview');
  const p = carol.page;
  // From here on Carol's socket goes through this route, so that it can be
  // cut and kept down; and her GET /conversations can be held: answered
  // as the server read it, but only when the test lets it through.
  let socket = null;
  let blocked = false;
  let connected = () => {};
  await p.routeWebSocket(/\/ws(\?|$)/, (ws) => {
    if (blocked) {
      ws.close({ code: 4000, reason: 'blocked by the test' });
      return;
    }
    socket = ws;
    ws.connectToServer();
    connected();
  });
  let hold = null;
  await p.route('**/api/v1/conversations', async (route) => {
    const h = hold;
    if (!h || route.request().method() !== 'GET') return route.continue();
    hold = null;
    const res = await route.fetch();
    h.read();
    await h.released;
    return route.fulfill({ response: res });
  });
  const preview = (text) => p.locator('#conv-list li', { hasText: 'Weekend trip' }).locator('.preview-text', { hasText: text });
  const stored = (text) => alice.page.locator('#messages li.msg.mine[data-status]:not([data-status="pending"])', { hasText: text });

  let routed = new Promise((resolve) => { connected = resolve; });
  await p.reload();
  await within("Carol's socket through the route", routed);
  await alice.openChat('Weekend trip');
  await alice.send('Before the cut');
  await preview('Before the cut').waitFor({ timeout: WAIT }); // her socket works

  blocked = true;
  await socket.close({ code: 4000, reason: 'cut by the test' });
  await p.locator('#conn-banner', { hasText: /Connecting|Offline/ }).waitFor({ timeout: WAIT });
  await alice.send('While Carol was away');
  await stored('While Carol was away').waitFor({ timeout: WAIT });

  // Back: the offline queue brings that message, and the list is asked
  // for again. Its answer is held; meanwhile one more message comes live.
  let read;
  const listRead = new Promise((resolve) => { read = resolve; });
  let release;
  hold = { read, released: new Promise((resolve) => { release = resolve; }) };
  blocked = false;
  routed = new Promise((resolve) => { connected = resolve; });
  await p.evaluate(() => window.dispatchEvent(new Event('online'))); // reconnect now, not after the backoff
  await within("Carol's socket back", routed);
  await within("the server's answer to Carol's GET /conversations", listRead);
  await alice.send('After the list was read');
  await preview('After the list was read').waitFor({ timeout: WAIT });
  release(); // the answer, older than that message, arrives now
  await p.locator('#conv-list:not([aria-busy="true"])').waitFor({ timeout: WAIT });
  expectEqual(await preview('After the list was read').count(), 1, "Carol's preview after the list's answer");
  // Three unread: two the server counted, one that came after it read the list.
  await p.getByRole('link', { name: /^Weekend trip ?, 3 unread/ }).waitFor({ timeout: WAIT });
  await shot(p, '09-phone-list-after-reconnect');
  log("Carol's list is current after the reconnect");
}

async function tooLong(alice) {
  log('== a paste over 64 KiB stays whole and is said to be too long, in bytes of UTF-8');
  const a = alice.page;
  await alice.openChat('Bob Marley');
  const box = a.getByLabel('Message', { exact: true });
  await box.focus();
  // 70,000 characters (a maxlength of 65,536 would cut it), 100,000 bytes.
  await a.keyboard.insertText('é'.repeat(30_000) + 'x'.repeat(40_000));
  const note = a.locator('#composer-note', { hasText: 'Too long to send: 100,000 bytes, 34,464 over the limit of 65,536.' });
  await note.waitFor({ timeout: WAIT });
  expectEqual((await box.inputValue()).length, 70_000, 'characters in the composer');
  await shot(a, '16-too-long');
  await checkA11y(a, 'message too long');
  await box.press('Enter'); // refused here: nothing sent, nothing cleared
  expectEqual((await box.inputValue()).length, 70_000, 'characters in the composer after Enter');
  expectEqual(await note.isVisible(), true, 'the note after Enter');
  await box.fill('');
  await note.waitFor({ state: 'hidden', timeout: WAIT });
}

async function image(alice, bob) {
  log('== image: upload with progress, thumbnail on the other side');
  await alice.openChat('Bob Marley');
  await bob.openChat('Alice Liddell');
  const picture = png(640, 400);
  const probe = await alice.page.evaluate(async ([token, size]) => {
    const r = await fetch('/api/v1/media', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content_type: 'image/png', size }),
    });
    return r.status;
  }, [await alice.token(), picture.length]);
  const file = { name: 'sunset.png', mimeType: 'image/png', buffer: picture };
  if (probe === 404) {
    log('SKIP image step: POST /api/v1/media answered 404 (no media endpoints on this server); checking the client degrades instead');
    await alice.page.locator('#attach-input').setInputFiles(file);
    await alice.page.locator('#messages .failed', { hasText: 'Attachments are not available' }).waitFor({ timeout: WAIT });
    await shot(alice.page, '10-image-unavailable');
    await alice.page.locator('#messages .failed').getByRole('button', { name: 'Dismiss' }).click();
    return;
  }
  if (probe !== 201) throw new Error(`POST /api/v1/media answered ${probe}`);
  await alice.page.locator('#attach-input').setInputFiles(file);
  await alice.page.locator('#messages li.msg.mine.has-media[data-status]:not([data-status="pending"])').last()
    .waitFor({ timeout: WAIT });
  const thumb = bob.page.locator('#messages li.msg.theirs img.media-thumb').last();
  await thumb.waitFor({ timeout: WAIT });
  await bob.page.waitForFunction(
    () => [...document.querySelectorAll('#messages li.msg.theirs img.media-thumb')].some((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: WAIT });
  const w = await thumb.evaluate((i) => i.naturalWidth);
  if (w > 320) throw new Error(`Bob's thumbnail is ${w} px wide: want at most 320`);
  log(`Bob sees the thumbnail (${w} px wide)`);
  await shot(bob.page, '10-image-thumbnail');
  await checkA11y(bob.page, 'chat with a photo');
  await bob.page.locator('#messages li.msg.theirs button.media-open').last().press('Enter'); // the full-size view
  const viewer = bob.page.getByRole('dialog', { name: 'Photo' });
  await viewer.locator('img').waitFor({ timeout: WAIT });
  await checkA11y(bob.page, 'photo viewer');
  await bob.page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'detached', timeout: WAIT });
}

/** Waits for an own attachment to be sent, or for the client's note that it was not. */
async function sentOrRefused(user, kind) {
  const p = user.page;
  const sent = p.locator(`#messages li.msg.mine.has-media[data-status]:not([data-status="pending"]) .attachment-${kind}`).last();
  const failed = p.locator('#messages .failed').last();
  await sent.or(failed).first().waitFor({ timeout: WAIT });
  if (await failed.isVisible()) {
    const why = (await failed.textContent()).trim();
    await failed.getByRole('button', { name: 'Dismiss' }).click();
    return why;
  }
  return null;
}

async function voiceAndVideo(alice, bob) {
  log('== voice note (MediaRecorder, fake microphone) and a video with its poster and duration');
  const a = alice.page;
  // Without ffmpeg on this machine the server says it cannot process
  // either, and the client offers neither (the restart without ffmpeg
  // below tests that on every machine).
  const { media } = await serverInfo(alice);
  let why;
  if (!media.audio) {
    await a.locator('#record[aria-disabled="true"]').waitFor({ timeout: WAIT });
    log('NOTE no voice note: this server cannot process audio (no ffmpeg here), and the microphone says so');
  } else {
    await a.getByRole('button', { name: 'Record a voice message' }).click();
    await a.locator('.rec-strip').waitFor({ timeout: WAIT });
    await a.locator('.rec-strip .rec-time', { hasText: '0:01' }).waitFor({ timeout: WAIT }); // a second recorded
    await shot(a, '13-recording');
    await a.keyboard.press('Enter');
    why = await sentOrRefused(alice, 'audio');
    if (why) {
      log(`NOTE voice note not sent (${why}); the client showed it and let it be dismissed`);
    } else {
      await bob.page.locator('#messages li.msg.theirs .attachment-audio audio').last().waitFor({ timeout: WAIT });
      log(`Bob has the voice note${await bob.page.locator('#messages li.msg.theirs .attachment-audio .voice-duration').count() ? ' with its duration' : ''}`);
    }
  }
  if (!media.video) {
    log('NOTE no video: this server cannot process video (no ffmpeg here)');
    return;
  }

  // A 1.5 s WebM made in the page from a canvas, so no fixture or ffmpeg is needed here.
  const webm = Buffer.from(await a.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 180;
    const g = c.getContext('2d');
    const rec = new MediaRecorder(c.captureStream(25), { mimeType: 'video/webm' });
    const parts = [];
    rec.ondataavailable = (e) => parts.push(e.data);
    const stopped = new Promise((r) => { rec.onstop = r; });
    rec.start(100);
    const t0 = performance.now();
    await new Promise((done) => {
      const frame = () => {
        const t = (performance.now() - t0) / 1500;
        g.fillStyle = `hsl(${200 + 60 * t} 70% 45%)`;
        g.fillRect(0, 0, 320, 180);
        g.fillStyle = '#fff';
        g.beginPath();
        g.arc(40 + 240 * t, 90, 30, 0, 7);
        g.fill();
        if (t < 1) requestAnimationFrame(frame); else done();
      };
      frame();
    });
    rec.stop();
    await stopped;
    const buf = new Uint8Array(await new Blob(parts, { type: 'video/webm' }).arrayBuffer());
    let bin = '';
    for (const b of buf) bin += String.fromCharCode(b);
    return btoa(bin);
  }), 'base64');
  await a.locator('#attach-input').setInputFiles({ name: 'ball.webm', mimeType: 'video/webm', buffer: webm });
  why = await sentOrRefused(alice, 'video');
  if (why) {
    log(`NOTE video not sent (${why}); the client showed it and let it be dismissed`);
    return;
  }
  const poster = bob.page.locator('#messages li.msg.theirs .attachment-video .video-poster').last();
  await poster.waitFor({ timeout: WAIT });
  const dur = bob.page.locator('#messages li.msg.theirs .attachment-video .duration-badge').last();
  log(`Bob sees the video's poster${await dur.count() ? `, duration ${(await dur.textContent()).trim()}` : ' (the server reported no duration)'}`);
  await shot(bob.page, '14-voice-and-video');
}

async function restart(alice, bob, server) {
  log('== offline: messages written while the server is down, whose ack was lost, or across a reload arrive exactly once');
  await alice.openChat('Bob Marley');
  await bob.openChat('Alice Liddell');
  const a = alice.page;

  // Alice's socket goes through this route from her next connection on,
  // so that acks can be lost on purpose below.
  let dropAcks = false;
  let dropped = 0;
  let onDrop = () => {};
  let blocked = false;
  let current = null;
  await a.routeWebSocket(/\/ws(\?|$)/, (ws) => {
    if (blocked) {
      // No network for the socket (the page itself still loads).
      ws.close({ code: 4000, reason: 'blocked by the test' });
      return;
    }
    current = ws;
    const srv = ws.connectToServer();
    ws.onMessage((m) => srv.send(m));
    srv.onMessage((m) => {
      if (dropAcks && typeof m === 'string' && JSON.parse(m).type === 'message_ack') {
        dropped++;
        onDrop();
        return;
      }
      ws.send(m);
    });
  });

  await server.stop('SIGTERM');
  await a.locator('#conn-banner', { hasText: /Connecting|Offline/ }).waitFor({ timeout: WAIT });
  const down = 'Written while the server was down';
  await alice.send(down);
  await alice.expectStatus(down, 'pending');
  const queued = await a.evaluate((me) => JSON.parse(localStorage.getItem(`parley.outbox.${me}`) || '[]'), alice.id);
  expectEqual(queued.length, 1, 'outbox items while offline');
  await shot(a, '11-server-down');
  await checkA11y(a, 'server down, message waiting');

  await server.start();
  log('server restarted');
  await alice.expectStatus(down, 'read'); // Bob's chat is open: delivered and read
  await bob.bubbles(down).waitFor({ timeout: WAIT });

  // The worst case: the server stores the message and delivers it, but
  // its ack never reaches Alice (dropped here, between page and server),
  // and then the server dies. Alice still has it in her outbox and sends it
  // again on the next connection with the same client_message_id: the
  // server answers with the original ack and stores nothing twice.
  const dying = 'Stored, but the ack was lost';
  const ackDropped = new Promise((resolve) => { onDrop = resolve; });
  dropAcks = true;
  await alice.send(dying);
  await bob.bubbles(dying).waitFor({ timeout: WAIT });
  await within('the message_ack dropped', ackDropped);
  // Bob's page has read it; the SIGKILL must come after the server stored
  // that, or the receipt dies with it (Bob's page does not send it again).
  const dyingId = await bob.page.locator('#messages li[data-testid="message"]', { hasText: dying }).getAttribute('data-id');
  await until("the server has Bob's read receipt", async () => (await serverStatus(alice, dyingId, bob.id)) === 'read');
  expectEqual(await a.locator('#messages li.msg.mine', { hasText: dying }).getAttribute('data-status'), 'pending', 'status with the ack lost');
  await server.stop('SIGKILL');
  dropAcks = false;
  await a.locator('#conn-banner', { hasText: /Connecting|Offline/ }).waitFor({ timeout: WAIT });
  await server.start();
  log('server restarted after SIGKILL');
  await alice.expectStatus(dying, 'read');
  log(`message_ack frames dropped on the way to Alice: ${dropped}`);

  // The outbox is in localStorage: a message written with no connection
  // survives a reload of the page and is sent when the socket is back.
  blocked = true;
  await current.close({ code: 4000, reason: 'cut by the test' });
  await a.locator('#conn-banner', { hasText: /Connecting|Offline/ }).waitFor({ timeout: WAIT });
  const reloaded = 'Written offline, then the page was reloaded';
  await alice.send(reloaded);
  await alice.expectStatus(reloaded, 'pending');
  await a.reload();
  await a.locator('#chat-title', { hasText: 'Bob Marley' }).waitFor({ timeout: WAIT });
  await alice.expectStatus(reloaded, 'pending');
  await a.waitForFunction(() => [...document.querySelectorAll('#messages img.media-thumb')].every((i) => i.complete), null, { timeout: WAIT });
  await shot(a, '11-offline-outbox');
  blocked = false;
  await alice.expectStatus(reloaded, 'read');
  await bob.bubbles(reloaded).waitFor({ timeout: WAIT });

  // A last message: the conversation is ordered, so once Alice sees it
  // read, whatever was stored before it (a duplicate too) has been
  // delivered.
  const last = 'Nothing after this one';
  await alice.send(last);
  await alice.expectStatus(last, 'read');
  for (const text of [down, dying, reloaded]) {
    expectEqual(await bob.bubbles(text).count(), 1, `Bob's copies of "${text}"`);
    expectEqual(await alice.bubbles(text).count(), 1, `Alice's copies of "${text}"`);
  }
  const left = await a.evaluate((me) => JSON.parse(localStorage.getItem(`parley.outbox.${me}`) || '[]'), alice.id);
  expectEqual(left.length, 0, 'outbox items after the acks');
  // History from the server agrees: one copy each.
  await bob.page.reload();
  await bob.page.locator('#chat-title', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await bob.bubbles(dying).waitFor({ timeout: WAIT });
  for (const text of [down, dying, reloaded]) expectEqual(await bob.bubbles(text).count(), 1, `Bob's copies of "${text}" after a reload`);
  log('each message arrived exactly once');
  await shot(bob.page, '12-after-restart');
}

async function pushBack(bob, alice) {
  log('== push-back: a message refused with rate_limited and retry_after_ms goes again, with its key, after the hint');
  const text = 'Refused once: server busy';
  // Longer than the 1 s the SDK waits when the server gives no hint,
  // so a page that ignored the hint would resend too early.
  const HINT = 2_000; // ms
  // Bob's socket goes through this route from the reload below on: the
  // first time it carries the message, the route answers for the server,
  // as a server at its --max-pending-sends would.
  const sends = []; // [client_message_id, performance.now()] of each copy the route saw
  await bob.page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
    const srv = ws.connectToServer();
    srv.onMessage((m) => ws.send(m));
    ws.onMessage((m) => {
      const f = typeof m === 'string' ? JSON.parse(m) : null;
      if (f && f.type === 'message' && f.content === text) {
        sends.push([f.client_message_id, performance.now()]);
        if (sends.length === 1) {
          ws.send(JSON.stringify({
            type: 'error', code: 'rate_limited', message: 'server busy: resend after retry_after_ms',
            client_message_id: f.client_message_id, retry_after_ms: HINT,
          }));
          return;
        }
      }
      srv.send(m);
    });
  });
  await bob.page.reload();
  await bob.page.locator('#chat-title', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await bob.send(text);
  await alice.bubbles(text).waitFor({ timeout: WAIT });
  await bob.expectStatus(text, 'read'); // Alice has the chat open
  expectEqual(sends.length, 2, 'copies of the message Bob\'s page sent');
  expectEqual(sends[1][0], sends[0][0], 'the resent client_message_id');
  // A lower bound only: a timer never fires early.
  const gap = sends[1][1] - sends[0][1];
  if (gap < HINT) throw new Error(`resent ${gap.toFixed(0)} ms after the refusal, before the ${HINT} ms hint`);
  expectEqual(await alice.bubbles(text).count(), 1, 'Alice\'s copies');
  log(`Bob's page resent the refused message ${gap.toFixed(0)} ms later; it arrived once`);
}

async function withoutFFmpeg(alice, server, tmp) {
  log('== a server without ffmpeg and with a 1,000-byte limit: the client offers what it can process and counts to its limit');
  const a = alice.page;
  const empty = path.join(tmp, 'no-tools');
  mkdirSync(empty, { recursive: true });
  await server.stop('SIGTERM');
  await server.start({ args: ['--max-content-bytes', '1000'], env: { PATH: empty } });
  log('server restarted without ffmpeg on its PATH');
  // Alice's page reconnects by itself and asks GET /api/v1/server again.
  const mic = a.locator('#record[aria-disabled="true"]');
  await mic.waitFor({ timeout: WAIT });
  const why = await mic.getAttribute('title');
  if (!/cannot process audio/.test(why)) throw new Error(`the disabled microphone's title: ${why}`);
  expectEqual(await a.locator('#attach-input').getAttribute('accept'), 'image/*', 'attachments offered');
  await a.getByRole('button', { name: 'Attach a photo', exact: true }).waitFor({ timeout: WAIT });
  await shot(a, '17-no-ffmpeg');
  await checkA11y(a, 'server without ffmpeg');
  await mic.click({ force: true }); // aria-disabled, not disabled: pressed, it says why instead of recording
  await a.locator('.toast', { hasText: 'Voice messages are not available' }).waitFor({ timeout: WAIT });
  expectEqual(await a.locator('.rec-strip').count(), 0, 'recordings started');
  // A video chosen anyway (a paste or a drop ignores accept) is refused before any upload.
  const bubbles = a.locator('#messages li[data-testid="message"]');
  const before = await bubbles.count();
  await a.locator('#attach-input').setInputFiles({ name: 'clip.webm', mimeType: 'video/webm', buffer: Buffer.from('not really a video') });
  await a.locator('.toast', { hasText: 'clip.webm: Videos cannot be sent' }).waitFor({ timeout: WAIT });
  expectEqual(await bubbles.count(), before, 'bubbles after choosing a video');
  // The limit is the server's.
  await a.getByLabel('Message', { exact: true }).fill('y'.repeat(1200));
  await a.locator('#composer-note', { hasText: '1,200 bytes, 200 over the limit of 1,000' }).waitFor({ timeout: WAIT });
  await a.getByLabel('Message', { exact: true }).fill('');

  await server.stop('SIGTERM');
  await server.start();
  const { media } = await serverInfo(alice);
  if (!media.audio || !media.video) {
    log('NOTE no ffmpeg on this machine: nothing more is offered after the restart');
    return;
  }
  await a.locator('#record:not([aria-disabled])').waitFor({ timeout: WAIT });
  expectEqual(await a.locator('#attach-input').getAttribute('accept'), 'image/*,video/*,audio/*', 'attachments offered with ffmpeg back');
  log('with ffmpeg back, the microphone and video are offered again');
}

async function signOutIn(carol) {
  log('== sign out, sign in again');
  const p = carol.page;
  const oldToken = await p.evaluate(() => {
    for (const k of Object.keys(localStorage)) {
      try { const v = JSON.parse(localStorage.getItem(k)); if (v && v.token) return v.token; } catch { /* not ours */ }
    }
    return null;
  });
  if (!oldToken) throw new Error('no session token in localStorage before signing out');
  await p.getByRole('button', { name: 'Sign out' }).click();
  // Said as information (a status, in the text colour), not as an error.
  const notice = p.locator('#auth-notice', { hasText: 'You signed out.' });
  await notice.waitFor({ timeout: WAIT });
  // The session ended on the server too: its token no longer works.
  const status = await p.evaluate(async (tok) => (await fetch('/api/v1/conversations', { headers: { Authorization: `Bearer ${tok}` } })).status, oldToken);
  expectEqual(status, 401, 'the signed-out token on the server');
  expectEqual(await notice.getAttribute('role'), 'status', 'role of the signed-out notice');
  expectEqual(await p.locator('#auth-error').textContent(), '', 'error text after signing out');
  const [noticeColor, errorColor] = await p.evaluate(() => ['#auth-notice', '#auth-error']
    .map((sel) => getComputedStyle(document.querySelector(sel)).color));
  if (noticeColor === errorColor) throw new Error(`the signed-out notice has the error colour ${errorColor}`);
  await shot(p, '16-signed-out');
  await checkA11y(p, 'signed out on a phone');
  await p.getByLabel('Username', { exact: true }).fill('carol');
  await p.getByLabel('Password').fill('wrong password');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('#auth-error', { hasText: 'Wrong username or password' }).waitFor({ timeout: WAIT });
  expectEqual(await p.locator('#auth-notice').isVisible(), false, 'signed-out notice visible after a failed attempt');
  await checkA11y(p, 'wrong password');
  await p.getByLabel('Password').fill('correct horse battery');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('link', { name: /^Weekend trip/ }).waitFor({ timeout: WAIT });
  expectEqual((await p.getByTestId('my-id').textContent()).trim(), carol.id, "Carol's ID after signing in again");
  await shot(p, '15-phone-list');
  await checkA11y(p, 'conversation list on a phone, signed in again');
}

async function devices(alice, laptop) {
  log('== devices: a second sign-in is listed, and signing it out from the first ends it there');
  const q = laptop.page;
  await q.goto(laptop.base);
  await q.getByLabel('Username', { exact: true }).fill('alice');
  await q.getByLabel('Password').fill('correct horse battery');
  await q.getByRole('button', { name: 'Sign in' }).click();
  await q.getByTestId('my-id').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
  expectEqual((await q.getByTestId('my-id').textContent()).trim(), alice.id, "Alice's ID on her second browser");

  const p = alice.page;
  await p.getByRole('button', { name: 'Devices', exact: true }).click();
  const dlg = p.getByRole('dialog', { name: 'Devices' });
  await dlg.waitFor({ timeout: WAIT });
  const rows = dlg.getByTestId('device');
  await until('both of Alice\'s devices listed', async () => (await rows.count()) === 2);
  const mine = dlg.locator('[data-testid="device"][data-current="true"]');
  expectEqual(await mine.count(), 1, 'devices marked as this one');
  await mine.getByText('This device').waitFor({ timeout: WAIT });
  await dlg.getByText(/^Last active /).waitFor({ timeout: WAIT });
  await focusIn(p, '.devices', 'the Devices screen on opening');
  await shot(p, '17-devices');
  await checkA11y(p, 'devices');

  const other = dlg.locator('[data-testid="device"][data-current="false"]');
  await other.getByRole('button', { name: /^Sign out / }).click();
  await until('the other device gone from the list', async () => (await rows.count()) === 1);
  await dlg.getByRole('status').filter({ hasText: /signed out/ }).waitFor({ timeout: WAIT });
  // The other browser is back at the sign-in form, told why.
  await q.locator('#auth-notice', { hasText: 'signed out from another device' }).waitFor({ timeout: WAIT });
  await q.getByLabel('Username', { exact: true }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'devices, the other signed out');

  // The change-password form: a wrong current password is refused, said, and changes nothing.
  await dlg.getByLabel('Current password').fill('wrong horse');
  await dlg.getByLabel('New password').fill('battery staple horse');
  await dlg.getByRole('button', { name: 'Change password' }).click();
  await dlg.getByRole('alert').filter({ hasText: 'not your current password' }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'devices, wrong current password');
  await p.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  const back = await focused(p);
  expectEqual(back && back.name, 'Devices', 'focus after closing the Devices screen');
}

async function contactsScreen(alice, bob, carol) {
  log('== contacts: Bob by their chat, Carol added by ID and removed, a wrong ID refused');
  const p = alice.page;
  await p.getByRole('button', { name: 'Contacts', exact: true }).click();
  const dlg = p.getByRole('dialog', { name: 'Contacts' });
  await dlg.waitFor({ timeout: WAIT });
  const rows = dlg.getByTestId('contact');
  await until('Bob listed, by their chat', async () => (await rows.count()) === 1);
  expectEqual(await rows.first().getAttribute('data-id'), bob.id, 'the contact by the default rule');
  await focusIn(p, '#contact-id', 'the Contacts screen on opening');
  await checkA11y(p, 'contacts');

  await dlg.getByLabel('User ID').fill(carol.id);
  await dlg.getByRole('button', { name: 'Add contact' }).click();
  await until('Carol added', async () => (await rows.count()) === 2);
  expectEqual(await rows.nth(1).getAttribute('data-id'), carol.id, 'contacts by display name');
  await dlg.getByRole('status').filter({ hasText: 'Contact added' }).waitFor({ timeout: WAIT });
  await shot(p, '17b-contacts');
  await checkA11y(p, 'contacts, one added');

  await dlg.getByLabel('User ID').fill(alice.id);
  await dlg.getByRole('button', { name: 'Add contact' }).click();
  await dlg.getByRole('alert').filter({ hasText: 'your own ID' }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'contacts, own ID refused');

  await dlg.getByRole('button', { name: /^Remove Carol/ }).click();
  await until('Carol removed', async () => (await rows.count()) === 1);
  await dlg.getByRole('status').filter({ hasText: 'no longer a contact' }).waitFor({ timeout: WAIT });
  await p.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  const back = await focused(p);
  expectEqual(back && back.name, 'Contacts', 'focus after closing the Contacts screen');
}

async function inviteLink(alice, bob, dave) {
  log('== group info: a description, only admins send, an invite link Dave joins by, then revoked');
  const a = alice.page;
  await bob.openChat('Weekend trip');
  await alice.openChat('Weekend trip');
  await a.getByRole('button', { name: 'Group info' }).click();
  const dlg = a.getByRole('dialog', { name: 'Weekend trip — group info' });
  await dlg.waitFor({ timeout: WAIT });
  await focusIn(a, '#group-description', 'the group info screen on opening');
  await dlg.getByLabel('Group description').fill('Saturday hike,\nboots required');
  await dlg.getByRole('button', { name: 'Save description' }).click();
  await dlg.getByRole('status').filter({ hasText: 'Description saved' }).waitFor({ timeout: WAIT });
  await bob.page.locator('#messages li.system', { hasText: 'Alice Liddell changed the group description' }).waitFor({ timeout: WAIT });
  // A group photo: Bob hears of it as it happens and sees it in the header.
  await a.locator('#group-photo').setInputFiles({ name: 'trip.png', mimeType: 'image/png', buffer: png(120, 80) });
  await dlg.getByRole('status').filter({ hasText: 'Group photo saved' }).waitFor({ timeout: WAIT });
  await bob.page.locator('#messages li.system', { hasText: 'Alice Liddell changed the group photo' }).waitFor({ timeout: WAIT });
  await bob.page.locator('#chat-avatar img.avatar-img').waitFor({ timeout: WAIT });

  // Only admins send: Bob's message box says so.
  await dlg.getByLabel('Only admins can send messages').check();
  await dlg.getByRole('status').filter({ hasText: 'Setting saved' }).waitFor({ timeout: WAIT });
  await bob.page.locator('#composer-input[disabled][placeholder="Only admins can send messages"]').waitFor({ timeout: WAIT });
  await bob.page.locator('#messages li.system', { hasText: 'allowed only admins to send messages' }).waitFor({ timeout: WAIT });
  await dlg.getByLabel('Only admins can send messages').uncheck();
  await bob.page.locator('#composer-input:not([disabled])').waitFor({ timeout: WAIT });

  await dlg.getByRole('button', { name: 'Create invite link' }).click();
  const link = dlg.getByTestId('invite-url');
  await link.first().waitFor({ timeout: WAIT });
  const url = (await link.first().textContent()).trim();
  if (!url.startsWith(`${alice.base}/#/join/`)) throw new Error(`invite link ${url}`);
  await shot(a, '20-group-info');
  await checkA11y(a, 'group info with an invite link');
  await a.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });

  // Dave opens the link: the group's name, description and size, and Join.
  const d = dave.page;
  await d.goto(url);
  const join = d.getByRole('dialog', { name: 'Join a group' });
  await join.getByTestId('join-name').filter({ hasText: 'Weekend trip' }).waitFor({ timeout: WAIT });
  expectEqual((await join.getByTestId('join-count').textContent()).trim(), '3 members', 'the join page\'s member count');
  expectEqual((await join.getByTestId('join-description').textContent()).trim(), 'Saturday hike,\nboots required', 'the join page\'s description');
  await shot(d, '21-join-page');
  await checkA11y(d, 'join page, on a phone');
  await join.getByRole('button', { name: 'Join group' }).click();
  await d.locator('#chat-title', { hasText: 'Weekend trip' }).waitFor({ timeout: WAIT });
  await a.locator('#messages li.system', { hasText: 'Dave Brubeck joined using an invite link' }).waitFor({ timeout: WAIT });
  await alice.send('Welcome, Dave');
  await dave.bubbles('Welcome, Dave').waitFor({ timeout: WAIT });
  // On a phone the chat covers the list: back to it, where Dave started.
  await d.getByRole('button', { name: 'Back to chats' }).click();
  await d.locator('#conv-list').waitFor({ timeout: WAIT });

  // Revoked, the link leads nowhere.
  await a.getByRole('button', { name: 'Group info' }).click();
  await dlg.getByRole('button', { name: 'Revoke Invite link 1' }).click();
  await dlg.getByRole('status').filter({ hasText: 'revoked' }).waitFor({ timeout: WAIT });
  await a.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  await bob.page.goto(url);
  const gone = bob.page.getByRole('dialog', { name: 'Join a group' });
  await gone.getByRole('alert').filter({ hasText: 'not valid' }).waitFor({ timeout: WAIT });
  await checkA11y(bob.page, 'join page of a revoked link');
  await gone.getByRole('button', { name: 'Not now' }).click();
  await gone.waitFor({ state: 'detached', timeout: WAIT });
}

async function blocking(alice, bob) {
  log('== block from contact info: nothing reaches Alice while she blocks Bob, nothing of it after; mute');
  const a = alice.page;
  await alice.openChat('Bob Marley');
  await bob.openChat('Alice Liddell');
  await a.getByRole('button', { name: 'Contact info' }).click();
  const dlg = a.getByRole('dialog', { name: 'Bob Marley' });
  await dlg.waitFor({ timeout: WAIT });
  await dlg.getByTestId('contact-username').filter({ hasText: `@${bob.name}` }).waitFor({ timeout: WAIT });
  await checkA11y(a, 'contact info');
  await dlg.getByRole('button', { name: 'Mute notifications' }).click();
  await dlg.getByRole('button', { name: 'Unmute notifications', pressed: true }).waitFor({ timeout: WAIT });
  await dlg.getByRole('button', { name: 'Unmute notifications' }).click();
  await dlg.getByRole('button', { name: 'Block Bob Marley' }).click();
  await dlg.getByRole('status').filter({ hasText: 'is blocked' }).waitFor({ timeout: WAIT });
  await shot(a, '17c-contact-info-blocked');
  await checkA11y(a, 'contact info, blocked');
  await a.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  // The composer gives way to the bar that says why and offers the unblock.
  await a.locator('#blocked-bar:not([hidden])', { hasText: 'You blocked Bob Marley' }).waitFor({ timeout: WAIT });
  expectEqual(await a.locator('#composer').isHidden(), true, 'composer hidden while Bob is blocked');
  await checkA11y(a, 'chat with a blocked contact');

  // Bob is told nothing: his message is sent, and stays at one tick.
  await bob.send('Are you ignoring me?');
  await bob.expectStatus('Are you ignoring me?', 'sent');
  await a.getByRole('button', { name: 'Unblock' }).click();
  await a.locator('#composer:not([hidden])').waitFor({ timeout: WAIT });
  await bob.send('Hello again');
  // In order: once the later one is on Alice's screen, the withheld one
  // would be there before it, had it come.
  await alice.bubbles('Hello again').waitFor({ timeout: WAIT });
  expectEqual(await alice.bubbles('Are you ignoring me?').count(), 0, 'the message sent while blocked, on Alice\'s screen');
  await bob.expectStatus('Hello again', 'read');
}

async function replies(alice, bob) {
  log('== replies: Bob answers one of Alice\'s messages; both see the quote, which leads to the original');
  const a = alice.page;
  const b = bob.page;
  await alice.openChat('Bob Marley');
  await bob.openChat('Alice Liddell');
  const asked = 'Shall we meet at noon?\nBy the fountain.';
  await alice.send('Lunch tomorrow?');
  await alice.send(asked);
  await alice.expectStatus('By the fountain', 'read');
  const original = bob.bubbles('Shall we meet at noon?').filter({ hasNot: b.getByTestId('quote') });
  await original.waitFor({ timeout: WAIT });

  // The Reply button shows on hover and is a button with a name; Escape cancels.
  await original.hover();
  await original.getByRole('button', { name: 'Reply to Alice Liddell' }).click();
  const preview = b.getByTestId('reply-preview');
  await preview.filter({ hasText: 'Alice Liddell' }).filter({ hasText: 'Shall we meet at noon?' }).waitFor({ timeout: WAIT });
  expectEqual((await preview.locator('.quote-text').textContent()).trim(), 'Shall we meet at noon?', 'the preview: the first line');
  await focusIn(b, '#composer-input', 'after choosing Reply');
  await shot(b, '17d-reply-preview');
  await checkA11y(b, 'reply preview');
  await b.keyboard.press('Escape');
  await preview.waitFor({ state: 'hidden', timeout: WAIT });
  // Chosen again, by keyboard this time; the Cancel button is there too.
  await original.getByRole('button', { name: 'Reply to Alice Liddell' }).focus();
  await b.keyboard.press('Enter');
  await preview.waitFor({ timeout: WAIT });
  await preview.getByRole('button', { name: 'Cancel reply' }).waitFor({ timeout: WAIT });
  await bob.send('Noon works, see you there');
  await preview.waitFor({ state: 'hidden', timeout: WAIT });

  // Bob's own bubble quotes it (from the local message while pending, then stored).
  const mine = bob.bubbles('Noon works');
  await mine.getByTestId('quote').filter({ hasText: 'Alice Liddell' }).filter({ hasText: 'Shall we meet at noon?' }).waitFor({ timeout: WAIT });
  await bob.expectStatus('Noon works', 'read');
  // Alice sees the quote in Bob's bubble: her own message, as "You".
  const theirs = alice.bubbles('Noon works');
  await theirs.getByTestId('quote').filter({ hasText: 'You' }).filter({ hasText: 'Shall we meet at noon?' }).waitFor({ timeout: WAIT });
  await shot(a, '17e-reply-received');
  await checkA11y(a, 'chat with a reply');

  // The server stored the reply with its quote (history, as any client reads it).
  const got = await a.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    const { conversations } = await (await fetch('/api/v1/conversations', auth)).json();
    const c = conversations.find((x) => x.type === '1:1' && x.last_message && x.last_message.content.startsWith('Noon works'));
    const res = await (await fetch(`/api/v1/conversations/${c.conversation_id}/messages`, auth)).json();
    const list = res.messages;
    const reply = list.find((m) => m.content.startsWith('Noon works'));
    const orig = list.find((m) => m.content.startsWith('Shall we meet'));
    return { replyTo: reply.reply_to, quote: reply.quote, origId: orig.message_id, origSender: orig.sender_id, plain: 'quote' in orig };
  });
  expectEqual(got.replyTo, got.origId, 'the stored reply_to');
  expectEqual(JSON.stringify(got.quote), JSON.stringify({ sender_id: got.origSender, message_type: 'text', content: asked }), 'the stored quote');
  expectEqual(got.plain, false, 'a quote on a message that is no reply');

  // The quote leads to the original: scrolled into view and highlighted.
  await theirs.getByTestId('quote').click();
  await a.locator('#messages li.msg.flash', { hasText: 'By the fountain' }).filter({ hasNot: a.getByTestId('quote') }).waitFor({ timeout: WAIT });

  // Forwarding: Alice forwards Bob's answer, choosing the chat in a dialog;
  // the copy arrives labelled "Forwarded".
  log('== forward: Alice forwards a message; it arrives labelled Forwarded');
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Forward message' }).click();
  const dlg = a.getByRole('dialog', { name: 'Forward message' });
  await dlg.waitFor({ timeout: WAIT });
  await checkA11y(a, 'forward dialog');
  await dlg.getByLabel('Bob Marley', { exact: true }).check();
  await dlg.getByRole('button', { name: 'Forward', exact: true }).click();
  await dlg.waitFor({ state: 'hidden', timeout: WAIT });
  await bob.bubbles('Noon works').filter({ has: b.getByTestId('forwarded') }).filter({ hasText: 'Forwarded' }).waitFor({ timeout: WAIT });
  await shot(b, '17f-forwarded');
}

async function lifecycle(alice, bob) {
  log('== reactions, edits, deletions: Bob reacts, Alice edits and deletes; each sees the other\'s change');
  const a = alice.page;
  const b = bob.page;
  await alice.openChat('Bob Marley');
  await bob.openChat('Alice Liddell');
  await alice.send('Pack the picnic basket');
  await alice.expectStatus('Pack the picnic basket', 'read');
  const id = await alice.bubbles('Pack the picnic basket').getAttribute('data-id');
  const mineA = a.locator(`#messages li[data-id="${id}"]`);
  const theirsB = b.locator(`#messages li[data-id="${id}"]`);
  await theirsB.waitFor({ timeout: WAIT });

  // Bob reacts from the picker; the chip shows on Alice's page, his own pressed.
  await theirsB.hover();
  await theirsB.getByRole('button', { name: 'React', exact: true }).click();
  await b.getByRole('button', { name: 'React with 👍' }).click();
  await mineA.getByTestId('reaction-chip').filter({ hasText: '👍' }).filter({ hasText: '1' }).waitFor({ timeout: WAIT });
  await theirsB.locator('[data-testid="reaction-chip"][aria-pressed="true"]', { hasText: '👍' }).waitFor({ timeout: WAIT });
  await shot(a, '17f-reaction-received');
  await checkA11y(a, 'chat with a reaction');
  // After a reload the chip comes from history, Alice's own reaction beside it.
  await alice.come();
  await alice.openChat('Bob Marley');
  await mineA.getByTestId('reaction-chip').filter({ hasText: '👍' }).filter({ hasText: '1' }).waitFor({ timeout: WAIT });
  await mineA.hover();
  await mineA.getByRole('button', { name: 'React', exact: true }).click();
  await a.getByRole('button', { name: 'React with 👍' }).click();
  await theirsB.getByTestId('reaction-chip').filter({ hasText: '👍' }).filter({ hasText: '2' }).waitFor({ timeout: WAIT });
  // Chosen again, it is taken back.
  await mineA.hover();
  await mineA.getByRole('button', { name: 'React', exact: true }).click();
  await a.getByRole('button', { name: 'Remove 👍' }).click();
  await theirsB.getByTestId('reaction-chip').filter({ hasText: '👍' }).filter({ hasText: '1' }).waitFor({ timeout: WAIT });

  // Alice edits: the composer takes the text; Escape leaves, Enter saves.
  const edit = async () => {
    await mineA.hover();
    await mineA.getByRole('button', { name: 'More actions' }).click();
    await a.locator('.msg-menu').getByRole('button', { name: 'Edit' }).click();
    await a.getByTestId('edit-preview').waitFor({ timeout: WAIT });
    await focusIn(a, '#composer-input', 'after choosing Edit');
  };
  await edit();
  expectEqual(await a.locator('#composer-input').inputValue(), 'Pack the picnic basket', 'the composer in edit mode');
  await a.keyboard.press('Escape');
  await a.getByTestId('edit-preview').waitFor({ state: 'hidden', timeout: WAIT });
  expectEqual(await a.locator('#composer-input').inputValue(), '', 'the composer after Escape');
  await edit();
  await a.locator('#composer-input').fill('Pack the picnic basket and a blanket');
  await a.keyboard.press('Enter');
  await theirsB.filter({ hasText: 'and a blanket' }).locator('.edited', { hasText: 'edited' }).waitFor({ timeout: WAIT });
  await mineA.filter({ hasText: 'and a blanket' }).locator('.edited').waitFor({ timeout: WAIT });
  // The reaction stays through the edit.
  await theirsB.getByTestId('reaction-chip').filter({ hasText: '👍' }).waitFor({ timeout: WAIT });

  // Alice deletes it for everyone: a tombstone on both pages, no content, no chips.
  await mineA.hover();
  await mineA.getByRole('button', { name: 'More actions' }).click();
  await a.locator('.msg-menu').getByRole('button', { name: 'Delete' }).click();
  const dialog = a.getByTestId('delete-dialog');
  await dialog.getByRole('button', { name: 'Delete for me' }).waitFor({ timeout: WAIT });
  await checkA11y(a, 'delete dialog');
  await dialog.getByRole('button', { name: 'Delete for everyone' }).click();
  await theirsB.getByTestId('tombstone').filter({ hasText: 'This message was deleted' }).waitFor({ timeout: WAIT });
  await mineA.getByTestId('tombstone').filter({ hasText: 'You deleted this message' }).waitFor({ timeout: WAIT });
  expectEqual(await theirsB.getByTestId('reaction-chip').count(), 0, 'chips on a tombstone');
  expectEqual(await theirsB.filter({ hasText: 'picnic' }).count(), 0, 'content left on a tombstone');
  await shot(b, '17g-tombstone');

  // A reply whose original goes: its quote says so, on both pages.
  const asked = a.locator('#messages li[data-testid="message"]', { hasText: 'Shall we meet at noon?' }).filter({ hasNot: a.getByTestId('quote') });
  await asked.hover();
  await asked.getByRole('button', { name: 'More actions' }).click();
  await a.locator('.msg-menu').getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete for everyone' }).click();
  await bob.bubbles('Noon works').getByTestId('quote').filter({ hasText: 'Deleted message' }).waitFor({ timeout: WAIT });
  await alice.bubbles('Noon works').getByTestId('quote').filter({ hasText: 'Deleted message' }).waitFor({ timeout: WAIT });

  // Bob deletes the tombstone for himself: gone from his page, still on Alice's.
  await theirsB.hover();
  await theirsB.getByRole('button', { name: 'More actions' }).click();
  await b.locator('.msg-menu').getByRole('button', { name: 'Delete' }).click();
  const bobDialog = b.getByTestId('delete-dialog');
  await bobDialog.getByRole('button', { name: 'Delete for me' }).waitFor({ timeout: WAIT });
  expectEqual(await bobDialog.getByRole('button', { name: 'Delete for everyone' }).count(), 0, '"for everyone" offered on someone else\'s message');
  await bobDialog.getByRole('button', { name: 'Delete for me' }).click();
  await theirsB.waitFor({ state: 'detached', timeout: WAIT });
  expectEqual(await mineA.getByTestId('tombstone').count(), 1, 'the tombstone on Alice\'s page');
}

async function deleteAccount(dave, alice) {
  log('== delete an account: the password and a confirmation; the others see it leave');
  const p = dave.page;
  await p.getByRole('button', { name: 'Devices', exact: true }).click();
  const dlg = p.getByRole('dialog', { name: 'Devices' });
  await dlg.waitFor({ timeout: WAIT });
  await dlg.getByLabel('Password', { exact: true }).fill('not my password');
  await dlg.getByLabel('I understand that this cannot be undone').check();
  await dlg.getByRole('button', { name: 'Delete my account' }).click();
  await dlg.getByRole('alert').filter({ hasText: 'not your password' }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'delete account, wrong password');
  await dlg.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await dlg.getByRole('button', { name: 'Delete my account' }).click();
  await p.locator('#auth-notice', { hasText: 'Your account is deleted.' }).waitFor({ timeout: WAIT });
  // Alice's group with Dave says so, live.
  await alice.openChat('Keyboard club');
  await alice.page.locator('#messages li', { hasText: /deleted their account|An account was deleted/ }).waitFor({ timeout: WAIT });
  await shot(alice.page, '19-account-deleted');
}

async function profileAndAvatar(alice, bob) {
  log('== profile: Alice writes her about and sets a photo; Bob sees the photo live');
  const p = alice.page;
  await p.getByRole('button', { name: 'Profile', exact: true }).click();
  const dlg = p.getByRole('dialog', { name: 'Profile' });
  await dlg.waitFor({ timeout: WAIT });
  await focusIn(p, '#profile-name', 'the Profile screen on opening');
  await checkA11y(p, 'profile');
  await dlg.getByLabel('About', { exact: true }).fill('Down the rabbit hole');
  await p.locator('#profile-photo').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(300, 200) });
  await dlg.locator('#profile-preview-pic img').waitFor({ timeout: WAIT });
  await dlg.getByRole('status').filter({ hasText: 'New photo chosen' }).waitFor({ timeout: WAIT });
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.getByRole('status').filter({ hasText: 'Profile saved' }).waitFor({ timeout: WAIT });
  await shot(p, '18-profile');
  await checkA11y(p, 'profile, saved');
  // Too long an about is refused before it is sent, and said.
  await dlg.getByLabel('About', { exact: true }).fill('x'.repeat(141));
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.getByRole('alert').filter({ hasText: 'at most 140' }).waitFor({ timeout: WAIT });
  await dlg.getByLabel('About', { exact: true }).fill('Down the rabbit hole');
  await p.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
  expectEqual((await focused(p))?.name, 'Profile', 'focus after closing the Profile screen');
  // Her own photo in the bar at the top.
  await p.locator('#me-avatar img.avatar-img').waitFor({ timeout: WAIT });

  // Bob, her contact, gets the profile frame and shows the 96-pixel picture
  // in his list and in the chat's header, without reloading.
  const b = bob.page;
  const item = b.locator('#conv-list li').filter({ has: b.locator('.conv-title', { hasText: /^Alice Liddell/ }) });
  const pic = item.locator('img.avatar-img');
  await pic.waitFor({ timeout: WAIT });
  await b.waitForFunction((el) => el.complete && el.naturalWidth > 0, await pic.elementHandle(), { timeout: WAIT });
  expectEqual(await pic.evaluate((i) => `${i.naturalWidth}x${i.naturalHeight}`), '96x96', "Bob's picture of Alice");
  await bob.openChat('Alice Liddell');
  await b.locator('#chat-avatar img.avatar-img').waitFor({ timeout: WAIT });
  await shot(b, '18b-avatar-seen');
  await checkA11y(b, 'chat with an avatar');
}

async function keyboardOnly(dave, alice) {
  log('== by keyboard alone, on a phone: register, start a chat, send, create a group, go back');
  const p = dave.page;
  const k = p.keyboard;
  await p.goto(dave.base);
  await focusIn(p, '#auth-username', 'the sign-in form on arrival');
  await tabTo(p, /^Create an account$/); // a button after the form: no arrow keys needed
  await k.press('Enter');
  await p.locator('#auth-display-row:not([hidden])').waitFor({ timeout: WAIT });
  await focusIn(p, '#auth-username', 'after switching to "Create account"');
  await k.type(dave.name);
  await k.press('Tab');
  await k.type(dave.display);
  await k.press('Tab');
  await k.type('correct horse battery');
  await k.press('Enter');
  await p.getByTestId('my-id').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
  // The form went with the focus in it: no chats yet, so to "New chat".
  let f = await focusIn(p, '#app-view', 'after signing in');
  expectEqual(f.name, 'New chat', 'the focus after signing in');
  await checkA11y(p, 'keyboard: signed in, no chats, on a phone');

  await k.press('Enter');
  await p.getByRole('dialog', { name: 'New chat' }).waitFor({ timeout: WAIT });
  await focusIn(p, '#new-chat-id', 'the new chat dialog');
  await k.type(alice.id);
  await p.locator('.lookup', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await k.press('Enter');
  await p.locator('#chat-title', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await focusIn(p, '#composer-input', 'a chat just started');
  const hello = 'Hello Alice, typed without a mouse';
  await k.type(hello);
  await k.press('Enter');
  await p.locator('#messages li.msg.mine[data-status]:not([data-status="pending"])', { hasText: hello }).waitFor({ timeout: WAIT });
  await alice.page.getByRole('link', { name: /^Dave Brubeck/ }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'keyboard: 1:1 chat on a phone');

  // Back, at the top: behind the message, its ticks and the history.
  await tabTo(p, /^Back to chats$/, { back: true });
  await k.press('Enter');
  f = await focusIn(p, '#conv-list', 'after Back');
  if (!f.name.startsWith('Alice Liddell')) throw new Error(`after Back the focus is on ${JSON.stringify(f)}, not the chat just left`);

  await tabTo(p, /^New group$/, { back: true });
  await k.press('Enter');
  await p.getByRole('dialog', { name: 'New group' }).waitFor({ timeout: WAIT });
  await focusIn(p, '#new-group-name', 'the new group dialog');
  await k.type('Keyboard club');
  await k.press('Tab');
  await k.type(alice.id);
  await p.locator('.lookup', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await tabTo(p, /^Create group$/);
  await k.press('Enter');
  await p.locator('#chat-title', { hasText: 'Keyboard club' }).waitFor({ timeout: WAIT });
  await focusIn(p, '#composer-input', 'a group just created');
  const welcome = 'Welcome to the keyboard club';
  await k.type(welcome);
  await k.press('Enter');
  await alice.page.getByRole('link', { name: /^Keyboard club/ }).waitFor({ timeout: WAIT });
  await checkA11y(p, 'keyboard: group chat on a phone');

  await tabTo(p, /^Back to chats$/, { back: true });
  await k.press('Enter');
  f = await focusIn(p, '#conv-list', 'after Back from the group');
  if (!f.name.startsWith('Keyboard club')) throw new Error(`after Back the focus is on ${JSON.stringify(f)}, not the group just left`);
  // The skip link is the first Tab stop, shown when it has the focus.
  await tabTo(p, /^Skip to conversations$/, { back: true });
  const box = await p.locator('.skip-link:focus').boundingBox();
  if (!box || box.y < 0) throw new Error(`the focused skip link is off screen: ${JSON.stringify(box)}`);
  await shot(p, '18-keyboard-skip-link');
  await checkA11y(p, 'keyboard: skip link, on a phone');
  await k.press('Enter');
  f = await focusIn(p, '#conv-list', 'the skip link');
  await shot(p, '19-keyboard-list');
  log(`Dave did it all by keyboard; the focus is on "${f.name}"`);
}

async function bots(alice, bob) {
  log('== bots: Alice creates a bot; Bob starts a chat with it and sees "Bot" by its name, in a group too');
  const made = await alice.page.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const r = await fetch('/api/v1/bots', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'echo-bot', display_name: 'Echo' }),
    });
    return { status: r.status, body: await r.json() };
  });
  expectEqual(made.status, 201, 'POST /api/v1/bots');
  const botId = made.body.user_id;
  if (!botId || !made.body.api_key) throw new Error(`POST /api/v1/bots answered ${JSON.stringify(made.body)}`);
  const b = bob.page;
  await b.getByRole('button', { name: 'New chat' }).click();
  await b.getByLabel('Their username or user ID').fill('@echo-bot');
  await b.locator('.lookup', { hasText: 'Echo' }).waitFor({ timeout: WAIT });
  await b.getByRole('button', { name: 'Start chat' }).click();
  await b.locator('#chat-title', { hasText: 'Echo' }).getByTestId('bot-badge').filter({ hasText: 'Bot' }).waitFor({ timeout: WAIT });
  // The list: the badge is part of the link's text, so of its name.
  await b.getByRole('link', { name: /^Echo ?, Bot/ }).getByTestId('bot-badge').waitFor({ timeout: WAIT });
  // A person has none.
  await bob.openChat('Alice Liddell');
  expectEqual(await b.locator('#chat-title').getByTestId('bot-badge').count(), 0, 'badges by a person\'s name');
  await bob.openChat('Echo');
  await shot(b, '22-bot-chat');
  await checkA11y(b, '1:1 chat with a bot');

  // A group may hold bots: its member list says which.
  await b.getByRole('button', { name: 'New group' }).click();
  await b.getByLabel('Group name').fill('Bot lab');
  await b.getByLabel('Members’ usernames or user IDs').fill('@echo-bot\n@alice');
  await b.locator('.lookup', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await b.getByRole('button', { name: 'Create group' }).click();
  await b.locator('#chat-title', { hasText: 'Bot lab' }).waitFor({ timeout: WAIT });
  await b.getByRole('button', { name: 'Group members' }).click();
  const dlg = b.getByRole('dialog', { name: /members/ });
  await dlg.locator('.member', { hasText: 'Echo' }).getByTestId('bot-badge').waitFor({ timeout: WAIT });
  expectEqual(await dlg.getByTestId('bot-badge').count(), 1, 'badges in a group of two people and a bot');
  await checkA11y(b, 'group members with a bot');
  await b.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached', timeout: WAIT });
}

/**
 * Erin, whose browser context stands in for the push service: Chromium
 * has no Push API in a context playwright makes (incognito-like:
 * "Chrome currently does not support the Push API in incognito mode"),
 * and in a persistent profile subscribe() waits for Google's push service
 * (FCM), which a test machine may not reach. So before any page loads,
 * PushManager's subscribe() and getSubscription() are replaced: a real
 * P-256 key pair and 16-byte auth secret made with WebCrypto, an endpoint
 * on the test's receiver, kept in localStorage as a browser keeps its
 * subscription. Everything else, the page's push.js, the server's storing
 * and pushing, the service worker, is the real thing.
 */
async function pushUser(browser, server, receiver) {
  const ctx = await browser.newContext({ viewport: { width: 1180, height: 760 }, locale: 'en-GB', timezoneId: 'UTC' });
  await ctx.addInitScript((endpoints) => {
    if (typeof window === 'undefined' || !('PushManager' in window)) return;
    const KEY = 'e2e.push.subscription';
    const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const shaped = (s) => ({
      endpoint: s.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: bytes(s.serverKey).buffer },
      getKey: (name) => (name === 'p256dh' ? bytes(s.p256dh).buffer : name === 'auth' ? bytes(s.auth).buffer : null),
      toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }),
      unsubscribe: async () => {
        localStorage.removeItem(KEY);
        localStorage.setItem('e2e.push.unsubscribed', s.endpoint);
        return true;
      },
    });
    PushManager.prototype.getSubscription = async function getSubscription() {
      const s = JSON.parse(localStorage.getItem(KEY) || 'null');
      return s && shaped(s);
    };
    PushManager.prototype.subscribe = async function subscribe(opts) {
      if (Notification.permission !== 'granted') throw new DOMException('permission denied', 'NotAllowedError');
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const s = {
        endpoint: `${endpoints}/push/${crypto.randomUUID()}`,
        p256dh: b64(await crypto.subtle.exportKey('raw', pair.publicKey)), // 65 bytes, uncompressed
        auth: b64(crypto.getRandomValues(new Uint8Array(16))),
        serverKey: b64(opts.applicationServerKey),
      };
      localStorage.setItem(KEY, JSON.stringify(s));
      return shaped(s);
    };
  }, receiver.base);
  const u = new User('erin', 'Erin Brockovich', await ctx.newPage(), server.base);
  u.context = ctx;
  return u;
}

/** Waits for the page's POST /api/v1/push/subscriptions (started by act) and returns the endpoint it sent. */
async function subscribed(user, act) {
  const posted = user.page.waitForResponse((r) => r.url().endsWith('/api/v1/push/subscriptions') && r.request().method() === 'POST', { timeout: WAIT });
  await act();
  const r = await posted;
  expectEqual(r.status(), 201, 'POST /api/v1/push/subscriptions');
  const body = r.request().postDataJSON();
  for (const k of ['p256dh', 'auth']) if (!body.keys || !body.keys[k]) throw new Error(`the subscription sent has no keys.${k}: ${JSON.stringify(body)}`);
  return body.endpoint;
}

async function push(erin, alice, server, receiver) {
  log('== web push: Erin turns notifications on; a message while she is away is pushed; the worker shows it and opens the chat');
  const p = erin.page;
  await erin.register();
  // Not asked yet: the bell asks, once clicked (a prompt must follow a click).
  const bell = p.getByRole('button', { name: 'Turn on notifications' });
  await bell.waitFor({ timeout: WAIT });
  await checkA11y(p, 'notifications not turned on');
  await erin.context.grantPermissions(['notifications'], { origin: server.base });
  const endpoint = await subscribed(erin, () => bell.click());
  if (!endpoint.startsWith(`${receiver.base}/push/`)) throw new Error(`subscribed endpoint ${endpoint}`);
  await bell.waitFor({ state: 'hidden', timeout: WAIT });
  await until('the service worker registered and activated', () => p.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return !!reg && !!reg.active && reg.active.state === 'activated' && reg.active.scriptURL.endsWith('/sw.js');
  }));
  log(`Erin's page subscribed: ${endpoint}`);

  // Erin goes away; Alice writes to her (REST send): one push, at Erin's endpoint.
  await erin.leave();
  const secret = 'The plans for Saturday are secret';
  const conv = await alice.page.evaluate(async ([erinId, text]) => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const c = await (await fetch('/api/v1/conversations', { method: 'POST', headers: auth, body: JSON.stringify({ type: '1:1', participants: [erinId] }) })).json();
    const r = await fetch(`/api/v1/conversations/${c.conversation_id}/messages`, {
      method: 'POST', headers: { ...auth, 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ message_type: 'text', content: text }),
    });
    if (r.status !== 201) throw new Error(`REST send: HTTP ${r.status}`);
    return c.conversation_id;
  }, [erin.id, secret]);
  const at = (e) => receiver.got.filter((g) => e.endsWith(g.path));
  await until('a push at Erin\'s endpoint', async () => at(endpoint).length > 0);
  const req = at(endpoint)[0];
  expectEqual(req.method, 'POST', 'the push request\'s method');
  if (!/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, ?k=[\w-]+$/.test(req.headers.authorization || '')) throw new Error(`the push's Authorization: ${req.headers.authorization}`);
  expectEqual(req.headers['content-encoding'], 'aes128gcm', 'the push\'s Content-Encoding');
  if (!req.headers.ttl) throw new Error('the push has no TTL header');
  if (!req.body.length || req.body.includes(Buffer.from(secret))) throw new Error(`the push's body (${req.body.length} bytes) is empty or plain`);
  log(`the server pushed to Erin's endpoint (VAPID, aes128gcm, ${req.body.length} bytes)`);

  // The worker's side: a push delivered to it (over the DevTools protocol,
  // as the push service would) shows a notice with the sender's name and
  // no content. Erin is on her list, no chat open.
  await erin.come();
  const cdp = await erin.context.newCDPSession(p);
  const regs = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => regs.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await until('the worker\'s registration seen over CDP', async () => regs.some((r) => !r.isDeleted && r.scopeURL.startsWith(server.base)));
  const registrationId = regs.find((r) => !r.isDeleted && r.scopeURL.startsWith(server.base)).registrationId;
  await p.evaluate(async () => { await navigator.serviceWorker.ready; });
  const deliver = () => cdp.send('ServiceWorker.deliverPushMessage', {
    origin: server.base, registrationId,
    data: JSON.stringify({ type: 'message', conversation_id: conv, sender_id: alice.id, sender_name: 'Alice Liddell', unread: 1 }),
  });
  const notices = () => p.evaluate(async () => (await (await navigator.serviceWorker.getRegistration()).getNotifications())
    .map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })));
  // A push that reaches a worker still starting is dropped by Chromium
  // (seen once, under a heavy load), as a push service would retry it:
  // the test delivers it again every 3 s. The notice is tagged with the
  // conversation, so a second one replaces the first.
  await deliver();
  let lastDelivery = Date.now();
  await until('a notice shown by the worker', async () => {
    if ((await notices()).length === 1) return true;
    if (Date.now() - lastDelivery > 3000) {
      await deliver();
      lastDelivery = Date.now();
    }
    return false;
  });
  const [n] = await notices();
  expectEqual(n.title, 'Alice Liddell', 'the notice\'s title');
  expectEqual(n.body, 'New message', 'the notice\'s body');
  expectEqual(n.tag, conv, 'the notice\'s tag');
  log(`the worker shows "${n.title}: ${n.body}"`);

  // Clicking a notice is the browser's UI, which neither playwright nor the
  // DevTools protocol can press: the worker's notificationclick handler
  // gets the event it would, dispatched in the worker.
  const [sw] = erin.context.serviceWorkers().filter((w) => w.url().endsWith('/sw.js'));
  if (!sw) throw new Error('no service worker in Erin\'s context');
  // A real click lets the worker focus the window; this one cannot, so
  // focus() is refused, after the page was told which chat to open.
  const refused = await sw.evaluate(async () => {
    const [notice] = await self.registration.getNotifications();
    const ev = new Event('notificationclick');
    const waits = [];
    Object.defineProperty(ev, 'notification', { value: notice });
    Object.defineProperty(ev, 'waitUntil', { value: (w) => waits.push(w) });
    self.dispatchEvent(ev);
    return (await Promise.allSettled(waits)).filter((r) => r.status === 'rejected').map((r) => String(r.reason));
  });
  if (refused.some((why) => !/focus/.test(why))) throw new Error(`the worker's notificationclick failed: ${refused.join('; ')}`);
  await p.locator('#chat-title', { hasText: 'Alice Liddell' }).waitFor({ timeout: WAIT });
  await erin.bubbles(secret).waitFor({ timeout: WAIT });
  expectEqual(new URL(p.url()).pathname, `/c/${encodeURIComponent(conv)}`, 'the address after clicking the notice');
  await until('the notice closed', async () => (await notices()).length === 0);
  await cdp.detach();
  log('clicking the notice opened the chat');

  // Signing out unsubscribes here and leaves the server nothing to push to:
  // Erin signs in again (a new device, which subscribes at once, the
  // permission given), goes away, and Alice's next message is pushed to the
  // new endpoint only.
  const before = at(endpoint).length;
  await p.getByRole('button', { name: 'Sign out' }).click();
  await p.locator('#auth-notice', { hasText: 'You signed out.' }).waitFor({ timeout: WAIT });
  expectEqual(await p.evaluate(() => localStorage.getItem('e2e.push.unsubscribed')), endpoint, 'the subscription unsubscribed on signing out');
  const again = await subscribed(erin, async () => {
    await p.getByLabel('Username', { exact: true }).fill('erin');
    await p.getByLabel('Password').fill('correct horse battery');
    await p.getByRole('button', { name: 'Sign in' }).click();
  });
  if (again === endpoint) throw new Error('signed in again, Erin\'s page sent the old endpoint');
  await erin.leave();
  await alice.page.evaluate(async ([id, text]) => {
    const { token } = JSON.parse(localStorage.getItem('parley.session'));
    const r = await fetch(`/api/v1/conversations/${id}/messages`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ message_type: 'text', content: text }),
    });
    if (r.status !== 201) throw new Error(`REST send: HTTP ${r.status}`);
  }, [conv, 'Are you back?']);
  await until('a push at Erin\'s new endpoint', async () => at(again).length > 0);
  // One message, planned once for every subscription of Erin's: had the old
  // device's been kept, it would have been pushed with this one.
  expectEqual(at(endpoint).length, before, 'pushes to the signed-out device\'s endpoint');
  log('after signing out, the server pushes to the new device only');
}

main().then(() => {
  log('e2e: ok');
  process.exit(0);
}, (e) => {
  console.error(`e2e: FAIL: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
