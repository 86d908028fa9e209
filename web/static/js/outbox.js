// The outbox: every message the user sends is written here (localStorage)
// before it goes to the socket, and leaves only when the server's
// message_ack says it is stored, or when the server refuses it for good.
// After a reconnect, or a reload of the page, whatever is left is sent
// again with the SAME client_message_id, so the server's idempotency makes
// it arrive exactly once.

/**
 * @typedef {{client_message_id: string, conversation_id: string, message_type: string,
 *            content: string, media_id?: string, created_at: number}} OutboxItem
 */

export class Outbox {
  /** @param {string} userId the outbox is per user: another login on this browser has its own */
  constructor(userId) {
    this.key = `parley.outbox.${userId}`;
    /** @type {OutboxItem[]} */
    this.items = load(this.key);
    // Sent on the current connection and not yet answered; cleared on each
    // new connection so that everything unacknowledged goes again.
    this.inflight = new Set();
  }

  /** @param {OutboxItem} item */
  add(item) {
    this.merge();
    this.items.push(item);
    this.save();
  }

  remove(clientMessageId) {
    this.merge();
    const n = this.items.length;
    this.items = this.items.filter((i) => i.client_message_id !== clientMessageId);
    this.inflight.delete(clientMessageId);
    if (this.items.length !== n) this.save();
  }

  // Another tab of the same user may have written since: keep its items
  // rather than overwrite them (sending one twice is harmless, losing one
  // is not).
  merge() {
    const mine = new Set(this.items.map((i) => i.client_message_id));
    for (const i of load(this.key)) if (!mine.has(i.client_message_id)) this.items.push(i);
  }

  has(clientMessageId) { return this.items.some((i) => i.client_message_id === clientMessageId); }

  /** A new connection: nothing is in flight on it yet. */
  reset() { this.inflight.clear(); }

  /**
   * Sends every item not already in flight on this connection, oldest
   * first. send returns false when the socket is not open; the rest waits.
   * @param {(frame: object) => boolean} send
   */
  flush(send) {
    for (const item of this.items) {
      if (this.inflight.has(item.client_message_id)) continue;
      const frame = {
        type: 'message',
        client_message_id: item.client_message_id,
        conversation_id: item.conversation_id,
        message_type: item.message_type,
        content: item.content,
      };
      if (item.media_id) frame.media_id = item.media_id;
      if (!send(frame)) return;
      this.inflight.add(item.client_message_id);
    }
  }

  /** Lets an item be sent again on this connection (after a rate_limited refusal). */
  retry(clientMessageId) { this.inflight.delete(clientMessageId); }

  save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // Storage full or disabled: the outbox still works for this page's life.
    }
  }
}

function load(key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) || '[]');
    return Array.isArray(v) ? v.filter((i) => i && i.client_message_id && i.conversation_id) : [];
  } catch {
    return [];
  }
}
