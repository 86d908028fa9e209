// A server with a tight per-user send rate: the SDK resends refused
// messages with the same key, never sooner than retry_after_ms, and every
// send resolves once with its own stored message.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { Server, user } from './helpers.js';

/** @type {Server} */
let server;
after(async () => { if (server) await server.close(); });

test('rate_limited: resent after retry_after_ms with the same client_message_id', { timeout: 60_000 }, async () => {
  server = await new Server(['--user-send-rate', '4', '--user-send-burst', '2']).start();
  /** @type {Array<{at: number, frame: any}>} */
  const wire = [];
  // A socket that records what the SDK sends, and when.
  class RecordingWS extends WebSocket {
    send(data) {
      wire.push({ at: Date.now(), frame: JSON.parse(data) });
      super.send(data);
    }
  }
  const alice = await user(server, 'alice', { WebSocket: /** @type {any} */ (RecordingWS) });
  const bob = await user(server, 'bob');
  const conv = (await alice.createDirect(bob.userId)).conversation_id;
  /** @type {Array<{at: number, cmid: string, wait: number}>} */
  const refusals = [];
  alice.on('frame', (f) => {
    if (f.type === 'error' && f.code === 'rate_limited' && f.client_message_id) {
      refusals.push({ at: Date.now(), cmid: f.client_message_id, wait: f.retry_after_ms ?? 1000 });
    }
  });
  await alice.connect();
  const n = 8;
  const acks = await Promise.all(Array.from({ length: n }, (_, i) => alice.send(conv, `burst ${i}`)));
  assert.equal(new Set(acks.map((a) => a.message_id)).size, n, 'each send its own message');
  assert.ok(refusals.length > 0, 'the server refused some');
  assert.ok(refusals.every((r) => r.wait > 0), 'with a wait');
  // Each refused key went again, no sooner than the server said.
  for (const r of refusals) {
    const resend = wire.find((w) => w.frame.type === 'message' && w.frame.client_message_id === r.cmid && w.at >= r.at);
    assert.ok(resend, `${r.cmid} was resent`);
    assert.ok(resend.at - r.at >= r.wait - 5, `${r.cmid} resent after ${resend.at - r.at} ms, asked ${r.wait} ms`);
  }
  const history = await alice.history(conv);
  assert.equal(history.length, n, 'nothing stored twice');
  assert.deepEqual(history.map((m) => m.content), acks.map((_, i) => `burst ${i}`), 'in the order they were written');
  alice.disconnect();
});
