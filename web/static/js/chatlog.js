// One conversation's messages as far as they are loaded, in order, with
// what each recipient has acknowledged.

/** One conversation's messages as far as they are loaded. */
export class Chat {
  constructor(id) {
    this.id = id;
    /** Confirmed messages by sequence number, then pending ones in the order they were written. */
    this.list = [];
    this.byId = new Map();
    this.byCmid = new Map();
    this.loaded = false; // the newest page has been fetched
    this.hasMore = false; // older pages exist
    this.loading = null; // the fetch in progress
    // What each recipient has acknowledged, as the highest sequence number
    // delivered and read: receipts are cumulative per conversation.
    this.marks = new Map();
    this.readSent = 0; // highest sequence number covered by a read_receipt we sent
    // Reactions, edits and deletions of messages not here yet, kept while
    // a page is on its way (it may have been read before they were made)
    // and applied when the message comes; dropped once the page is in.
    this.early = new Map(); // message id → frames, in order
  }

  get oldestSeq() {
    const m = this.list.find((x) => x.sequence_number != null);
    return m ? m.sequence_number : 0;
  }

  get newestSeq() {
    let s = 0;
    for (const m of this.list) if (m.sequence_number != null && m.sequence_number > s) s = m.sequence_number;
    return s;
  }

  /** Adds or merges m; returns the stored message. */
  put(m) {
    const old = (m.message_id && this.byId.get(m.message_id)) || (m.client_message_id && this.byCmid.get(m.client_message_id));
    if (old) {
      Object.assign(old, m, { key: old.key });
      if (old.message_id) this.byId.set(old.message_id, old);
      this.sort();
      return old;
    }
    m.key = m.key || m.client_message_id || m.message_id;
    this.list.push(m);
    if (m.message_id) this.byId.set(m.message_id, m);
    if (m.client_message_id) this.byCmid.set(m.client_message_id, m);
    this.sort();
    const early = m.message_id && this.early.get(m.message_id);
    if (early) {
      this.early.delete(m.message_id);
      for (const f of early) this.update(f);
    }
    return m;
  }

  /** Drops the messages whose expires_at has come; returns how many went. */
  dropExpired(now) {
    const gone = this.list.filter((m) => m.expires_at && m.expires_at <= now);
    for (const m of gone) this.remove(m);
    return gone.length;
  }

  /**
   * Applies a reaction, message_edited or message_deleted frame to its
   * message, idempotently (the server may tell one again after a
   * reconnect). Returns whether the chat changed; a frame for a message
   * not here is kept for it while a page is loading.
   */
  update(f) {
    const m = this.byId.get(f.message_id);
    if (!m) {
      if (this.loading) {
        const list = this.early.get(f.message_id) || [];
        list.push(f);
        this.early.set(f.message_id, list);
      }
      return false;
    }
    switch (f.type) {
      case 'reaction': return setReaction(m, f.user_id, f.emoji);
      case 'message_edited':
        if (m.deleted || (m.edited_at && m.edited_at >= f.edited_at)) return false;
        m.content = f.content;
        m.edited_at = f.edited_at;
        return true;
      case 'message_deleted':
        if (f.for === 'me') {
          this.remove(m);
          return true;
        }
        if (m.deleted) return false;
        tombstone(m);
        // Replies quoting it lose the quote's content, as the server's copies do.
        for (const x of this.list) {
          if (x.reply_to === m.message_id && x.quote) x.quote = { ...x.quote, message_type: 'deleted', content: '' };
        }
        return true;
      default: return false;
    }
  }

  remove(m) {
    this.list = this.list.filter((x) => x !== m);
    if (m.message_id) this.byId.delete(m.message_id);
    if (m.client_message_id) this.byCmid.delete(m.client_message_id);
  }

  sort() {
    this.list.sort((a, b) => {
      const ap = a.sequence_number == null;
      const bp = b.sequence_number == null;
      if (ap !== bp) return ap ? 1 : -1;
      if (!ap) return a.sequence_number - b.sequence_number;
      return a.created_at - b.created_at;
    });
  }

  mark(userId, status, seq) {
    const w = this.marks.get(userId) || { delivered: 0, read: 0 };
    if (status === 'read') w.read = Math.max(w.read, seq);
    if (status === 'read' || status === 'delivered') w.delivered = Math.max(w.delivered, seq);
    this.marks.set(userId, w);
  }

  markOf(userId, seq) {
    const w = this.marks.get(userId);
    if (!w) return 'sent';
    if (w.read >= seq) return 'read';
    if (w.delivered >= seq) return 'delivered';
    return 'sent';
  }
}

/** A message from the server (history or live), as the model keeps it. */
export function fromServer(m) {
  const out = {
    message_id: m.message_id,
    conversation_id: m.conversation_id,
    sender_id: m.sender_id,
    sequence_number: m.sequence_number,
    message_type: m.message_type,
    content: m.content ?? '',
    created_at: m.created_at,
    pending: false,
  };
  if (m.media_id) out.media_id = m.media_id;
  if (m.reply_to) {
    out.reply_to = m.reply_to;
    if (m.quote) out.quote = m.quote;
  }
  if (m.mentions && m.mentions.length) out.mentions = m.mentions;
  if (m.forwarded) out.forwarded = m.forwarded;
  if (m.expires_at) out.expires_at = m.expires_at;
  if (m.edited_at) out.edited_at = m.edited_at;
  if (m.deleted) out.deleted = true;
  if (m.reactions && m.reactions.length) out.reactions = m.reactions.map((r) => ({ emoji: r.emoji, user_ids: [...r.user_ids] }));
  return out;
}

/**
 * The hop count from which a message is "forwarded many times" and may be
 * forwarded to one chat at a time (wire.ForwardedManyTimes).
 */
export const FORWARDED_MANY_TIMES = 5;

/**
 * Sets a user's one reaction on m (emoji "" removes it); m.reactions
 * stays as history gives it: [{emoji, user_ids}], most used first.
 * Returns whether it changed.
 */
export function setReaction(m, userId, emoji) {
  const had = reactionOf(m, userId);
  if (had === emoji) return false;
  let rs = (m.reactions || []).map((r) => ({ emoji: r.emoji, user_ids: r.user_ids.filter((u) => u !== userId) }));
  if (emoji) {
    const r = rs.find((x) => x.emoji === emoji);
    if (r) r.user_ids.push(userId);
    else rs.push({ emoji, user_ids: [userId] });
  }
  rs = rs.filter((r) => r.user_ids.length);
  rs.sort((a, b) => b.user_ids.length - a.user_ids.length); // stable: ties keep their order
  if (rs.length) m.reactions = rs;
  else delete m.reactions;
  return true;
}

/** The emoji userId reacted to m with, or "". */
export function reactionOf(m, userId) {
  const r = (m.reactions || []).find((x) => x.user_ids.includes(userId));
  return r ? r.emoji : '';
}

/** Makes m a tombstone: deleted for everyone, nothing of it left to show. */
export function tombstone(m) {
  m.deleted = true;
  m.content = '';
  for (const k of ['media_id', 'reply_to', 'quote', 'mentions', 'reactions', 'edited_at', 'upload']) delete m[k];
}

/**
 * The quote of a message of the chat as the server would give it to a
 * reply (sender, type, content): shown on an own reply while it is
 * pending, and on a reply whose quote did not come. Null when the
 * message is not loaded.
 */
export function quoteOf(chat, messageId) {
  const m = chat && messageId && chat.byId.get(messageId);
  if (!m) return null;
  if (m.deleted) return { sender_id: m.sender_id, message_type: 'deleted', content: '' };
  return { sender_id: m.sender_id, message_type: m.message_type, content: m.content || '' };
}
