// A small typed event emitter: `on(type, fn)` with the listener's argument
// typed by the event map, returning the function that removes it. Chosen
// over EventTarget so that listeners get the payload itself (no
// CustomEvent.detail) and Node 20 needs nothing extra.

/** @template {Record<string, unknown>} M */
export class Emitter {
  constructor() {
    /** @type {Map<keyof M, Set<(arg: any) => void>>} */
    this.listeners = new Map();
  }

  /**
   * Adds a listener.
   * @template {keyof M} K
   * @param {K} type
   * @param {(arg: M[K]) => void} fn
   * @returns {() => void} removes the listener
   */
  on(type, fn) {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(fn);
    return () => this.off(type, fn);
  }

  /**
   * Adds a listener called once, at the next event of type.
   * @template {keyof M} K
   * @param {K} type
   * @param {(arg: M[K]) => void} fn
   * @returns {() => void} removes the listener
   */
  once(type, fn) {
    const off = this.on(type, (arg) => {
      off();
      fn(arg);
    });
    return off;
  }

  /**
   * @template {keyof M} K
   * @param {K} type
   * @param {(arg: M[K]) => void} fn
   */
  off(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  /**
   * Calls every listener of type. A listener that throws does not stop the
   * others, nor the SDK's own processing of the frame that caused it; the
   * error is rethrown asynchronously, where the host reports it.
   * @template {keyof M} K
   * @param {K} type
   * @param {M[K]} arg
   */
  emit(type, arg) {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(arg);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
  }
}
