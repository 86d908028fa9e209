// Time, behind an interface: every timer of the SDK (backoff, heartbeats,
// resend waits, ack batching, typing throttle) goes through a Clock, so a
// test can drive time instead of racing it.

/**
 * @typedef {object} Clock
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 * @property {() => number} now milliseconds since the Unix epoch
 */

/** The real clock: the host's timers and Date.now. @type {Clock} */
export const systemClock = Object.freeze({
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(/** @type {any} */ (handle)),
  now: () => Date.now(),
});
