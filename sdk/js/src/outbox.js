// The outbox: every message sent through the SDK waits here until the
// server's message_ack says it is stored, or an error frame refuses it for
// good. After a reconnect, or a rate_limited refusal, whatever is left is
// sent again with the SAME client_message_id, so the server's idempotency
// (PROTOCOL.md §4.2) makes it arrive exactly once.
//
// The outbox lives in memory; the Parley client saves it to its storage
// option (when given) on every change, so that it survives a reload.

import { ParleyError, isRetryableSendError } from './errors.js';

/** @typedef {import('./clock.js').Clock} Clock */
/** @typedef {import('./wire.js').MessageFrame} MessageFrame */
/** @typedef {import('./wire.js').MessageAckFrame} MessageAckFrame */
/** @typedef {import('./wire.js').ErrorFrame} ErrorFrame */

/**
 * A message waiting for its ack.
 * @typedef {object} PendingMessage
 * @property {string} client_message_id
 * @property {string} conversation_id
 * @property {import('./wire.js').ClientMessageType} message_type
 * @property {string} content
 * @property {string} [media_id]
 * @property {string} [reply_to] the message_id it answers
 * @property {string[]} [mentions] the members it names
 * @property {string} [forward_of] the message_id it forwards
 * @property {number} created_at when it was handed to the SDK
 */

/**
 * @typedef {object} Entry
 * @property {PendingMessage} item
 * @property {Promise<MessageAckFrame>} promise
 * @property {(ack: MessageAckFrame) => void} resolve
 * @property {(err: ParleyError) => void} reject
 * @property {boolean} inflight sent on the current connection, not answered yet
 * @property {number} notBefore no resend before this time (after rate_limited)
 */

/** The wait before resending a refused message when the server named none. */
export const DEFAULT_RESEND_MS = 1_000;

export class Outbox {
  /**
   * @param {object} p
   * @param {Clock} p.clock
   * @param {(frame: MessageFrame) => boolean} p.send false when the socket is not open
   * @param {(gone?: string) => void} [p.onChange] a message was added, or left (acked, refused for good, cancelled: its client_message_id)
   */
  constructor({ clock, send, onChange }) {
    this.clock = clock;
    this.send = send;
    this.onChange = onChange || (() => {});
    /** @type {Map<string, Entry>} in the order they were added */
    this.entries = new Map();
    /** @type {unknown} */
    this.timer = null;
    this.timerDue = 0;
  }

  /**
   * Queues a message and sends it if it can. A key already waiting returns
   * that message's promise: one send per key.
   * @param {PendingMessage} item
   * @returns {Promise<MessageAckFrame>}
   */
  add(item) {
    const have = this.entries.get(item.client_message_id);
    if (have) return have.promise;
    /** @type {(ack: MessageAckFrame) => void} */
    let resolve = () => {};
    /** @type {(err: ParleyError) => void} */
    let reject = () => {};
    /** @type {Promise<MessageAckFrame>} */
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    this.entries.set(item.client_message_id, { item, promise, resolve, reject, inflight: false, notBefore: 0 });
    this.onChange();
    this.flush();
    return promise;
  }

  /** @returns {PendingMessage[]} what still waits for an ack, oldest first */
  pending() { return [...this.entries.values()].map((e) => ({ ...e.item })); }

  /** A new connection: nothing is in flight on it, so everything unacked goes again. */
  reset() {
    for (const e of this.entries.values()) e.inflight = false;
  }

  /**
   * Sends what is not in flight, oldest first. A message waiting out a
   * rate_limited refusal holds back the later ones of its conversation that
   * have not left yet, so they are not stored before it.
   */
  flush() {
    const now = this.clock.now();
    /** @type {Set<string>} */
    const held = new Set();
    let wake = Infinity;
    for (const e of this.entries.values()) {
      const conv = e.item.conversation_id;
      if (e.inflight) continue;
      if (held.has(conv)) continue; // behind a waiting one, whose timer flushes again
      if (e.notBefore > now) {
        held.add(conv);
        wake = Math.min(wake, e.notBefore);
        continue;
      }
      if (!this.send(frameOf(e.item))) return; // no socket: the next open flushes
      e.inflight = true;
    }
    // Set from the same reading of the clock as the checks above: a
    // second reading could pass a wait the loop saw as unexpired, and no
    // timer would be left to send it.
    if (wake !== Infinity) this.wakeAt(wake);
  }

  /**
   * The server stored a message.
   * @param {MessageAckFrame} ack
   * @returns {boolean} whether the ack was for a message of this outbox
   */
  ack(ack) {
    const e = this.entries.get(ack.client_message_id);
    if (!e) return false;
    this.entries.delete(ack.client_message_id);
    this.onChange(ack.client_message_id);
    e.resolve(ack);
    return true;
  }

  /**
   * The server refused a message: later again if it may succeed then,
   * else the send fails.
   * @param {ErrorFrame} f an error frame carrying a client_message_id
   * @returns {string|null} the conversation of the refused message; null when it was not one of this outbox
   */
  refuse(f) {
    const cmid = f.client_message_id;
    const e = cmid === undefined ? undefined : this.entries.get(cmid);
    if (!e || cmid === undefined) return null;
    if (isRetryableSendError(f.code)) {
      // Nothing was stored: the same frame goes again, no sooner than the
      // server asked (PROTOCOL.md §3, "Resending after rate_limited").
      const wait = typeof f.retry_after_ms === 'number' && f.retry_after_ms > 0 ? f.retry_after_ms : DEFAULT_RESEND_MS;
      e.inflight = false;
      e.notBefore = this.clock.now() + wait;
      this.flush(); // sets the timer, and sends what no longer waits
      return e.item.conversation_id;
    }
    this.entries.delete(cmid);
    this.onChange(cmid);
    e.reject(new ParleyError(0, f.code, f.message));
    return e.item.conversation_id;
  }

  /**
   * Fails a waiting message (the user gave up on it). A frame already sent
   * may still be stored by the server.
   * @param {string} clientMessageId
   * @param {ParleyError} err
   * @returns {boolean}
   */
  cancel(clientMessageId, err) {
    const e = this.entries.get(clientMessageId);
    if (!e) return false;
    this.entries.delete(clientMessageId);
    this.onChange(clientMessageId);
    e.reject(err);
    return true;
  }

  /** Fails every waiting message (the session ended). @param {ParleyError} err */
  cancelAll(err) {
    for (const id of [...this.entries.keys()]) this.cancel(id, err);
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * One timer serves every refused message: it fires at the earliest time
   * one may go again, and flush() sends whichever may and sets it again.
   * @param {number} due
   */
  wakeAt(due) {
    if (this.timer != null && this.timerDue <= due) return;
    this.clock.clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, Math.max(0, due - this.clock.now()));
  }
}

/**
 * @param {PendingMessage} item
 * @returns {MessageFrame}
 */
function frameOf(item) {
  /** @type {MessageFrame} */
  const f = {
    type: 'message',
    client_message_id: item.client_message_id,
    conversation_id: item.conversation_id,
    message_type: item.message_type,
    content: item.content,
  };
  if (item.media_id) f.media_id = item.media_id;
  if (item.reply_to) f.reply_to = item.reply_to;
  if (item.mentions && item.mentions.length) f.mentions = item.mentions;
  if (item.forward_of) f.forward_of = item.forward_of;
  return f;
}
