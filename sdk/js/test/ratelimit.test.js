// A server with a tight per-user send rate: the SDK resends refused
// messages with the same key, never sooner than retry_after_ms, and every
// send resolves once with its own stored message.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { Server, user } from './helpers.js';

/** @type {Server} */
let server;
/** @type {import('../src/index.js').Parley[]} */
const clients = [];
// Disconnected even when the test fails, or their reconnect loops keep the process alive.
after(async () => {
  for (const c of clients) c.disconnect();
  if (server) await server.close();
});

test('rate_limited: resent after retry_after_ms with the same client_message_id', { timeout: 60_000 }, async () => {
  server = await new Server(['--user-send-rate', '4', '--user-send-burst', '2']).start();
  // What the SDK sends and what it is told, in one log, in the order it happened.
  /** @type {Array<{at: number, out?: any, refused?: {cmid: string, wait: number}}>} */
  const wire = [];
  // A socket that records what the SDK sends, and when.
  class RecordingWS extends WebSocket {
    send(data) {
      wire.push({ at: performance.now(), out: JSON.parse(data) });
      super.send(data);
    }
  }
  const alice = await user(server, 'alice', { WebSocket: /** @type {any} */ (RecordingWS) });
  const bob = await user(server, 'bob');
  clients.push(alice, bob);
  const conv = (await alice.createDirect(bob.userId)).conversation_id;
  alice.on('frame', (f) => {
    if (f.type === 'error' && f.code === 'rate_limited' && f.client_message_id) {
      wire.push({ at: performance.now(), refused: { cmid: f.client_message_id, wait: f.retry_after_ms ?? 1000 } });
    }
  });
  await alice.connect();
  const n = 8;
  const acks = await Promise.all(Array.from({ length: n }, (_, i) => alice.send(conv, `burst ${i}`)));
  assert.equal(new Set(acks.map((a) => a.message_id)).size, n, 'each send its own message');
  const refusals = wire.filter((w) => w.refused);
  assert.ok(refusals.length > 0, 'the server refused some');
  // Each refused key went again, no sooner than the server said.
  for (const r of refusals) {
    const { cmid, wait } = /** @type {{cmid: string, wait: number}} */ (r.refused);
    assert.ok(wait > 0, 'with a wait');
    const resend = wire.slice(wire.indexOf(r) + 1).find((w) => w.out && w.out.type === 'message' && w.out.client_message_id === cmid);
    assert.ok(resend, `${cmid} was resent`);
    // 1 ms of slack: the host's timers and performance.now() round differently.
    assert.ok(resend.at - r.at >= wait - 1, `${cmid} resent after ${(resend.at - r.at).toFixed(1)} ms, asked ${wait} ms`);
  }
  const history = await alice.history(conv);
  assert.equal(history.length, n, 'nothing stored twice');
  assert.deepEqual(history.map((m) => m.content), acks.map((_, i) => `burst ${i}`), 'in the order they were written');
});
