// The HTTP side of the protocol (PROTOCOL.md §1, §2, §7): JSON calls under
// /api/v1 with the bearer token, and the PUT of media bytes to a presigned
// URL. Every non-2xx answer becomes a ParleyError with the wire code.

import { ParleyError } from './errors.js';
import { encodeClientFrame } from './wire.js';

/** @typedef {import('./wire.js').Message} Message */
/** @typedef {import('./wire.js').PresenceStatus} PresenceStatus */

/**
 * A user's or a group's picture: square JPEGs at short-lived URLs. The
 * avatar_id changes whenever the picture does: cache the images by it.
 * @typedef {object} Avatar
 * @property {string} avatar_id
 * @property {string} url_640 640 x 640
 * @property {string} url_96 96 x 96
 */
/**
 * @typedef {object} User
 * @property {string} user_id
 * @property {string} username
 * @property {string} display_name
 * @property {string} [about] absent when empty or hidden from the caller
 * @property {Avatar} [avatar] absent when none or hidden from the caller
 * @property {boolean} [deleted] an account its owner deleted: show "Deleted account"
 * @property {boolean} [bot] a bot account
 * @property {string} [bot_owner_id] for a bot, the user who manages it
 */
/**
 * A bot's API key, shown once (at creation and rotation). The bot signs
 * in with it as with a session token: `new Parley({ baseUrl, token: api_key, userId: user_id })`.
 * @typedef {object} BotKey
 * @property {string} bot_id the bot's id, equal to its user_id
 * @property {string} user_id
 * @property {string} api_key a secret, never shown again
 */
/**
 * One of the caller's bots, never its key.
 * @typedef {object} Bot
 * @property {string} bot_id
 * @property {string} user_id
 * @property {string} username
 * @property {string} display_name
 * @property {number} created_at
 * @property {number} [key_created_at] absent when it has no key (revoked)
 */
/**
 * A bot's webhook; `secret` only in the answer to setWebhook, shown once.
 * @typedef {object} Webhook
 * @property {string} url
 * @property {string} [secret] signs each request (`Parley-Signature`)
 * @property {number} created_at
 */
/**
 * A webhook event that failed at least once.
 * @typedef {object} WebhookDelivery
 * @property {string} event_id
 * @property {string} conversation_id
 * @property {string} type
 * @property {'retrying'|'delivered'|'failed'} status
 * @property {number} attempts failed attempts
 * @property {number} first_attempt_at
 * @property {number} last_attempt_at
 * @property {number} [last_status] the endpoint's last HTTP status, absent if it did not answer
 * @property {string} [last_error]
 */
/**
 * A change of one's own profile; a field left out stays as it is.
 * @typedef {object} ProfileUpdate
 * @property {string} [display_name] at most 64 printable characters; empty: the username
 * @property {string} [about] at most 140 characters, no line breaks
 * @property {string|null} [avatar_media_id] a ready image one uploaded; "" or null removes the avatar
 */
/**
 * A login: one device's token.
 * @typedef {object} Session
 * @property {string} token
 * @property {string} user_id
 * @property {string} device_id
 * @property {number} expires_at
 */
/**
 * @typedef {object} LoginOptions
 * @property {string} [deviceName] what the session is called in the devices
 *   list: at most 64 printable characters; left out, the server uses the User-Agent
 */
/**
 * One signed-in device of the caller.
 * @typedef {object} SessionInfo
 * @property {string} session_id the device_id its login returned
 * @property {string} device_name
 * @property {number} created_at
 * @property {number} last_active_at its last use, to within a minute
 * @property {boolean} current true for the calling session
 */
/**
 * @typedef {object} Presence
 * @property {string} user_id
 * @property {PresenceStatus} status
 * @property {number} [last_seen] absent when unknown or hidden
 */
/**
 * @typedef {object} Contact
 * @property {string} user_id
 * @property {string} username
 * @property {string} display_name
 * @property {number} [added_at] when added by hand; absent for a contact
 *   by the default rule only (a 1:1 the user created or wrote in)
 */
/**
 * @typedef {object} Block
 * @property {string} user_id
 * @property {string} username
 * @property {string} display_name
 * @property {number} blocked_at
 */
/**
 * A browser's PushSubscription as `subscription.toJSON()` gives it.
 * @typedef {object} PushSubscriptionJSON
 * @property {string} endpoint the push service's https URL
 * @property {number|null} [expirationTime] ignored by the server
 * @property {{p256dh: string, auth: string}} keys base64url
 */
/**
 * What a push carries to the service worker (decrypted by the browser):
 * who wrote where, never the content.
 * @typedef {object} PushNotice
 * @property {'message'} type
 * @property {string} conversation_id
 * @property {string} sender_id
 * @property {string} sender_name
 * @property {number} unread the user's unread count there, for a badge
 */
/** @typedef {'everyone'|'contacts'|'nobody'} Visibility */
/** @typedef {'everyone'|'nobody'} Discoverability who may find a user by its username */
/**
 * @typedef {object} Settings
 * @property {Visibility} last_seen_visibility
 * @property {Visibility} online_visibility
 * @property {Discoverability} discoverable
 * @property {Visibility} avatar_visibility
 * @property {Visibility} about_visibility
 */
/**
 * @typedef {object} Participant
 * @property {string} user_id
 * @property {'admin'|'member'} role
 */
/**
 * @typedef {object} Conversation
 * @property {string} conversation_id
 * @property {'1:1'|'group'} type
 * @property {string} name
 * @property {Participant[]} participants
 * @property {number} last_sequence_number
 * @property {string} created_by
 * @property {number} created_at
 * @property {number} last_activity_at
 * @property {string} [description] a group's; absent when empty
 * @property {boolean} [only_admins_send] absent when false
 * @property {boolean} [only_admins_edit_info] absent when false
 * @property {number} [unread_count] in the list only
 * @property {number} [unread_mentions] in the list only: how many unread messages mention the caller
 * @property {string[]} [pinned] the pinned messages' ids, oldest pin first
 * @property {number} [disappearing_seconds] disappearing messages: each new message goes this long after it is sent (one of DISAPPEARING_OPTIONS); absent when off
 * @property {Message} [last_message] in the list only, absent when empty
 * @property {Avatar} [avatar] a group's picture, when it has one
 */
/**
 * A change of a group: absent fields stay as they are.
 * @typedef {object} GroupUpdate
 * @property {string} [name]
 * @property {string} [description] at most 512 characters
 * @property {boolean} [only_admins_send] admins only
 * @property {boolean} [only_admins_edit_info] admins only
 */
/**
 * A group's invite link, as its admins see it.
 * @typedef {object} Invite
 * @property {string} code the link's secret (the web client's link is <origin>/#/join/<code>)
 * @property {string} conversation_id
 * @property {string} created_by
 * @property {number} created_at
 */
/**
 * What an invite link shows anyone signed in.
 * @typedef {object} InvitePreview
 * @property {string} name
 * @property {string} [description] absent when empty
 * @property {number} member_count
 * @property {Avatar} [avatar] the group's picture, when it has one
 */
/**
 * @typedef {object} RecipientStatus
 * @property {string} user_id
 * @property {'sent'|'delivered'|'read'} status
 * @property {number} updated_at
 */
/**
 * @typedef {object} MessageStatus
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {'sent'|'delivered'|'read'} [status] the aggregate over recipients
 * @property {RecipientStatus[]} recipients
 */
/**
 * One session of a recipient in a delivery trace. Times are Unix ms;
 * written_at and acknowledged_at are "at the latest" (docs/PROTOCOL.md,
 * "Delivery trace").
 * @typedef {object} TraceDevice
 * @property {string} device_id
 * @property {string} device_name
 * @property {'queued'|'written'|'acknowledged'|'expired'} state
 * @property {number} [queued_since] set when queued
 * @property {number} [written_at] absent when unknown or hidden by the recipient's online visibility
 * @property {number} [acknowledged_at] absent when unknown
 * @property {boolean} online as far as the caller may see the recipient's online status
 */
/**
 * One recipient of a traced message; receipts are per user.
 * @typedef {object} TraceRecipient
 * @property {string} user_id
 * @property {'sent'|'delivered'|'read'|'expired'} status
 * @property {number} [delivered_at]
 * @property {number} [read_at]
 * @property {TraceDevice[]} devices its live sessions, oldest first
 */
/**
 * Where a message stands on each recipient device (the sender only).
 * @typedef {object} MessageTrace
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {number} committed_at when it was stored ("sent")
 * @property {number} [deleted_at]
 * @property {number} [expires_at]
 * @property {TraceRecipient[]} recipients
 */
/**
 * A page of history: after_seq or before_seq (neither: the newest page).
 * @typedef {object} HistoryQuery
 * @property {number} [after_seq]
 * @property {number} [before_seq]
 * @property {number} [limit] 1 to 500; the server's default is 50
 */
/**
 * @typedef {object} MediaUpload
 * @property {string} media_id
 * @property {string} upload_url
 * @property {'PUT'} upload_method
 * @property {number} expires_in seconds
 */
/** @typedef {'image'|'video'|'audio'|'document'} MediaKind */
/**
 * @typedef {object} Media
 * @property {string} media_id
 * @property {'pending'|'processing'|'ready'|'failed'} status
 * @property {MediaKind} kind
 * @property {string} content_type
 * @property {number} size
 * @property {string} uploader_id
 * @property {number} created_at
 * @property {string} [url]
 * @property {string} [thumbnail_url]
 * @property {string} [compressed_url]
 * @property {number} [width]
 * @property {number} [height]
 * @property {number} [duration_ms]
 * @property {string} [codec]
 * @property {number[]} [waveform]
 * @property {string} [reason]
 */
/**
 * @typedef {object} ServerInfo
 * @property {Record<MediaKind, boolean>} media
 * @property {{max_content_bytes: number, max_group_size: number, max_image_bytes: number,
 *   max_video_bytes: number, max_audio_bytes: number, max_document_bytes: number,
 *   max_image_pixels: number}} limits
 */
/** @typedef {Blob|ArrayBuffer|Uint8Array} UploadBody */
/** @typedef {(input: string, init?: RequestInit) => Promise<Response>} FetchFn */

/**
 * A message sent over HTTP (postMessage): the message frame's fields but
 * the conversation and the idempotency key.
 * @typedef {object} OutgoingMessage
 * @property {import('./wire.js').ClientMessageType} message_type
 * @property {string} content opaque, at most 65,536 bytes
 * @property {string} [media_id]
 * @property {string} [reply_to]
 * @property {string[]} [mentions]
 * @property {string} [forward_of]
 */
/**
 * The answer of postMessage once the message is stored: the message_ack
 * frame's fields, client_message_id being the Idempotency-Key.
 * @typedef {object} SentMessage
 * @property {string} client_message_id
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {number} sequence_number
 * @property {'sent'} status
 * @property {number} timestamp the message's created_at
 */

/** The HTTP API of one server, for one session at a time. */
export class Api {
  /**
   * @param {object} opts
   * @param {string} opts.baseUrl e.g. http://127.0.0.1:8080
   * @param {() => string|null} opts.token the current session's token
   * @param {FetchFn} [opts.fetch] defaults to globalThis.fetch
   * @param {() => void} [opts.onUnauthorized] an authenticated call answered 401: the session is gone
   */
  constructor({ baseUrl, token, fetch: fetchFn, onUnauthorized }) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
    // Bound: a bare window.fetch called as a method of another object throws.
    this.fetch = fetchFn || globalThis.fetch.bind(globalThis);
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  /**
   * Makes one call. A 204 answers null.
   * @param {string} method
   * @param {string} path under /api/v1
   * @param {unknown} [body] sent as JSON
   * @param {{passwordCheck?: boolean, headers?: Record<string, string>}} [how] passwordCheck: a 401 answers the
   *   password in the body, not the token, so it does not end the session; headers: sent besides
   * @returns {Promise<any>}
   */
  async request(method, path, body, how) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json', ...(how && how.headers) };
    const tok = this.token();
    if (tok) headers.Authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    /** @type {Response} */
    let res;
    try {
      res = await this.fetch(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ParleyError(0, 'network', `the server cannot be reached: ${err instanceof Error ? err.message : err}`);
    }
    if (res.status === 204) return null;
    const text = await res.text();
    /** @type {any} */
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { /* not JSON: a proxy's page */ }
    }
    if (!res.ok) {
      const err = errorFromBody(res.status, data, res.headers.get('Retry-After'));
      if (res.status === 401 && tok && !(how && how.passwordCheck)) this.onUnauthorized();
      throw err;
    }
    return data;
  }

  // ---- accounts and sessions ----

  /**
   * @param {string} username
   * @param {string} password
   * @param {string} [displayName] left out: the username
   * @returns {Promise<User>}
   */
  register(username, password, displayName) {
    // display_name only when there is one, as wire.RegisterRequest encodes
    // it (omitempty): the server takes a missing one and an empty one alike.
    /** @type {{username: string, password: string, display_name?: string}} */
    const body = { username, password };
    if (displayName) body.display_name = displayName;
    return this.request('POST', '/users', body);
  }

  /**
   * @param {string} username
   * @param {string} password
   * @param {LoginOptions} [options]
   * @returns {Promise<Session>}
   */
  login(username, password, options) {
    // device_name only when there is one, as wire.LoginRequest encodes it.
    /** @type {{username: string, password: string, device_name?: string}} */
    const body = { username, password };
    if (options && options.deviceName) body.device_name = options.deviceName;
    return this.request('POST', '/sessions', body);
  }

  /** @returns {Promise<SessionInfo[]>} most recently active first */
  async sessions() {
    const res = await this.request('GET', '/sessions');
    return (res && res.sessions) || [];
  }

  /** @param {string} sessionId @returns {Promise<void>} */
  async endSession(sessionId) { await this.request('DELETE', `/sessions/${enc(sessionId)}`); }

  /** @returns {Promise<void>} */
  async endOtherSessions() { await this.request('DELETE', '/sessions'); }

  /**
   * A 401 here is a wrong current password: the session goes on.
   * @param {string} current @param {string} next @returns {Promise<void>}
   */
  async changePassword(current, next) {
    await this.request('PUT', '/users/me/password', { current_password: current, new_password: next }, { passwordCheck: true });
  }

  /**
   * A 401 here is a wrong password: the session goes on.
   * @param {string} password @returns {Promise<void>}
   */
  async deleteAccount(password) {
    await this.request('DELETE', '/users/me', { password }, { passwordCheck: true });
  }

  /** @returns {Promise<void>} */
  async logout() { await this.request('DELETE', '/sessions/current'); }

  // ---- bots ----

  /**
   * Creates a bot owned by the caller; its name is checked as a
   * registration's. A bot may not create bots (`forbidden`).
   * @param {string} username
   * @param {string} [displayName] left out: the username
   * @returns {Promise<BotKey>}
   */
  createBot(username, displayName) {
    /** @type {{username: string, display_name?: string}} */
    const body = { username };
    if (displayName) body.display_name = displayName;
    return this.request('POST', '/bots', body);
  }

  /** @returns {Promise<Bot[]>} the caller's bots, oldest first */
  async bots() {
    const res = await this.request('GET', '/bots');
    return (res && res.bots) || [];
  }

  /**
   * A new key for the caller's bot: the old one stops working at once.
   * @param {string} botId @returns {Promise<BotKey>}
   */
  rotateBotKey(botId) { return this.request('POST', `/bots/${enc(botId)}/key`); }

  /** @param {string} botId @returns {Promise<void>} */
  async revokeBotKey(botId) { await this.request('DELETE', `/bots/${enc(botId)}/key`); }

  /** @param {string} botId @returns {Promise<void>} */
  async deleteBot(botId) { await this.request('DELETE', `/bots/${enc(botId)}`); }

  /** @param {string} botId @param {string} url @returns {Promise<Webhook>} */
  setWebhook(botId, url) { return this.request('PUT', `/bots/${enc(botId)}/webhook`, { url }); }

  /** @param {string} botId @returns {Promise<Webhook>} */
  webhook(botId) { return this.request('GET', `/bots/${enc(botId)}/webhook`); }

  /** @param {string} botId @returns {Promise<void>} */
  async deleteWebhook(botId) { await this.request('DELETE', `/bots/${enc(botId)}/webhook`); }

  /**
   * @param {string} botId
   * @param {'retrying'|'delivered'|'failed'} [status]
   * @returns {Promise<WebhookDelivery[]>}
   */
  async webhookDeliveries(botId, status) {
    const res = await this.request('GET', `/bots/${enc(botId)}/deliveries${status ? `?status=${enc(status)}` : ''}`);
    return (res && res.deliveries) || [];
  }

  /** @param {string} id @returns {Promise<User>} */
  user(id) { return this.request('GET', `/users/${enc(id)}`); }

  /**
   * The user whose username is `username`, compared case-insensitively. A
   * name no one has and a user who hides from lookups are the same 404
   * `not_found`; lookups are rate-limited per user (429 `rate_limited`).
   * @param {string} username
   * @returns {Promise<User>}
   */
  findUser(username) { return this.request('GET', `/users?username=${enc(username)}`); }

  /** @param {string} id @returns {Promise<Presence>} */
  presence(id) { return this.request('GET', `/users/${enc(id)}/presence`); }

  /** @returns {Promise<Settings>} */
  settings() { return this.request('GET', '/users/me/settings'); }

  /** @param {Partial<Settings>} change @returns {Promise<Settings>} */
  updateSettings(change) { return this.request('PATCH', '/users/me/settings', change); }

  /** @returns {Promise<Contact[]>} by display name */
  async contacts() {
    const res = await this.request('GET', '/users/me/contacts');
    return (res && res.contacts) || [];
  }

  /** @param {string} userId @returns {Promise<void>} */
  async addContact(userId) { await this.request('PUT', `/users/me/contacts/${enc(userId)}`); }

  /** @param {string} userId @returns {Promise<void>} */
  async removeContact(userId) { await this.request('DELETE', `/users/me/contacts/${enc(userId)}`); }

  /** @returns {Promise<Block[]>} most recent first */
  async blocks() {
    const res = await this.request('GET', '/users/me/blocks');
    return (res && res.blocks) || [];
  }

  /** @param {string} userId @returns {Promise<void>} */
  async block(userId) { await this.request('PUT', `/users/me/blocks/${enc(userId)}`); }

  /** @param {string} userId @returns {Promise<void>} */
  async unblock(userId) { await this.request('DELETE', `/users/me/blocks/${enc(userId)}`); }
  /**
   * Changes one's own profile and answers it whole. A bad field is 400
   * `invalid` and changes nothing; an avatar_media_id that is not a ready
   * image one uploaded is refused (`invalid` or `not_found`).
   * @param {ProfileUpdate} change
   * @returns {Promise<User>}
   */
  updateProfile(change) { return this.request('PATCH', '/users/me/profile', change); }

  /**
   * Makes a ready image one uploaded the avatar of a group one is a member of.
   * @param {string} id @param {string} mediaId @returns {Promise<Conversation>}
   */
  setGroupAvatar(id, mediaId) { return this.request('PUT', `/conversations/${enc(id)}/avatar`, { media_id: mediaId }); }

  /** @param {string} id @returns {Promise<void>} */
  async removeGroupAvatar(id) { await this.request('DELETE', `/conversations/${enc(id)}/avatar`); }

  /**
   * Pins a message (any member of a 1:1, an admin of a group; at most 3).
   * @param {string} id @param {string} messageId @returns {Promise<Conversation>}
   */
  pin(id, messageId) { return this.request('PUT', `/conversations/${enc(id)}/pins/${enc(messageId)}`); }

  /**
   * Sets disappearing messages (any member of a 1:1, an admin of a group).
   * @param {string} id @param {number} seconds one of DISAPPEARING_OPTIONS (0: off) @returns {Promise<Conversation>}
   */
  setDisappearing(id, seconds) { return this.request('PUT', `/conversations/${enc(id)}/disappearing`, { seconds }); }

  /** @param {string} id @param {string} messageId @returns {Promise<void>} */
  async unpin(id, messageId) { await this.request('DELETE', `/conversations/${enc(id)}/pins/${enc(messageId)}`); }

  /** @returns {Promise<ServerInfo>} */
  server() { return this.request('GET', '/server'); }

  // ---- web push ----

  /**
   * The server's VAPID key, base64url: pass it (decoded to bytes) to
   * `pushManager.subscribe` as `applicationServerKey`.
   * @returns {Promise<string>}
   */
  async vapidKey() {
    const res = await this.request('GET', '/push/vapid');
    return res.public_key;
  }

  /**
   * Makes a browser push subscription this device's, replacing any. While
   * the device has no connection, messages for it are announced by pushes
   * (a PushNotice, never the content). A subscription the server will not
   * push to (not https, a private address, bad keys) is 400 `invalid`.
   * @param {PushSubscriptionJSON | {toJSON(): any}} subscription a PushSubscription or its JSON
   * @returns {Promise<void>}
   */
  async subscribePush(subscription) {
    const json = 'toJSON' in subscription && typeof subscription.toJSON === 'function' ? subscription.toJSON() : subscription;
    await this.request('POST', '/push/subscriptions', json);
  }

  /** Removes this device's push subscription. @returns {Promise<void>} */
  async unsubscribePush() { await this.request('DELETE', '/push/subscriptions'); }

  // ---- conversations ----

  /** @returns {Promise<Conversation[]>} */
  async conversations() {
    const res = await this.request('GET', '/conversations');
    return (res && res.conversations) || [];
  }

  /** @param {string} id @returns {Promise<Conversation>} */
  conversation(id) { return this.request('GET', `/conversations/${enc(id)}`); }

  /**
   * The 1:1 conversation with another user, created if needed.
   * @param {string} otherUserId
   * @returns {Promise<Conversation>}
   */
  createDirect(otherUserId) {
    return this.request('POST', '/conversations', { type: '1:1', participants: [otherUserId] });
  }

  /**
   * A group; the caller becomes its admin.
   * @param {string} name
   * @param {string[]} participants
   * @param {{description?: string}} [options]
   * @returns {Promise<Conversation>}
   */
  createGroup(name, participants, options) {
    /** @type {{type: 'group', name: string, participants: string[], description?: string}} */
    const body = { type: 'group', name, participants };
    if (options && options.description) body.description = options.description;
    return this.request('POST', '/conversations', body);
  }

  /** @param {string} id @param {string} name @returns {Promise<Conversation>} */
  rename(id, name) { return this.request('PATCH', `/conversations/${enc(id)}`, { name }); }

  /**
   * Changes a group's name, description or settings. The settings are
   * admins'; name and description any member's unless only_admins_edit_info.
   * @param {string} id
   * @param {GroupUpdate} change
   * @returns {Promise<Conversation>}
   */
  updateGroup(id, change) { return this.request('PATCH', `/conversations/${enc(id)}`, change); }

  /** A new invite link of a group (admins only). @param {string} id @returns {Promise<Invite>} */
  createInvite(id) { return this.request('POST', `/conversations/${enc(id)}/invites`); }

  /** A group's valid invite links (admins only). @param {string} id @returns {Promise<Invite[]>} */
  async invites(id) {
    const res = await this.request('GET', `/conversations/${enc(id)}/invites`);
    return (res && res.invites) || [];
  }

  /** Revokes an invite link (admins only). @param {string} id @param {string} code @returns {Promise<void>} */
  async revokeInvite(id, code) { await this.request('DELETE', `/conversations/${enc(id)}/invites/${enc(code)}`); }

  /** What a link leads to; 404 not_found when unknown or revoked. @param {string} code @returns {Promise<InvitePreview>} */
  previewInvite(code) { return this.request('GET', `/invites/${enc(code)}`); }

  /** Joins a link's group (a member again: unchanged). @param {string} code @returns {Promise<Conversation>} */
  joinByInvite(code) { return this.request('POST', `/invites/${enc(code)}/join`); }

  /** @param {string} id @returns {Promise<Participant[]>} */
  async participants(id) {
    const res = await this.request('GET', `/conversations/${enc(id)}/participants`);
    return (res && res.participants) || [];
  }

  /** @param {string} id @param {string} userId @returns {Promise<Conversation>} */
  addParticipant(id, userId) {
    return this.request('POST', `/conversations/${enc(id)}/participants`, { user_id: userId });
  }

  /**
   * Removes a member (admins), or leaves (one's own id).
   * @param {string} id
   * @param {string} userId
   * @returns {Promise<void>}
   */
  async removeParticipant(id, userId) {
    await this.request('DELETE', `/conversations/${enc(id)}/participants/${enc(userId)}`);
  }

  /**
   * @param {string} id
   * @param {string} userId
   * @param {'admin'|'member'} role
   * @returns {Promise<Conversation>}
   */
  setRole(id, userId, role) {
    return this.request('PATCH', `/conversations/${enc(id)}/participants/${enc(userId)}`, { role });
  }

  /**
   * A page of history, ascending by sequence_number.
   * @param {string} id
   * @param {HistoryQuery} [q]
   * @returns {Promise<Message[]>}
   */
  async history(id, q = {}) {
    const qs = new URLSearchParams();
    if (q.after_seq != null) qs.set('after_seq', String(q.after_seq));
    if (q.before_seq != null) qs.set('before_seq', String(q.before_seq));
    if (q.limit != null) qs.set('limit', String(q.limit));
    const s = qs.toString();
    const res = await this.request('GET', `/conversations/${enc(id)}/messages${s ? `?${s}` : ''}`);
    return (res && res.messages) || [];
  }

  /**
   * Sends a message over HTTP (no WebSocket needed) and resolves once it is
   * stored, as a message_ack would. The idempotency key is the message's
   * client_message_id, shared with the WebSocket's: after an error that
   * left the outcome unknown (a network error, a 5xx, rate_limited after
   * its Retry-After), post again with the same key and the message is
   * stored at most once; the server then answers the original (HTTP 200).
   * A bad message rejects at once with code `invalid` or `too_large`.
   * @param {string} conversationId
   * @param {OutgoingMessage} message
   * @param {{idempotencyKey?: string}} [opts] idempotencyKey: left out, a new one is made
   * @returns {Promise<SentMessage>}
   */
  async postMessage(conversationId, message, opts = {}) {
    const key = opts.idempotencyKey ?? newClientMessageId();
    // The frame's checks, so a message refused here is refused the same
    // way on either path.
    encodeClientFrame({ type: 'message', client_message_id: key, conversation_id: conversationId, ...message });
    return this.request('POST', `/conversations/${enc(conversationId)}/messages`, message, { headers: { 'Idempotency-Key': key } });
  }

  /**
   * Marks messages of a conversation read by the user, as a read_receipt
   * frame does; resolves once stored.
   * @param {string} conversationId
   * @param {string[]} messageIds 1 to 1000
   */
  async markRead(conversationId, messageIds) {
    await this.request('POST', `/conversations/${enc(conversationId)}/read`, { message_ids: messageIds });
  }

  /**
   * Marks messages received by this session's device, as a delivery_ack
   * frame does; resolves once stored.
   * @param {string[]} messageIds 1 to 1000
   */
  async markDelivered(messageIds) {
    await this.request('POST', '/messages/delivered', { message_ids: messageIds });
  }

  /** @param {string} messageId @returns {Promise<MessageStatus>} */
  messageStatus(messageId) { return this.request('GET', `/messages/${enc(messageId)}/status`); }
  /** @param {string} messageId @returns {Promise<MessageTrace>} the sender's delivery trace */
  trace(messageId) { return this.request('GET', `/messages/${enc(messageId)}/trace`); }

  // ---- media ----

  /**
   * @param {string} contentType
   * @param {number} size bytes
   * @returns {Promise<MediaUpload>}
   */
  createUpload(contentType, size) { return this.request('POST', '/media', { content_type: contentType, size }); }

  /**
   * PUTs the bytes to a presigned URL. No token goes with them: the URL is
   * the permission, and it may point at another origin (an object store).
   * @param {MediaUpload} upload
   * @param {UploadBody} body
   * @param {string} contentType
   * @returns {Promise<void>}
   */
  async putUpload(upload, body, contentType) {
    /** @type {Response} */
    let res;
    try {
      res = await this.fetch(upload.upload_url, {
        method: upload.upload_method || 'PUT',
        headers: { 'Content-Type': contentType },
        body: /** @type {BodyInit} */ (body),
      });
    } catch (err) {
      throw new ParleyError(0, 'network', `the upload was interrupted: ${err instanceof Error ? err.message : err}`);
    }
    const text = await res.text();
    if (res.ok) return;
    /** @type {any} */
    let data = null;
    try { data = JSON.parse(text); } catch { /* an object store's XML */ }
    throw errorFromBody(res.status, data, res.headers.get('Retry-After'));
  }

  /** @param {string} mediaId @returns {Promise<Media>} */
  completeUpload(mediaId) { return this.request('POST', `/media/${enc(mediaId)}/complete`, {}); }

  /** @param {string} mediaId @returns {Promise<Media>} */
  media(mediaId) { return this.request('GET', `/media/${enc(mediaId)}`); }
}

/**
 * The error of a non-2xx answer.
 * @param {number} status
 * @param {any} data the parsed body, or null
 * @param {string|null} retryAfter the Retry-After header (seconds)
 * @returns {ParleyError}
 */
export function errorFromBody(status, data, retryAfter) {
  const e = data && typeof data === 'object' && data.error && typeof data.error === 'object' ? data.error : {};
  const secs = retryAfter == null ? NaN : Number(retryAfter);
  const code = typeof e.code === 'string' && e.code ? e.code : fallbackCode(status);
  return new ParleyError(status, code, typeof e.message === 'string' ? e.message : '', Number.isFinite(secs) && secs >= 0 ? secs * 1000 : undefined);
}

/**
 * A code for an answer without the API's error body (a proxy's page, an
 * object store's XML), from its status alone.
 * @param {number} status
 * @returns {string}
 */
function fallbackCode(status) {
  /** @type {Record<number, string>} */
  const byStatus = { 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 422: 'invalid', 429: 'rate_limited' };
  return byStatus[status] || (status >= 500 ? 'internal' : 'invalid');
}

/** @param {string} s */
const enc = (s) => encodeURIComponent(s);

/**
 * A new client_message_id (or Idempotency-Key): 128 random bits in hex.
 * getRandomValues rather than randomUUID, which a page served over plain
 * http from a LAN address does not have. An app that must know the key
 * before sending (to show the message as pending) makes it here.
 * @returns {string}
 */
export function newClientMessageId() {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
