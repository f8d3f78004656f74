// scanbridge desktop client — protocol v1 (see docs/protocol.md).
// Plain ES module, no dependencies. Usage:
//   const c = new ScanBridgeClient();
//   c.addEventListener('scan', (e) => handle(e.detail));
//   await c.open();

/**
 * @typedef {{seq:number, id:string, code:string, format:string, scanner:string,
 *            scanned_at:(number|null), received_at:number}} Scan
 * @typedef {{id:string, name:string, connected?:boolean}} Scanner
 * @typedef {'idle'|'connecting'|'live'|'reconnecting'|'ended'} State
 * @typedef {{base?:string, session?:string, desktop_token?:string,
 *            last_seq?:number, pair_url?:string, api_key?:string}} Options
 */

const PING_MS = 30000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;

/** Error thrown by REST calls; `code` is the protocol error code. */
export class ScanBridgeError extends Error {
  /** @param {string} code @param {string} message @param {number} status */
  constructor(code, message, status) {
    super(message || code);
    this.name = 'ScanBridgeError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Desktop side of a scanbridge session. Events (CustomEvent, data in `detail`):
 * `scan` (Scan), `scanner_joined` (Scanner), `scanner_left` ({scanner, reason}),
 * `welcome` (the welcome message), `state` (State), `error` ({code, message}).
 */
export class ScanBridgeClient extends EventTarget {
  /** @param {Options} [opts] */
  constructor(opts = {}) {
    super();
    this.base = (opts.base || location.origin).replace(/\/+$/, '');
    /** @type {string|null} */ this.session = opts.session || null;
    /** @type {string|null} */ this.token = opts.desktop_token || null;
    /** @type {number} */ this.lastSeq = opts.last_seq || 0;
    /** @type {string|null} */ this.pairUrl = opts.pair_url || null;
    /** @type {number|null} */ this.expiresAt = null;
    /** @type {State} */ this.state = 'idle';
    /** Why the state became 'ended': deleted | expired | unauthorized | kicked | closed. */
    /** @type {string|null} */ this.endReason = null;
    this._apiKey = opts.api_key || null;
    /** @type {WebSocket|null} */ this._ws = null;
    this._attempt = 0;
    this._timer = 0;
    this._ping = 0;
  }

  /** Create a session (or attach to the one given), then connect. */
  async open() {
    if (this.state === 'ended') { this.state = 'idle'; this.endReason = null; this._attempt = 0; }
    if (!this.session || !this.token) {
      const auth = this._apiKey ? { Authorization: 'Bearer ' + this._apiKey } : {};
      const r = await this._fetch('POST', '/sessions', {}, auth);
      this.session = r.session;
      this.token = r.desktop_token;
      this.pairUrl = r.pair_url;
      this.expiresAt = r.expires_at;
      this.lastSeq = 0;
    } else {
      const r = await this._api('GET', '/sessions/' + this.session);
      this.expiresAt = r.expires_at;
    }
    this._connect();
    return this;
  }

  /** @returns {{session:string|null, desktop_token:string|null, last_seq:number}} */
  toJSON() {
    return { session: this.session, desktop_token: this.token, last_seq: this.lastSeq };
  }

  /** Fetch the QR of the latest pair URL; returns a blob: URL (revoke it when done). */
  async qrObjectUrl() {
    const res = await fetch(this._url('/sessions/' + this.session + '/qr.svg'), {
      headers: { Authorization: 'Bearer ' + this.token },
    });
    if (!res.ok) throw await toError(res);
    return URL.createObjectURL(await res.blob());
  }

  /** Issue a new pair code; updates `pairUrl`. @returns {Promise<{pair_code:string, pair_url:string, expires_at:number}>} */
  async newPairCode() {
    const r = await this._api('POST', '/sessions/' + this.session + '/pair-code', {});
    this.pairUrl = r.pair_url;
    return r;
  }

  /** Remove a scanner from the session. @param {string} scannerId @returns {boolean} sent */
  kick(scannerId) {
    return this._send({ type: 'kick', scanner: scannerId });
  }

  /** End the session for everyone (DELETE). */
  async end() {
    try {
      await this._api('DELETE', '/sessions/' + this.session);
    } finally {
      this._finish('deleted');
    }
  }

  /** Close the socket locally without ending the session. */
  close() {
    this._finish('closed');
  }

  // --- internals -----------------------------------------------------------

  /** @param {string} p */
  _url(p) { return this.base + '/api/v1' + p; }

  /** @param {string} method @param {string} path @param {object} [body] */
  _api(method, path, body) {
    return this._fetch(method, path, body, { Authorization: 'Bearer ' + this.token });
  }

  /** @param {string} method @param {string} path @param {object|undefined} body @param {Record<string,string>} headers */
  async _fetch(method, path, body, headers) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(this._url(path), init);
    if (!res.ok) throw await toError(res);
    return res.status === 204 ? null : res.json();
  }

  /** @param {State} s */
  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._emit('state', s);
  }

  /** @param {string} type @param {any} detail */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @param {object} msg @returns {boolean} */
  _send(msg) {
    if (!this._ws || this._ws.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(msg));
    return true;
  }

  _connect() {
    if (this.state === 'ended') return;
    this._setState(this._attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.base.replace(/^http/, 'ws') + '/ws', 'scanbridge.v1');
    this._ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'hello', token: this.token, last_seq: this.lastSeq }));
      this._ping = setInterval(() => this._send({ type: 'ping' }), PING_MS);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      this._onMessage(m);
    };
    ws.onclose = (ev) => {
      clearInterval(this._ping);
      if (this._ws !== ws) return;
      this._ws = null;
      if (this.state === 'ended') return;
      if (ev.code === 4004 || ev.code === 4001 || ev.code === 4003) {
        if (ev.code === 4001) this._emit('error', { code: 'unauthorized', message: ev.reason || 'unauthorized' });
        this._finish({ 4001: 'unauthorized', 4003: 'kicked', 4004: 'expired' }[ev.code]);
        return;
      }
      this._setState('reconnecting');
      const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this._attempt++);
      this._timer = setTimeout(() => this._connect(), cap / 2 + Math.random() * cap / 2);
    };
  }

  /** @param {any} m */
  _onMessage(m) {
    switch (m.type) {
      case 'welcome':
        this._attempt = 0;
        this.expiresAt = m.expires_at;
        this._emit('welcome', m);
        this._setState('live');
        break;
      case 'scan': {
        if (typeof m.seq !== 'number' || m.seq <= this.lastSeq) return; // replay
        const { type, ...scan } = m;
        this._emit('scan', scan); // dispatchEvent runs all handlers synchronously
        this.lastSeq = m.seq;
        this._send({ type: 'ack', seq: m.seq });
        break;
      }
      case 'scanner_joined':
        this._emit('scanner_joined', m.scanner);
        break;
      case 'scanner_left':
        this._emit('scanner_left', { scanner: m.scanner, reason: m.reason });
        break;
      case 'error':
        this._emit('error', { code: m.code, message: m.message });
        break;
      case 'session_expired':
        this._finish('expired');
        break;
      case 'session_ended':
        this._finish(m.reason || 'deleted');
        break;
      default: // pong and future types
    }
  }

  /** @param {string} [reason] */
  _finish(reason = 'closed') {
    if (this.state !== 'ended') this.endReason = reason;
    clearTimeout(this._timer);
    clearInterval(this._ping);
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000);
    this._setState('ended');
  }
}

/** @param {Response} res @returns {Promise<ScanBridgeError>} */
async function toError(res) {
  let code = 'http_' + res.status, message = res.statusText;
  try {
    const j = await res.json();
    if (j && j.error) ({ code, message } = j.error);
  } catch { /* not JSON */ }
  return new ScanBridgeError(code, message, res.status);
}
