// What the web client needs of the SDK beyond a single run: the outbox and
// cursors kept in a storage across reloads, the reconnect's catch-up fed
// the app's own conversation list, and a cursor started from history.
// A fake clock, a fake socket and a fake fetch: no server, no real time.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Parley } from '../src/index.js';
import { FakeClock, fakeSockets } from './helpers.js';

/** localStorage's shape over a Map. */
class MemoryStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

/** A fetch answering from routes: path (with query) → JSON body. Records the paths asked. */
function fakeFetch(routes) {
  const asked = [];
  const fetch = async (url) => {
    const u = new URL(url);
    const p = u.pathname.replace('/api/v1', '') + u.search;
    asked.push(p);
    const body = routes[p];
    if (body === undefined) return new Response('{"error":{"code":"not_found","message":"no route"}}', { status: 404 });
    return new Response(JSON.stringify(body), { status: 200 });
  };
  return { fetch, asked };
}

const flush = () => new Promise((r) => setImmediate(r));

function client(opts) {
  const clock = opts.clock ?? new FakeClock();
  const { FakeWS, made } = fakeSockets();
  const c = new Parley({
    baseUrl: 'http://parley.test', token: 'tok', userId: 'me', WebSocket: FakeWS, clock,
    random: () => 1, backoffMinMs: 100, backoffMaxMs: 1000,
    ...opts,
  });
  return { c, clock, made };
}

const msg = (seq, conv = 'conv') => ({ type: 'message', message_id: `m${seq}`, conversation_id: conv, sender_id: 'x', sequence_number: seq, message_type: 'text', content: `${seq}`, created_at: 1 });

test('storage: the outbox survives a reload and is resent with its key; the cursors too', async () => {
  const storage = new MemoryStorage();
  const { fetch } = fakeFetch({ '/conversations': { conversations: [] } });
  const first = client({ storage, fetch });
  first.c.send('conv', 'written offline', { clientMessageId: 'k1' }).catch(() => {});
  const saved = JSON.parse(storage.getItem('parley.outbox.me'));
  assert.equal(saved.length, 1);
  assert.equal(saved[0].client_message_id, 'k1');
  const writtenAt = saved[0].created_at;
  first.c.connect();
  first.made[0].open();
  first.made[0].recv(msg(7));
  first.clock.advance(50); // the ack batch writes the cursors
  assert.deepEqual(JSON.parse(storage.getItem('parley.cursors.me')), { conv: 7 });
  first.c.disconnect();

  // The page reloads: a new client over the same storage.
  const clock = new FakeClock(first.clock.t + 60_000);
  const second = client({ storage, fetch, clock });
  const pending = second.c.pending();
  assert.deepEqual(pending.map((p) => [p.client_message_id, p.content, p.created_at]), [['k1', 'written offline', writtenAt]]);
  assert.equal(second.c.cursor('conv'), 7);
  const acked = second.c.send('conv', 'written offline', { clientMessageId: 'k1' }); // the waiting message's own promise
  assert.equal(second.c.pending().length, 1, 'sending the same key again adds nothing');
  const seen = [];
  second.c.on('message', (m) => seen.push(m.sequence_number));
  second.c.connect();
  second.made[0].open();
  assert.deepEqual(second.made[0].sent.filter((f) => f.type === 'message').map((f) => f.client_message_id), ['k1']);
  second.made[0].recv(msg(7)); // redelivered: acked, not emitted again
  second.made[0].recv({ type: 'message_ack', client_message_id: 'k1', message_id: 'm8', conversation_id: 'conv', sequence_number: 8, status: 'sent', timestamp: 2 });
  assert.equal((await acked).message_id, 'm8');
  assert.equal(storage.getItem('parley.outbox.me'), null, 'an empty outbox leaves no key');
  second.made[0].recv(msg(9));
  second.clock.advance(50);
  assert.deepEqual(seen, [9]);
  assert.deepEqual(JSON.parse(storage.getItem('parley.cursors.me')), { conv: 9 });
  assert.deepEqual(second.made[0].sent.filter((f) => f.type === 'delivery_ack').flatMap((f) => f.message_ids), ['m7', 'm9']);
});

test('storage: a login reads the user\'s outbox; another user\'s keys are not touched', async () => {
  const storage = new MemoryStorage();
  storage.setItem('parley.outbox.me', JSON.stringify([{ client_message_id: 'k2', conversation_id: 'conv', message_type: 'text', content: 'hi', created_at: 5 }, { bogus: true }]));
  storage.setItem('parley.outbox.other', JSON.stringify([{ client_message_id: 'x', conversation_id: 'c', content: '' }]));
  const { fetch } = fakeFetch({ '/sessions': { token: 't2', user_id: 'me', device_id: 'd', expires_at: 0 } });
  const { c } = client({ storage, fetch, token: undefined, userId: undefined });
  assert.equal(c.pending().length, 0, 'nothing is read before the user is known');
  await c.login('me', 'correct horse battery');
  assert.deepEqual(c.pending().map((p) => p.client_message_id), ['k2']);
  assert.equal(JSON.parse(storage.getItem('parley.outbox.other')).length, 1);
});

test('catchUpOnConnect false: no list on connecting; catchUp(list) fills what is ahead of its cursor', async () => {
  const { fetch, asked } = fakeFetch({
    '/conversations/conv/messages?after_seq=2&limit=500': { messages: [msg(3), msg(4)].map(({ type, ...m }) => m) },
  });
  const { c, made } = client({ fetch, catchUpOnConnect: false });
  const seen = [];
  c.on('message', (m) => seen.push(m.sequence_number));
  c.connect();
  made[0].open();
  made[0].recv(msg(2));
  await flush();
  assert.deepEqual(asked, [], 'no GET /conversations of its own');
  await c.catchUp([
    { conversation_id: 'conv', last_sequence_number: 4 },
    { conversation_id: 'unknown', last_sequence_number: 9 }, // no cursor: the offline queue brings it
  ]);
  await flush();
  assert.deepEqual(asked, ['/conversations/conv/messages?after_seq=2&limit=500']);
  assert.deepEqual(seen, [2, 3, 4]);
});

test('startCursor: a conversation known from history is filled from there; an existing cursor stays', async () => {
  const { fetch, asked } = fakeFetch({
    '/conversations/conv/messages?after_seq=10&limit=500': { messages: [msg(11)].map(({ type, ...m }) => m) },
  });
  const { c, made } = client({ fetch, catchUpOnConnect: false });
  const seen = [];
  c.on('message', (m) => seen.push(m.sequence_number));
  c.connect();
  made[0].open();
  await c.fillGap('conv');
  assert.deepEqual(asked, [], 'no cursor: nothing to fill from');
  assert.equal(c.startCursor('conv', 10), true);
  assert.equal(c.startCursor('conv', 4), false);
  assert.equal(c.cursor('conv'), 10);
  made[0].recv(msg(9)); // offline queue, already shown from history: acked, not emitted
  await c.fillGap('conv'); // the system message of a member this device added
  assert.deepEqual(seen, [11]);
});

test('without the WebSocket option, the global is looked up at each connection', () => {
  const saved = globalThis.WebSocket;
  const { FakeWS, made } = fakeSockets();
  try {
    globalThis.WebSocket = undefined;
    const c = new Parley({ baseUrl: 'http://parley.test', token: 'tok', userId: 'me', clock: new FakeClock() });
    globalThis.WebSocket = FakeWS; // replaced after the client was made, as a page's test route does
    c.connect().catch(() => {});
    assert.equal(made.length, 1);
    assert.match(made[0].url, /^ws:\/\/parley\.test\/ws\?token=tok$/);
    c.disconnect();
  } finally {
    globalThis.WebSocket = saved;
  }
});

test('storage: two clients of one user (two tabs) keep each other\'s waiting messages', async () => {
  const storage = new MemoryStorage();
  const clock = new FakeClock();
  const a = client({ storage, clock });
  const b = client({ storage, clock });
  a.c.send('conv', 'from tab A', { clientMessageId: 'ka' }).catch(() => {});
  clock.advance(1);
  b.c.send('conv', 'from tab B', { clientMessageId: 'kb' }).catch(() => {});
  const keys = () => (JSON.parse(storage.getItem('parley.outbox.me') || '[]')).map((p) => p.client_message_id);
  assert.deepEqual(keys(), ['ka', 'kb'], "B's write keeps A's message");
  a.c.connect();
  a.made[0].open();
  a.made[0].recv({ type: 'message_ack', client_message_id: 'ka', message_id: 'm1', conversation_id: 'conv', sequence_number: 1, status: 'sent', timestamp: 2 });
  assert.deepEqual(keys(), ['kb'], "A's acked message leaves; B's stays");
  // Tab A reloads: it takes B's waiting message too (sending it twice is harmless: same key).
  const a2 = client({ storage, clock });
  assert.deepEqual(a2.c.pending().map((p) => p.client_message_id), ['kb']);
  b.c.cancel('kb');
  assert.deepEqual(keys(), [], 'gone from the store once its tab settles it');
});
