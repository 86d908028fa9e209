// Cursors: per conversation, the highest sequence_number up to which this
// client has seen every message. Sequence numbers have no gaps
// (PROTOCOL.md §4.3), so a message past cursor + 1 means some are missing:
// it is held back, the caller fetches history after the cursor, and
// messages come out strictly in order, each once.

/**
 * @template T
 * @typedef {object} ConvCursor
 * @property {number} seq every message up to this one has been seen
 * @property {Map<number, T|null>} ahead seen past a gap; null: seen but not to be released (an own message, known from its ack)
 */

/** @template T */
export class Cursors {
  /** @param {Record<string, number>} [initial] cursors saved from an earlier run */
  constructor(initial = {}) {
    /** @type {Map<string, ConvCursor<T>>} */
    this.byConv = new Map();
    for (const [conv, seq] of Object.entries(initial)) this.byConv.set(conv, { seq, ahead: new Map() });
  }

  /** @param {string} conv @returns {number|undefined} */
  get(conv) { return this.byConv.get(conv)?.seq; }

  /** @returns {Record<string, number>} every conversation's cursor, to save */
  snapshot() {
    /** @type {Record<string, number>} */
    const out = {};
    for (const [conv, c] of this.byConv) out[conv] = c.seq;
    return out;
  }

  /** @param {string} conv @returns {boolean} whether messages wait behind a gap */
  hasGap(conv) { return (this.byConv.get(conv)?.ahead.size ?? 0) > 0; }

  /** @param {string} conv @returns {number|undefined} the lowest sequence number held past the gap */
  firstAhead(conv) {
    const c = this.byConv.get(conv);
    if (!c || !c.ahead.size) return undefined;
    return Math.min(...c.ahead.keys());
  }

  /**
   * Offers one message. The first message of a conversation without a
   * cursor starts it: on connect the server sends a device everything it
   * has not acknowledged, oldest first, so what came before was seen.
   * @param {string} conv
   * @param {number} seq
   * @param {T|null} value what to release in order; null to only mark seq seen
   * @returns {{duplicate: boolean, released: T[]}} released: what may now go out, in order
   */
  offer(conv, seq, value) {
    let c = this.byConv.get(conv);
    if (!c) {
      c = { seq: seq - 1, ahead: new Map() };
      this.byConv.set(conv, c);
    }
    if (seq <= c.seq || c.ahead.has(seq)) return { duplicate: true, released: [] };
    c.ahead.set(seq, value);
    return { duplicate: false, released: this.drain(c) };
  }

  /**
   * Starts the cursor of a conversation that has none at seq: the caller
   * has every message up to it (from history). A conversation with a
   * cursor keeps it, so nothing held or released changes.
   * @param {string} conv
   * @param {number} seq
   * @returns {boolean} whether a cursor was started
   */
  start(conv, seq) {
    if (this.byConv.has(conv)) return false;
    this.byConv.set(conv, { seq, ahead: new Map() });
    return true;
  }

  /**
   * Gives up on the sequence numbers below the first one held (history
   * does not have them: expired, or outside this user's membership) and
   * releases what follows.
   * @param {string} conv
   * @returns {T[]}
   */
  skipGap(conv) {
    const c = this.byConv.get(conv);
    const first = this.firstAhead(conv);
    if (!c || first === undefined) return [];
    c.seq = first - 1;
    return this.drain(c);
  }

  /**
   * @param {ConvCursor<T>} c
   * @returns {T[]}
   */
  drain(c) {
    /** @type {T[]} */
    const out = [];
    for (;;) {
      const next = c.seq + 1;
      if (!c.ahead.has(next)) break;
      const v = c.ahead.get(next);
      c.ahead.delete(next);
      c.seq = next;
      if (v != null) out.push(v);
    }
    return out;
  }
}
