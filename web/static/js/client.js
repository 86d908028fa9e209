// The client's model: conversations, messages, receipts, presence and typing,
// as the app shows them. Every HTTP call and WebSocket frame goes through
// the JavaScript SDK (/sdk/index.js, from sdk/js/src): its connection
// reconnects, its outbox resends with the same client_message_id, its
// cursors fill gaps, and it acks deliveries. This file keeps what the
// screens need on top: the list with unread counts and last messages, the
// loaded pages of each conversation, ticks, who is typing and presence.
// Views read it and listen to its events; they never talk to the server.
//
// Events (CustomEvent, detail in parentheses):
//   conversations                 the list, its order, unread counts or last messages changed
//   messages   ({conversation_id}) messages were added, confirmed, removed or failed, or reacted to, edited or deleted
//   ticks      ({conversation_id}) delivery/read state of own messages changed
//   progress   ({message})        an attachment's upload progressed
//   presence   ({user_id})
//   typing     ({conversation_id})
//   users                          a user's name became known
//   connection ({state})          'connecting' | 'open' | 'closed'
//   incoming   ({message})        a live message from someone else (for the screen-reader announcement)
//   notice     ({text})           something the user should be told
//   signedout  ({why})            the session ended (the SDK's reason: a close reason, 'unauthorized')
//   server                         what the server can process, or its limits, changed
//   blocks                         the users this one blocks, or the chats it muted, changed

import { newClientMessageId } from '/sdk/index.js';
import { putWithProgress } from './upload.js';
import { Chat, fromServer, quoteOf } from './chatlog.js';

const PAGE = 50;
const TYPING_TTL_MS = 6_000;
const MEDIA_TTL_MS = 4 * 60_000;
const STATUS_FETCHES = 20;
const PRESENCE_GRACE_MAX_MS = 10_000; // the server's --presence-grace is at most 10 s
const PRESENCE_RECHECK_MS = [3_500, 11_000]; // past the default grace (3 s), then past the longest

export const RANK = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };
const byRank = (a, b) => (RANK[a] >= RANK[b] ? a : b);
const minRank = (a, b) => (RANK[a] <= RANK[b] ? a : b);

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
   * @param {{token: string, user_id: string, username?: string}} session
   * @param {import('/sdk/index.js').Parley} parley signed in as session's user, made with catchUpOnConnect: false (the list fetched here on connecting feeds its catch-up)
   */
  constructor(session, parley) {
    super();
    this.session = session;
    this.me = session.user_id;
    this.parley = parley;
    this.users = new Map();
    this.userFetches = new Map();
    this.userFetchedAt = new Map(); // user id → when its object (and avatar URLs) was fetched
    this.userRefreshes = new Set(); // user ids being fetched again
    this.convs = new Map();
    this.chats = new Map();
    this.presence = new Map();
    this.typing = new Map(); // conversation id → Map(user id → expiry timer)
    this.mediaCache = new Map(); // media id → {at, promise}
    this.pendingStatus = new Map(); // message id → status frames that came before the message
    this.orphans = []; // live messages of conversations not in the list yet
    this.refreshTimer = 0;
    this.active = null;
    this.presenceTimers = new Map(); // user id → timers of presence checks after the grace
    this.listTimer = 0;
    this.listingNow = new Set(); // one entry per GET /conversations in flight (see refreshConversations)
    this.server = DEFAULT_SERVER;
    this.stopped = false;
    this.offs = [];
    this.blocked = new Set(); // user ids this user blocks
    // Muting is this browser's choice alone: no announcement of a muted
    // chat's messages (the server knows nothing of it).
    this.mutedKey = `parley.muted.${this.me}`;
    this.muted = new Set(readJSON(this.mutedKey, []));
  }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  /** 'connecting', 'open' or 'closed' (the SDK's 'disconnected', waiting to reconnect, shows as closed). */
  get connection() {
    const s = this.parley.state;
    return s === 'disconnected' ? 'closed' : s;
  }

  /** How many messages wait in the SDK's outbox for the server's ack. */
  get waiting() { return this.parley.pending().length; }

  async start() {
    const p = this.parley;
    this.offs = [
      p.on('state', (s) => this.onState(s)),
      p.on('message', (m) => this.onMessage(m)),
      p.on('ack', (f) => this.onAck(f)),
      p.on('status', (f) => this.onStatus(f)),
      p.on('presence', (f) => this.onPresence(f)),
      p.on('typing', (f) => this.onTyping(f)),
      p.on('profile', (f) => this.refreshUser(f.user_id)),
      p.on('reaction', (f) => this.onUpdate(f)),
      p.on('messageEdited', (f) => this.onUpdate(f)),
      p.on('messageDeleted', (f) => this.onUpdate(f)),
      p.on('error', (e) => this.onError(e)),
      p.on('sessionEnded', ({ reason }) => this.emit('signedout', { why: reason })),
    ];
    // Messages left in the outbox by an earlier page (the SDK keeps it in
    // localStorage): shown as pending again, their outcome followed.
    for (const item of p.pending()) this.track(item);
    this.visibility = () => {
      if (!this.visible()) return;
      p.reconnectNow(); // a tab brought back should not sit out a long backoff
      this.markRead();
    };
    document.addEventListener('visibilitychange', this.visibility);
    this.ensureUser(this.me);
    p.connect().catch(() => {}); // a session that ends first is reported by sessionEnded
    this.refreshServer();
    this.refreshBlocks();
    await this.refreshConversations().catch(() => {});
  }

  async refreshBlocks() {
    try {
      const list = await this.parley.blocks();
      this.blocked = new Set(list.map((b) => b.user_id));
      this.emit('blocks');
    } catch {
      // Shown as not blocked until the next try; the server enforces it anyway.
    }
  }

  isBlocked(userId) { return this.blocked.has(userId); }

  /** Blocks a user: nothing tells them; their 1:1 messages never arrive. */
  async block(userId) {
    await this.parley.block(userId);
    this.blocked.add(userId);
    this.emit('blocks');
  }

  /** Ends a block: what they sent meanwhile never arrives, what follows does. */
  async unblock(userId) {
    await this.parley.unblock(userId);
    this.blocked.delete(userId);
    this.emit('blocks');
  }

  isMuted(convId) { return this.muted.has(convId); }

  setMuted(convId, on) {
    if (on) this.muted.add(convId);
    else this.muted.delete(convId);
    try {
      localStorage.setItem(this.mutedKey, JSON.stringify([...this.muted]));
    } catch {
      // A full or disabled storage keeps the choice for this page only.
    }
    this.emit('blocks');
  }

  /**
   * Drops disappearing messages at their expires_at, as the server does:
   * one timer, for the earliest expiry among the loaded messages.
   */
  scheduleExpiry() {
    clearTimeout(this.expiryTimer);
    if (this.stopped) return;
    const now = Date.now();
    let next = Infinity;
    for (const chat of this.chats.values()) {
      if (chat.dropExpired(now)) this.emit('messages', { conversation_id: chat.id });
      for (const m of chat.list) if (m.expires_at && m.expires_at < next) next = m.expires_at;
    }
    if (next === Infinity) return;
    // Capped so a far expiry does not overflow setTimeout's 24.8 days.
    this.expiryTimer = setTimeout(() => this.scheduleExpiry(), Math.min(Math.max(0, next - now) + 50, 2 ** 30));
  }

  /**
   * Forwards m to the conversation convId: its content, type and media,
   * with forward_of naming it (the server checks that we can see it).
   */
  forward(m, convId) {
    const item = {
      client_message_id: newClientMessageId(),
      conversation_id: convId,
      message_type: m.message_type,
      content: m.content || '',
      created_at: Date.now(),
      forward_of: m.message_id,
      forwarded: (m.forwarded || 0) + 1,
    };
    if (m.media_id) item.media_id = m.media_id;
    this.enqueue(item);
    this.emit('conversations');
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    for (const off of this.offs) off();
    this.offs = [];
    this.parley.disconnect();
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
      s = await this.parley.serverInfo();
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
    if (u.deleted) return 'Deleted account';
    return u.display_name || u.username;
  }

  /** Whether a user is a bot account (user JSON's bot): its name shows a "Bot" badge. */
  isBot(id) { return !!(id && this.users.get(id)?.bot); }

  /**
   * The 96-pixel picture of a user, or of a group (a conversation id):
   * "" when it has none or its owner keeps it from this user.
   */
  avatarUrl(id) {
    const conv = this.convs.get(id);
    const a = conv ? conv.avatar : this.users.get(id)?.avatar;
    // Avatar URLs are short-lived like media URLs: a user fetched long ago
    // is fetched again (the picture shown meanwhile is the browser's copy).
    if (!conv && a && Date.now() - (this.userFetchedAt.get(id) || 0) > MEDIA_TTL_MS) this.refreshUser(id);
    return (a && a.url_96) || '';
  }

  /**
   * Fetches a user again: its profile changed (a profile frame), and what
   * it shows this user is what the server answers.
   */
  refreshUser(id) {
    if (!id || this.userRefreshes.has(id)) return;
    this.userRefreshes.add(id);
    this.parley.user(id).then((u) => {
      this.users.set(id, u);
      this.userFetchedAt.set(id, Date.now());
      this.emit('users');
    }, () => {}).finally(() => this.userRefreshes.delete(id));
  }

  /** Saves this user's profile; the answer is its new profile. */
  async saveProfile(change) {
    const u = await this.parley.updateProfile(change);
    this.users.set(this.me, u);
    this.userFetchedAt.set(this.me, Date.now());
    this.emit('users');
    return u;
  }

  ensureUser(id) {
    if (!id || this.users.has(id) || this.userFetches.has(id)) return this.userFetches.get(id);
    const p = this.parley.user(id).then((u) => {
      this.users.set(id, u);
      this.userFetchedAt.set(id, Date.now());
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
    let list;
    try {
      list = await this.parley.conversations();
    } catch (e) {
      this.listingNow.delete(counted);
      this.emit('conversations');
      throw e;
    }
    this.listingNow.delete(counted);
    const seen = new Set();
    for (const c of list) {
      seen.add(c.conversation_id);
      const old = this.convs.get(c.conversation_id);
      // While a conversation is on screen its messages are read as they come.
      if (c.conversation_id === this.active && this.visible()) c.unread_count = c.unread_mentions = 0;
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
    for (const item of this.parley.pending()) this.touch(item.conversation_id, { ...item, sender_id: this.me }, item.created_at);
    this.subscribePresence();
    this.emit('conversations');
    return list;
  }

  /** Sets the chat's disappearing messages (seconds, 0: off) and learns the result. */
  async setDisappearing(convId, seconds) {
    await this.parley.setDisappearing(convId, seconds);
    return this.loadConversation(convId);
  }

  /** Fetches one conversation (new to us, or its members changed). */
  async loadConversation(id) {
    try {
      const c = await this.parley.conversation(id);
      const old = this.convs.get(id);
      this.convs.set(id, old ? Object.assign(forgetGroupInfo(old, c), c) : { unread_count: 0, ...c });
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
    const c = await this.parley.createDirect(otherId);
    this.convs.set(c.conversation_id, { unread_count: 0, ...this.convs.get(c.conversation_id), ...c });
    for (const p of c.participants) this.ensureUser(p.user_id);
    this.subscribePresence();
    this.emit('conversations');
    return c.conversation_id;
  }

  async createGroup(name, ids) {
    const c = await this.parley.createGroup(name, ids);
    this.convs.set(c.conversation_id, { unread_count: 0, last_activity_at: Date.now(), ...c });
    for (const p of c.participants) this.ensureUser(p.user_id);
    this.subscribePresence();
    this.emit('conversations');
    return c.conversation_id;
  }

  // A membership change writes a system message, which the device that
  // made the change is not sent: the SDK fetches it from history (the
  // loaded conversation has a cursor: see loadNewest) as a message event.
  async addMember(convId, userId) {
    await this.parley.addParticipant(convId, userId);
    await this.loadConversation(convId);
    await this.parley.fillGap(convId);
  }

  async removeMember(convId, userId) {
    await this.parley.removeParticipant(convId, userId);
    if (userId === this.me) {
      this.dropConversation(convId);
      return;
    }
    await this.loadConversation(convId);
    await this.parley.fillGap(convId);
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
    return this.parley.presence(userId).then((p) => {
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
      this.parley.presence(userId).then((p) => this.setPresence(p)).catch(() => {});
    }, ms));
    this.presenceTimers.set(userId, timers);
  }

  setPresence(p) {
    this.presence.set(p.user_id, { status: p.status, last_seen: p.last_seen });
    this.emit('presence', { user_id: p.user_id });
  }

  /**
   * Loads the newest page of a conversation, once: from then on the SDK's
   * message events keep it current (in order, gaps filled), so its cursor
   * starts at the page's last message.
   */
  async loadNewest(id) {
    const chat = this.chat(id);
    if (chat.loaded) return undefined;
    if (chat.loading) return chat.loading;
    chat.loading = (async () => {
      try {
        const msgs = await this.parley.history(id, { limit: PAGE });
        for (const m of msgs) chat.put(fromServer(m));
        this.scheduleExpiry();
        chat.loaded = true;
        chat.hasMore = msgs.length === PAGE && msgs[0].sequence_number > 1;
        this.parley.startCursor(id, msgs.length ? msgs[msgs.length - 1].sequence_number : 0);
        this.emit('messages', { conversation_id: id });
        this.fetchStatuses(id, msgs);
      } finally {
        chat.loading = null;
        chat.early.clear();
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
        const msgs = await this.parley.history(id, { before_seq: before, limit: PAGE });
        for (const m of msgs) chat.put(fromServer(m));
        this.scheduleExpiry();
        chat.hasMore = msgs.length === PAGE && msgs[0].sequence_number > 1;
        this.emit('messages', { conversation_id: id, older: true });
        this.fetchStatuses(id, msgs);
      } finally {
        chat.loading = null;
        chat.early.clear();
      }
    })();
    await chat.loading;
    return true;
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
    const res = await this.parley.messageStatus(m.message_id);
    this.applyStatus(m, res);
    return res;
  }

  /** Where an own message stands on each recipient device: GET /messages/{id}/trace. */
  trace(m) { return this.parley.trace(m.message_id); }

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
        this.applyStatus(m, await this.parley.messageStatus(m.message_id));
      } catch {
        break;
      }
    }
  }

  // ---- sending ----

  /** Shows a message of the outbox as pending, and follows its send to the end. */
  track(item) {
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
      ...(item.forwarded ? { forwarded: item.forwarded } : {}),
    });
    if (item.reply_to) {
      // A reply shows its quote while pending, from the message it answers.
      const quote = item.quote || quoteOf(chat, item.reply_to);
      chat.put({ client_message_id: item.client_message_id, reply_to: item.reply_to, ...(quote ? { quote } : {}) });
    }
    // The ack arrives as an ack event (onAck); a refusal for good only here.
    // The same key again returns the waiting message's own promise.
    this.parley.send(item.conversation_id, item.content, {
      clientMessageId: item.client_message_id,
      messageType: item.message_type,
      mediaId: item.media_id,
      replyTo: item.reply_to,
      mentions: item.mentions,
      forwardOf: item.forward_of,
    }).then(() => this.emit('connection', { state: this.connection }), (err) => this.onSendFailed(item, err));
  }

  /** @param {{replyTo?: string}} [opts] replyTo: the message_id this one answers */
  sendText(convId, text, { replyTo } = {}) {
    this.setComposing(convId, false);
    const item = {
      client_message_id: newClientMessageId(),
      conversation_id: convId,
      message_type: 'text',
      content: text,
      created_at: Date.now(),
    };
    if (replyTo) item.reply_to = replyTo;
    const mentions = this.mentionsIn(convId, text);
    if (mentions.length) item.mentions = mentions;
    this.enqueue(item);
  }

  /**
   * The members of a group that text names as "@Display Name" or
   * "@username" (any case): the server delivers them as mentions and
   * counts them in each one's unread_mentions.
   */
  mentionsIn(convId, text) {
    const conv = this.convs.get(convId);
    if (!conv || conv.type !== 'group' || !text.includes('@')) return [];
    const lower = text.toLowerCase();
    return conv.participants.map((p) => p.user_id).filter((id) => {
      if (id === this.me) return false;
      const u = this.users.get(id);
      return !!u && [u.display_name, u.username].some((n) => n && lower.includes(`@${n.toLowerCase()}`));
    });
  }

  enqueue(item) {
    this.track(item);
    this.touch(item.conversation_id, { ...item, sender_id: this.me }, item.created_at);
    this.emit('messages', { conversation_id: item.conversation_id });
  }

  /** A send the server refused for good (or the user gave up on). */
  onSendFailed(item, err) {
    this.emit('connection', { state: this.connection }); // the banner's count of waiting messages
    if (err.code === 'cancelled' || err.code === 'session_ended') return;
    const chat = this.chats.get(item.conversation_id);
    const m = chat && chat.byCmid.get(item.client_message_id);
    if (!m) return;
    m.failed = err.code === 'too_large' ? 'Not sent: the message is too long.'
      : err.code === 'invalid' && item.reply_to ? 'Not sent: the message it replies to is not available.'
      : err.code === 'invalid' && item.forward_of ? 'Not sent: the message it forwards is not available.'
      : err.code === 'forbidden' ? 'Not sent: you are not a member of this conversation.'
        : `Not sent: ${err.message || err.code}`;
    this.emit('messages', { conversation_id: item.conversation_id });
    this.emit('notice', { text: m.failed });
  }

  /**
   * Uploads file through the presigned flow, then sends the message that
   * carries it. The pending bubble shows the upload's progress; a server
   * without the media endpoints (404) gets a clear note instead.
   * @param {'image'|'video'|'audio'} kind
   * @param {{duration_ms?: number}} [extra] what the client already knows (a voice note's length)
   * @param {{replyTo?: string}} [opts] replyTo: the message_id this one answers
   */
  async sendMedia(convId, file, kind, caption = '', extra = {}, { replyTo } = {}) {
    const cmid = newClientMessageId();
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
    const quote = replyTo && quoteOf(chat, replyTo);
    if (replyTo) chat.put({ client_message_id: cmid, reply_to: replyTo, ...(quote ? { quote } : {}) });
    this.emit('messages', { conversation_id: convId });
    try {
      const created = await this.parley.createUpload(contentType, file.size);
      const up = putWithProgress(created, file, contentType, (p) => {
        m.upload.progress = p;
        this.emit('progress', { message: m });
      });
      m.upload.abort = up.abort;
      await up.promise;
      const meta = await this.parley.completeUpload(created.media_id);
      this.mediaCache.set(created.media_id, { at: Date.now(), promise: Promise.resolve(meta) });
      m.media_id = created.media_id;
      m.upload.done = true;
      this.track({
        client_message_id: cmid,
        conversation_id: convId,
        message_type: kind,
        content: caption,
        media_id: created.media_id,
        created_at: m.created_at,
        ...(replyTo ? { reply_to: replyTo, ...(quote ? { quote } : {}) } : {}),
      });
      this.touch(convId, m, m.created_at);
      this.emit('messages', { conversation_id: convId });
    } catch (e) {
      if (m.upload.aborted) return; // dismissed while uploading
      // 404 from POST /media: a server without the media endpoints.
      m.failed = e.status === 404 ? 'Attachments are not available on this server.' : `Not sent: ${e.message}`;
      this.emit('messages', { conversation_id: convId });
      this.emit('notice', { text: m.failed });
    }
  }

  /** Drops a message that failed for good, or one the user gave up on. */
  discard(m) {
    if (m.upload && m.upload.abort && !m.upload.done) {
      m.upload.aborted = true;
      m.upload.abort();
    }
    if (m.client_message_id) this.parley.cancel(m.client_message_id);
    this.chat(m.conversation_id).remove(m);
    this.emit('messages', { conversation_id: m.conversation_id });
  }

  /** Metadata and short-lived URLs of a media id, cached while the URLs are fresh. */
  media(id, { fresh = false } = {}) {
    const c = this.mediaCache.get(id);
    if (c && !fresh && Date.now() - c.at < MEDIA_TTL_MS) return c.promise;
    const promise = this.parley.media(id);
    this.mediaCache.set(id, { at: Date.now(), promise });
    promise.catch(() => this.mediaCache.delete(id));
    return promise;
  }

  /**
   * Tells the conversation's members whether we are typing: on every
   * keystroke; the SDK refreshes a composing state at most every 3 s (the
   * server ends one not refreshed within 6 s) and says paused only after
   * a composing.
   */
  setComposing(convId, on) { this.parley.setTyping(convId, on); }

  /** Who is typing in a conversation, others only. */
  typists(convId) {
    const t = this.typing.get(convId);
    return t ? [...t.keys()] : [];
  }

  // ---- the SDK's events ----

  onState(state) {
    if (state === 'open') this.onOpen();
    if (state !== 'open' && state !== 'connecting' && this.presence.size) {
      // Without a connection nobody's presence is known; the next one
      // brings every online contact again.
      this.presence.clear();
      this.emit('presence', {});
    }
    this.emit('connection', { state: this.connection });
  }

  onOpen() {
    // The SDK resends the outbox, subscribes presence again and flushes
    // read receipts by itself; what changed while we were away — messages
    // read on another device, members added, a conversation we were added
    // to, what the server can process — is asked for here.
    this.refreshServer();
    this.relist(0);
    if (this.active) {
      const peer = this.peer(this.convs.get(this.active));
      if (peer) this.fetchPresence(peer);
    }
    this.markRead();
  }

  /**
   * Refreshes the list after a (re)connection, trying again while the
   * connection lasts, and hands it to the SDK's catch-up: conversations
   * ahead of their cursors are filled from history.
   */
  relist(attempt) {
    clearTimeout(this.listTimer);
    this.refreshConversations().then((list) => this.parley.catchUp(list), () => {
      if (this.stopped || this.connection !== 'open' || attempt >= LIST_RETRY_MS.length) return;
      this.listTimer = setTimeout(() => this.relist(attempt + 1), LIST_RETRY_MS[attempt]);
    });
  }

  /** Follows the presence of everyone in the list (the SDK keeps it across reconnects). */
  subscribePresence() {
    const ids = new Set();
    for (const c of this.convs.values()) {
      for (const p of c.participants) if (p.user_id !== this.me) ids.add(p.user_id);
    }
    if (ids.size) this.parley.subscribePresence([...ids]);
  }

  onAck(f) {
    const chat = this.chat(f.conversation_id);
    const pending = chat.byCmid.get(f.client_message_id);
    const dup = chat.byId.get(f.message_id);
    if (pending && dup && dup !== pending) chat.remove(dup); // history fetched it first
    if (!pending) return; // dismissed, or another tab's
    const m = chat.put({
      client_message_id: f.client_message_id,
      message_id: f.message_id,
      sequence_number: f.sequence_number,
      created_at: f.timestamp || pending.created_at,
      pending: false,
    });
    // The ack does not carry expires_at: the chat's setting as this client
    // knows it gives it (the server's, decided at the commit, wins in
    // history).
    const conv = this.convs.get(f.conversation_id);
    if (conv && conv.disappearing_seconds && !m.expires_at) {
      m.expires_at = m.created_at + conv.disappearing_seconds * 1000;
      this.scheduleExpiry();
    }
    m.recipients = this.recipientsOf(m);
    this.applyPendingStatus(chat, m);
    this.touch(f.conversation_id, m, m.created_at);
    this.emit('messages', { conversation_id: f.conversation_id });
  }

  /** A message from someone else (or another device of ours), each once and in order: the SDK's cursors see to it. */
  onMessage(msg) {
    const id = msg.conversation_id;
    const m = fromServer(msg);
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
    // While the newest page is on its way too: the page may have been read
    // before this message was stored.
    if (chat && (chat.loaded || chat.loading)) {
      if (chat.byId.has(m.message_id)) return; // the page brought it already
      chat.put(m);
      this.scheduleExpiry();
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
      if (c && (m.mentions || []).includes(this.me)) c.unread_mentions = (c.unread_mentions || 0) + 1;
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

  // ---- reactions, edits, deletions ----

  /**
   * Sets this user's reaction to m ("" removes it). The change shows when
   * the server tells it back (onUpdate), as on every other device.
   * @returns {Promise<unknown>} rejects with the server's refusal
   */
  react(m, emoji) { return this.parley.react(m.message_id, emoji); }

  /** Replaces the text of an own text message (within 15 minutes). */
  editMessage(m, text) { return this.parley.edit(m.message_id, text); }

  /** Deletes m for 'everyone' or for 'me' (this user's devices). */
  deleteMessage(m, forWhom) { return this.parley.deleteMessage(m.message_id, forWhom); }

  /**
   * A reaction, edit or deletion the server told (live, or again after a
   * reconnect): applied to the loaded message and to the list's preview.
   */
  onUpdate(f) {
    const id = f.conversation_id;
    const chat = this.chats.get(id);
    const changed = !!chat && chat.update(f);
    const c = this.convs.get(id);
    const last = c && c.last_message;
    if (last && last.message_id === f.message_id && f.type !== 'reaction') {
      if (f.type === 'message_edited') last.content = f.content;
      else if (f.for === 'everyone') Object.assign(last, { deleted: true, content: '' });
      else this.scheduleRefresh(); // hidden: the list says what comes before it
      this.emit('conversations');
    }
    if (changed) this.emit('messages', { conversation_id: id });
  }

  /** An error frame not tied to a send: a forbidden one may mean we were removed from the open chat. */
  onError(err) {
    if (err.code === 'forbidden' && this.active) this.loadConversation(this.active).catch(() => {});
  }

  // ---- receipts ----

  /**
   * Sends a read receipt for what the open, visible conversation shows
   * (the SDK keeps it for the next connection when there is none).
   */
  markRead() {
    const id = this.active;
    if (!id || !this.visible()) return;
    const chat = this.chats.get(id);
    if (!chat || !chat.loaded) return;
    const unread = chat.list.filter((m) => !m.pending && m.sender_id !== this.me && m.sequence_number > chat.readSent);
    const conv = this.convs.get(id);
    if (conv && (conv.unread_count || conv.unread_mentions)) {
      conv.unread_count = conv.unread_mentions = 0;
      this.emit('conversations');
    }
    if (!unread.length) return;
    this.parley.markRead(id, unread.map((m) => m.message_id));
    chat.readSent = unread[unread.length - 1].sequence_number;
  }
}

/**
 * The server's summary c of a conversation, over the one we hold (old).
 * counted: sequence numbers of messages counted unread here while the
 * request was on its way.
 */
/**
 * A group's description and settings are left out of a conversation when
 * empty or false: one the server's answer lacks is gone, not unchanged.
 */
function forgetGroupInfo(old, c) {
  for (const k of ['description', 'only_admins_send', 'only_admins_edit_info', 'disappearing_seconds']) if (!(k in c)) delete old[k];
  return old;
}

function merge(old, c, counted = []) {
  const seq = (m) => (m && m.sequence_number != null ? m.sequence_number : 0);
  const snapshot = Math.max(c.last_sequence_number || 0, seq(c.last_message));
  const ours = old.last_message;
  const newer = seq(ours) > snapshot;
  if (!c.last_message && !newer) delete old.last_message; // expired on the server
  Object.assign(forgetGroupInfo(old, c), c);
  if (newer) {
    // A live message came after the server read the list: it stays.
    old.last_message = ours;
    old.last_sequence_number = seq(ours);
    old.last_activity_at = Math.max(c.last_activity_at || 0, ours.created_at || 0);
  }
  old.unread_count = (c.unread_count || 0) + counted.filter((n) => n > snapshot).length;
  return old;
}

/** The JSON stored under key, or fallback when there is none or it is unreadable. */
function readJSON(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v ? JSON.parse(v) : fallback;
  } catch {
    return fallback;
  }
}
