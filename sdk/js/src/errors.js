// Errors as the server reports them: an HTTP answer's
// {"error": {"code", "message"}} or a WebSocket error frame. One class for
// both, so a caller handles "conflict" or "rate_limited" the same way
// wherever it came from.

/**
 * The wire's machine codes (PROTOCOL.md §6), plus two the SDK adds for
 * failures that never reached the server: `network` (no answer at all) and
 * `session_ended` (the call needs a session this client no longer has).
 * @typedef {'invalid'|'unauthorized'|'forbidden'|'not_found'|'conflict'|'too_large'
 *   |'group_full'|'rate_limited'|'internal'|'network'|'session_ended'|'offline'|'timeout'} ErrorCode
 */

/** The codes the wire defines; anything else a server sends is kept as it came. */
export const WIRE_CODES = Object.freeze([
  'invalid', 'unauthorized', 'forbidden', 'not_found', 'conflict',
  'too_large', 'group_full', 'rate_limited', 'internal',
]);

/** An error answer from the server, or a failure to reach it. */
export class ParleyError extends Error {
  /**
   * @param {number} status HTTP status; 0 for WebSocket error frames and for failures the SDK saw itself
   * @param {ErrorCode|string} code the wire code
   * @param {string} [message] the server's human-readable message
   * @param {number} [retryAfterMs] how long to wait before trying again: a 429's Retry-After, or an error frame's retry_after_ms
   */
  constructor(status, code, message, retryAfterMs) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ParleyError';
    /** @type {number} */
    this.status = status;
    /** @type {ErrorCode|string} */
    this.code = code || '';
    /** @type {number|undefined} */
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Whether sending the same message frame again can succeed: nothing was
 * stored after these, so the same client_message_id goes again later.
 * Every other code is final for that frame.
 * @param {string} code
 * @returns {boolean}
 */
export function isRetryableSendError(code) {
  return code === 'rate_limited' || code === 'internal';
}
