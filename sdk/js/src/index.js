// Parley's JavaScript SDK: the HTTP API and the WebSocket protocol of
// docs/PROTOCOL.md behind one client object. Plain ES modules with no
// dependencies, run as they are in a browser and in Node 20 or newer.

import { Api, newClientMessageId } from './api.js';
import { systemClock } from './clock.js';
import { Connection } from './connection.js';
import { Cursors } from './cursors.js';
import { ParleyError } from './errors.js';
import { Emitter } from './events.js';
import { Outbox } from './outbox.js';
import { decodeServerFrame, encodeClientFrame, MAX_IDS } from './wire.js';

export { Api, errorFromBody, newClientMessageId } from './api.js';
export { systemClock } from './clock.js';
export { Connection, CLOSE_SESSION_ENDED, CLOSE_TOO_SLOW, CLOSE_GOING_AWAY, CLOSE_INTERNAL } from './connection.js';
export { Cursors } from './cursors.js';
export { ParleyError, WIRE_CODES, isRetryableSendError } from './errors.js';
export { Emitter } from './events.js';
export { Outbox, DEFAULT_RESEND_MS } from './outbox.js';
export { encodeClientFrame, decodeServerFrame, isEmoji, CLIENT_MESSAGE_TYPES, MAX_IDS, MAX_ID_BYTES, FORWARDED_MANY_TIMES, DISAPPEARING_OPTIONS, EDIT_WINDOW_MS, DELETE_WINDOW_MS } from './wire.js';

/** @typedef {import('./api.js').User} User */
/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').Presence} Presence */
/** @typedef {import('./api.js').Settings} Settings */
/** @typedef {import('./api.js').Participant} Participant */
/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').MessageStatus} MessageStatus */
/** @typedef {import('./api.js').MessageTrace} MessageTrace */
/** @typedef {import('./api.js').TraceRecipient} TraceRecipient */
/** @typedef {import('./api.js').TraceDevice} TraceDevice */
/** @typedef {import('./api.js').HistoryQuery} HistoryQuery */
/** @typedef {import('./api.js').MediaUpload} MediaUpload */
/** @typedef {import('./api.js').Media} Media */
/** @typedef {import('./api.js').ServerInfo} ServerInfo */
/** @typedef {import('./api.js').PushSubscriptionJSON} PushSubscriptionJSON */
/** @typedef {import('./api.js').PushNotice} PushNotice */
/** @typedef {import('./api.js').UploadBody} UploadBody */
/** @typedef {import('./api.js').FetchFn} FetchFn */
/** @typedef {import('./api.js').SessionInfo} SessionInfo */
/** @typedef {import('./api.js').BotKey} BotKey */
/** @typedef {import('./api.js').Bot} Bot */
/** @typedef {import('./api.js').Webhook} Webhook */
/** @typedef {import('./api.js').WebhookDelivery} WebhookDelivery */
/** @typedef {import('./api.js').LoginOptions} LoginOptions */
/** @typedef {import('./api.js').Contact} Contact */
/** @typedef {import('./api.js').GroupUpdate} GroupUpdate */
/** @typedef {import('./api.js').Invite} Invite */
/** @typedef {import('./api.js').InvitePreview} InvitePreview */
/** @typedef {import('./api.js').Block} Block */
/** @typedef {import('./api.js').Avatar} Avatar */
/** @typedef {import('./api.js').ProfileUpdate} ProfileUpdate */
/** @typedef {import('./wire.js').ProfileFrame} ProfileFrame */
/** @typedef {import('./clock.js').Clock} Clock */
/** @typedef {import('./connection.js').ConnectionState} ConnectionState */
/** @typedef {import('./connection.js').ConnectionOptions} ConnectionOptions */
/** @typedef {import('./connection.js').WebSocketConstructor} WebSocketConstructor */
/** @typedef {import('./outbox.js').PendingMessage} PendingMessage */
/** @typedef {import('./wire.js').Message} Message */
/** @typedef {import('./wire.js').Quote} Quote */
/** @typedef {import('./wire.js').ClientMessageType} ClientMessageType */
/** @typedef {import('./wire.js').MessageAckFrame} MessageAckFrame */
/** @typedef {import('./wire.js').StatusFrame} StatusFrame */
/** @typedef {import('./wire.js').PresenceFrame} PresenceFrame */
/** @typedef {import('./wire.js').IncomingTypingFrame} IncomingTypingFrame */
/** @typedef {import('./wire.js').ServerFrame} ServerFrame */
/** @typedef {import('./wire.js').UnknownFrame} UnknownFrame */
/** @typedef {import('./wire.js').ClientFrame} ClientFrame */
/** @typedef {import('./wire.js').ReactionCount} ReactionCount */
/** @typedef {import('./wire.js').DeleteFor} DeleteFor */
/** @typedef {import('./wire.js').IncomingReactionFrame} IncomingReactionFrame */
/** @typedef {import('./wire.js').MessageEditedFrame} MessageEditedFrame */
/** @typedef {import('./wire.js').MessageDeletedFrame} MessageDeletedFrame */
/** @typedef {import('./wire.js').ErrorFrame} ErrorFrame */
/**
 * A react(), edit() or deleteMessage() waiting for the server's frame.
 * @typedef {object} PendingUpdate
 * @property {(f: any) => boolean} matches whether a frame of its kind for its message is its answer
 * @property {(f: any) => void} resolve
 * @property {(err: ParleyError) => void} reject
 * @property {unknown} timer
 */

/**
 * The events of a Parley client and what their listeners receive.
 * @typedef {object} ParleyEvents
 * @property {Message} message a message from someone else (or from another of one's devices), once, in sequence order per conversation: live, or fetched from history to fill a gap
 * @property {MessageAckFrame} ack one of this client's messages is stored (its send() promise resolves with the same)
 * @property {StatusFrame} status a recipient received, read, or will never get (expired) one of one's messages
 * @property {PresenceFrame} presence
 * @property {IncomingTypingFrame} typing
 * @property {ProfileFrame} profile a user's profile changed (one's own or a contact's): fetch it again with user()
 * @property {IncomingReactionFrame} reaction a member (this user included, from any device) set, changed or removed (emoji "") its reaction to a message; may come again after a reconnect: apply it idempotently
 * @property {MessageEditedFrame} messageEdited a message's content changed; may repeat after a reconnect
 * @property {MessageDeletedFrame} messageDeleted a message was deleted for everyone (now a tombstone) or, `for` 'me', hidden on this user's devices; may repeat after a reconnect
 * @property {ParleyError} error an error frame not tied to a send, a frame that could not be decoded, or a failed gap fill
 * @property {ConnectionState} state
 * @property {{reason: string}} sessionEnded the session is over (close 4001, a 401, or logout()): log in again
 * @property {ServerFrame|UnknownFrame} frame every decoded server frame, before the SDK acts on it
 */

/**
 * @typedef {object} ParleyOptionsOwn
 * @property {string} [baseUrl] the server, e.g. http://127.0.0.1:8080; in a browser, the page's origin by default
 * @property {string} [token] a session token from an earlier login
 * @property {string} [userId] the token's user
 * @property {WebSocketConstructor} [WebSocket] default globalThis.WebSocket (Node 20 has none: pass the `ws` package's)
 * @property {FetchFn} [fetch] default globalThis.fetch
 * @property {Clock} [clock] default the system clock; tests pass their own
 * @property {Record<string, number>} [cursors] cursors saved from cursors() in an earlier run
 * @property {(reason: string) => void} [onSessionEnded] the same as on('sessionEnded')
 * @property {number} [ackDelayMs] default 50: delivery acks of messages arriving together go in one frame
 * @property {number} [typingRefreshMs] default 3 000: a repeated setTyping(id, true) is sent again at most this often (the server ends a composing state not refreshed within 6 s)
 * @property {number} [historyPage] default 500: messages per history request while filling a gap
 * @property {boolean} [catchUpOnConnect] default true: on every connection, fetch the conversation list and fill the conversations ahead of their cursors; an app that fetches the list itself on connecting sets false and passes it to catchUp(list)
 * @property {StorageLike} [storage] where the outbox and the cursors are kept across reloads (a browser's localStorage fits); default none: in memory only
 * @property {string} [storageKey] default 'parley.': the prefix of the storage keys, `${storageKey}outbox.${userId}` and `${storageKey}cursors.${userId}`
 * @property {number} [updateTimeoutMs] default 30 000: how long react(), edit() and deleteMessage() wait for the server's answer before rejecting with code `timeout` (the change may still have been made: its event tells)
 */
/**
 * What the SDK needs of a storage: the Web Storage API's getItem and
 * setItem (removeItem when there is one).
 * @typedef {object} StorageLike
 * @property {(key: string) => string|null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} [removeItem]
 */
/** @typedef {ParleyOptionsOwn & ConnectionOptions} ParleyOptions */

/**
 * @typedef {object} SendOptions
 * @property {ClientMessageType} [messageType] default 'text'
 * @property {string} [mediaId] a media_id from uploadMedia()
 * @property {string} [replyTo] the message_id of a message of the same conversation this one answers; the delivered message carries it as reply_to with a quote. One the server cannot take (unknown, of another conversation, from before one joined, a system message) rejects the send with code `invalid`
 * @property {string[]} [mentions] user ids of members of the conversation the message names (at most 100); delivered as mentions, and counted in each one's unread_mentions. Naming anyone else rejects the send with code `invalid`
 * @property {string} [forwardOf] the message_id, of any conversation one can see, that this one forwards: it is delivered with `forwarded` one more than its source's. A message one cannot see (or a system, deleted or expired one) rejects the send with code `invalid`; a second forward of a message forwarded many times within 10 s is refused with `rate_limited` and sent again after the wait
 * @property {string} [clientMessageId] the idempotency key; give the one of a message sent before (saved from pending()) to send it again, else a new one is made
 */

export class Parley {
  /** @param {ParleyOptions} [opts] */
  constructor(opts = {}) {
    const loc = /** @type {any} */ (globalThis).location;
    const baseUrl = opts.baseUrl ?? (loc && loc.origin);
    if (!baseUrl) throw new TypeError('Parley: baseUrl is required outside a browser page');
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    /** @type {string|null} */
    this.token = opts.token ?? null;
    /** @type {string|null} */
    this.userId = opts.userId ?? null;
    /** @type {string|null} */
    this.deviceId = null;
    this.clock = opts.clock ?? systemClock;
    this.ackDelayMs = opts.ackDelayMs ?? 50;
    this.typingRefreshMs = opts.typingRefreshMs ?? 3_000;
    this.updateTimeoutMs = opts.updateTimeoutMs ?? 30_000;
    this.historyPage = opts.historyPage ?? 500;
    this.catchUpOnConnect = opts.catchUpOnConnect ?? true;
    this.storage = opts.storage ?? null;
    this.storageKey = opts.storageKey ?? 'parley.';
    /** @type {string|null} the user whose outbox and cursors were read from storage */
    this.restoredFor = null;
    this.cursorsDirty = false;
    this.onSessionEnded = opts.onSessionEnded;
    /** @type {Emitter<ParleyEvents>} */
    this.events = new Emitter();
    this.api = new Api({
      baseUrl: this.baseUrl,
      token: () => this.token,
      fetch: opts.fetch,
      onUnauthorized: () => this.sessionOver('unauthorized'),
    });
    // Without the option, the global is looked up at each connection, not
    // kept from now: a page whose WebSocket is replaced later (a test's
    // routing — Playwright's routeWebSocket patches it on a loaded page —
    // or an extension's shim) must open its sockets through the
    // replacement. Kept from construction, the web client's sockets
    // bypassed the e2e test's route after a server restart.
    const WS = opts.WebSocket ?? /** @type {WebSocketConstructor} */ (/** @type {unknown} */ (
      function GlobalWebSocket(/** @type {string} */ url) { return new (/** @type {any} */ (globalThis).WebSocket)(url); }));
    this.connection = new Connection({
      url: () => this.socketUrl(),
      WebSocket: WS,
      clock: this.clock,
      options: opts,
      onText: (t) => this.onText(t),
      onState: (s) => this.onState(s),
      onSessionEnded: (reason) => this.sessionOver(reason || 'session ended'),
      onDisconnect: ({ opened }) => this.onDisconnect(opened),
    });
    this.hasWebSocket = () => typeof (opts.WebSocket ?? /** @type {any} */ (globalThis).WebSocket) === 'function';
    this.outbox = new Outbox({
      clock: this.clock,
      send: (frame) => this.connection.send(encodeClientFrame(frame)),
      onChange: (gone) => this.savePending(gone),
    });
    /** @type {Cursors<Message>} */
    this.cursorSet = new Cursors(opts.cursors);
    /** @type {string[]} */
    this.ackQueue = [];
    /** @type {unknown} */
    this.ackTimer = null;
    /** @type {Array<{conversation_id: string, message_ids: string[]}>} read receipts waiting for a connection */
    this.readQueue = [];
    /** @type {Set<string>} */
    this.presenceSubs = new Set();
    /** @type {Map<string, number>} conversation → when composing was last sent */
    this.composing = new Map();
    /** @type {Map<string, Promise<void>>} gap fills running */
    this.filling = new Map();
    /** @type {Set<string>} conversations to fill again once the running fill ends */
    this.fillAgain = new Set();
    /** @type {Set<string>} fills waiting for this client's own sends in the conversation to be acked */
    this.fillDeferred = new Set();
    /** @type {Map<string, PendingUpdate[]>} `${kind}:${message_id}` → react/edit/delete calls waiting, oldest first */
    this.updates = new Map();
    this.ended = false;
    if (this.token && this.userId) this.restore();
  }

  // ---- events ----

  /**
   * @template {keyof ParleyEvents} K
   * @param {K} type
   * @param {(arg: ParleyEvents[K]) => void} fn
   * @returns {() => void} removes the listener
   */
  on(type, fn) { return this.events.on(type, fn); }

  /**
   * @template {keyof ParleyEvents} K
   * @param {K} type
   * @param {(arg: ParleyEvents[K]) => void} fn
   * @returns {() => void} removes the listener
   */
  once(type, fn) { return this.events.once(type, fn); }

  /**
   * @template {keyof ParleyEvents} K
   * @param {K} type
   * @param {(arg: ParleyEvents[K]) => void} fn
   */
  off(type, fn) { this.events.off(type, fn); }

  // ---- accounts and sessions ----

  /**
   * Creates an account (it does not log in).
   * @param {string} username
   * @param {string} password
   * @param {string} [displayName]
   * @returns {Promise<User>}
   */
  register(username, password, displayName) { return this.api.register(username, password, displayName); }

  /**
   * Logs in: a new session (device) whose token this client keeps, in memory only.
   * @param {string} username
   * @param {string} password
   * @param {LoginOptions} [options]
   * @returns {Promise<Session>}
   */
  async login(username, password, options) {
    const s = await this.api.login(username, password, options);
    this.token = s.token;
    this.userId = s.user_id;
    this.deviceId = s.device_id;
    this.ended = false;
    this.restore();
    return s;
  }

  /**
   * Signs this session out on the server (its token stops working and its
   * connections close with 4001), then ends it here.
   * @returns {Promise<void>}
   */
  async logout() {
    if (this.token) await this.api.logout();
    this.sessionOver('signed out');
  }

  /**
   * This user's signed-in devices, most recently active first; `current`
   * marks this one.
   * @returns {Promise<SessionInfo[]>}
   */
  sessions() { return this.api.sessions(); }

  /**
   * Signs out one of this user's devices: its token stops working and its
   * connections close with 4001. Another user's session is `not_found`.
   * @param {string} sessionId a `session_id` of sessions()
   * @returns {Promise<void>}
   */
  endSession(sessionId) { return this.api.endSession(sessionId); }

  /**
   * Signs out every device of this user but this one.
   * @returns {Promise<void>}
   */
  endOtherSessions() { return this.api.endOtherSessions(); }

  // ---- bots ----
  // A bot runs as this client too, signed in with its API key:
  // new Parley({ baseUrl, token: key.api_key, userId: key.user_id }).

  /**
   * Creates a bot this user owns and returns its first API key, shown
   * this once. A bot may not create bots (`forbidden`).
   * @param {string} username checked as a registration's
   * @param {string} [displayName]
   * @returns {Promise<BotKey>}
   */
  createBot(username, displayName) { return this.api.createBot(username, displayName); }

  /**
   * This user's bots, oldest first, never their keys.
   * @returns {Promise<Bot[]>}
   */
  bots() { return this.api.bots(); }

  /**
   * A new API key for one of this user's bots: the old one stops working
   * at once and its connections close with 4001. Another's bot is `not_found`.
   * @param {string} botId
   * @returns {Promise<BotKey>}
   */
  rotateBotKey(botId) { return this.api.rotateBotKey(botId); }

  /**
   * Takes the bot's key away (its connections close with 4001) until the
   * next rotateBotKey.
   * @param {string} botId
   * @returns {Promise<void>}
   */
  revokeBotKey(botId) { return this.api.revokeBotKey(botId); }

  /**
   * Deletes one of this user's bots, as an account is deleted; its
   * username is free at once.
   * @param {string} botId
   * @returns {Promise<void>}
   */
  deleteBot(botId) { return this.api.deleteBot(botId); }

  /**
   * Points one of this user's bots' webhook at url (https, public) and
   * resolves with it and its signing secret, shown this once
   * (docs/PROTOCOL.md, "Webhooks").
   * @param {string} botId
   * @param {string} url
   * @returns {Promise<Webhook>}
   */
  setWebhook(botId, url) { return this.api.setWebhook(botId, url); }

  /**
   * The bot's webhook, without its secret.
   * @param {string} botId
   * @returns {Promise<Webhook>}
   */
  webhook(botId) { return this.api.webhook(botId); }

  /**
   * Removes the bot's webhook.
   * @param {string} botId
   * @returns {Promise<void>}
   */
  deleteWebhook(botId) { return this.api.deleteWebhook(botId); }

  /**
   * The bot's webhook events that failed at least once, newest first.
   * @param {string} botId
   * @param {'retrying'|'delivered'|'failed'} [status]
   * @returns {Promise<WebhookDelivery[]>}
   */
  webhookDeliveries(botId, status) { return this.api.webhookDeliveries(botId, status); }

  /**
   * Changes this user's password, given the current one; every other
   * device is signed out, this one stays. A wrong current password is
   * `unauthorized` (and counts as a failed login).
   * @param {string} current
   * @param {string} next 8 to 256 bytes
   * @returns {Promise<void>}
   */
  changePassword(current, next) { return this.api.changePassword(current, next); }

  /**
   * Deletes this user's account, given its password: irreversible. Every
   * session ends (this one's connection closes with 4001, reported as
   * `sessionEnded`); the messages it sent stay in others' histories. A
   * wrong password is `unauthorized` and changes nothing.
   * @param {string} password
   * @returns {Promise<void>}
   */
  deleteAccount(password) { return this.api.deleteAccount(password); }

  /**
   * This user's contacts, by display name: those it chose by starting or
   * writing in a 1:1, plus those it added, minus those it removed. Who may
   * see a presence kept for "contacts".
   * @returns {Promise<Contact[]>}
   */
  contacts() { return this.api.contacts(); }

  /**
   * Adds a user to this user's contacts, at once (open connections too).
   * Idempotent; an unknown user is `not_found`, oneself `invalid`.
   * @param {string} userId
   * @returns {Promise<void>}
   */
  addContact(userId) { return this.api.addContact(userId); }

  /**
   * Removes a user from this user's contacts, one from a 1:1 included,
   * until it is added again; idempotent.
   * @param {string} userId
   * @returns {Promise<void>}
   */
  removeContact(userId) { return this.api.removeContact(userId); }

  /**
   * The users this user blocks, most recent first.
   * @returns {Promise<Block[]>}
   */
  blocks() { return this.api.blocks(); }

  /**
   * Blocks a user, privately: its 1:1 messages to this user are acked to
   * it but never delivered, and neither sees the other's presence or
   * typing. Idempotent; an unknown user is `not_found`, oneself `invalid`.
   * @param {string} userId
   * @returns {Promise<void>}
   */
  block(userId) { return this.api.block(userId); }

  /**
   * Ends a block; what the user sent meanwhile stays withheld.
   * @param {string} userId
   * @returns {Promise<void>}
   */
  unblock(userId) { return this.api.unblock(userId); }

  /**
   * Changes this user's profile (display name, about, avatar) and answers
   * it whole; contacts and one's other devices get a `profile` event.
   * @param {ProfileUpdate} change
   * @returns {Promise<User>}
   */
  updateProfile(change) { return this.api.updateProfile(change); }

  /**
   * Uploads an image and makes it this user's avatar (a square centre
   * crop, 640 and 96 pixels, metadata stripped).
   * @param {import('./api.js').UploadBody} body
   * @param {string} contentType image/jpeg, image/png, image/gif or image/webp
   * @returns {Promise<User>}
   */
  async setAvatar(body, contentType) {
    const m = await this.uploadMedia(body, contentType);
    return this.api.updateProfile({ avatar_media_id: m.media_id });
  }

  /** @returns {Promise<User>} */
  removeAvatar() { return this.api.updateProfile({ avatar_media_id: '' }); }

  /**
   * Uploads an image and makes it the avatar of a group one is a member of.
   * @param {string} conversationId
   * @param {import('./api.js').UploadBody} body
   * @param {string} contentType
   * @returns {Promise<Conversation>}
   */
  async setGroupAvatar(conversationId, body, contentType) {
    const m = await this.uploadMedia(body, contentType);
    return this.api.setGroupAvatar(conversationId, m.media_id);
  }

  /** @param {string} conversationId @returns {Promise<void>} */
  removeGroupAvatar(conversationId) { return this.api.removeGroupAvatar(conversationId); }

  /**
   * Pins a message of a conversation: any member of a 1:1, an admin of a
   * group; at most 3 (`invalid` past that). The members get a `pinned`
   * system message.
   * @param {string} conversationId
   * @param {string} messageId
   * @returns {Promise<Conversation>}
   */
  pin(conversationId, messageId) { return this.api.pin(conversationId, messageId); }

  /** @param {string} conversationId @param {string} messageId @returns {Promise<void>} */
  unpin(conversationId, messageId) { return this.api.unpin(conversationId, messageId); }

  /**
   * Turns disappearing messages on or off: any member of a 1:1, an admin of
   * a group (`forbidden` otherwise). Each message sent after it carries
   * expires_at; the members get a `disappearing_changed` system message.
   * @param {string} conversationId
   * @param {number} seconds one of DISAPPEARING_OPTIONS: 0 (off), 86400, 604800, 7776000 (`invalid` otherwise)
   * @returns {Promise<Conversation>}
   */
  setDisappearing(conversationId, seconds) { return this.api.setDisappearing(conversationId, seconds); }

  // ---- the HTTP API ----

  /** @param {string} id @returns {Promise<User>} */
  user(id) { return this.api.user(id); }
  /**
   * Finds a user by its exact username (any case); 404 `not_found` when no
   * one has it or its owner hides from lookups by name.
   * @param {string} username
   * @returns {Promise<User>}
   */
  findUser(username) { return this.api.findUser(username); }
  /** @param {string} id @returns {Promise<Presence>} */
  presence(id) { return this.api.presence(id); }
  /** @returns {Promise<Settings>} */
  settings() { return this.api.settings(); }
  /** @param {Partial<Settings>} change @returns {Promise<Settings>} */
  updateSettings(change) { return this.api.updateSettings(change); }
  /** What the server can process now, and its limits. @returns {Promise<ServerInfo>} */
  serverInfo() { return this.api.server(); }
  /** The server's Web Push (VAPID) key, base64url. @returns {Promise<string>} */
  vapidKey() { return this.api.vapidKey(); }
  /**
   * Makes a browser push subscription this device's: messages arriving
   * while it is not connected are announced by pushes (never content).
   * @param {PushSubscriptionJSON | {toJSON(): any}} subscription @returns {Promise<void>}
   */
  subscribePush(subscription) { return this.api.subscribePush(subscription); }
  /** Removes this device's push subscription. @returns {Promise<void>} */
  unsubscribePush() { return this.api.unsubscribePush(); }
  /** @returns {Promise<Conversation[]>} newest activity first */
  conversations() { return this.api.conversations(); }
  /** @param {string} id @returns {Promise<Conversation>} */
  conversation(id) { return this.api.conversation(id); }
  /** @param {string} otherUserId @returns {Promise<Conversation>} */
  createDirect(otherUserId) { return this.api.createDirect(otherUserId); }
  /** @param {string} name @param {string[]} participants @param {{description?: string}} [options] @returns {Promise<Conversation>} */
  createGroup(name, participants, options) { return this.api.createGroup(name, participants, options); }
  /** @param {string} id @param {string} name @returns {Promise<Conversation>} */
  rename(id, name) { return this.api.rename(id, name); }
  /**
   * Changes a group's name, description or settings (only_admins_send,
   * only_admins_edit_info: admins only).
   * @param {string} id @param {GroupUpdate} change @returns {Promise<Conversation>}
   */
  updateGroup(id, change) { return this.api.updateGroup(id, change); }
  /** A new invite link (admins only). @param {string} id @returns {Promise<Invite>} */
  createInvite(id) { return this.api.createInvite(id); }
  /** A group's valid invite links (admins only). @param {string} id @returns {Promise<Invite[]>} */
  invites(id) { return this.api.invites(id); }
  /** @param {string} id @param {string} code @returns {Promise<void>} */
  revokeInvite(id, code) { return this.api.revokeInvite(id, code); }
  /** Name, description and member count of a link's group. @param {string} code @returns {Promise<InvitePreview>} */
  previewInvite(code) { return this.api.previewInvite(code); }
  /** Joins a link's group. @param {string} code @returns {Promise<Conversation>} */
  joinByInvite(code) { return this.api.joinByInvite(code); }
  /** @param {string} id @returns {Promise<Participant[]>} */
  participants(id) { return this.api.participants(id); }
  /** @param {string} id @param {string} userId @returns {Promise<Conversation>} */
  addParticipant(id, userId) { return this.api.addParticipant(id, userId); }
  /** @param {string} id @param {string} userId @returns {Promise<void>} */
  removeParticipant(id, userId) { return this.api.removeParticipant(id, userId); }
  /** @param {string} id @param {string} userId @param {'admin'|'member'} role @returns {Promise<Conversation>} */
  setRole(id, userId, role) { return this.api.setRole(id, userId, role); }
  /** @param {string} id @param {HistoryQuery} [q] @returns {Promise<Message[]>} ascending */
  history(id, q) { return this.api.history(id, q); }
  /** @param {string} messageId @returns {Promise<MessageStatus>} */
  messageStatus(messageId) { return this.api.messageStatus(messageId); }
  /** @param {string} messageId @returns {Promise<MessageTrace>} where it stands on each recipient device (sender only) */
  trace(messageId) { return this.api.trace(messageId); }
  /** @param {string} contentType @param {number} size @returns {Promise<MediaUpload>} */
  createUpload(contentType, size) { return this.api.createUpload(contentType, size); }
  /** @param {MediaUpload} upload @param {UploadBody} body @param {string} contentType @returns {Promise<void>} */
  putUpload(upload, body, contentType) { return this.api.putUpload(upload, body, contentType); }
  /** @param {string} mediaId @returns {Promise<Media>} */
  completeUpload(mediaId) { return this.api.completeUpload(mediaId); }
  /** @param {string} mediaId @returns {Promise<Media>} fresh URLs */
  media(mediaId) { return this.api.media(mediaId); }

  /**
   * Uploads an attachment the whole way: creates the upload, PUTs the bytes
   * to the presigned URL, completes it. Send a message with its media_id next.
   * @param {UploadBody} body
   * @param {string} contentType e.g. image/png
   * @returns {Promise<Media>} the processed media, status "ready"
   */
  async uploadMedia(body, contentType) {
    const size = body instanceof ArrayBuffer || ArrayBuffer.isView(body) ? body.byteLength : /** @type {Blob} */ (body).size;
    const up = await this.api.createUpload(contentType, size);
    await this.api.putUpload(up, body, contentType);
    return this.api.completeUpload(up.media_id);
  }

  // ---- the connection ----

  /** @returns {ConnectionState} */
  get state() { return this.connection.state; }

  /**
   * Opens the WebSocket and keeps it open (reconnecting with backoff) until
   * disconnect() or the end of the session.
   * @returns {Promise<void>} resolves once the connection first opens; rejects if the session ends first
   */
  connect() {
    if (!this.token) return Promise.reject(new ParleyError(0, 'session_ended', 'log in first'));
    if (!this.hasWebSocket()) {
      return Promise.reject(new TypeError('Parley: no WebSocket; pass the WebSocket option (Node 20: the ws package)'));
    }
    return new Promise((resolve, reject) => {
      if (this.connection.state === 'open') {
        resolve();
        return;
      }
      const offs = [
        this.on('state', (s) => {
          if (s !== 'open') return;
          offs.forEach((f) => f());
          resolve();
        }),
        this.on('sessionEnded', ({ reason }) => {
          offs.forEach((f) => f());
          reject(new ParleyError(0, 'session_ended', reason));
        }),
      ];
      this.connection.start();
    });
  }

  /** Closes the WebSocket; unacked messages wait in the outbox for the next connect(). */
  disconnect() {
    this.flushAcks();
    this.connection.stop(1000, 'client disconnected');
  }

  /** Skips the rest of a reconnect backoff (the app knows the network is back). */
  reconnectNow() { this.connection.reconnectNow(); }

  // ---- sending ----

  /**
   * Sends a message. It waits in the outbox while there is no connection,
   * is sent again with the same client_message_id after a reconnect or a
   * rate_limited refusal, and settles once: resolved with the server's ack,
   * or rejected with the ParleyError of a refusal that cannot succeed
   * later (invalid, forbidden, not_found, too_large), or session_ended.
   * @param {string} conversationId
   * @param {string} content opaque to the server (encrypt it end to end)
   * @param {SendOptions} [opts]
   * @returns {Promise<MessageAckFrame>}
   */
  send(conversationId, content, opts = {}) {
    /** @type {PendingMessage} */
    const item = {
      client_message_id: opts.clientMessageId ?? newId(),
      conversation_id: conversationId,
      message_type: opts.messageType ?? 'text',
      content,
      created_at: this.clock.now(),
    };
    if (opts.mediaId) item.media_id = opts.mediaId;
    if (opts.replyTo) item.reply_to = opts.replyTo;
    if (opts.mentions && opts.mentions.length) item.mentions = [...opts.mentions];
    if (opts.forwardOf) item.forward_of = opts.forwardOf;
    try {
      // Checked here, so a bad message fails its own call and never sits in the outbox.
      encodeClientFrame({
        type: 'message',
        client_message_id: item.client_message_id,
        conversation_id: item.conversation_id,
        message_type: item.message_type,
        content: item.content,
        media_id: item.media_id,
        reply_to: item.reply_to,
        mentions: item.mentions,
        forward_of: item.forward_of,
      });
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.ended) return Promise.reject(new ParleyError(0, 'session_ended', 'log in again'));
    // The server ends a composing state when a message is sent.
    this.composing.delete(conversationId);
    return this.outbox.add(item);
  }

  /**
   * Forwards a message to a conversation: a copy of its content, type and
   * media, sent as send() sends, with forward_of naming it. The server
   * checks that one can see it and counts the hops.
   * @param {Message} message the message to forward, as received or from history
   * @param {string} conversationId where to
   * @param {{clientMessageId?: string}} [opts]
   * @returns {Promise<MessageAckFrame>}
   */
  forward(message, conversationId, opts = {}) {
    /** @type {SendOptions} */
    const o = { forwardOf: message.message_id, messageType: /** @type {ClientMessageType} */ (message.message_type) };
    if (message.media_id) o.mediaId = message.media_id;
    if (opts.clientMessageId) o.clientMessageId = opts.clientMessageId;
    return this.send(conversationId, message.content, o);
  }

  /**
   * Sends a message over HTTP, without the outbox or the WebSocket: for a
   * one-off send (a share sheet, a script) where no connection is open.
   * Resolves once the message is stored; see Api.postMessage for the key.
   * @param {string} conversationId
   * @param {import('./api.js').OutgoingMessage} message
   * @param {{idempotencyKey?: string}} [opts] left out, a new key is made
   * @returns {Promise<import('./api.js').SentMessage>}
   */
  postMessage(conversationId, message, opts) { return this.api.postMessage(conversationId, message, opts); }

  /** @returns {PendingMessage[]} messages waiting for their ack, oldest first */
  pending() { return this.outbox.pending(); }

  /**
   * Gives up on a waiting message: its send() rejects with code `cancelled`.
   * A frame already sent may still be stored.
   * @param {string} clientMessageId
   * @returns {boolean} whether it was waiting
   */
  cancel(clientMessageId) {
    const done = this.outbox.cancel(clientMessageId, new ParleyError(0, 'cancelled', 'the send was cancelled'));
    this.runDeferredFill(null);
    return done;
  }

  // ---- reactions, edits, deletions ----

  /**
   * Sets this user's reaction to a message (one per user: a new one
   * replaces the old), or removes it with "". Not queued: it needs a
   * connection (else rejects with code `offline`). Resolves with the
   * server's reaction frame for it, which every member's devices get as a
   * `reaction` event; rejects with the refusal's ParleyError (`invalid`
   * for a bad emoji, `not_found`, `forbidden`…). A reaction that changes
   * nothing (the one already set, "" with none set) is confirmed by its
   * frame to this device alone; an older server said nothing, and the call
   * then resolves with null after updateTimeoutMs. Calls made
   * in quick succession on one message may be merged by the server into
   * the last one's frame, which resolves them all.
   * @param {string} messageId
   * @param {string} emoji exactly one emoji, or "" to remove
   * @returns {Promise<IncomingReactionFrame|null>}
   */
  react(messageId, emoji) {
    return this.update('reaction', { type: 'reaction', message_id: messageId, emoji },
      (/** @type {IncomingReactionFrame} */ f) => f.user_id === this.userId && f.emoji === emoji);
  }

  /**
   * Replaces the content of one of this user's own text messages, within
   * EDIT_WINDOW_MS (15 min) of sending it. Resolves with the
   * message_edited frame every member's devices get (`messageEdited`);
   * rejects with `forbidden` (someone else's message, or too late),
   * `invalid`, `not_found`, `offline` or `timeout`.
   * @param {string} messageId
   * @param {string} content the new content, not empty
   * @returns {Promise<MessageEditedFrame>}
   */
  edit(messageId, content) {
    return this.update('edit', { type: 'edit', message_id: messageId, content },
      (/** @type {MessageEditedFrame} */ f) => f.content === content);
  }

  /**
   * Deletes a message: for 'everyone' (one's own within DELETE_WINDOW_MS,
   * 48 h, or any message as a group admin: it becomes a tombstone for all)
   * or for 'me' (hidden on this user's devices). Resolves with the
   * message_deleted frame (`messageDeleted`); rejects with `forbidden`,
   * `not_found`, `invalid`, `offline` or `timeout`.
   * @param {string} messageId
   * @param {DeleteFor} forWhom
   * @returns {Promise<MessageDeletedFrame>}
   */
  deleteMessage(messageId, forWhom) {
    return this.update('delete', { type: 'delete', message_id: messageId, for: forWhom },
      (/** @type {MessageDeletedFrame} */ f) => f.for === forWhom || f.for === 'everyone');
  }

  /**
   * Sends a reaction, edit or delete frame and waits for its answer.
   * @template T
   * @param {'reaction'|'edit'|'delete'} kind the refused_type of its error frame
   * @param {ClientFrame} frame
   * @param {(f: any) => boolean} matches whether a success frame for the message answers this call
   * @returns {Promise<T>}
   */
  update(kind, frame, matches) {
    /** @type {string} */
    let text;
    try {
      text = encodeClientFrame(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.ended) return Promise.reject(new ParleyError(0, 'session_ended', 'log in again'));
    if (this.connection.state !== 'open') return Promise.reject(new ParleyError(0, 'offline', 'not connected'));
    const key = `${kind}:${/** @type {{message_id: string}} */ (frame).message_id}`;
    return new Promise((resolve, reject) => {
      /** @type {PendingUpdate} */
      const p = { matches, resolve, reject, timer: null };
      p.timer = this.clock.setTimeout(() => {
        this.dropUpdate(key, p);
        // No refusal came: for a reaction, that is the answer to one that changed nothing.
        if (kind === 'reaction') resolve(/** @type {T} */ (/** @type {unknown} */ (null)));
        else reject(new ParleyError(0, 'timeout', `no answer to the ${kind} within ${this.updateTimeoutMs} ms`));
      }, this.updateTimeoutMs);
      const list = this.updates.get(key) ?? [];
      list.push(p);
      this.updates.set(key, list);
      if (!this.connection.send(text)) {
        this.dropUpdate(key, p);
        this.clock.clearTimeout(p.timer);
        reject(new ParleyError(0, 'offline', 'not connected'));
      }
    });
  }

  /**
   * @param {string} key
   * @param {PendingUpdate} p
   */
  dropUpdate(key, p) {
    const list = this.updates.get(key);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.updates.delete(key);
  }

  /**
   * Settles the waiting calls of a kind for a message: for a success
   * frame, the newest it answers and every older one (the server applies a
   * connection's frames in order, and may merge a user's reactions of one
   * commit into the last); for a refusal, the oldest.
   * @param {string} key
   * @param {any} frame a success frame, or null with err for a refusal
   * @param {ParleyError} [err]
   * @returns {boolean} whether a call took it
   */
  settleUpdate(key, frame, err) {
    const list = this.updates.get(key);
    if (!list) return false;
    let last = err ? 0 : -1;
    if (!err) list.forEach((q, i) => { if (q.matches(frame)) last = i; });
    const taken = list.slice(0, last + 1);
    for (const p of taken) {
      this.dropUpdate(key, p);
      this.clock.clearTimeout(p.timer);
      if (err) p.reject(err);
      else p.resolve(frame);
    }
    return taken.length > 0;
  }

  // ---- receipts, typing, presence ----

  /**
   * Marks messages read (read implies delivered). Sent now if connected,
   * else on the next connection.
   * @param {string} conversationId
   * @param {string[]} messageIds
   */
  markRead(conversationId, messageIds) {
    // Delivery first: this device's offline queue empties only on its own
    // delivery_ack, which the read receipt does not replace.
    this.flushAcks();
    for (let i = 0; i < messageIds.length; i += MAX_IDS) {
      const r = { conversation_id: conversationId, message_ids: messageIds.slice(i, i + MAX_IDS) };
      if (!this.sendFrame({ type: 'read_receipt', ...r })) this.readQueue.push(r);
    }
  }

  /**
   * Says whether this user is typing in a conversation. Repeated
   * composing calls (one per keystroke) are sent at most every
   * typingRefreshMs; paused is sent only after a composing.
   * @param {string} conversationId
   * @param {boolean} composing
   */
  setTyping(conversationId, composing) {
    const now = this.clock.now();
    const last = this.composing.get(conversationId);
    if (composing) {
      if (last !== undefined && now - last < this.typingRefreshMs) return;
      if (this.sendFrame({ type: 'typing', conversation_id: conversationId, state: 'composing' })) {
        this.composing.set(conversationId, now);
      }
      return;
    }
    if (last === undefined) return;
    this.composing.delete(conversationId);
    this.sendFrame({ type: 'typing', conversation_id: conversationId, state: 'paused' });
  }

  /**
   * Follows users' presence: a presence event for each at once, then on
   * every change. Kept across reconnects. (1:1 partners are followed
   * without asking.)
   * @param {string[]} userIds
   */
  subscribePresence(userIds) {
    const fresh = userIds.filter((id) => !this.presenceSubs.has(id));
    for (const id of fresh) this.presenceSubs.add(id);
    this.sendSubscribe(fresh);
  }

  // ---- cursors ----

  /**
   * @param {string} conversationId
   * @returns {number|undefined} the sequence number up to which every message was seen
   */
  cursor(conversationId) { return this.cursorSet.get(conversationId); }

  /** @returns {Record<string, number>} every cursor, to pass as the cursors option next time */
  cursors() { return this.cursorSet.snapshot(); }

  /**
   * Starts the cursor of a conversation that has none: the app has every
   * message up to seq (it loaded the newest page of history). From then
   * on the conversation is caught up like the others — messages this
   * device is not sent, such as the system message of a member it added,
   * come as message events after fillGap() or the next connection.
   * Messages up to seq that arrive later are taken as seen (acked, not
   * emitted). A conversation that has a cursor keeps it.
   * @param {string} conversationId
   * @param {number} seq
   * @returns {boolean} whether a cursor was started
   */
  startCursor(conversationId, seq) {
    if (!this.cursorSet.start(conversationId, seq)) return false;
    this.cursorsChanged();
    return true;
  }

  /**
   * Fetches from history what a conversation is missing after its cursor
   * and emits it as message events. Runs by itself on a gap and on each
   * reconnect.
   * @param {string} conversationId
   * @returns {Promise<void>}
   */
  fillGap(conversationId) {
    if (this.cursorSet.get(conversationId) === undefined) return Promise.resolve();
    // An own message sent and not yet acked would come back from history
    // as if someone else's: wait for its ack, which closes the gap itself.
    if (this.outbox.pending().some((p) => p.conversation_id === conversationId)) {
      this.fillDeferred.add(conversationId);
      return Promise.resolve();
    }
    const running = this.filling.get(conversationId);
    if (running) {
      this.fillAgain.add(conversationId);
      return running;
    }
    const run = this.runFill(conversationId).finally(() => this.filling.delete(conversationId));
    this.filling.set(conversationId, run);
    return run;
  }

  /** @param {string} conv */
  async runFill(conv) {
    try {
      do {
        this.fillAgain.delete(conv);
        for (;;) {
          const after = this.cursorSet.get(conv) ?? 0;
          const page = await this.api.history(conv, { after_seq: after, limit: this.historyPage });
          for (const m of page) {
            this.queueAck(m.message_id);
            this.release(this.cursorSet.offer(conv, m.sequence_number, m).released);
          }
          if (page.length < this.historyPage) break;
        }
        // History has everything up to now; what it lacks below a held
        // message is gone for this user (expired, or before it joined).
        if (this.cursorSet.hasGap(conv)) this.release(this.cursorSet.skipGap(conv));
      } while (this.fillAgain.has(conv));
    } catch (err) {
      // Tried again on the next gap or reconnect.
      this.events.emit('error', err instanceof ParleyError ? err : new ParleyError(0, 'network', String(err)));
    }
  }

  // ---- inside ----

  /** @returns {string|null} */
  socketUrl() {
    if (!this.token) return null;
    return `${this.baseUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(this.token)}`;
  }

  /**
   * @param {ClientFrame} frame
   * @returns {boolean} whether it left
   */
  sendFrame(frame) { return this.connection.send(encodeClientFrame(frame)); }

  /** @param {ConnectionState} s */
  onState(s) {
    if (s === 'open') this.onOpen();
    this.events.emit('state', s);
  }

  onOpen() {
    // A new connection: everything unacked goes again, refused ones after their wait.
    this.outbox.reset();
    this.outbox.flush();
    this.composing.clear();
    this.sendSubscribe([...this.presenceSubs]);
    const reads = this.readQueue.splice(0);
    for (const r of reads) this.markRead(r.conversation_id, r.message_ids);
    if (this.catchUpOnConnect) this.catchUp();
  }

  /**
   * Fills what happened while this client was away and the offline queue
   * will not bring: other devices' reads don't matter here, but messages
   * this device is not sent (system messages it caused) do. Runs on every
   * connection unless catchUpOnConnect is false; then the app calls it
   * with the conversation list it fetched itself.
   * @param {Conversation[]} [list] the conversation list; fetched when not given
   * @returns {Promise<void>}
   */
  async catchUp(list) {
    if (!list) {
      try {
        list = await this.api.conversations();
      } catch {
        return; // the next reconnect tries again
      }
    }
    for (const c of list) {
      const cur = this.cursorSet.get(c.conversation_id);
      if (cur !== undefined && c.last_sequence_number > cur) this.fillGap(c.conversation_id);
    }
  }

  /** @param {boolean} opened */
  onDisconnect(opened) {
    this.ackQueue.length = 0; // unsent acks are not kept: the server redelivers, and they are acked then
    if (opened || !this.token) return;
    // A refused upgrade says nothing about why. A bad token shows as a 401
    // on an ordinary call, which ends the session; anything else is the
    // network and the connection keeps trying.
    this.api.settings().catch(() => {});
  }

  /**
   * Ends this session here (the server ended it, or logout() did).
   * @param {string} reason
   */
  sessionOver(reason) {
    if (this.ended) return;
    this.ended = true;
    this.token = null;
    this.connection.stop(1000, 'session ended');
    this.clock.clearTimeout(this.ackTimer);
    this.ackQueue.length = 0;
    this.readQueue.length = 0;
    this.outbox.cancelAll(new ParleyError(0, 'session_ended', reason));
    for (const list of this.updates.values()) {
      for (const p of list) {
        this.clock.clearTimeout(p.timer);
        p.reject(new ParleyError(0, 'session_ended', reason));
      }
    }
    this.updates.clear();
    this.events.emit('sessionEnded', { reason });
    if (this.onSessionEnded) this.onSessionEnded(reason);
  }

  /** @param {string} text */
  onText(text) {
    /** @type {ServerFrame|UnknownFrame} */
    let f;
    try {
      f = decodeServerFrame(text);
    } catch (err) {
      this.events.emit('error', /** @type {ParleyError} */ (err));
      return;
    }
    this.events.emit('frame', f);
    switch (f.type) {
      case 'message_ack': {
        const mine = this.outbox.ack(f);
        this.events.emit('ack', f);
        // An own message is seen without a message event, and may close a gap.
        this.release(this.cursorSet.offer(f.conversation_id, f.sequence_number, null).released);
        if (mine) this.runDeferredFill(f.conversation_id);
        return;
      }
      case 'message': {
        this.queueAck(f.message_id);
        const { type: _type, ...m } = f;
        this.release(this.cursorSet.offer(m.conversation_id, m.sequence_number, m).released);
        if (this.cursorSet.hasGap(m.conversation_id)) this.fillGap(m.conversation_id);
        return;
      }
      case 'status': this.events.emit('status', f); return;
      case 'presence': this.events.emit('presence', f); return;
      case 'typing': this.events.emit('typing', f); return;
      case 'profile': this.events.emit('profile', f); return;
      case 'reaction':
        this.events.emit('reaction', f);
        this.settleUpdate(`reaction:${f.message_id}`, f);
        return;
      case 'message_edited':
        this.events.emit('messageEdited', f);
        this.settleUpdate(`edit:${f.message_id}`, f);
        return;
      case 'message_deleted':
        this.events.emit('messageDeleted', f);
        this.settleUpdate(`delete:${f.message_id}`, f);
        return;
      case 'heartbeat_ack': return;
      case 'error': {
        if (f.refused_type && f.message_id) {
          const err = new ParleyError(0, f.code, f.message, f.retry_after_ms);
          // Taken by the call that sent it; one from before a reload is an ordinary error event.
          if (this.settleUpdate(`${f.refused_type}:${f.message_id}`, null, err)) return;
          this.events.emit('error', err);
          return;
        }
        const conv = this.outbox.refuse(f);
        if (conv !== null) {
          // A message refused for good leaves the outbox: a fill may have waited for it.
          this.runDeferredFill(conv);
          return;
        }
        this.events.emit('error', new ParleyError(0, f.code, f.message, f.retry_after_ms));
        return;
      }
      default:
        return; // an unknown type: only the frame event tells of it
    }
  }

  /** @param {string|null} conv */
  runDeferredFill(conv) {
    for (const c of [...this.fillDeferred]) {
      if (conv !== null && c !== conv) continue;
      if (this.outbox.pending().some((p) => p.conversation_id === c)) continue;
      this.fillDeferred.delete(c);
      this.fillGap(c);
    }
  }

  /** @param {Message[]} msgs */
  release(msgs) {
    this.cursorsChanged();
    for (const m of msgs) this.events.emit('message', m);
  }

  // ---- storage ----

  /**
   * Reads the user's outbox and cursors from storage, once per user: the
   * messages go back in the outbox (sent on the next connection with their
   * own client_message_id; send() with that id returns their promise), the
   * cursors join those given as the cursors option.
   */
  restore() {
    const st = this.storage;
    const user = this.userId;
    if (!st || !user || this.restoredFor === user) return;
    this.restoredFor = user;
    /** @type {any} */
    const cursors = readJSON(st, this.storageKey + 'cursors.' + user);
    if (cursors && typeof cursors === 'object' && !Array.isArray(cursors)) {
      for (const [conv, seq] of Object.entries(cursors)) {
        if (Number.isInteger(seq)) this.cursorSet.start(conv, /** @type {number} */ (seq));
      }
    }
    /** @type {any} */
    const pending = readJSON(st, this.storageKey + 'outbox.' + user);
    if (!Array.isArray(pending)) return;
    for (const p of pending) {
      if (!p || typeof p !== 'object' || typeof p.client_message_id !== 'string' || typeof p.conversation_id !== 'string') continue;
      /** @type {PendingMessage} */
      const item = {
        client_message_id: p.client_message_id,
        conversation_id: p.conversation_id,
        message_type: p.message_type ?? 'text',
        content: typeof p.content === 'string' ? p.content : '',
        created_at: typeof p.created_at === 'number' ? p.created_at : this.clock.now(),
      };
      if (typeof p.media_id === 'string' && p.media_id) item.media_id = p.media_id;
      if (typeof p.reply_to === 'string' && p.reply_to) item.reply_to = p.reply_to;
      if (Array.isArray(p.mentions) && p.mentions.length) item.mentions = p.mentions.filter((/** @type {unknown} */ id) => typeof id === 'string');
      if (typeof p.forward_of === 'string' && p.forward_of) item.forward_of = p.forward_of;
      // Its outcome reaches whoever asks for it with send(); unasked, a
      // refusal must not surface as an unhandled rejection.
      this.outbox.add(item).catch(() => {});
    }
  }

  /**
   * Writes the outbox to storage: on every message added or gone. Another
   * client of the same user on the same storage (a second tab) writes the
   * same key: its messages found there are kept, not overwritten, until
   * that client sees them acked — one written offline in a tab that is
   * then reloaded is not lost to the other tab's writes.
   * @param {string} [gone] the client_message_id that just left this outbox
   */
  savePending(gone) {
    if (!this.storage || !this.userId || this.restoredFor !== this.userId) return;
    const key = this.storageKey + 'outbox.' + this.userId;
    const mine = this.outbox.pending();
    const ids = new Set(mine.map((p) => p.client_message_id));
    const stored = readJSON(this.storage, key);
    /** @type {PendingMessage[]} */
    const others = Array.isArray(stored) ? stored.filter((p) => p && typeof p === 'object'
      && typeof p.client_message_id === 'string' && typeof p.conversation_id === 'string'
      && !ids.has(p.client_message_id) && p.client_message_id !== gone) : [];
    const items = mine.concat(others).sort((a, b) => (a.created_at ?? 0) - (b.created_at ?? 0));
    writeJSON(this.storage, key, items.length ? items : null);
  }

  /** The cursors moved: written with the next batch of delivery acks, not on every message. */
  cursorsChanged() {
    if (!this.storage) return;
    this.cursorsDirty = true;
    if (this.ackTimer == null) this.ackTimer = this.clock.setTimeout(() => this.flushAcks(), this.ackDelayMs);
  }

  saveCursors() {
    this.cursorsDirty = false;
    if (!this.storage || !this.userId || this.restoredFor !== this.userId) return;
    writeJSON(this.storage, this.storageKey + 'cursors.' + this.userId, this.cursorSet.snapshot());
  }

  /** @param {string[]} ids */
  sendSubscribe(ids) {
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      this.sendFrame({ type: 'presence_subscribe', user_ids: ids.slice(i, i + MAX_IDS) });
    }
  }

  /** @param {string} id */
  queueAck(id) {
    this.ackQueue.push(id);
    if (this.ackTimer == null) this.ackTimer = this.clock.setTimeout(() => this.flushAcks(), this.ackDelayMs);
  }

  flushAcks() {
    this.clock.clearTimeout(this.ackTimer);
    this.ackTimer = null;
    while (this.ackQueue.length) {
      const ids = this.ackQueue.splice(0, MAX_IDS);
      // Unsent acks are dropped: the server redelivers the messages on the
      // next connection, and they are acked then.
      this.sendFrame({ type: 'delivery_ack', message_ids: ids });
    }
    if (this.cursorsDirty) this.saveCursors();
  }
}

/**
 * @param {StorageLike} st
 * @param {string} key
 * @returns {unknown} the parsed value; null when absent, unreadable or not JSON
 */
function readJSON(st, key) {
  try {
    const v = st.getItem(key);
    return v == null ? null : JSON.parse(v);
  } catch {
    return null;
  }
}

/**
 * @param {StorageLike} st
 * @param {string} key
 * @param {unknown} value null removes the key
 */
function writeJSON(st, key, value) {
  try {
    if (value === null && st.removeItem) st.removeItem(key);
    else st.setItem(key, JSON.stringify(value ?? []));
  } catch {
    // Full or disabled: the outbox and cursors still work for this run.
  }
}

/** @returns {string} */
function newId() { return newClientMessageId(); }
