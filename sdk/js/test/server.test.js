// The SDK against a real `parley serve` (one server for this file): the
// REST calls and their errors, sending and receiving with receipts,
// idempotent resends, the offline queue, session end, groups, history and
// gap filling, presence, typing and media.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parley, ParleyError } from '../src/index.js';
import { PASSWORD, Server, client, collect, next, png, uname, user } from './helpers.js';

const T = { timeout: 60_000 };
/** @type {Server} */
let server;
/** @type {Parley[]} */
const clients = [];

before(async () => {
  server = await new Server().start();
});
after(async () => {
  for (const c of clients) c.disconnect();
  if (server) await server.close();
});

/** A logged-in, connected user. */
async function online(prefix) {
  const c = await user(server, prefix);
  clients.push(c);
  await c.connect();
  return c;
}

test('register, login and their errors', T, async () => {
  const c = client(server);
  const name = uname('reg');
  const u = await c.register(name, PASSWORD, 'Reg');
  assert.equal(u.username, name);
  assert.equal(u.display_name, 'Reg');
  await assert.rejects(c.register(name.toUpperCase(), PASSWORD), (e) => e instanceof ParleyError && e.status === 409 && e.code === 'conflict');
  await assert.rejects(c.register('a!', PASSWORD), (e) => e instanceof ParleyError && e.status === 400 && e.code === 'invalid');
  await assert.rejects(c.login(name, 'wrong password'), (e) => e instanceof ParleyError && e.status === 401 && e.code === 'unauthorized');
  assert.equal(c.token, null);
  const s = await c.login(name, PASSWORD);
  assert.equal(c.token, s.token);
  assert.equal(c.userId, u.user_id);
  assert.ok(s.device_id);
  assert.deepEqual(await c.user(u.user_id), u);
  assert.deepEqual(await c.updateSettings({ last_seen_visibility: 'contacts' }), { last_seen_visibility: 'contacts', online_visibility: 'everyone', discoverable: 'everyone', avatar_visibility: 'everyone', about_visibility: 'everyone' });
  await assert.rejects(c.updateSettings({ online_visibility: /** @type {any} */ ('friends') }), { status: 400, code: 'invalid' });
  const info = await c.serverInfo();
  assert.equal(info.media.image, true);
  assert.equal(info.limits.max_content_bytes, 65536);
  await assert.rejects(c.user('01JD3Y2B4D6F8H0K2M4P6R8T0V'), { status: 404, code: 'not_found' });
  await assert.rejects(c.createDirect(u.user_id), { status: 422, code: 'invalid' });
});

test('find people by username: any case, hidden ones only by id, bad values refused', T, async () => {
  const a = await user(server, 'finder');
  const b = await user(server, 'found');
  const bob = await a.findUser(b.username.toUpperCase());
  assert.equal(bob.user_id, b.userId);
  assert.equal(bob.username, b.username);
  await assert.rejects(a.findUser(uname('nobody')), { status: 404, code: 'not_found' });
  await assert.rejects(a.findUser(''), { status: 400, code: 'invalid' });
  assert.equal((await b.updateSettings({ discoverable: 'nobody' })).discoverable, 'nobody');
  await assert.rejects(a.findUser(b.username), { status: 404, code: 'not_found' });
  assert.equal((await a.user(b.userId)).username, b.username);
  assert.equal((await b.findUser(b.username)).user_id, b.userId);
  await assert.rejects(b.updateSettings({ discoverable: /** @type {any} */ ('contacts') }), { status: 400, code: 'invalid' });
  assert.equal((await b.settings()).discoverable, 'nobody');
  await b.updateSettings({ discoverable: 'everyone' });
  assert.equal((await a.findUser(b.username)).user_id, b.userId);
});

test('1:1: send, ack, the other receives, delivered and read come back', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const conv = await alice.createDirect(bob.userId);
  const bobGets = next(bob, 'message');
  const delivered = next(alice, 'status', (s) => s.status === 'delivered');
  const ack = await alice.send(conv.conversation_id, 'aGVsbG8=');
  assert.equal(ack.status, 'sent');
  assert.equal(ack.sequence_number, 1);
  const m = await bobGets;
  assert.equal(m.message_id, ack.message_id);
  assert.equal(m.sender_id, alice.userId);
  assert.equal(m.content, 'aGVsbG8=');
  assert.equal(bob.cursor(conv.conversation_id), 1);
  const d = await delivered; // bob's SDK acked delivery by itself
  assert.equal(d.user_id, bob.userId);
  assert.equal(d.message_id, ack.message_id);
  const read = next(alice, 'status', (s) => s.status === 'read');
  bob.markRead(conv.conversation_id, [m.message_id]);
  assert.equal((await read).message_id, ack.message_id);
  const st = await alice.messageStatus(ack.message_id);
  assert.equal(st.status, 'read');
  await assert.rejects(bob.messageStatus(ack.message_id), { status: 403, code: 'forbidden' });
  // The trace: bob's one device acknowledged it, and he read it.
  const tr = await alice.trace(ack.message_id);
  assert.equal(typeof tr.committed_at, 'number');
  assert.equal(tr.recipients.length, 1);
  assert.equal(tr.recipients[0].user_id, bob.userId);
  assert.equal(tr.recipients[0].status, 'read');
  assert.ok(tr.recipients[0].read_at >= tr.committed_at);
  assert.equal(tr.recipients[0].devices.length, 1);
  assert.equal(tr.recipients[0].devices[0].state, 'acknowledged');
  assert.equal(tr.recipients[0].devices[0].online, true);
  await assert.rejects(bob.trace(ack.message_id), { status: 404, code: 'not_found' });
});

test('the same client_message_id is stored once', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const conv = await alice.createDirect(bob.userId);
  const got = collect(bob, 'message');
  const first = await alice.send(conv.conversation_id, 'once', { clientMessageId: 'idem-1' });
  const again = await alice.send(conv.conversation_id, 'once', { clientMessageId: 'idem-1' });
  assert.equal(again.message_id, first.message_id);
  assert.equal(again.sequence_number, first.sequence_number);
  // A later message, then nothing but the two arrived.
  const marker = await alice.send(conv.conversation_id, 'marker');
  await got.wait(2);
  assert.deepEqual(got.items.map((m) => m.message_id), [first.message_id, marker.message_id]);
  assert.equal((await alice.history(conv.conversation_id)).length, 2);
  // Refused for good: the promise rejects with the wire code.
  await assert.rejects(alice.send('01JD3Y5N9C8Q4W7R2T6V0XKZ1A', 'nowhere'), (e) => e instanceof ParleyError && e.code === 'not_found');
  await assert.rejects(alice.send(conv.conversation_id, 'x', { messageType: /** @type {any} */ ('system') }), { code: 'invalid' });
});

test('postMessage over HTTP: delivered live, stored once per key; receipts over HTTP reach the sender', T, async () => {
  const alice = await online('alice');
  const bob = await user(server, 'bob'); // never connects: HTTP only
  clients.push(bob);
  const conv = await alice.createDirect(bob.userId);
  const got = next(alice, 'message');
  const sent = await bob.postMessage(conv.conversation_id, { message_type: 'text', content: 'by http' }, { idempotencyKey: 'http-1' });
  assert.equal(sent.client_message_id, 'http-1');
  assert.equal(sent.status, 'sent');
  assert.equal((await got).message_id, sent.message_id);
  const again = await bob.postMessage(conv.conversation_id, { message_type: 'text', content: 'by http' }, { idempotencyKey: 'http-1' });
  assert.deepEqual(again, sent);
  const fresh = await bob.postMessage(conv.conversation_id, { message_type: 'text', content: 'a new key' });
  assert.equal(fresh.sequence_number, sent.sequence_number + 1);
  assert.equal((await bob.history(conv.conversation_id)).length, 2);
  await assert.rejects(bob.postMessage('01JD3Y5N9C8Q4W7R2T6V0XKZ1A', { message_type: 'text', content: 'x' }), { status: 404, code: 'not_found' });

  const ack = await alice.send(conv.conversation_id, 'read me');
  const read = next(alice, 'status', (st) => st.message_id === ack.message_id && st.status === 'read');
  await bob.api.markDelivered([ack.message_id]);
  await bob.api.markRead(conv.conversation_id, [ack.message_id]);
  await read;
  await assert.rejects(bob.api.markDelivered([]), { status: 400, code: 'invalid' });
});

test('sent while offline: the outbox waits, the server queues; both deliver on connect', T, async () => {
  const alice = await user(server, 'alice');
  const bob = await user(server, 'bob');
  clients.push(alice, bob);
  const conv = await alice.createDirect(bob.userId);
  // Alice is not connected yet: her sends wait in the outbox.
  const sends = ['one', 'two', 'three'].map((t) => alice.send(conv.conversation_id, t));
  assert.equal(alice.pending().length, 3);
  await alice.connect();
  const acks = await Promise.all(sends);
  assert.deepEqual(acks.map((a) => a.sequence_number), [1, 2, 3]);
  // Bob was offline all along: the server's queue for his device delivers on connect.
  const got = collect(bob, 'message');
  const delivered = collect(alice, 'status');
  await bob.connect();
  await got.wait(3);
  assert.deepEqual(got.items.map((m) => m.content), ['one', 'two', 'three']);
  // His SDK acked them: Alice hears of each.
  await delivered.wait(3);
  assert.deepEqual(delivered.items.map((s) => [s.message_id, s.status]), acks.map((a) => [a.message_id, 'delivered']));
});

test('session ended: sign-out elsewhere closes with 4001 and onSessionEnded runs', T, async () => {
  const name = uname('sess');
  const c = client(server);
  await c.register(name, PASSWORD);
  await c.login(name, PASSWORD);
  let reason = null;
  const ended = new Promise((resolve) => {
    const d = client(server, { token: c.token, userId: c.userId, onSessionEnded: (r) => { reason = r; resolve(r); } });
    clients.push(d);
    d.connect().then(() => c.logout());
  });
  await ended;
  assert.match(reason, /sign/i);
  // The one that called logout ended too, and refuses to send.
  await assert.rejects(c.send('x', 'y'), { code: 'session_ended' });
  assert.equal(c.token, null);
});

test('devices: list, end one (4001 there), end the others, change the password', T, async () => {
  const name = uname('dev');
  const laptop = client(server);
  clients.push(laptop);
  await laptop.register(name, PASSWORD);
  await laptop.login(name, PASSWORD, { deviceName: 'Laptop' });
  const phone = client(server, { onSessionEnded: () => {} });
  clients.push(phone);
  const ps = await phone.login(name, PASSWORD, { deviceName: 'Phone' });
  await phone.connect();

  const list = await laptop.sessions();
  assert.equal(list.length, 2);
  const mine = list.find((s) => s.current);
  const theirs = list.find((s) => !s.current);
  assert.equal(mine?.device_name, 'Laptop');
  assert.equal(theirs?.device_name, 'Phone');
  assert.equal(theirs?.session_id, ps.device_id);
  assert.ok(typeof theirs?.last_active_at === 'number' && typeof theirs?.created_at === 'number');
  await assert.rejects(laptop.login(name, PASSWORD, { deviceName: 'x'.repeat(65) }), { status: 400, code: 'invalid' });

  // A stranger cannot end it; its owner can, and the phone's session ends.
  const stranger = await user(server, 'strange');
  clients.push(stranger);
  await assert.rejects(stranger.endSession(ps.device_id), { status: 404, code: 'not_found' });
  const ended = next(phone, 'sessionEnded');
  await laptop.endSession(ps.device_id);
  assert.match((await ended).reason, /sign/i);
  assert.equal(phone.token, null);

  // End the others: a third device goes, this one stays.
  const tablet = client(server);
  clients.push(tablet);
  await tablet.login(name, PASSWORD);
  await laptop.endOtherSessions();
  await assert.rejects(tablet.conversations(), { status: 401, code: 'unauthorized' });
  assert.deepEqual((await laptop.sessions()).map((s) => s.current), [true]);

  // Change the password: a wrong current one is refused, then the new one works.
  await assert.rejects(laptop.changePassword('wrong horse', 'battery staple horse'), { status: 401, code: 'unauthorized' });
  assert.ok(laptop.token, 'a wrong current password does not end the session');
  await laptop.changePassword(PASSWORD, 'battery staple horse');
  await assert.rejects(client(server).login(name, PASSWORD), { status: 401, code: 'unauthorized' });
  await client(server).login(name, 'battery staple horse');
  assert.equal((await laptop.sessions()).length, 2);
});

test('a token the server does not know: connect() rejects and the session ends', T, async () => {
  let reason = null;
  const c = client(server, { token: 'not-a-token', userId: 'nobody', onSessionEnded: (r) => { reason = r; } });
  clients.push(c);
  await assert.rejects(c.connect(), { code: 'session_ended' });
  assert.equal(reason, 'unauthorized');
  assert.equal(c.state, 'closed');
});

test('groups: create, add, remove, rename, roles', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const carol = await online('carol');
  const g = await alice.createGroup('Climbing', [bob.userId]);
  assert.equal(g.type, 'group');
  assert.deepEqual(g.participants.map((p) => [p.user_id, p.role]).sort(), [[alice.userId, 'admin'], [bob.userId, 'member']].sort());
  const sys = next(bob, 'message', (m) => m.message_type === 'system');
  const added = await alice.addParticipant(g.conversation_id, carol.userId);
  assert.ok(added.participants.some((p) => p.user_id === carol.userId));
  assert.deepEqual(JSON.parse((await sys).content), { event: 'member_added', actor_id: alice.userId, user_id: carol.userId });
  await assert.rejects(bob.addParticipant(g.conversation_id, carol.userId), { status: 403, code: 'forbidden' });
  const renamed = await alice.rename(g.conversation_id, 'Bouldering');
  assert.equal(renamed.name, 'Bouldering');
  const promoted = await alice.setRole(g.conversation_id, bob.userId, 'admin');
  assert.equal(promoted.participants.find((p) => p.user_id === bob.userId)?.role, 'admin');
  await alice.removeParticipant(g.conversation_id, carol.userId);
  assert.deepEqual((await alice.participants(g.conversation_id)).map((p) => p.user_id).sort(), [alice.userId, bob.userId].sort());
  await assert.rejects(carol.history(g.conversation_id), { status: 403, code: 'forbidden' });
  await assert.rejects(alice.removeParticipant(g.conversation_id, carol.userId), { status: 404, code: 'not_found' });
  const list = await bob.conversations();
  assert.ok(list.some((c) => c.conversation_id === g.conversation_id && c.name === 'Bouldering'));
});

test('history pages by sequence number', T, async () => {
  const alice = await online('alice');
  const bob = await user(server, 'bob');
  const conv = await alice.createDirect(bob.userId);
  for (let i = 1; i <= 7; i++) await alice.send(conv.conversation_id, `m${i}`);
  const seqs = (ms) => ms.map((m) => m.sequence_number);
  assert.deepEqual(seqs(await alice.history(conv.conversation_id, { limit: 3 })), [5, 6, 7]);
  assert.deepEqual(seqs(await alice.history(conv.conversation_id, { before_seq: 5, limit: 3 })), [2, 3, 4]);
  assert.deepEqual(seqs(await alice.history(conv.conversation_id, { after_seq: 2, limit: 2 })), [3, 4]);
  assert.deepEqual(seqs(await alice.history(conv.conversation_id, { after_seq: 7 })), []);
  await assert.rejects(alice.history(conv.conversation_id, { after_seq: 1, before_seq: 5 }), { status: 400, code: 'invalid' });
});

test('a gap is filled from history, in order, each message once', T, async () => {
  // An admin's device is not sent the system message of its own change:
  // the next message shows a gap, which the SDK fills from history.
  const alice = await online('alice');
  const bob = await online('bob');
  const carol = await user(server, 'carol');
  const g = await alice.createGroup('Gap', [bob.userId]);
  const got = collect(alice, 'message');
  await bob.send(g.conversation_id, 'first'); // seq 1
  await got.wait(1);
  await alice.addParticipant(g.conversation_id, carol.userId); // seq 2, not sent to alice's device
  await bob.send(g.conversation_id, 'third'); // seq 3: a gap at 2
  await got.wait(3);
  assert.deepEqual(got.items.map((m) => m.sequence_number), [1, 2, 3]);
  assert.equal(got.items[1].message_type, 'system');
  assert.equal(alice.cursor(g.conversation_id), 3);
  // Own messages move the cursor without a message event.
  await alice.send(g.conversation_id, 'mine'); // seq 4
  await bob.send(g.conversation_id, 'fifth'); // seq 5
  await got.wait(4);
  assert.deepEqual(got.items.map((m) => m.sequence_number), [1, 2, 3, 5]);
});

test('presence and typing', T, async () => {
  const alice = await online('alice');
  const dave = await user(server, 'dave');
  clients.push(dave);
  // No conversation between them: Alice asks to follow Dave.
  const first = next(alice, 'presence', (p) => p.user_id === dave.userId);
  alice.subscribePresence([dave.userId]);
  assert.equal((await first).status, 'offline');
  const up = next(alice, 'presence', (p) => p.user_id === dave.userId && p.status === 'online');
  await dave.connect();
  await up;
  assert.equal((await alice.presence(dave.userId)).status, 'online');

  const conv = await alice.createDirect(dave.userId);
  const composing = next(dave, 'typing', (t) => t.state === 'composing');
  alice.setTyping(conv.conversation_id, true);
  const t = await composing;
  assert.equal(t.user_id, alice.userId);
  assert.equal(t.conversation_id, conv.conversation_id);
  const paused = next(dave, 'typing', (x) => x.state === 'paused');
  alice.setTyping(conv.conversation_id, false);
  await paused;
});

test('contacts: add shows a presence kept for contacts, live; list; remove hides it; errors', T, async () => {
  const bob = await online('bob');
  await bob.updateSettings({ online_visibility: 'contacts', last_seen_visibility: 'contacts' });
  const dave = await online('dave');
  const hidden = next(dave, 'presence', (p) => p.user_id === bob.userId);
  dave.subscribePresence([bob.userId]);
  assert.equal((await hidden).status, 'offline');

  const shown = next(dave, 'presence', (p) => p.user_id === bob.userId && p.status === 'online');
  await bob.addContact(dave.userId);
  await shown;
  await bob.addContact(dave.userId); // idempotent
  const list = await bob.contacts();
  assert.deepEqual(list.map((c) => [c.user_id, c.display_name]), [[dave.userId, 'dave']]);
  assert.equal(typeof list[0].added_at, 'number');
  assert.deepEqual(await dave.contacts(), []);

  const gone = next(dave, 'presence', (p) => p.user_id === bob.userId && p.status === 'offline');
  await bob.removeContact(dave.userId);
  assert.equal((await gone).last_seen, undefined);
  await bob.removeContact(dave.userId); // idempotent
  assert.deepEqual(await bob.contacts(), []);
  assert.equal((await dave.presence(bob.userId)).status, 'offline');

  await assert.rejects(bob.addContact(bob.userId), { status: 422, code: 'invalid' });
  await assert.rejects(bob.addContact('01JD3Y2B4D6F8H0K2M4P6R8T0V'), { status: 404, code: 'not_found' });
});

test('groups: description, settings, only admins send, invite links', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const carol = await online('carol');
  const g = await alice.createGroup('Book club', [bob.userId], { description: 'one a month' });
  assert.equal(g.description, 'one a month');
  const changed = next(bob, 'message', (m) => m.message_type === 'system' && JSON.parse(m.content).event === 'settings_changed');
  const u = await alice.updateGroup(g.conversation_id, { only_admins_send: true });
  assert.equal(u.only_admins_send, true);
  assert.equal(JSON.parse((await changed).content).only_admins_send, true);
  await assert.rejects(bob.updateGroup(g.conversation_id, { only_admins_send: false }), { status: 403, code: 'forbidden' });
  await assert.rejects(bob.send(g.conversation_id, 'may I?'), (e) => e instanceof ParleyError && e.code === 'forbidden');

  const inv = await alice.createInvite(g.conversation_id);
  assert.ok(inv.code.length >= 22);
  assert.deepEqual((await alice.invites(g.conversation_id)).map((i) => i.code), [inv.code]);
  assert.deepEqual(await carol.previewInvite(inv.code), { name: 'Book club', description: 'one a month', member_count: 2 });
  const joined = await carol.joinByInvite(inv.code);
  assert.equal(joined.participants.length, 3);
  await alice.revokeInvite(g.conversation_id, inv.code);
  await assert.rejects(carol.previewInvite(inv.code), { status: 404, code: 'not_found' });
  await assert.rejects(bob.createInvite(g.conversation_id), { status: 403, code: 'forbidden' });
});

test('blocking: the blocked one is acked and told nothing, the blocker gets nothing; unblock brings what follows, past the hole', T, async () => {
  const alice = await online('blocked');
  const bob = await online('blocker');
  const conv = await alice.createDirect(bob.userId);
  const first = next(bob, 'message');
  await alice.send(conv.conversation_id, 'before');
  assert.equal((await first).content, 'before');

  await bob.block(alice.userId);
  await bob.block(alice.userId); // idempotent
  assert.deepEqual((await bob.blocks()).map((b) => b.user_id), [alice.userId]);
  const held = await alice.send(conv.conversation_id, 'while blocked');
  assert.equal(held.sequence_number, 2);
  assert.deepEqual((await bob.history(conv.conversation_id)).map((m) => m.content), ['before']);
  assert.deepEqual(await alice.blocks(), []);

  await bob.unblock(alice.userId);
  // Bob's client sees 3 after 1: it looks for 2 in history, does not find
  // it, and moves on.
  const third = next(bob, 'message');
  await alice.send(conv.conversation_id, 'after');
  const m = await third;
  assert.equal(m.content, 'after');
  assert.equal(m.sequence_number, 3);
  assert.deepEqual(await bob.blocks(), []);

  await assert.rejects(bob.block(bob.userId), { status: 422, code: 'invalid' });
  await assert.rejects(bob.block('01JD3Y2B4D6F8H0K2M4P6R8T0V'), { status: 404, code: 'not_found' });
});

test('profiles: about and avatar, their visibility, the profile event, a group avatar', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const carol = await online('carol');
  await alice.createDirect(bob.userId); // alice chose bob
  const heard = next(bob, 'profile', (f) => f.user_id === alice.userId);
  const me = await alice.updateProfile({ display_name: 'Alice L.', about: 'at the gym' });
  assert.equal(me.about, 'at the gym');
  assert.equal((await heard).display_name, 'Alice L.');
  await assert.rejects(alice.updateProfile({ about: 'x'.repeat(141) }), { status: 400, code: 'invalid' });
  await assert.rejects(alice.updateProfile({ about: 'two\nlines' }), { status: 400, code: 'invalid' });

  const withAvatar = await alice.setAvatar(png(200, 100), 'image/png');
  assert.ok(withAvatar.avatar && withAvatar.avatar.url_640 && withAvatar.avatar.url_96);
  const seen = await bob.user(alice.userId);
  assert.equal(seen.avatar && seen.avatar.avatar_id, withAvatar.avatar.avatar_id);
  const res = await fetch(seen.avatar.url_96);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');

  await alice.updateSettings({ avatar_visibility: 'contacts', about_visibility: 'nobody' });
  assert.equal((await bob.user(alice.userId)).about, undefined);
  assert.ok((await bob.user(alice.userId)).avatar);
  assert.equal((await carol.user(alice.userId)).avatar, undefined);
  assert.equal((await alice.user(alice.userId)).about, 'at the gym');
  assert.equal((await alice.removeAvatar()).avatar, undefined);

  const g = await alice.createGroup('club', [bob.userId]);
  const withGroupAvatar = await bob.setGroupAvatar(g.conversation_id, png(64, 64), 'image/png');
  assert.ok(withGroupAvatar.avatar);
  assert.ok((await alice.conversation(g.conversation_id)).avatar);
  await assert.rejects(carol.api.setGroupAvatar(g.conversation_id, 'x'), { status: 403, code: 'forbidden' });
  await bob.removeGroupAvatar(g.conversation_id);
  assert.equal((await alice.conversation(g.conversation_id)).avatar, undefined);
});

test('mentions: sent, delivered each once, counted as unread_mentions; a non-member refused', T, async () => {
  const alice = await online('mentioner');
  const bob = await online('mentioned');
  const carol = await user(server, 'outsider');
  clients.push(carol);
  const g = await alice.createGroup('m', [bob.userId]);
  const got = next(bob, 'message', (m) => m.conversation_id === g.conversation_id && m.message_type === 'text');
  await alice.send(g.conversation_id, 'hi @bob', { mentions: [bob.userId, bob.userId] });
  assert.deepEqual((await got).mentions, [bob.userId]);
  const entry = (await bob.conversations()).find((c) => c.conversation_id === g.conversation_id);
  assert.equal(entry && entry.unread_mentions, 1);
  await assert.rejects(alice.send(g.conversation_id, 'hi @carol', { mentions: [carol.userId] }), { code: 'invalid' });
});

test('pins: an admin pins up to three, a member of a group may not, unpin', T, async () => {
  const alice = await online('pinner');
  const bob = await online('pinmember');
  const g = await alice.createGroup('pins', [bob.userId]);
  const ids = [];
  for (const text of ['one', 'two', 'three', 'four']) ids.push((await alice.send(g.conversation_id, text)).message_id);
  await assert.rejects(bob.pin(g.conversation_id, ids[0]), { status: 403, code: 'forbidden' });
  for (const id of ids.slice(0, 3)) await alice.pin(g.conversation_id, id);
  await assert.rejects(alice.pin(g.conversation_id, ids[3]), { status: 422, code: 'invalid' });
  await alice.unpin(g.conversation_id, ids[0]);
  assert.deepEqual((await bob.conversation(g.conversation_id)).pinned, ids.slice(1, 3));
});

test('forward: a message of another chat arrives forwarded; one never seen is refused', T, async () => {
  const alice = await online('forwarder');
  const bob = await online('fwdsource');
  const carol = await online('fwdtarget');
  const ab = await alice.createDirect(bob.userId);
  const ac = await alice.createDirect(carol.userId);
  const got = next(alice, 'message', (m) => m.conversation_id === ab.conversation_id);
  await bob.send(ab.conversation_id, 'pass it on');
  const src = await got;
  const fwd = next(carol, 'message', (m) => m.conversation_id === ac.conversation_id);
  await alice.forward(src, ac.conversation_id);
  const m = await fwd;
  assert.equal(m.forwarded, 1);
  assert.equal(m.content, 'pass it on');
  const bc = await carol.createDirect(bob.userId);
  await assert.rejects(carol.send(bc.conversation_id, 'x', { forwardOf: src.message_id }), { code: 'invalid' });
});

test('disappearing messages: any member of a 1:1 turns them on, new messages carry expires_at, bad values refused', T, async () => {
  const alice = await online('vanisher');
  const bob = await online('vanishee');
  const conv = await alice.createDirect(bob.userId);
  await assert.rejects(bob.setDisappearing(conv.conversation_id, 3600), { status: 400, code: 'invalid' });
  const note = next(alice, 'message', (m) => m.message_type === 'system');
  const c = await bob.setDisappearing(conv.conversation_id, 86400);
  assert.equal(c.disappearing_seconds, 86400);
  assert.match((await note).content, /"event":"disappearing_changed"/);
  const got = next(bob, 'message', (m) => m.message_type === 'text');
  await alice.send(conv.conversation_id, 'gone tomorrow');
  const m = await got;
  assert.equal(m.expires_at, m.created_at + 86400 * 1000);
});

test('media: upload a PNG, complete, send it, the other fetches it', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const conv = await alice.createDirect(bob.userId);
  const bytes = png(64, 48);
  const media = await alice.uploadMedia(bytes, 'image/png');
  assert.equal(media.status, 'ready');
  assert.equal(media.kind, 'image');
  assert.equal(media.width, 64);
  assert.equal(media.height, 48);
  assert.ok(media.url && media.thumbnail_url);
  const got = next(bob, 'message');
  await alice.send(conv.conversation_id, '', { messageType: 'image', mediaId: media.media_id });
  assert.equal((await got).media_id, media.media_id);
  const seen = await bob.media(media.media_id);
  assert.equal(seen.status, 'ready');
  const file = await fetch(/** @type {string} */ (seen.url));
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-type'), 'image/png');
  // Step by step, with an error: bytes that are not what was declared.
  const up = await alice.createUpload('image/png', 4);
  await alice.putUpload(up, new Uint8Array([1, 2, 3, 4]), 'image/png');
  await assert.rejects(alice.completeUpload(up.media_id), { status: 422, code: 'invalid' });
  await assert.rejects(alice.createUpload('application/x-evil', 10), { status: 400, code: 'invalid' });
});

test('reactions, edits and deletions: told to every device, refusals reject the call', T, async () => {
  const alice = await online('alice');
  const bob = await online('bob');
  const conv = await alice.createDirect(bob.userId);
  const cid = conv.conversation_id;
  const bobGets = next(bob, 'message');
  const ack = await alice.send(cid, 'aGVsbG8=');
  const mid = ack.message_id;
  await bobGets;

  // Bob reacts: his call resolves with his frame, Alice hears of it.
  const aliceSees = next(alice, 'reaction', (r) => r.message_id === mid);
  const r = await bob.react(mid, '👍');
  assert.equal(r?.user_id, bob.userId);
  assert.equal(r?.emoji, '👍');
  const seen = await aliceSees;
  assert.deepEqual([seen.user_id, seen.emoji, seen.conversation_id], [bob.userId, '👍', cid]);
  let h = await alice.history(cid);
  assert.deepEqual(h[0].reactions, [{ emoji: '👍', count: 1, user_ids: [bob.userId] }]);
  // Removed with "".
  const removed = next(alice, 'reaction', (x) => x.message_id === mid && x.emoji === '');
  assert.equal((await bob.react(mid, ''))?.emoji, '');
  await removed;
  await assert.rejects(bob.react(mid, 'ok'), { code: 'invalid' }); // refused before it leaves
  await assert.rejects(bob.react('01JD3Y8A1B2C3D4E5F6G7H8J9K', '👍'), (e) => e instanceof ParleyError && e.code === 'not_found');

  // Alice edits her message: Bob gets messageEdited.
  const bobEdit = next(bob, 'messageEdited', (e) => e.message_id === mid);
  const ed = await alice.edit(mid, 'aGVsbG8h');
  assert.equal(ed.content, 'aGVsbG8h');
  const be = await bobEdit;
  assert.equal(be.content, 'aGVsbG8h');
  assert.equal(be.sender_id, alice.userId);
  h = await bob.history(cid);
  assert.equal(h[0].content, 'aGVsbG8h');
  assert.equal(h[0].edited_at, be.edited_at);
  // Bob may not edit it; the refusal is the call's, not an error event.
  let stray = null;
  const offErr = bob.on('error', (e) => { stray = e; });
  await assert.rejects(bob.edit(mid, 'aGFjaw=='), (e) => e instanceof ParleyError && e.code === 'forbidden');
  offErr();
  assert.equal(stray, null);

  // Delete for me: only Bob's devices hear; Alice's history keeps it.
  const bobGetsSecond = next(bob, 'message', (m) => m.content === 'dHdv');
  const second = await alice.send(cid, 'dHdv');
  await bobGetsSecond;
  const hid = await bob.deleteMessage(second.message_id, 'me');
  assert.deepEqual([hid.for, hid.deleted_by], ['me', bob.userId]);
  assert.ok(!(await bob.history(cid)).some((m) => m.message_id === second.message_id));
  assert.ok((await alice.history(cid)).some((m) => m.message_id === second.message_id));

  // Delete for everyone: Bob gets messageDeleted, history shows a tombstone.
  await assert.rejects(bob.deleteMessage(mid, 'everyone'), { code: 'forbidden' });
  const bobDel = next(bob, 'messageDeleted', (d) => d.message_id === mid);
  const del = await alice.deleteMessage(mid, 'everyone');
  assert.equal(del.for, 'everyone');
  const bd = await bobDel;
  assert.deepEqual([bd.for, bd.deleted_by, bd.conversation_id], ['everyone', alice.userId, cid]);
  h = await bob.history(cid);
  const tomb = h.find((m) => m.message_id === mid);
  assert.equal(tomb?.deleted, true);
  assert.equal(tomb?.content, '');

  // Not connected: refused at once.
  bob.disconnect();
  await assert.rejects(bob.react(second.message_id, '👍'), { code: 'offline' });
});
