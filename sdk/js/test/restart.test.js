// Reconnects against a real server that goes away: stopped (SIGTERM,
// close 1001) and killed (SIGKILL, no close at all), then started again on
// the same port and data. The outbox resends what was not acked with the
// same keys; nothing is lost and nothing arrives twice.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, collect, next, user } from './helpers.js';

/** @type {Server} */
let server;
/** @type {import('../src/index.js').Parley[]} */
const clients = [];
// Disconnected even when the test fails, or their reconnect loops keep the process alive.
after(async () => {
  for (const c of clients) c.disconnect();
  if (server) await server.close();
});

test('the server stops and comes back: unacked messages resent, each delivered once', { timeout: 120_000 }, async () => {
  server = await new Server().start();
  const alice = await user(server, 'alice');
  const bob = await user(server, 'bob');
  clients.push(alice, bob);
  const conv = (await alice.createDirect(bob.userId)).conversation_id;
  await alice.connect();
  await bob.connect();
  const got = collect(bob, 'message');
  const aliceStates = collect(alice, 'state');
  /** @type {string[]} */
  const contents = [];
  const send = (t) => { contents.push(t); return alice.send(conv, t); };

  await send('before');
  for (const [round, signal] of [[1, 'SIGTERM'], [2, 'SIGKILL']]) {
    const down = next(alice, 'state', (s) => s === 'disconnected');
    await server.stop(signal);
    await down;
    // Written while the server is away: they wait in the outbox.
    const waiting = [send(`down ${round}a`), send(`down ${round}b`)];
    assert.equal(alice.pending().length, 2);
    await server.start();
    const acks = await Promise.all(waiting);
    assert.equal(acks[1].sequence_number, acks[0].sequence_number + 1);
    assert.equal(alice.pending().length, 0);
  }
  const last = await send('after');
  await got.wait(contents.length);
  assert.deepEqual(got.items.map((m) => m.content), contents, 'every message once, in order');
  assert.equal(got.items.at(-1).message_id, last.message_id);
  const history = await alice.history(conv);
  assert.deepEqual(history.map((m) => m.content), contents, 'stored once each');
  assert.ok(aliceStates.items.filter((s) => s === 'open').length >= 2, 'alice reconnected by herself');
});
