// The client's model: conversations, messages, receipts, presence and typing,
// kept in step with the server over HTTP and the WebSocket. Views read it
// and listen to its events; they never talk to the server themselves.
//
// Events (CustomEvent, detail in parentheses):
//   conversations                 the list, its order, unread counts or last messages changed
//   messages   ({conversation_id}) messages were added, confirmed, removed or failed
//   ticks      ({conversation_id}) delivery/read state of own messages changed
//   progress   ({message})        an attachment's upload progressed
//   presence   ({user_id})
//   typing     ({conversation_id})
//   users                          a user's name became known
//   connection ({state})          'connecting' | 'open' | 'closed'
//   incoming   ({message})        a live message from someone else (for the screen-reader announcement)
//   notice     ({text})           something the user should be told
//   signedout  ({reason, why})    'revoked' | 'expired'; why: the server's close reason
//   server                         what the server can process, or its limits, changed

import { Socket } from './socket.js';
import { Outbox } from './outbox.js';
import { upload } from './api.js';
import { Chat, fromServer } from './chatlog.js';

const PAGE = 50;
const CATCH_UP_PAGE = 500;
const MAX_IDS = 1000;
const TYPING_TTL_MS = 6_000;
const MEDIA_TTL_MS = 4 * 60_000;
const STATUS_FETCHES = 20;
const PRESENCE_GRACE_MAX_MS = 10_000; // the server's --presence-grace is at most 10 s
const PRESENCE_RECHECK_MS = [3_500, 11_000]; // past the default grace (3 s), then past the longest
const COMPOSING_REFRESH_MS = 4_000;

export const RANK = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };
const byRank = (a, b) => (RANK[a] >= RANK[b] ? a : b);
const minRank = (a, b) => (RANK[a] <= RANK[b] ? a : b);

// Error codes after which resending the same frame cannot succeed.
const PERMANENT = new Set(['invalid', 'too_large', 'forbidden', 'not_found']);
// The wait before resending a refused message when the server gave no
// retry_after_ms.
const RESEND_MS = 1_500;

/**
 * What a default server with ffmpeg answers to GET /api/v1/server: assumed
 * until the answer comes, and kept for a server without that call (404).
 */
const DEFAULT_SERVER = Object.freeze({
  media: Object.freeze({ image: true, video: true, audio: true, document: true }),
  limits: Object.freeze({ max_content_bytes: 65_536, max_group_size: 100 }),
});
const LIST_RETRY_MS = [1_000, 2_000, 4_000, 8_000];

export class Client extends EventTarget {
  /**
   * @param {{token: string, user_id: string}} session
   * @param {import('./api.js').Api} api
   */
  constructor(session, api) {
    super();
    this.session = session;
    this.me = session.user_id;
    this.api = api;
    this.socket = new Socket(() => this.session.token);
    this.outbox = new Outbox(this.me);
    this.users = new Map();
    this.userFetches = new Map();
    this.convs = new Map();
    this.chats = new Map();
    this.presence = new Map();
    this.typing = new Map(); // conversation id → Map(user id → expiry timer)
    this.subscribed = new Set();
    this.mediaCache = new Map(); // media id → {at, promise}
    this.pendingStatus = new Map(); // message id → status frames that came before the message
    this.orphans = []; // live messages of conversations not in the list yet
    this.refreshTimer = 0;
    this.active = null;
    this.ackQueue = [];
    this.ackTimer = 0;
    this.composing = null; // conversation id we last said we are typing in
    this.composingAt = 0;
    this.presenceTimers = new Map(); // user id → timers of presence checks after the grace
    this.retryTimer = 0;
    this.retryDue = 0;
    this.resends = new Set(); // refused messages waiting for retryTimer
    this.listTimer = 0;
    this.listingNow = new Set(); // one entry per GET /conversations in flight (see refreshConversations)
    this.server = DEFAULT_SERVER;
    this.stopped = false;
  }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  get connection() { return this.socket.state; }

  async start() {
    for (const item of this.outbox.items) this.addPending(item);
    this.socket.addEventListener('state', (e) => this.onSocketState(e.detail));
    this.socket.addEventListener('frame', (e) => this.onFrame(e.detail));
    this.socket.addEventListener('signedout', (e) => this.emit('signedout', { reason: 'revoked', why: e.detail && e.detail.reason }));
    this.socket.addEventListener('rejected', () => this.checkSession());
    this.visibility = () => this.markRead();
    document.addEventListener('visibilitychange', this.visibility);
    this.ensureUser(this.me);
    this.socket.start();
    this.refreshServer();
    await this.refreshConversations().catch(() => {});
  }

  stop() {
    this.stopped = true;
    this.socket.stop();
    clearTimeout(this.ackTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.listTimer);
    document.removeEventListener('visibilitychange', this.visibility);
    for (const t of this.typing.values()) for (const h of t.values()) clearTimeout(h);
    for (const ts of this.presenceTimers.values()) for (const t of ts) clearTimeout(t);
  }

  // ---- the server ----

  /**
   * Asks what the server can process and its limits. Asked again on every
   * connection: the server may have restarted with ffmpeg installed or
   * removed, or with other limits.
   */
  async refreshServer() {
    let s;
    try {
      s = await this.api.server();
    } catch {
      return; // an older server (404) or none at all: what we had stands
    }
    if (this.stopped || !s) return;
    const next = {
      media: { ...DEFAULT_SERVER.media, ...s.media },
      limits: { ...DEFAULT_SERVER.limits, ...s.limits },
    };
    if (JSON.stringify(next) === JSON.stringify(this.server)) return;
    this.server = next;
    this.emit('server');
  }

  /** Whether the server can process an attachment of kind ('image', 'video', 'audio'). */
  canSend(kind) { return this.server.media[kind] !== false; }

  /** The longest message content the server takes, in bytes of UTF-8. */
  get maxContentBytes() { return this.server.limits.max_content_bytes; }

  // ---- users and names ----

  user(id) { return this.users.get(id); }

  /** "You", the display name, or the username while the name is unknown. */
  name(id, { you = true } = {}) {
    if (you && id === this.me) return 'You';
    const u = this.users.get(id);
    if (!u) { this.ensureUser(id); return 'Someone'; }
    return u.display_name || u.username;
  }

  ensureUser(id) {
    if (!id || this.users.has(id) || this.userFetches.has(id)) return this.userFetches.get(id);
    const p = this.api.user(id).then((u) => {
      this.users.set(id, u);
      this.emit('users');
      return u;
    }).catch(() => {
      this.userFetches.delete(id);
      return null;
    });
    this.userFetches.set(id, p);
    return p;
  }

  // ---- conversations ----

  conversation(id) { return this.convs.get(id); }

  /** The other member of a 1:1 conversation. */
  peer(conv) {
    if (!conv || conv.type !== '1:1') return null;
    const p = conv.participants.find((x) => x.user_id !== this.me);
    return p ? p.user_id : null;
  }

  title(conv) {
    if (!conv) return '';
    if (conv.type === '1:1') return this.name(this.peer(conv), { you: false });
    return conv.name || 'Unnamed group';
  }

  isAdmin(conv) {
    return !!conv && conv.participants.some((p) => p.user_id === this.me && p.role === 'admin');
  }

  /** Conversations, newest activity first. */
  ordered() {
    return [...this.convs.values()].sort((a, b) => (b.last_activity_at || 0) - (a.last_activity_at || 0));
  }

  /** True while a GET /conversations is on its way (the list shows it as busy). */
  get listing() { return this.listingNow.size > 0; }

  /**
   * Replaces the list with the server's. The answer is a snapshot from the
   * moment the server read it, and live messages keep coming meanwhile
   * (after a reconnect, the whole offline queue at once): a conversation
   * whose last message here is newer than the snapshot's keeps it, and
   * the messages counted unread since the request left are added to the
   * snapshot's count — else the preview rolled back to an older message.
   */
  async refreshConversations() {
    const counted = new Map(); // conversation id → sequence numbers counted unread while waiting
    this.listingNow.add(counted);
    if (this.listingNow.size === 1) this.emit('conversations');
    let res;
    try {
      res = await this.api.conversations();
    } catch (e) {
      this.listingNow.delete(counted);
      this.emit('conversations');
      throw e;
    }
    this.listingNow.delete(counted);
    const seen = new Set();
    for (const c of res.conversations || []) {
      seen.add(c.conversation_id);
      const old = this.convs.get(c.conversation_id);
      // While a conversation is on screen its messages are read as they come.
      if (c.conversation_id === this.active && this.visible()) c.unread_count = 0;
      this.convs.set(c.conversation_id, old ? merge(old, c, counted.get(c.conversation_id)) : c);
      for (const p of c.participants) this.ensureUser(p.user_id);
    }
    for (const id of [...this.convs.keys()]) if (!seen.has(id)) this.dropConversation(id);
    // Messages of conversations we did not know yet: those newer than what
    // the list says it holds are counted now; older ones it has counted.
    const orphans = this.orphans;
    this.orphans = [];
    for (const o of orphans) {
      if (this.convs.has(o.m.conversation_id)) this.count(o.m);
      else if (++o.tries < 3) this.orphans.push(o); // not in the list yet: try again
    }
    if (this.orphans.length) this.scheduleRefresh();
    // Messages still in the outbox are newer than anything the server has.
    for (const item of this.outbox.items) this.touch(item.conversation_id, { ...item, sender_id: this.me }, item.created_at);
    this.subscribePresence();
    this.emit('conversations');
  }

  /** Fetches one conversation (new to us, or its members changed). */
  async loadConversation(id) {
    try {
      const c = await this.api.conversation(id);
      const old = this.convs.get(id);
      this.convs.set(id, old ? Object.assign(old, c) : { unread_count: 0, ...c });
      for (const p of c.participants) this.ensureUser(p.user_id);
      this.subscribePresence();
      this.emit('conversations');
      if (id === this.active) this.emit('messages', { conversation_id: id });
      return this.convs.get(id);
    } catch (e) {
      if (e.status === 403 || e.status === 404) this.dropConversation(id);
      throw e;
    }
  }

  dropConversation(id) {
    if (!this.convs.has(id)) return;
    const title = this.title(this.convs.get(id));
    this.convs.delete(id);
    this.chats.delete(id);
    if (this.active === id) {
      this.active = null;
      this.emit('notice', { text: `You are no longer a member of ${title}.` });
    }
    this.emit('conversations');
  }

  async createDirect(otherId) {
    const c = await this.api.createDirect(otherId);
    this.convs.set(c.conversation_id, { unread_count: 0, ...this.convs.get(c.conversation_id), ...c });
    for (const p of c.participants) this.ensureUser(p.user_id);
    this.subscribePresence();
    this.emit('conversations');
    return c.conversation_id;
  }

  async createGroup(name, ids) {
    const c = await this.api.createGroup(name, ids);
    this.convs.set(c.conversation_id, { unread_count: 0, last_activity_at: Date.now(), ...c });
    for (const p of c.participants) this.ensureUser(p.user_id);
    this.subscribePresence();
    this.emit('conversations');
    return c.conversation_id;
  }

  // A membership change writes a system message, which the device that
  // made the change does not receive: it is fetched like history.
  async addMember(convId, userId) {
    await this.api.addMember(convId, userId);
    await this.loadConversation(convId);
    await this.catchUp(convId).catch(() => {});
  }

  async removeMember(convId, userId) {
    await this.api.removeMember(convId, userId);
    if (userId === this.me) {
      this.dropConversation(convId);
      return;
    }
    await this.loadConversation(convId);
    await this.catchUp(convId).catch(() => {});
  }

  // ---- the open conversation ----

  chat(id) {
    let c = this.chats.get(id);
    if (!c) {
      c = new Chat(id);
      this.chats.set(id, c);
    }
    return c;
  }

  visible() { return document.visibilityState === 'visible'; }

  async open(id) {
    if (this.active && this.active !== id) this.setComposing(this.active, false);
    this.active = id;
    if (!id) return;
    if (!this.convs.has(id)) await this.loadConversation(id);
    const conv = this.convs.get(id);
    const peer = this.peer(conv);
    if (peer) this.fetchPresence(peer);
    await this.loadNewest(id);
    this.markRead();
  }

  /** Asks for a user's presence now (GET is never delayed by the server). */
  fetchPresence(userId) {
    return this.api.presence(userId).then((p) => {
      this.setPresence(p);
      if (p.status === 'offline') this.recheckPresence(userId, p.last_seen);
    }).catch(() => {});
  }

  /**
   * Frames are coalesced, GET is not: a user who closed and reopened a
   * connection within the server's presence grace (3 s by default, at most
   * 10 s) shows offline to GET and to the snapshot sent on subscribing,
   * while the frames never say online again because, for them, the user
   * never left. So a fresh "offline" is asked again once the grace is over.
   */
  recheckPresence(userId, lastSeen) {
    if (lastSeen && Date.now() - lastSeen > PRESENCE_GRACE_MAX_MS) return;
    if (this.presenceTimers.has(userId)) return;
    const timers = PRESENCE_RECHECK_MS.map((ms, i) => setTimeout(() => {
      if (i === PRESENCE_RECHECK_MS.length - 1) this.presenceTimers.delete(userId);
      if (this.stopped || this.presence.get(userId)?.status === 'online') return;
      this.api.presence(userId).then((p) => this.setPresence(p)).catch(() => {});
    }, ms));
    this.presenceTimers.set(userId, timers);
  }

  setPresence(p) {
    this.presence.set(p.user_id, { status: p.status, last_seen: p.last_seen });
    this.emit('presence', { user_id: p.user_id });
  }

  async loadNewest(id) {
    const chat = this.chat(id);
    if (chat.loaded) return this.catchUp(id);
    if (chat.loading) return chat.loading;
    chat.loading = (async () => {
      try {
        const res = await this.api.messages(id, { limit: PAGE });
        const msgs = res.messages || [];
        for (const m of msgs) chat.put(fromServer(m));
        chat.loaded = true;
        chat.hasMore = msgs.length === PAGE && msgs[0].sequence_number > 1;
        this.emit('messages', { conversation_id: id });
        this.fetchStatuses(id, msgs);
      } finally {
        chat.loading = null;
      }
    })();
    return chat.loading;
  }

  /** Loads the page before the oldest loaded message; false when there is none. */
  async loadOlder(id) {
    const chat = this.chat(id);
    if (!chat.loaded || !chat.hasMore || chat.loading) return false;
    const before = chat.oldestSeq;
    chat.loading = (async () => {
      try {
        const res = await this.api.messages(id, { before_seq: before, limit: PAGE });
        const msgs = res.messages || [];
        for (const m of msgs) chat.put(fromServer(m));
        chat.hasMore = msgs.length === PAGE && msgs[0].sequence_number > 1;
        this.emit('messages', { conversation_id: id, older: true });
        this.fetchStatuses(id, msgs);
      } finally {
        chat.loading = null;
      }
    })();
    await chat.loading;
    return true;
  }

  /** Fetches what a loaded conversation missed (a gap, or time offline). */
  async catchUp(id) {
    const chat = this.chats.get(id);
    if (!chat || !chat.loaded) return;
    for (;;) {
      const after = chat.newestSeq;
      const res = await this.api.messages(id, { after_seq: after, limit: CATCH_UP_PAGE });
      const msgs = res.messages || [];
      for (const m of msgs) chat.put(fromServer(m));
      if (msgs.length) {
        this.emit('messages', { conversation_id: id });
        this.fetchStatuses(id, msgs);
      }
      if (msgs.length < CATCH_UP_PAGE) break;
    }
    this.markRead();
  }

  /**
   * The tick state of an own message: 'pending' until the server stored
   * it, then the weakest state among its recipients ('read' only when
   * every one has read it). null for others' messages.
   */
  statusOf(m) {
    if (m.sender_id !== this.me || m.message_type === 'system') return null;
    if (m.failed) return 'failed';
    if (m.pending || m.sequence_number == null) return 'pending';
    const chat = this.chats.get(m.conversation_id);
    const recipients = this.recipientsOf(m);
    let agg = recipients.length ? 'read' : 'sent';
    for (const r of recipients) {
      let s = chat ? chat.markOf(r, m.sequence_number) : 'sent';
      if (m.fetched && m.fetched[r]) s = byRank(s, m.fetched[r]);
      agg = minRank(agg, s);
    }
    return m.aggregate ? byRank(agg, m.aggregate) : agg;
  }

  /** Who an own message went to: as the server said, or the other members now. */
  recipientsOf(m) {
    if (m.recipients) return m.recipients;
    const conv = this.convs.get(m.conversation_id);
    return conv ? conv.participants.map((p) => p.user_id).filter((id) => id !== this.me) : [];
  }

  /** Per-recipient detail of an own message, from GET /messages/{id}/status. */
  async statusDetail(m) {
    const res = await this.api.messageStatus(m.message_id);
    this.applyStatus(m, res);
    return res;
  }

  applyStatus(m, res) {
    const chat = this.chat(m.conversation_id);
    m.recipients = (res.recipients || []).map((r) => r.user_id);
    m.fetched = {};
    for (const r of res.recipients || []) {
      m.fetched[r.user_id] = r.status;
      chat.mark(r.user_id, r.status, m.sequence_number);
      this.ensureUser(r.user_id);
    }
    if (res.status) m.aggregate = res.status;
    this.emit('ticks', { conversation_id: m.conversation_id });
  }

  /**
   * Learns the state of own messages in a freshly loaded page: newest
   * first, asking only about those not already known to be read (receipts
   * are cumulative, so one answer usually settles the older ones).
   */
  async fetchStatuses(convId, msgs) {
    const chat = this.chats.get(convId);
    if (!chat) return;
    const mine = msgs
      .filter((m) => m.sender_id === this.me && m.message_type !== 'system')
      .map((m) => chat.byId.get(m.message_id))
      .filter(Boolean)
      .reverse();
    let asked = 0;
    for (const m of mine) {
      if (asked >= STATUS_FETCHES || this.stopped) break;
      if (this.statusOf(m) === 'read') continue;
      asked++;
      try {
        this.applyStatus(m, await this.api.messageStatus(m.message_id));
      } catch {
        break;
      }
    }
  }

  // ---- sending ----

  addPending(item) {
    const chat = this.chat(item.conversation_id);
    chat.put({
      client_message_id: item.client_message_id,
      conversation_id: item.conversation_id,
      sender_id: this.me,
      message_type: item.message_type,
      content: item.content,
      media_id: item.media_id,
      created_at: item.created_at,
      pending: true,
    });
  }

  sendText(convId, text) {
    this.setComposing(convId, false);
    this.enqueue({
      client_message_id: crypto.randomUUID(),
      conversation_id: convId,
      message_type: 'text',
      content: text,
      created_at: Date.now(),
    });
  }

  enqueue(item) {
    this.outbox.add(item);
    this.addPending(item);
    this.touch(item.conversation_id, { ...item, sender_id: this.me }, item.created_at);
    this.emit('messages', { conversation_id: item.conversation_id });
    this.flush();
  }

  flush() { this.outbox.flush((f) => this.socket.send(f)); }

  /**
   * Uploads file through the presigned flow, then sends the message that
   * carries it. The pending bubble shows the upload's progress; a server
   * without the media endpoints (404) gets a clear note instead.
   * @param {'image'|'video'|'audio'} kind
   * @param {{duration_ms?: number}} [extra] what the client already knows (a voice note's length)
   */
  async sendMedia(convId, file, kind, caption = '', extra = {}) {
    const cmid = crypto.randomUUID();
    const contentType = (file.type || 'application/octet-stream').split(';')[0].trim();
    const chat = this.chat(convId);
    const m = chat.put({
      client_message_id: cmid,
      conversation_id: convId,
      sender_id: this.me,
      message_type: kind,
      content: caption,
      created_at: Date.now(),
      pending: true,
      upload: { progress: 0, localUrl: URL.createObjectURL(file), size: file.size, contentType, ...extra },
    });
    this.emit('messages', { conversation_id: convId });
    try {
      const created = await this.api.createMedia(contentType, file.size);
      const up = upload(created.upload_url, created.upload_method, file, contentType, (p) => {
        m.upload.progress = p;
        this.emit('progress', { message: m });
      });
      m.upload.abort = up.abort;
      await up.promise;
      const meta = await this.api.completeMedia(created.media_id);
      this.mediaCache.set(created.media_id, { at: Date.now(), promise: Promise.resolve(meta) });
      m.media_id = created.media_id;
      m.upload.done = true;
      this.outbox.add({
        client_message_id: cmid,
        conversation_id: convId,
        message_type: kind,
        content: caption,
        media_id: created.media_id,
        created_at: m.created_at,
      });
      this.touch(convId, m, m.created_at);
      this.emit('messages', { conversation_id: convId });
      this.flush();
    } catch (e) {
      // 404 from POST /media: a server without the media endpoints.
      m.failed = e.status === 404 ? 'Attachments are not available on this server.' : `Not sent: ${e.message}`;
      this.emit('messages', { conversation_id: convId });
      this.emit('notice', { text: m.failed });
    }
  }

  /** Drops a message that failed for good (the user dismissed it). */
  discard(m) {
    if (m.upload && m.upload.abort && !m.upload.done) m.upload.abort();
    if (m.client_message_id) this.outbox.remove(m.client_message_id);
    this.chat(m.conversation_id).remove(m);
    this.emit('messages', { conversation_id: m.conversation_id });
  }

  /** Metadata and short-lived URLs of a media id, cached while the URLs are fresh. */
  media(id, { fresh = false } = {}) {
    const c = this.mediaCache.get(id);
    if (c && !fresh && Date.now() - c.at < MEDIA_TTL_MS) return c.promise;
    const promise = this.api.media(id);
    this.mediaCache.set(id, { at: Date.now(), promise });
    promise.catch(() => this.mediaCache.delete(id));
    return promise;
  }

  /**
   * Tells the conversation's members whether we are typing. The server
   * ends a composing state not refreshed within its typing timeout (6 s),
   * so while typing goes on it is said again every few seconds.
   */
  setComposing(convId, on) {
    const now = Date.now();
    if (on && this.composing === convId && now - this.composingAt < COMPOSING_REFRESH_MS) return;
    if (!on && this.composing !== convId) return;
    this.composing = on ? convId : null;
    this.composingAt = now;
    this.socket.send({ type: 'typing', conversation_id: convId, state: on ? 'composing' : 'paused' });
  }

  /** Who is typing in a conversation, others only. */
  typists(convId) {
    const t = this.typing.get(convId);
    return t ? [...t.keys()] : [];
  }

  // ---- the socket ----

  onSocketState(state) {
    if (state === 'open') this.onOpen();
    if (state === 'closed' && this.presence.size) {
      // Without a connection nobody's presence is known; the next one
      // brings every online contact again.
      this.presence.clear();
      this.emit('presence', {});
    }
    this.emit('connection', { state });
  }

  onOpen() {
    // A new connection sends everything unacknowledged, the refused too.
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    this.resends.clear();
    this.outbox.reset();
    this.subscribed.clear();
    this.composing = null;
    this.subscribePresence();
    this.flush();
    this.refreshServer();
    // What happened while we were away — messages read on another device,
    // members added, a conversation we were added to — is in the list.
    this.relist(0);
    if (this.active) {
      this.catchUp(this.active).catch(() => {});
      const peer = this.peer(this.convs.get(this.active));
      if (peer) this.fetchPresence(peer);
    }
    this.markRead();
  }

  /** Refreshes the list after a (re)connection, trying again while the connection lasts. */
  relist(attempt) {
    clearTimeout(this.listTimer);
    this.refreshConversations().catch(() => {
      if (this.stopped || !this.socket.open || attempt >= LIST_RETRY_MS.length) return;
      this.listTimer = setTimeout(() => this.relist(attempt + 1), LIST_RETRY_MS[attempt]);
    });
  }

  async checkSession() {
    // A refused upgrade says nothing about why: a bad token shows as a 401
    // on an ordinary call (which signs the user out), anything else is the
    // network and the socket keeps retrying.
    try { await this.api.user(this.me); } catch { /* handled by the API's 401 hook */ }
  }

  subscribePresence() {
    const ids = new Set();
    for (const c of this.convs.values()) {
      for (const p of c.participants) if (p.user_id !== this.me && !this.subscribed.has(p.user_id)) ids.add(p.user_id);
    }
    if (!ids.size || !this.socket.open) return;
    const list = [...ids].slice(0, MAX_IDS);
    if (this.socket.send({ type: 'presence_subscribe', user_ids: list })) {
      for (const id of list) this.subscribed.add(id);
    }
  }

  onFrame(f) {
    switch (f.type) {
      case 'message_ack': return this.onAck(f);
      case 'message': return this.onMessage(f);
      case 'status': return this.onStatus(f);
      case 'presence': return this.onPresence(f);
      case 'typing': return this.onTyping(f);
      case 'error': return this.onError(f);
      default: return undefined; // heartbeat_ack, and frames a newer server adds
    }
  }

  onAck(f) {
    this.outbox.remove(f.client_message_id);
    const chat = this.chat(f.conversation_id);
    const pending = chat.byCmid.get(f.client_message_id);
    const dup = chat.byId.get(f.message_id);
    if (pending && dup && dup !== pending) chat.remove(dup); // history fetched it first
    if (!pending) {
      // Another tab's outbox item, or a page that reloaded: fetch it.
      if (chat.loaded) this.catchUp(f.conversation_id).catch(() => {});
      return;
    }
    const m = chat.put({
      client_message_id: f.client_message_id,
      message_id: f.message_id,
      sequence_number: f.sequence_number,
      created_at: f.timestamp || pending.created_at,
      pending: false,
    });
    m.recipients = this.recipientsOf(m);
    this.applyPendingStatus(chat, m);
    this.touch(f.conversation_id, m, m.created_at);
    this.emit('messages', { conversation_id: f.conversation_id });
  }

  onMessage(f) {
    const id = f.conversation_id;
    this.queueAck(f.message_id);
    const m = fromServer(f);
    const conv = this.convs.get(id);
    if (!conv) {
      // A conversation new to us (someone wrote first, or added us): the
      // list brings it with its unread count and last message. Messages
      // that arrive meanwhile are counted once it is there.
      this.orphans.push({ m, tries: 0 });
      this.scheduleRefresh();
      if (m.sender_id !== this.me) this.emit('incoming', { message: m });
      return;
    }
    const chat = this.chats.get(id);
    if (chat && chat.loaded) {
      if (chat.byId.has(m.message_id)) return; // redelivered after a reconnect: already shown
      const gap = chat.newestSeq && m.sequence_number > chat.newestSeq + 1;
      chat.put(m);
      if (gap) this.catchUp(id).catch(() => {});
      this.emit('messages', { conversation_id: id });
    }
    const fresh = this.count(m);
    this.clearTyping(id, m.sender_id);
    if (m.message_type === 'system') this.loadConversation(id).catch(() => {});
    if (m.sender_id !== this.me && fresh) this.emit('incoming', { message: m });
    this.emit('conversations');
    this.markRead();
  }

  /** Moves the last message forward and counts m as unread; false when m is not newer. */
  count(m) {
    const id = m.conversation_id;
    const fresh = this.touch(id, m, m.created_at);
    if (fresh && m.sender_id !== this.me && !(id === this.active && this.visible())) {
      const c = this.convs.get(id);
      if (c) c.unread_count = (c.unread_count || 0) + 1;
      for (const counted of this.listingNow) {
        if (!counted.has(id)) counted.set(id, []);
        counted.get(id).push(m.sequence_number);
      }
    }
    return fresh;
  }

  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = 0;
      this.refreshConversations().catch(() => {});
    }, 150);
  }

  /** Moves a conversation's last message forward; false when m is not newer. */
  touch(convId, m, at) {
    const c = this.convs.get(convId);
    if (!c) return true;
    const last = c.last_message;
    if (m.sequence_number != null && last && last.sequence_number != null && last.sequence_number >= m.sequence_number) {
      return false;
    }
    c.last_message = {
      message_id: m.message_id,
      client_message_id: m.client_message_id,
      sender_id: m.sender_id,
      sequence_number: m.sequence_number,
      message_type: m.message_type,
      content: m.content,
      created_at: at,
    };
    c.last_activity_at = Math.max(c.last_activity_at || 0, at || 0);
    if (m.sequence_number) c.last_sequence_number = Math.max(c.last_sequence_number || 0, m.sequence_number);
    this.emit('conversations');
    return true;
  }

  onStatus(f) {
    const chat = this.chats.get(f.conversation_id);
    const m = chat && chat.byId.get(f.message_id);
    if (!m) {
      const list = this.pendingStatus.get(f.message_id) || [];
      list.push(f);
      this.pendingStatus.set(f.message_id, list);
      if (this.pendingStatus.size > 5000) this.pendingStatus.delete(this.pendingStatus.keys().next().value);
      this.emit('conversations');
      return;
    }
    chat.mark(f.user_id, f.status, m.sequence_number);
    this.emit('ticks', { conversation_id: f.conversation_id });
    this.emit('conversations');
  }

  applyPendingStatus(chat, m) {
    const list = this.pendingStatus.get(m.message_id);
    if (!list) return;
    this.pendingStatus.delete(m.message_id);
    for (const f of list) chat.mark(f.user_id, f.status, m.sequence_number);
  }

  onPresence(f) {
    this.setPresence(f);
    const conv = this.active && this.convs.get(this.active);
    if (f.status === 'offline' && conv && this.peer(conv) === f.user_id) this.recheckPresence(f.user_id, f.last_seen);
  }

  onTyping(f) {
    if (f.user_id === this.me) return;
    let t = this.typing.get(f.conversation_id);
    if (!t) {
      t = new Map();
      this.typing.set(f.conversation_id, t);
    }
    clearTimeout(t.get(f.user_id));
    if (f.state === 'composing') {
      // A lost 'paused' must not leave "typing…" up for ever.
      t.set(f.user_id, setTimeout(() => this.clearTyping(f.conversation_id, f.user_id), TYPING_TTL_MS));
    } else {
      t.delete(f.user_id);
    }
    this.emit('typing', { conversation_id: f.conversation_id });
  }

  clearTyping(convId, userId) {
    const t = this.typing.get(convId);
    if (!t || !t.has(userId)) return;
    clearTimeout(t.get(userId));
    t.delete(userId);
    this.emit('typing', { conversation_id: convId });
  }

  onError(f) {
    if (!f.client_message_id) {
      if (f.code === 'forbidden' && this.active) this.loadConversation(this.active).catch(() => {});
      return;
    }
    const cmid = f.client_message_id;
    if (!PERMANENT.has(f.code)) {
      // rate_limited or internal: nothing was stored; the same frame goes
      // again after the server's retry_after_ms, or shortly.
      this.resendLater(cmid, f.retry_after_ms > 0 ? f.retry_after_ms : RESEND_MS);
      return;
    }
    this.outbox.remove(cmid);
    for (const chat of this.chats.values()) {
      const m = chat.byCmid.get(cmid);
      if (!m) continue;
      m.failed = f.code === 'too_large' ? 'Not sent: the message is too long.'
        : f.code === 'forbidden' ? 'Not sent: you are not a member of this conversation.'
          : `Not sent: ${f.message || f.code}`;
      this.emit('messages', { conversation_id: chat.id });
      this.emit('notice', { text: m.failed });
    }
  }

  /**
   * Sends a refused message again after ms. Until then it stays in flight,
   * so a flush for another message does not send it early; one timer
   * serves every refused message, at the latest time any was told.
   */
  resendLater(cmid, ms) {
    this.resends.add(cmid);
    const due = Date.now() + ms;
    if (this.retryTimer && due <= this.retryDue) return;
    clearTimeout(this.retryTimer);
    this.retryDue = due;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = 0;
      for (const id of this.resends) this.outbox.retry(id);
      this.resends.clear();
      this.flush();
    }, ms);
  }

  // ---- receipts ----

  queueAck(id) {
    this.ackQueue.push(id);
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), 25);
  }

  flushAcks() {
    this.ackTimer = 0;
    while (this.ackQueue.length) {
      const ids = this.ackQueue.splice(0, MAX_IDS);
      // Unsent acks are not kept: the server redelivers unacknowledged
      // messages on the next connection, and they are acked then.
      this.socket.send({ type: 'delivery_ack', message_ids: ids });
    }
  }

  /** Sends a read receipt for what the open, visible conversation shows. */
  markRead() {
    const id = this.active;
    if (!id || !this.visible()) return;
    const chat = this.chats.get(id);
    if (!chat || !chat.loaded) return;
    const unread = chat.list.filter((m) => !m.pending && m.sender_id !== this.me && m.sequence_number > chat.readSent);
    const conv = this.convs.get(id);
    if (conv && conv.unread_count) {
      conv.unread_count = 0;
      this.emit('conversations');
    }
    if (!unread.length) return;
    const ids = unread.slice(-MAX_IDS).map((m) => m.message_id);
    // Delivery first: a read receipt implies it, but this device's queue
    // empties only on its own delivery_ack.
    this.flushAcks();
    if (this.socket.send({ type: 'read_receipt', conversation_id: id, message_ids: ids })) {
      chat.readSent = unread[unread.length - 1].sequence_number;
    }
  }
}

/**
 * The server's summary c of a conversation, over the one we hold (old).
 * counted: sequence numbers of messages counted unread here while the
 * request was on its way.
 */
function merge(old, c, counted = []) {
  const seq = (m) => (m && m.sequence_number != null ? m.sequence_number : 0);
  const snapshot = Math.max(c.last_sequence_number || 0, seq(c.last_message));
  const ours = old.last_message;
  const newer = seq(ours) > snapshot;
  if (!c.last_message && !newer) delete old.last_message; // expired on the server
  Object.assign(old, c);
  if (newer) {
    // A live message came after the server read the list: it stays.
    old.last_message = ours;
    old.last_sequence_number = seq(ours);
    old.last_activity_at = Math.max(c.last_activity_at || 0, ours.created_at || 0);
  }
  old.unread_count = (c.unread_count || 0) + counted.filter((n) => n > snapshot).length;
  return old;
}
