// The SDK's timing and bookkeeping with a fake clock and a fake socket:
// backoff, heartbeats, close codes, the outbox's resend waits, cursors.
// No server and no real time.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Cursors, Parley, isEmoji } from '../src/index.js';
import { FakeClock, fakeSockets } from './helpers.js';

function setup(opts = {}, tick = 0) {
  const clock = new FakeClock(undefined, tick);
  const { FakeWS, made } = fakeSockets();
  const states = [];
  const c = new Parley({
    baseUrl: 'http://parley.test', token: 'tok', userId: 'me', WebSocket: FakeWS, clock,
    random: () => 1, backoffMinMs: 100, backoffMaxMs: 1000,
    fetch: async () => new Response('{"conversations":[]}', { status: 200 }),
    ...opts,
  });
  c.on('state', (s) => states.push(s));
  return { c, clock, made, states };
}

test('connects to /ws with the token, and backs off exponentially up to the cap', () => {
  const { c, clock, made, states } = setup();
  c.connect();
  assert.equal(made[0].url, 'ws://parley.test/ws?token=tok');
  made[0].drop(1006);
  assert.equal(c.state, 'disconnected');
  // random() = 1: the delays are the caps, 100, 200, 400, 800, 1000, 1000.
  for (const [i, wait] of [100, 200, 400, 800, 1000, 1000].entries()) {
    clock.advance(wait - 1);
    assert.equal(made.length, i + 1, `attempt ${i + 2} not before ${wait} ms`);
    clock.advance(1);
    assert.equal(made.length, i + 2);
    made[i + 1].drop(1006);
  }
  // An open resets the backoff.
  clock.advance(1000);
  made.at(-1).open();
  made.at(-1).drop(1001);
  clock.advance(100);
  assert.equal(made.at(-1).readyState, 0, 'reconnected after the first step again');
  assert.ok(states.includes('open'));
});

test('4001 ends the session: no reconnect, onSessionEnded, pending sends rejected', async () => {
  let ended = null;
  const { c, clock, made } = setup({ onSessionEnded: (r) => { ended = r; } });
  const opened = c.connect();
  made[0].open();
  await opened;
  const sent = c.send('conv', 'hi');
  made[0].drop(4001, 'signed out');
  assert.equal(ended, 'signed out');
  assert.equal(c.state, 'closed');
  assert.equal(c.token, null);
  await assert.rejects(sent, { code: 'session_ended' });
  clock.advance(60_000);
  assert.equal(made.length, 1);
});

test('4008, 1001 and 1011 reconnect', () => {
  const { c, clock, made } = setup();
  c.connect();
  for (const code of [4008, 1001, 1011]) {
    made.at(-1).open();
    made.at(-1).drop(code);
    clock.advance(1000);
  }
  assert.equal(made.length, 4);
});

test('a heartbeat every 25 s; no answer within the timeout replaces the socket', () => {
  const { c, clock, made } = setup({ heartbeatTimeoutMs: 5000 });
  c.connect();
  made[0].open();
  clock.advance(25_000);
  assert.equal(made[0].sent.at(-1).type, 'heartbeat');
  made[0].recv({ type: 'heartbeat_ack', server_time: 1 });
  clock.advance(25_000);
  assert.equal(made[0].sent.filter((f) => f.type === 'heartbeat').length, 2);
  clock.advance(4999);
  assert.equal(made.length, 1);
  clock.advance(1);
  assert.equal(made[0].closedWith.code, 4000, 'the silent socket is closed');
  clock.advance(100);
  assert.equal(made.length, 2, 'and another opened');
});

test('outbox: resend with the same key after rate_limited, not before retry_after_ms; ack resolves', async () => {
  const { c, clock, made } = setup();
  c.connect();
  made[0].open();
  const p = c.send('conv', 'hi', { clientMessageId: 'k1' });
  assert.deepEqual(made[0].sent.at(-1), { type: 'message', client_message_id: 'k1', conversation_id: 'conv', message_type: 'text', content: 'hi' });
  made[0].recv({ type: 'error', code: 'rate_limited', message: 'later', client_message_id: 'k1', retry_after_ms: 300 });
  const sends = () => made[0].sent.filter((f) => f.type === 'message').length;
  clock.advance(299);
  assert.equal(sends(), 1);
  clock.advance(1);
  assert.equal(sends(), 2);
  assert.equal(made[0].sent.at(-1).client_message_id, 'k1');
  // Without retry_after_ms: a second.
  made[0].recv({ type: 'error', code: 'rate_limited', message: 'later', client_message_id: 'k1' });
  clock.advance(999);
  assert.equal(sends(), 2);
  clock.advance(1);
  assert.equal(sends(), 3);
  const ack = { type: 'message_ack', client_message_id: 'k1', message_id: 'm1', conversation_id: 'conv', sequence_number: 1, status: 'sent', timestamp: 5 };
  made[0].recv(ack);
  assert.deepEqual(await p, ack);
  assert.deepEqual(c.pending(), []);
});

test('outbox: every refused message is resent even when time passes during the wake-up', () => {
  // The bug this guards: the wake-up read the clock twice, so a wait that
  // ended between the readings was neither sent nor given a timer.
  const { c, clock, made } = setup({}, 1);
  c.connect();
  made[0].open();
  c.send('conv', 'a', { clientMessageId: 'a' });
  c.send('conv', 'b', { clientMessageId: 'b' });
  made[0].recv({ type: 'error', code: 'rate_limited', message: '', client_message_id: 'a', retry_after_ms: 250 });
  clock.advance(2);
  // b's wait ends 2 ms after a's: within one wake-up's readings of the clock.
  const aDue = c.outbox.entries.get('a').notBefore;
  made[0].recv({ type: 'error', code: 'rate_limited', message: '', client_message_id: 'b', retry_after_ms: aDue + 2 - clock.t });
  assert.equal(c.outbox.entries.get('b').notBefore, aDue + 2);
  clock.advance(300);
  assert.deepEqual(made[0].sent.filter((f) => f.type === 'message').map((f) => f.client_message_id), ['a', 'b', 'a', 'b']);
});

test('outbox: unacked messages go again on the next connection; a final refusal rejects', async () => {
  const { c, clock, made } = setup();
  const a = c.send('conv', 'one', { clientMessageId: 'a' });
  const b = c.send('conv', 'two', { clientMessageId: 'b' });
  c.connect();
  made[0].open();
  assert.deepEqual(made[0].sent.filter((f) => f.type === 'message').map((f) => f.client_message_id), ['a', 'b']);
  made[0].drop(1006);
  clock.advance(100);
  made[1].open();
  assert.deepEqual(made[1].sent.filter((f) => f.type === 'message').map((f) => f.client_message_id), ['a', 'b']);
  made[1].recv({ type: 'error', code: 'forbidden', message: 'not a member', client_message_id: 'b' });
  await assert.rejects(b, { code: 'forbidden', status: 0 });
  made[1].recv({ type: 'message_ack', client_message_id: 'a', message_id: 'm', conversation_id: 'conv', sequence_number: 3, status: 'sent', timestamp: 1 });
  assert.equal((await a).message_id, 'm');
});

test('delivery acks are batched; typing is throttled; presence subscriptions survive reconnects', () => {
  const { c, clock, made } = setup({ ackDelayMs: 50, typingRefreshMs: 3000 });
  c.connect();
  made[0].open();
  const msg = (seq) => ({ type: 'message', message_id: `m${seq}`, conversation_id: 'conv', sender_id: 'x', sequence_number: seq, message_type: 'text', content: '', created_at: 1 });
  made[0].recv(msg(1));
  made[0].recv(msg(2));
  clock.advance(50);
  assert.deepEqual(made[0].sent.filter((f) => f.type === 'delivery_ack'), [{ type: 'delivery_ack', message_ids: ['m1', 'm2'] }]);
  c.setTyping('conv', true);
  c.setTyping('conv', true);
  clock.advance(2999);
  c.setTyping('conv', true);
  clock.advance(1);
  c.setTyping('conv', true);
  c.setTyping('conv', false);
  c.setTyping('conv', false);
  assert.deepEqual(made[0].sent.filter((f) => f.type === 'typing').map((f) => f.state), ['composing', 'composing', 'paused']);
  c.subscribePresence(['u1', 'u2']);
  c.subscribePresence(['u2', 'u3']);
  assert.deepEqual(made[0].sent.filter((f) => f.type === 'presence_subscribe').map((f) => f.user_ids), [['u1', 'u2'], ['u3']]);
  made[0].drop(1006);
  c.markRead('conv', ['m2']); // offline: waits for the connection
  clock.advance(100);
  made[1].open();
  assert.deepEqual(made[1].sent.filter((f) => f.type === 'presence_subscribe').map((f) => f.user_ids), [['u1', 'u2', 'u3']]);
  assert.deepEqual(made[1].sent.filter((f) => f.type === 'read_receipt'), [{ type: 'read_receipt', conversation_id: 'conv', message_ids: ['m2'] }]);
});

test('cursors: in order, duplicates dropped, held past a gap, gap skipped', () => {
  const cur = new Cursors({ a: 3 });
  assert.deepEqual(cur.offer('a', 3, 'x3'), { duplicate: true, released: [] });
  assert.deepEqual(cur.offer('a', 4, 'x4'), { duplicate: false, released: ['x4'] });
  assert.deepEqual(cur.offer('a', 6, 'x6').released, []);
  assert.ok(cur.hasGap('a'));
  assert.deepEqual(cur.offer('a', 5, null).released, ['x6'], 'an own message (null) closes the gap without being released');
  assert.equal(cur.get('a'), 6);
  assert.deepEqual(cur.offer('b', 10, 'y10').released, ['y10'], 'a new conversation starts at its first message');
  cur.offer('b', 13, 'y13');
  assert.deepEqual(cur.skipGap('b'), ['y13']);
  assert.deepEqual(cur.snapshot(), { a: 6, b: 13 });
});

test('replies: the frame carries reply_to, and a resend after a reconnect keeps it', async () => {
  const { c, clock, made } = setup();
  c.connect();
  made[0].open();
  const p = c.send('conv', 'yes', { clientMessageId: 'r1', replyTo: 'm7' });
  assert.deepEqual(made[0].sent.at(-1), { type: 'message', client_message_id: 'r1', conversation_id: 'conv', message_type: 'text', content: 'yes', reply_to: 'm7' });
  assert.equal(c.pending()[0].reply_to, 'm7');
  made[0].drop(1006);
  clock.advance(100);
  made[1].open();
  assert.deepEqual(made[1].sent.filter((f) => f.type === 'message'), [{ type: 'message', client_message_id: 'r1', conversation_id: 'conv', message_type: 'text', content: 'yes', reply_to: 'm7' }]);
  // A reply_to the server cannot take is refused: the send rejects.
  made[1].recv({ type: 'error', code: 'invalid', message: 'reply_to is not a message of this conversation', client_message_id: 'r1' });
  await assert.rejects(p, { code: 'invalid' });
  assert.deepEqual(c.pending(), []);
  // A message without replyTo has no reply_to field at all.
  c.send('conv', 'plain', { clientMessageId: 'r2' });
  assert.equal('reply_to' in made[1].sent.at(-1), false);
});

test('replies: a server message keeps reply_to and quote; a bad quote is refused', async () => {
  const { decodeServerFrame } = await import('../src/wire.js');
  const base = { type: 'message', message_id: 'm8', conversation_id: 'conv', sender_id: 'bob', sequence_number: 8, message_type: 'text', content: 'yes', created_at: 1 };
  const quote = { sender_id: 'alice', message_type: 'text', content: 'lunch?' };
  assert.deepEqual(decodeServerFrame(JSON.stringify({ ...base, reply_to: 'm7', quote })), { ...base, reply_to: 'm7', quote });
  assert.throws(() => decodeServerFrame(JSON.stringify({ ...base, reply_to: 7 })), { code: 'invalid' });
  assert.throws(() => decodeServerFrame(JSON.stringify({ ...base, reply_to: 'm7', quote: { sender_id: 'alice' } })), { code: 'invalid' });
});

test('react/edit/delete: settled by their own frame or refusal, timed out by the clock', async () => {
  const { c, clock, made } = setup();
  await assert.rejects(c.edit('m1', 'x'), { code: 'offline' });
  const opened = c.connect();
  made[0].open();
  await opened;
  const ws = made[0];
  const errors = [];
  c.on('error', (e) => errors.push(e));
  const reactions = [];
  c.on('reaction', (r) => reactions.push(r));

  // Two reactions merged by the server into the last one's frame settle both.
  const r1 = c.react('m1', '👍');
  const r2 = c.react('m1', '❤️');
  assert.deepEqual(ws.sent.slice(-2), [{ type: 'reaction', message_id: 'm1', emoji: '👍' }, { type: 'reaction', message_id: 'm1', emoji: '❤️' }]);
  ws.recv({ type: 'reaction', conversation_id: 'c', message_id: 'm1', user_id: 'someone', emoji: '❤️', timestamp: 1 });
  ws.recv({ type: 'reaction', conversation_id: 'c', message_id: 'm1', user_id: 'me', emoji: '❤️', timestamp: 2 });
  assert.equal((await r1)?.emoji, '❤️');
  assert.equal((await r2)?.timestamp, 2);
  assert.equal(reactions.length, 2);

  // A refusal names the message and kind: the oldest such call takes it.
  const e1 = c.edit('m2', 'new');
  const d1 = c.deleteMessage('m2', 'everyone');
  ws.recv({ type: 'error', code: 'forbidden', message: 'too late', message_id: 'm2', refused_type: 'edit' });
  await assert.rejects(e1, { code: 'forbidden', message: 'too late' });
  ws.recv({ type: 'message_deleted', conversation_id: 'c', message_id: 'm2', for: 'everyone', deleted_by: 'me', timestamp: 3 });
  assert.equal((await d1).deleted_by, 'me');
  // One nobody waits for is an ordinary error event.
  ws.recv({ type: 'error', code: 'not_found', message: 'gone', message_id: 'm9', refused_type: 'delete' });
  assert.deepEqual(errors.map((e) => e.code), ['not_found']);

  // No answer: an edit times out; a reaction that changed nothing resolves null.
  const e2 = c.edit('m3', 'again');
  const r3 = c.react('m3', '👍');
  clock.advance(30_000);
  await assert.rejects(e2, { code: 'timeout' });
  assert.equal(await r3, null);
  await assert.rejects(c.react('m3', 'ok'), { code: 'invalid' });
  assert.deepEqual(c.updates.size, 0);
});

test('isEmoji: one emoji sequence, nothing else', () => {
  for (const s of ['👍', '❤️', '👍🏽', '👨‍👩‍👧', '🇫🇷', '1️⃣', '🏴󠁧󠁢󠁥󠁮󠁧󠁿', '☺']) assert.ok(isEmoji(s), s);
  for (const s of ['', 'ok', '👍👍', '🇫', 'a👍', '👍 ', '1', '🏽']) assert.ok(!isEmoji(s), s);
});
