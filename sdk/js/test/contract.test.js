// The contract table (wire/testdata/contract.json) through the SDK: the
// same rows the Go wire package and the server check, so the three cannot
// drift apart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Api, ParleyError, decodeServerFrame, encodeClientFrame } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const table = JSON.parse(readFileSync(path.resolve(here, '..', '..', '..', 'wire', 'testdata', 'contract.json'), 'utf8'));

test('client frames re-encode to themselves', async (t) => {
  assert.ok(table.client_frames.length > 0);
  for (const row of table.client_frames) {
    await t.test(row.name, () => {
      assert.deepEqual(JSON.parse(encodeClientFrame(row.frame)), row.frame);
    });
  }
});

test('refused client frames are refused by the SDK before they leave', async (t) => {
  for (const row of table.refused_client_frames) {
    await t.test(row.name, (t) => {
      let frame = row.frame;
      if (row.raw !== undefined) {
        // The SDK encodes objects, so text it could never produce (trailing
        // data after the object) is not its concern; what parses is offered.
        try {
          frame = JSON.parse(row.raw);
        } catch {
          t.skip('raw text the SDK cannot produce');
          return;
        }
      }
      assert.throws(() => encodeClientFrame(frame), (err) => err instanceof ParleyError && err.code === row.code);
    });
  }
});

test('server frames decode to typed frames that re-encode to themselves', async (t) => {
  for (const row of table.server_frames) {
    await t.test(row.name, () => {
      const f = decodeServerFrame(JSON.stringify(row.frame));
      assert.equal(f.type, row.frame.type);
      assert.deepEqual(JSON.parse(JSON.stringify(f)), row.frame);
    });
  }
});

test('a server frame of an unknown type is surfaced, a broken one refused', () => {
  const f = decodeServerFrame('{"type":"teleport","to":"mars"}');
  assert.deepEqual(f, { type: 'unknown', wire_type: 'teleport', frame: { type: 'teleport', to: 'mars' } });
  assert.throws(() => decodeServerFrame('{"type":"reaction","emoji":"👍"}'), { code: 'invalid' });
  assert.throws(() => decodeServerFrame('{"type":"message","message_id":"m","conversation_id":"c","sender_id":"s","sequence_number":1,"message_type":"text","content":"","created_at":1,"deleted":"yes"}'), { code: 'invalid' });
  assert.throws(() => decodeServerFrame('{"type":"message_ack","client_message_id":"c"}'), { code: 'invalid' });
  assert.throws(() => decodeServerFrame('[1]'), { code: 'invalid' });
  assert.throws(() => decodeServerFrame('nope'), { code: 'invalid' });
  // Unknown fields of a known type are kept.
  assert.deepEqual(decodeServerFrame('{"type":"heartbeat_ack","server_time":1,"extra":true}'), { type: 'heartbeat_ack', server_time: 1, extra: true });
});

/** The Api method that makes a row's call, with placeholder arguments. */
const calls = {
  'POST /api/v1/users': (api, r) => api.register(r.username, r.password, r.display_name),
  'POST /api/v1/sessions': (api, r) => api.login(r.username, r.password, r.device_name ? { deviceName: r.device_name } : undefined),
  'DELETE /api/v1/sessions/current': (api) => api.logout(),
  'GET /api/v1/sessions': (api) => api.sessions().then((sessions) => ({ sessions })),
  'DELETE /api/v1/sessions/{session_id}': (api) => api.endSession('x'),
  'DELETE /api/v1/sessions': (api) => api.endOtherSessions(),
  'POST /api/v1/bots': (api, r) => api.createBot(r.username, r.display_name),
  'GET /api/v1/bots': (api) => api.bots().then((bots) => ({ bots })),
  'POST /api/v1/bots/{id}/key': (api) => api.rotateBotKey('x'),
  'DELETE /api/v1/bots/{id}/key': (api) => api.revokeBotKey('x'),
  'DELETE /api/v1/bots/{id}': (api) => api.deleteBot('x'),
  'PUT /api/v1/bots/{id}/webhook': (api, r) => api.setWebhook('x', r.url),
  'GET /api/v1/bots/{id}/webhook': (api) => api.webhook('x'),
  'DELETE /api/v1/bots/{id}/webhook': (api) => api.deleteWebhook('x'),
  'GET /api/v1/bots/{id}/deliveries': (api) => api.webhookDeliveries('x').then((deliveries) => ({ deliveries })),
  'PUT /api/v1/users/me/password': (api, r) => api.changePassword(r.current_password, r.new_password),
  'GET /api/v1/users': (api) => api.findUser('bob'),
  'GET /api/v1/users/{id}': (api) => api.user('x'),
  'GET /api/v1/users/{id}/presence': (api) => api.presence('x'),
  'GET /api/v1/users/me/settings': (api) => api.settings(),
  'GET /api/v1/users/me/contacts': (api) => api.contacts().then((contacts) => ({ contacts })),
  'PUT /api/v1/users/me/contacts/{user_id}': (api) => api.addContact('x'),
  'DELETE /api/v1/users/me/contacts/{user_id}': (api) => api.removeContact('x'),
  'GET /api/v1/users/me/blocks': (api) => api.blocks().then((blocks) => ({ blocks })),
  'PUT /api/v1/users/me/blocks/{user_id}': (api) => api.block('x'),
  'DELETE /api/v1/users/me/blocks/{user_id}': (api) => api.unblock('x'),
  'PATCH /api/v1/users/me/settings': (api, r) => api.updateSettings(r),
  'PATCH /api/v1/users/me/profile': (api, r) => api.updateProfile(r),
  'PUT /api/v1/conversations/{id}/avatar': (api, r) => api.setGroupAvatar('x', r.media_id),
  'DELETE /api/v1/conversations/{id}/avatar': (api) => api.removeGroupAvatar('x'),
  'PUT /api/v1/conversations/{id}/disappearing': (api, r) => api.setDisappearing('x', r.seconds),
  'POST /api/v1/conversations': (api, r) => (r.type === 'group'
    ? api.createGroup(r.name, r.participants, r.description ? { description: r.description } : undefined)
    : api.createDirect(r.participants[0])),
  'POST /api/v1/conversations/{id}/participants': (api, r) => api.addParticipant('x', r.user_id),
  'PATCH /api/v1/conversations/{id}': (api, r) => api.updateGroup('x', r),
  'POST /api/v1/conversations/{id}/invites': (api) => api.createInvite('x'),
  'GET /api/v1/conversations/{id}/invites': (api) => api.invites('x').then((invites) => ({ invites })),
  'DELETE /api/v1/conversations/{id}/invites/{code}': (api) => api.revokeInvite('x', 'c'),
  'GET /api/v1/invites/{code}': (api) => api.previewInvite('c'),
  'POST /api/v1/invites/{code}/join': (api) => api.joinByInvite('c'),
  'GET /api/v1/conversations': (api) => api.conversations().then((conversations) => ({ conversations })),
  'GET /api/v1/conversations/{id}/participants': (api) => api.participants('x').then((participants) => ({ participants })),
  'GET /api/v1/conversations/{id}/messages': (api) => api.history('x').then((messages) => ({ messages })),
  'POST /api/v1/conversations/{id}/messages': (api, r) => api.postMessage('x', r, { idempotencyKey: 'c-1' }),
  'POST /api/v1/conversations/{id}/read': (api, r) => api.markRead('x', r.message_ids),
  'POST /api/v1/messages/delivered': (api, r) => api.markDelivered(r.message_ids),
  'GET /api/v1/messages/{id}/status': (api) => api.messageStatus('x'),
  'GET /api/v1/messages/{id}/trace': (api) => api.trace('x'),
  'POST /api/v1/media': (api, r) => api.createUpload(r.content_type, r.size),
  'GET /api/v1/media/{id}': (api) => api.media('x'),
  'POST /api/v1/media/{id}/complete': (api) => api.completeUpload('x'),
  'GET /api/v1/server': (api) => api.server(),
  'GET /api/v1/push/vapid': (api) => api.vapidKey().then((public_key) => ({ public_key })),
  'POST /api/v1/push/subscriptions': (api, r) => api.subscribePush(r),
  'DELETE /api/v1/push/subscriptions': (api) => api.unsubscribePush(),
};

test('REST answers parse into the SDK results and errors', async (t) => {
  for (const row of table.rest) {
    await t.test(row.name, async () => {
      const call = calls[`${row.method} ${row.path}`];
      assert.ok(call, `no SDK call for ${row.method} ${row.path}`);
      let asked = null;
      const api = new Api({
        baseUrl: 'http://parley.test',
        token: () => 'tok',
        fetch: async (url, init) => {
          asked = { url, init };
          const body = row.response === undefined ? null : JSON.stringify(row.response);
          return new Response(body, { status: row.status, headers: { 'Content-Type': 'application/json' } });
        },
      });
      const run = call(api, row.request || {});
      if (row.status >= 400) {
        await assert.rejects(run, (err) => err instanceof ParleyError && err.status === row.status
          && err.code === row.response.error.code && err.message === row.response.error.message);
      } else if (row.status === 204) {
        assert.equal(await run, undefined);
      } else {
        assert.deepEqual(JSON.parse(JSON.stringify(await run)), row.response);
      }
      assert.equal(asked.init.method, row.method);
      if (row.request) assert.deepEqual(JSON.parse(asked.init.body), row.request);
    });
  }
});

test('postMessage sends its Idempotency-Key, makes one when given none, and refuses a bad message before it leaves', async () => {
  /** @type {string[]} */
  const keys = [];
  const api = new Api({
    baseUrl: 'http://parley.test',
    token: () => 'tok',
    fetch: async (url, init) => {
      keys.push(init.headers['Idempotency-Key']);
      return new Response(JSON.stringify({}), { status: 201, headers: { 'Content-Type': 'application/json' } });
    },
  });
  await api.postMessage('x', { message_type: 'text', content: 'aGk=' }, { idempotencyKey: 'k-1' });
  await api.postMessage('x', { message_type: 'text', content: 'aGk=' });
  await api.postMessage('x', { message_type: 'text', content: 'aGk=' });
  assert.equal(keys[0], 'k-1');
  assert.match(keys[1], /^[0-9a-f]{32}$/);
  assert.notEqual(keys[1], keys[2]);
  await assert.rejects(api.postMessage('x', { message_type: /** @type {any} */ ('poem'), content: '' }), { code: 'invalid' });
  await assert.rejects(api.postMessage('x', { message_type: 'text', content: '' }, { idempotencyKey: 'k'.repeat(129) }), { code: 'invalid' });
  assert.equal(keys.length, 3);
});
