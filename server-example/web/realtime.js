// @ts-check
/**
 * The event stream (`GET /api/v5/realtime`, contract section 8) with resumption: each channel
 * keeps the `seq` of the last event seen on it, and after a dropped connection the client
 * reconnects and subscribes again with `since` set to it, so nothing is missed. Consumers still
 * dedupe by resource id: a resource may arrive both from a REST read and from the stream.
 */

/**
 * @typedef {object} ChatEvent
 * @property {string} channel
 * @property {'added' | 'changed' | 'removed'} action
 * @property {string} resource_id
 * @property {any} [resource]
 * @property {number} seq
 */

/**
 * @typedef {object} RealtimeHandlers
 * @property {(event: ChatEvent) => void} onEvent
 * @property {(channel: string) => void} [onResync] events were lost: reload the collection
 * @property {(connected: boolean) => void} [onState]
 * @property {(channel: string, detail: string) => void} [onError]
 */

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 4000;

export class Realtime {
  /**
   * @param {string} base the server's URL (http or https)
   * @param {() => (string | null)} token
   * @param {RealtimeHandlers} handlers
   */
  constructor(base, token, handlers) {
    this.url = base.replace(/^http/, 'ws') + '/api/v5/realtime';
    this.token = token;
    this.handlers = handlers;
    /** @type {Map<string, number | null>} channel → seq of the last event seen */
    this.cursors = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.closed = false;
    this.delay = MIN_DELAY_MS;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.connect();
  }

  /** @param {string} channel */
  subscribe(channel) {
    if (this.cursors.has(channel)) return;
    this.cursors.set(channel, null);
    this.send({ action: 'subscribe', channel, since: null });
  }

  /** @param {string} channel */
  unsubscribe(channel) {
    if (!this.cursors.delete(channel)) return;
    this.send({ action: 'unsubscribe', channel });
  }

  /** Closes for good (no reconnection). */
  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** @param {object} frame */
  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  connect() {
    const token = this.token();
    if (this.closed || !token) return;
    // Browsers cannot set headers on a WebSocket: the token goes in the query (contract
    // section 8); the server never logs query strings.
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.delay = MIN_DELAY_MS;
      for (const [channel, since] of this.cursors) {
        socket.send(JSON.stringify({ action: 'subscribe', channel, since }));
      }
      this.handlers.onState?.(true);
    });
    socket.addEventListener('message', (m) => this.receive(String(m.data)));
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.handlers.onState?.(false);
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    });
  }

  /** @param {string} text */
  receive(text) {
    /** @type {any} */
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const channel = typeof frame.channel === 'string' ? frame.channel : '';
    if (frame.action === 'subscribed') {
      if (this.cursors.get(channel) === null) this.cursors.set(channel, frame.seq);
      return;
    }
    if (frame.action === 'resync') {
      if (this.cursors.has(channel)) this.cursors.set(channel, frame.seq);
      this.handlers.onResync?.(channel);
      return;
    }
    if (frame.action === 'error') {
      this.handlers.onError?.(channel, String(frame.detail ?? 'error'));
      return;
    }
    if (frame.action === 'unsubscribed' || typeof frame.seq !== 'number') return;
    if (!this.cursors.has(channel)) return;
    const cursor = this.cursors.get(channel) ?? 0;
    if (frame.seq > cursor) this.cursors.set(channel, frame.seq);
    this.handlers.onEvent(/** @type {ChatEvent} */ (frame));
  }
}
