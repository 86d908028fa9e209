// The WebSocket: one JSON frame per text message, reconnected with backoff,
// kept alive with a heartbeat every 25 s (the server drops a connection
// silent for 60 s).

export const HEARTBEAT_MS = 25_000;
// With no frame at all for this long (the heartbeat's answer included), the
// connection is taken for dead and replaced.
const SILENCE_MS = 70_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

export const CLOSE_SIGNED_OUT = 4001;

/**
 * Events: 'state' (detail: 'connecting'|'open'|'closed'), 'frame' (detail:
 * the parsed frame), 'signedout' (the server closed with 4001), 'rejected'
 * (the upgrade failed before opening: the token may be bad).
 */
export class Socket extends EventTarget {
  /** @param {() => string|null} token */
  constructor(token) {
    super();
    this.token = token;
    this.ws = null;
    this.state = 'closed';
    this.attempt = 0;
    this.timer = 0;
    this.heartbeat = 0;
    this.lastFrameAt = 0;
    this.stopped = true;
    this.onOnline = () => this.reconnectNow();
    this.onVisible = () => { if (document.visibilityState === 'visible') this.reconnectNow(); };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'signed out');
    }
    this.setState('closed');
  }

  get open() { return this.state === 'open'; }

  /** Sends frame if the socket is open; false when it is not (the caller keeps it). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Skips the rest of the backoff (the network came back, the tab became visible). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const tok = this.token();
    if (!tok) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws?token=${encodeURIComponent(tok)}`);
    this.ws = ws;
    let opened = false;
    this.setState('connecting');
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      this.setState('open');
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.beat(ws), HEARTBEAT_MS);
    });
    ws.addEventListener('message', (e) => {
      if (this.ws !== ws || typeof e.data !== 'string') return;
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame && typeof frame.type === 'string') {
        this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
      }
    });
    ws.addEventListener('close', (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.heartbeat);
      if (e.code === CLOSE_SIGNED_OUT) {
        this.stopped = true;
        this.setState('closed');
        this.dispatchEvent(new CustomEvent('signedout', { detail: { reason: e.reason } }));
        return;
      }
      this.setState('closed');
      if (!opened) this.dispatchEvent(new CustomEvent('rejected'));
      this.schedule();
    });
  }

  beat(ws) {
    if (this.ws !== ws) return;
    if (Date.now() - this.lastFrameAt > SILENCE_MS) {
      // Half-open: the close event will schedule the reconnect.
      ws.close(4000, 'no answer to heartbeats');
      return;
    }
    this.send({ type: 'heartbeat', timestamp: Date.now() });
  }

  schedule() {
    if (this.stopped) return;
    // Full jitter, so clients cut off by one restart do not all come back at once.
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.max(BACKOFF_MIN_MS / 2, Math.random() * cap);
    this.attempt++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }
}
