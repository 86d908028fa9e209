// The WebSocket, kept open: reconnected with exponential backoff and full
// jitter, kept alive with a heartbeat frame every 25 s, and given up on
// for good only when the server says the session ended (close 4001).

/** @typedef {import('./clock.js').Clock} Clock */

/**
 * What the SDK needs of a WebSocket: the browser's, Node 22's global, or
 * the `ws` package's all fit.
 * @typedef {object} WebSocketLike
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(type: string, listener: (ev: any) => void) => void} addEventListener
 */
/** @typedef {new (url: string) => WebSocketLike} WebSocketConstructor */

/**
 * `connecting`: a socket is being opened; `open`: frames flow;
 * `disconnected`: waiting out the backoff before the next attempt;
 * `closed`: stopped (by the caller, or because the session ended).
 * @typedef {'connecting'|'open'|'disconnected'|'closed'} ConnectionState
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {number} [heartbeatIntervalMs] default 25 000: the server drops a connection silent for 60 s
 * @property {number} [heartbeatTimeoutMs] default 10 000: no frame at all this long after a heartbeat, and the connection is taken for dead
 * @property {number} [connectTimeoutMs] default 15 000: an upgrade that has not opened by then is abandoned
 * @property {number} [backoffMinMs] default 500
 * @property {number} [backoffMaxMs] default 15 000
 * @property {() => number} [random] default Math.random; the jitter's source
 */

/** The close codes of PROTOCOL.md §3 a client acts on. */
export const CLOSE_SESSION_ENDED = 4001;
export const CLOSE_TOO_SLOW = 4008;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_INTERNAL = 1011;
const OPEN = 1; // WebSocket.OPEN, without needing the class

export class Connection {
  /**
   * @param {object} p
   * @param {() => string|null} p.url the URL to open now (it carries the current token); null: do not connect
   * @param {WebSocketConstructor} p.WebSocket
   * @param {Clock} p.clock
   * @param {ConnectionOptions} p.options
   * @param {(text: string) => void} p.onText a text frame arrived
   * @param {(state: ConnectionState) => void} p.onState
   * @param {(reason: string) => void} p.onSessionEnded the server closed with 4001
   * @param {(info: {code: number, reason: string, opened: boolean}) => void} p.onDisconnect a socket closed and a reconnect is scheduled
   */
  constructor({ url, WebSocket, clock, options, onText, onState, onSessionEnded, onDisconnect }) {
    this.url = url;
    this.WebSocket = WebSocket;
    this.clock = clock;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 25_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.backoffMinMs = options.backoffMinMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 15_000;
    this.random = options.random ?? Math.random;
    this.onText = onText;
    this.onState = onState;
    this.onSessionEnded = onSessionEnded;
    this.onDisconnect = onDisconnect;
    /** @type {WebSocketLike|null} */
    this.ws = null;
    /** @type {ConnectionState} */
    this.state = 'closed';
    this.stopped = true;
    this.attempt = 0;
    /** @type {unknown} */ this.retryTimer = null;
    /** @type {unknown} */ this.beatTimer = null;
    /** @type {unknown} */ this.deadTimer = null;
    // A browser coming back online should not sit out the rest of a long backoff.
    this.onOnline = () => this.reconnectNow();
  }

  /** Starts connecting, and keeps a connection open until stop(). */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    const g = /** @type {any} */ (globalThis);
    if (typeof g.addEventListener === 'function') g.addEventListener('online', this.onOnline);
    this.connect();
  }

  /**
   * Closes the socket and stops reconnecting.
   * @param {number} [code]
   * @param {string} [reason]
   */
  stop(code = 1000, reason = 'client closed') {
    this.stopped = true;
    const g = /** @type {any} */ (globalThis);
    if (typeof g.removeEventListener === 'function') g.removeEventListener('online', this.onOnline);
    this.clock.clearTimeout(this.retryTimer);
    this.stopTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) closeQuietly(ws, code, reason);
    this.setState('closed');
  }

  /**
   * Sends one text frame if the socket is open.
   * @param {string} text
   * @returns {boolean} false when it is not open (the caller keeps what it wanted to send)
   */
  send(text) {
    const ws = this.ws;
    if (!ws || this.state !== 'open' || ws.readyState !== OPEN) return false;
    try {
      ws.send(text);
    } catch {
      return false;
    }
    return true;
  }

  /** Skips the rest of the backoff: connect now if waiting to. */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.clock.clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  /**
   * Drops the current socket and reconnects at once (after the backoff of
   * a first attempt): for a socket known to be dead.
   * @param {string} reason
   */
  drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    // Detached first: a dead TCP connection may take long to report its
    // close, and the new socket should not wait for it.
    this.ws = null;
    closeQuietly(ws, 4000, reason);
    this.closed(4000, reason, this.state === 'open');
  }

  connect() {
    if (this.stopped) return;
    const url = this.url();
    if (!url) {
      this.stop();
      return;
    }
    this.setState('connecting');
    /** @type {WebSocketLike} */
    let ws;
    try {
      ws = new this.WebSocket(url);
    } catch {
      this.closed(1006, 'could not open a socket', false);
      return;
    }
    this.ws = ws;
    let opened = false;
    this.deadTimer = this.clock.setTimeout(() => {
      if (this.ws === ws) this.drop('the upgrade took too long');
    }, this.connectTimeoutMs);
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.stopTimers();
      this.scheduleBeat();
      this.setState('open');
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      // Any frame proves the connection alive: the heartbeat's answer is
      // one, but a busy connection's ack may come first.
      this.clock.clearTimeout(this.deadTimer);
      this.deadTimer = null;
      this.onText(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code ?? 1006, ev.reason ?? '', opened);
    });
    // 'error' is always followed by 'close', which does the work.
    ws.addEventListener('error', () => {});
  }

  /**
   * @param {number} code
   * @param {string} reason
   * @param {boolean} opened whether the socket had opened
   */
  closed(code, reason, opened) {
    this.stopTimers();
    if (this.stopped) return;
    if (code === CLOSE_SESSION_ENDED) {
      this.stopped = true;
      this.setState('closed');
      this.onSessionEnded(reason);
      return;
    }
    // 1001 (server shutting down), 4008 (too slow), 1011 (offline queue
    // unreadable), 1006 (network) and the rest: come back later.
    this.setState('disconnected');
    this.onDisconnect({ code, reason, opened });
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.ws) return;
    // Full jitter: clients cut off by one restart do not all come back at once.
    const cap = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** this.attempt);
    const delay = Math.max(this.backoffMinMs / 2, this.random() * cap);
    this.attempt++;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => this.connect(), delay);
  }

  scheduleBeat() {
    this.clock.clearTimeout(this.beatTimer);
    this.beatTimer = this.clock.setTimeout(() => this.beat(), this.heartbeatIntervalMs);
  }

  beat() {
    if (!this.ws || this.state !== 'open') return;
    this.send(JSON.stringify({ type: 'heartbeat', timestamp: this.clock.now() }));
    if (this.deadTimer == null) {
      const ws = this.ws;
      this.deadTimer = this.clock.setTimeout(() => {
        if (this.ws === ws) this.drop('no answer to heartbeats');
      }, this.heartbeatTimeoutMs);
    }
    this.scheduleBeat();
  }

  stopTimers() {
    this.clock.clearTimeout(this.beatTimer);
    this.clock.clearTimeout(this.deadTimer);
    this.beatTimer = null;
    this.deadTimer = null;
  }

  /** @param {ConnectionState} s */
  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }
}

/**
 * @param {WebSocketLike} ws
 * @param {number} code
 * @param {string} reason
 */
function closeQuietly(ws, code, reason) {
  try {
    ws.close(code, reason);
  } catch {
    // A socket still connecting, or a code the implementation refuses:
    // it is being abandoned either way.
    try { ws.close(); } catch { /* already closed */ }
  }
}
