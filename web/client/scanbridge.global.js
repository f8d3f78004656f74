// SPDX-License-Identifier: MIT
// scanbridge embeddable client (protocol v1, docs/protocol.md): the desktop
// side (ScanBridgeClient, for POS pages) and the scanner side
// (ScanBridgeScanner, used by our phone page), on one WebSocket transport.
// Classic-script build: <script src="/client/scanbridge.global.js"> defines
// `window.ScanBridge = {ScanBridgeClient, ScanBridgeScanner, connectScanner,
// ScanBridgeError, backoffDelay, PING_MS, version}`.
// /client/scanbridge.js is the ES module; it imports this file and re-exports
// the same objects, so there is one copy of the code and no build step. The
// file therefore has to be valid both as a classic script and as module code:
// no import/export, strict mode, only `globalThis` at the top level.
// Guide and API reference: docs/embedding.md.
(function (root) {
  'use strict';

  const VERSION = '1.2.0';
  // Loaded twice (classic tag and module import): keep the first copy so that
  // `instanceof ScanBridgeClient` means the same thing everywhere on the page.
  if (root.ScanBridge && root.ScanBridge.version === VERSION) return;

  /**
   * @typedef {{seq:number, id:string, code:string, format:string, scanner:string,
   *            scanned_at:(number|null), received_at:number}} Scan
   * @typedef {{id:string, name:string, connected?:boolean}} Scanner
   * @typedef {'idle'|'connecting'|'live'|'reconnecting'|'fallback'|'ended'} State
   * @typedef {'deleted'|'expired'|'unauthorized'|'kicked'|'unpaired'|'closed'} EndReason
   */

  /**
   * The application `ping` interval of every client, desktop and scanner:
   * what PROTOCOL.md promises ("our clients send ping every 30 s"), far inside
   * `session_ttl` (600 s), and the pong doubles as the scanner's liveness probe.
   */
  const PING_MS = 30000;
  const SUBPROTOCOL = 'scanbridge.v1';
  const DEFAULTS = {
    storageKey: 'scanbridge.client',
    backoffMinMs: 500,
    backoffMaxMs: 30000,
    fallback: true,
    fallbackAfter: 2,               // failed WebSocket attempts before REST polling
    connectTimeoutMs: 10000,        // socket not welcomed by then counts as failed
    pollWaitS: 25,                  // long-poll wait (the daemon clamps to 30)
    scannerPollMs: 10000,           // fallback: how often scanners are re-read
    retryMinMs: 1000,               // first re-dispatch of a scan whose handler failed
  };

  /**
   * Delay before retry number `attempt` (0-based): exponential growth from
   * `minMs`, capped at `maxMs`, with "equal jitter" — uniform in [cap/2, cap] —
   * so a store full of tills (or a room full of phones) does not reconnect in
   * lock-step after a restart, yet never retries sooner than half the nominal
   * delay. The one backoff of scanbridge's web code: both clients, the desktop
   * page and the phone page use it.
   * @param {number} attempt @param {number} minMs @param {number} maxMs
   * @param {() => number} [random] @returns {number} milliseconds
   */
  function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
    const cap = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
    return cap / 2 + random() * (cap / 2);
  }

  /**
   * Browser facilities, looked up at construction so tests can inject them
   * (the `env` option of both clients).
   */
  function makeEnv(env = {}) {
    return {
      WebSocket: env.WebSocket || root.WebSocket,
      fetch: env.fetch || ((...a) => root.fetch(...a)),
      setTimeout: env.setTimeout || ((f, ms) => root.setTimeout(f, ms)),
      clearTimeout: env.clearTimeout || ((t) => root.clearTimeout(t)),
      setInterval: env.setInterval || ((f, ms) => root.setInterval(f, ms)),
      clearInterval: env.clearInterval || ((t) => root.clearInterval(t)),
      random: env.random || Math.random,
      now: env.now || (() => Date.now()),
      // Scanner side: network and visibility changes.
      window: 'window' in env ? env.window : root,
      document: 'document' in env ? env.document : root.document,
      navigator: 'navigator' in env ? env.navigator : root.navigator,
    };
  }

  /** @param {string} base http(s) origin of the daemon @returns {string} its /ws URL */
  function wsUrl(base) {
    return base.replace(/^http/, 'ws') + '/ws';
  }

  /**
   * What a close code means (protocol.md, "Close codes"): the reason the
   * session is over for this client, or null when it is worth reconnecting
   * (1001, 1006, 1008, 1009, 1011, 4000, 4008, 4013, a network drop, and 4001
   * when only our hello was too slow).
   * @param {number} code @param {string} reason @returns {EndReason|null}
   */
  function endReasonForClose(code, reason) {
    if (code === 4004) return /ended|deleted/i.test(reason) ? 'deleted' : 'expired';
    if (code === 4003) return 'kicked';
    // The scanner unpaired itself (DELETE …/scanners/{id}), maybe from another tab.
    if (code === 1000 && /unpaired/i.test(reason)) return 'unpaired';
    if (code === 4001 && !/in time/i.test(reason)) return 'unauthorized';
    return null;
  }

  /**
   * One WebSocket to the daemon, for either side: the URL and subprotocol,
   * the `hello`, JSON in and out, the application ping every PING_MS, and a
   * deadline for the welcome (a socket can hang half-open behind a proxy or a
   * dead Wi-Fi). What the messages and the close mean is the owner's business.
   */
  class Link {
    /**
     * @param {ReturnType<typeof makeEnv>} env @param {string} base
     * @param {{hello: () => object, onMessage: (m: any, link: Link) => void,
     *          onClose: (ev: {code: number, reason: string}, link: Link) => void,
     *          onPing?: () => void, connectTimeoutMs: number}} h
     */
    constructor(env, base, h) {
      this._env = env;
      this._h = h;
      this.opened = false;         // the socket opened (and hello went out)
      this.welcomed = false;       // the daemon answered the hello
      this.lastRx = 0;             // when anything last arrived (env.now())
      this._done = false;
      this._ping = null;
      const ws = new env.WebSocket(wsUrl(base), SUBPROTOCOL);   // throws on a bad URL
      this.ws = ws;
      this._deadline = env.setTimeout(() => { if (!this.welcomed) this.fail('timeout'); }, h.connectTimeoutMs);
      ws.onopen = () => {
        this.opened = true;
        this.lastRx = env.now();
        try { ws.send(JSON.stringify(h.hello())); } catch { /* closing: onclose follows */ }
        this._ping = env.setInterval(() => this.ping(), PING_MS);
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') return;
        this.lastRx = env.now();
        let m;
        try { m = JSON.parse(ev.data); } catch { return; }
        if (m && typeof m === 'object') h.onMessage(m, this);
      };
      ws.onerror = () => { /* always followed by close */ };
      ws.onclose = (ev) => this._closed({ code: ev.code, reason: ev.reason || '' });
    }

    /** The welcome arrived: the deadline is off. */
    welcome() {
      this.welcomed = true;
      this._env.clearTimeout(this._deadline);
    }

    /** @param {object} msg @returns {boolean} sent */
    send(msg) {
      return this.sendRaw(JSON.stringify(msg));
    }

    /** A text or binary frame. @param {string|Blob|ArrayBuffer|ArrayBufferView} data @returns {boolean} sent */
    sendRaw(data) {
      const ws = this.ws;
      if (this._done || ws.readyState !== 1 /* OPEN */) return false;
      try { ws.send(data); } catch { return false; }
      return true;
    }

    /** @returns {boolean} sent */
    ping() {
      const sent = this.send({ type: 'ping' });
      if (sent && this._h.onPing) this._h.onPing();
      return sent;
    }

    /** Give up on the socket (no welcome in time, no answer): reported like a network drop. */
    fail(reason) {
      if (this._done) return;
      try { this.ws.close(); } catch { /* already closing */ }
      this._closed({ code: 1006, reason });
    }

    /**
     * Close from our side; nothing is reported any more.
     * @param {boolean} [serverCloses] the daemon is closing the socket itself
     *   (4004 after session_ended / session_expired, or after our DELETE):
     *   closing it from here too would cross its close frame, so wait.
     */
    close(serverCloses = false) {
      const ws = this.ws;
      this._stop();
      const close = () => { try { if (ws.readyState < 2) ws.close(1000); } catch { /* closed */ } };
      if (serverCloses) this._env.setTimeout(close, 5000); else close();
    }

    _closed(ev) {
      if (this._done) return;
      this._stop();
      this._h.onClose(ev, this);
    }

    _stop() {
      this._done = true;
      this._env.clearTimeout(this._deadline);
      this._env.clearInterval(this._ping);
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    }
  }

  /** fetch, JSON in and out; a non-2xx answer rejects with a ScanBridgeError. */
  async function request(env, url, init) {
    const res = await env.fetch(url, init);
    if (!res.ok) throw await toError(res);
    return res.status === 204 ? null : res.json();
  }

  /** Error thrown by REST calls; `code` is the protocol error code (or `http_<status>`). */
  class ScanBridgeError extends Error {
    /** @param {string} code @param {string} message @param {number} status */
    constructor(code, message, status) {
      super(message || code);
      this.name = 'ScanBridgeError';
      this.code = code;
      this.status = status;
    }
  }

  /** HTTP statuses after which the session is gone for this client. */
  function endReasonForStatus(status) {
    if (status === 401 || status === 403) return 'unauthorized';
    if (status === 410) return 'expired';
    return null;
  }

  /**
   * Desktop side of a scanbridge session, for any POS web page.
   *
   * Events (CustomEvent, data in `detail`): `scan` (Scan; the event and the
   * detail carry `waitUntil(promise)`), `scanner_joined` (Scanner),
   * `scanner_left` ({scanner, reason}), `welcome` (the welcome message), `state`
   * (State), `ack` ({seq}: the client acknowledged every scan up to seq),
   * `renewed` ({token, expires_at}: the session outlived its maximum age and
   * goes on with a new token, already stored), `error` ({code, message, ...}).
   */
  class ScanBridgeClient extends EventTarget {
    /**
     * @param {object} [opts] see docs/embedding.md; `env` replaces the browser
     *   globals (WebSocket, fetch, storage, timers, random) — a test seam.
     */
    constructor(opts = {}) {
      super();
      const env = opts.env || {};
      /** Browser facilities, looked up at construction so tests can inject them. */
      // Where the session is kept for resume: this tab's sessionStorage by
      // default; a till passes localStorage so new tabs and restarts rejoin.
      const storage = 'storage' in opts ? opts.storage : 'storage' in env ? env.storage : safeSessionStorage();
      this._env = { ...makeEnv(env), storage };
      const cfg = { ...DEFAULTS };
      for (const k of Object.keys(DEFAULTS)) if (opts[k] !== undefined) cfg[k] = opts[k];
      this._cfg = cfg;

      this.base = (opts.base || root.location.origin).replace(/\/+$/, '');
      /** @type {string|null} */ this.session = opts.session || null;
      /** @type {string|null} */ this.token = opts.desktop_token || null;
      /** Highest seq whose handlers finished: what is (or will be) acknowledged. */
      /** @type {number} */ this.lastSeq = opts.last_seq || 0;
      /** @type {string|null} */ this.pairUrl = opts.pair_url || null;
      /** @type {number|null} */ this.expiresAt = null;
      /** When the box last said anything (ms since the epoch; 0 = not yet). */
      this.lastHeardAt = 0;
      /** @type {State} */ this.state = 'idle';
      /** Why the state became 'ended'. @type {EndReason|null} */
      this.endReason = null;
      /** Scanners of the session as last known, by id. @type {Map<string, Scanner>} */
      this.scanners = new Map();
      this._apiKey = opts.api_key || null;
      this._onScan = typeof opts.onScan === 'function' ? opts.onScan : null;

      // A session given explicitly wins; otherwise resume the one this tab
      // stored (a page reload), remembering that it was only a guess.
      this._restored = false;
      if (!this.session || !this.token) {
        const saved = this._load();
        if (saved) {
          this.session = saved.session;
          this.token = saved.desktop_token;
          this.lastSeq = Math.max(this.lastSeq, saved.last_seq || 0);
          this.pairUrl = this.pairUrl || saved.pair_url || null;
          this._restored = true;
        }
      }
      this._resetDelivery();
      /** @type {Promise<this>|null} */ this._opening = null;
      /** The current socket. @type {Link|null} */ this._ws = null;
      this._failures = 0;          // WebSocket attempts failed in a row
      this._timer = null;          // next WebSocket attempt
      this._polling = false;       // the REST fallback is running
      this._pollGen = 0;           // bumped to cancel a running poll loop
      /** @type {AbortController|null} */ this._pollAbort = null;
      this._scannerTimer = null;
      this._ackInFlight = false;   // a POST /ack is under way
    }

    /** Per-connection-independent delivery bookkeeping (see _receive/_pump). */
    _resetDelivery() {
      this._handed = this.lastSeq;   // highest seq queued for the app: replays ≤ it are dropped
      this._serverAcked = 0;         // highest seq we know the daemon holds as delivered
      /** @type {Scan[]} */ this._queue = [];
      this._blocked = false;         // a scan's handlers are pending, or its retry is scheduled
      this._retryTimer = null;
    }

    /**
     * Create a session, or attach to the given / stored one, then connect.
     * Resolves once the REST part is done (state is then `connecting`);
     * rejects with a ScanBridgeError if the session cannot be created or the
     * given one is gone. A session restored from sessionStorage that is gone
     * is forgotten and a new one created instead. Calls while one is under
     * way share it; a call on an open client does nothing.
     */
    open() {
      if (!this._opening) this._opening = this._open().finally(() => { this._opening = null; });
      return this._opening;
    }

    async _open() {
      if (this.state === 'ended') {
        this.state = 'idle';
        this.endReason = null;
        this._failures = 0;
        this._resetDelivery();
      }
      if (this.state !== 'idle') return this;   // already open
      if (this.session && this.token) {
        try {
          const r = await this._api('GET', '/sessions/' + this.session);
          this.expiresAt = r.expires_at;
        } catch (e) {
          const gone = e instanceof ScanBridgeError && (endReasonForStatus(e.status) || e.status === 404);
          if (!gone) throw e;
          this._forget();
          if (!this._restored) throw e;
          this.session = this.token = this.pairUrl = null;
          this.lastSeq = 0;
          this._resetDelivery();
        }
      }
      if (!this.session || !this.token) {
        const auth = this._apiKey ? { Authorization: 'Bearer ' + this._apiKey } : {};
        const r = await this._fetch('POST', '/sessions', {}, auth);
        this.session = r.session;
        this.token = r.desktop_token;
        this.pairUrl = r.pair_url;
        this.expiresAt = r.expires_at;
        this.lastSeq = 0;
        this._restored = false;
        this._resetDelivery();
      }
      if (this.state !== 'idle') return this;   // closed meanwhile
      this._save();
      this._connect();
      return this;
    }

    /** @returns {{session:string|null, desktop_token:string|null, last_seq:number, pair_url:string|null}} */
    toJSON() {
      return { session: this.session, desktop_token: this.token, last_seq: this.lastSeq, pair_url: this.pairUrl };
    }

    /** Fetch the QR of the latest pair URL; returns a blob: URL (revoke it when done). */
    async qrObjectUrl() {
      const res = await this._env.fetch(this._url('/sessions/' + this.session + '/qr.svg'), {
        headers: { Authorization: 'Bearer ' + this.token },
      });
      if (!res.ok) throw await toError(res);
      return URL.createObjectURL(await res.blob());
    }

    /** Issue a new pair code; updates `pairUrl`. @returns {Promise<{pair_code:string, pair_url:string, expires_at:number}>} */
    async newPairCode() {
      const r = await this._api('POST', '/sessions/' + this.session + '/pair-code', {});
      this.pairUrl = r.pair_url;
      this._save();
      return r;
    }

    /**
     * The session's scans as the box keeps them (GET …/scans.csv): one row per
     * code and format, `code,format,count,scanner,time`. @returns {Promise<string>}
     */
    async scansCsv() {
      const res = await this._env.fetch(this._url('/sessions/' + this.session + '/scans.csv'), {
        headers: { Authorization: 'Bearer ' + this.token },
      });
      if (!res.ok) throw await toError(res);
      this.lastHeardAt = this._env.now();
      return res.text();
    }

    /** Remove a scanner from the session (needs state `live`). @param {string} scannerId @returns {boolean} sent */
    kick(scannerId) {
      return this._isLive() && this._send({ type: 'kick', scanner: scannerId });
    }

    /** End the session for everyone (DELETE) and forget it. */
    async end() {
      let done = false;
      try {
        await this._api('DELETE', '/sessions/' + this.session);
        done = true;
      } finally {
        this._finish('deleted', done);
      }
    }

    /** Disconnect without ending the session; it stays stored, so a reload (or open()) resumes it. */
    close() {
      this._finish('closed');
    }

    // --- REST ----------------------------------------------------------------

    /** @param {string} p */
    _url(p) { return this.base + '/api/v1' + p; }

    /** @param {string} method @param {string} path @param {object} [body] @param {AbortSignal} [signal] */
    _api(method, path, body, signal) {
      return this._fetch(method, path, body, { Authorization: 'Bearer ' + this.token }, signal);
    }

    /**
     * @param {string} method @param {string} path @param {object|undefined} body
     * @param {Record<string,string>} headers @param {AbortSignal} [signal]
     */
    async _fetch(method, path, body, headers, signal) {
      /** @type {RequestInit & {headers: Record<string,string>}} */
      const init = { method, headers: { ...headers } };
      if (signal) init.signal = signal;
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      return request(this._env, this._url(path), init);
    }

    // --- sessionStorage ------------------------------------------------------

    _load() {
      const st = this._env.storage, key = this._cfg.storageKey;
      if (!st || !key) return null;
      try {
        const v = JSON.parse(st.getItem(key) || 'null');
        return v && typeof v.session === 'string' && typeof v.desktop_token === 'string' ? v : null;
      } catch { return null; }
    }

    _save() {
      const st = this._env.storage, key = this._cfg.storageKey;
      if (!st || !key || !this.session) return;
      try { st.setItem(key, JSON.stringify(this.toJSON())); } catch { /* full or denied: resume is best effort */ }
    }

    _forget() {
      const st = this._env.storage, key = this._cfg.storageKey;
      if (!st || !key) return;
      try {
        const v = this._load();
        if (!v || v.session === this.session) st.removeItem(key);
      } catch { /* denied */ }
    }

    // --- events ----------------------------------------------------------------

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

    /**
     * Replace the known scanners. From a welcome (`announce` false) silently:
     * the welcome event carries the list. From GET /sessions/{sid} in fallback,
     * where no live events come, the differences become events: a scanner not
     * known before → scanner_joined (it paired), known and now connected again →
     * scanner_joined, connected → not → scanner_left `disconnected`, gone from
     * the list → scanner_left `kicked`.
     */
    _setScanners(list, announce) {
      const next = new Map();
      for (const s of Array.isArray(list) ? list : []) next.set(s.id, { id: s.id, name: s.name, connected: !!s.connected });
      const before = this.scanners;
      this.scanners = next;
      if (!announce) return;
      for (const [id, s] of next) {
        const old = before.get(id);
        if (!old || (s.connected && !old.connected)) this._emit('scanner_joined', { id, name: s.name, connected: s.connected });
        else if (!s.connected && old.connected) this._emit('scanner_left', { scanner: id, reason: 'disconnected' });
      }
      for (const id of before.keys()) if (!next.has(id)) this._emit('scanner_left', { scanner: id, reason: 'kicked' });
    }

    // --- delivery: queue, handlers, acks ---------------------------------------

    /** A scan from either transport. Order is by seq; anything already queued is a replay. */
    _receive(m) {
      if (!m || typeof m.seq !== 'number' || m.seq <= this._handed) return;
      this._handed = m.seq;
      const { type, ...scan } = m;
      this._queue.push(scan);
      this._pump();
    }

    /**
     * Hands queued scans to the app one at a time, in seq order: the next scan
     * is dispatched only when the previous one's handlers have finished, so a
     * POS sees its side effects in scan order, and a cumulative ack never
     * covers a scan that is still being handled.
     */
    _pump() {
      while (!this._blocked && this._queue.length && this.state !== 'ended') {
        const scan = this._queue[0];
        const attempt = (scan._attempt = (scan._attempt || 0) + 1);
        const { waits, close } = this._dispatchScan(scan, attempt);
        if (!waits.length) {            // synchronous handlers: done already
          close();
          this._queue.shift();
          this._handled(scan.seq);
          continue;
        }
        this._blocked = true;
        settleAll(waits).then(() => {
          close();
          if (this._queue[0] !== scan) return;   // ended (or reopened) meanwhile
          this._blocked = false;
          this._queue.shift();
          this._handled(scan.seq);
          this._pump();
        }, (err) => {
          close();
          if (this._queue[0] !== scan) return;
          // Not acknowledged: the phone keeps it pending. It stays at the head
          // of the queue and is dispatched again after a backoff; later scans
          // wait so that the order of effects is kept.
          this._emit('error', {
            code: 'handler_failed', message: 'scan handler failed: ' + errorText(err),
            seq: scan.seq, scan: publicScan(scan), attempt, error: err,
          });
          this._retryTimer = this._env.setTimeout(() => {
            this._retryTimer = null;
            this._blocked = false;
            this._pump();
          }, backoffDelay(attempt - 1, this._cfg.retryMinMs, this._cfg.backoffMaxMs, this._env.random));
        });
        return;
      }
      this._flushAck();
    }

    /** Fires the `scan` event (and onScan); collects what the handlers ask to wait for. */
    _dispatchScan(scan, attempt) {
      /** @type {Promise<any>[]} */
      const waits = [];
      let open = true;
      const waitUntil = (p) => {
        if (!open) throw new Error('waitUntil() called after the scan was settled; call it while handling the event');
        waits.push(Promise.resolve(p));
      };
      const detail = publicScan(scan);
      // Not enumerable: {...e.detail} and JSON.stringify(e.detail) give the plain scan.
      Object.defineProperty(detail, 'waitUntil', { value: waitUntil });
      Object.defineProperty(detail, 'attempt', { value: attempt });
      const ev = new CustomEvent('scan', { detail });
      Object.defineProperty(ev, 'waitUntil', { value: waitUntil });
      Object.defineProperty(ev, 'attempt', { value: attempt });
      if (this._onScan) {
        try {
          const r = this._onScan(detail, ev);
          if (r && typeof r.then === 'function') waits.push(r);
        } catch (e) {
          waits.push(Promise.reject(e));
        }
      }
      // Listener exceptions are reported by the DOM and swallowed by
      // dispatchEvent: only onScan and waitUntil can refuse a scan.
      this.dispatchEvent(ev);
      return { waits, close: () => { open = false; } };
    }

    /** @param {number} seq the scan's handlers all finished */
    _handled(seq) {
      if (this.state === 'ended') return;
      this.lastSeq = seq;
      this._save();
    }

    /** Sends the cumulative ack for lastSeq over whichever transport works now. */
    _flushAck() {
      const seq = this.lastSeq;
      if (seq <= this._serverAcked || this.state === 'ended') return;
      if (this._isLive()) {
        if (this._send({ type: 'ack', seq })) {
          this._serverAcked = seq;
          this._emit('ack', { seq });
        }
      } else if (this._polling && !this._ackInFlight) {
        this._ackInFlight = true;
        this._api('POST', '/sessions/' + this.session + '/ack', { seq }).then(() => {
          this._ackInFlight = false;
          if (seq > this._serverAcked) {
            this._serverAcked = seq;
            this._emit('ack', { seq });
          }
          this._flushAck();                 // lastSeq may have moved on meanwhile
        }, (e) => {
          this._ackInFlight = false;        // retried after the next poll answer
          this._restFailed(e);
        });
      }
      // Neither: the next welcome or poll sends it.
    }

    // --- WebSocket ---------------------------------------------------------------

    /** The current socket got its welcome. */
    _isLive() {
      return !!this._ws && this._ws.welcomed;
    }

    /** @param {object} msg @returns {boolean} sent */
    _send(msg) {
      return !!this._ws && this._ws.send(msg);
    }

    _connect() {
      this._timer = null;
      if (this.state === 'ended' || this._ws) return;
      // In fallback the socket is a background probe: the state stays put.
      if (this.state !== 'fallback') this._setState(this._failures ? 'reconnecting' : 'connecting');
      try {
        this._ws = new Link(this._env, this.base, {
          connectTimeoutMs: this._cfg.connectTimeoutMs,
          // last_seq = what the app has finished with; anything after it that
          // is already queued here comes back as a replay and is dropped.
          hello: () => ({ type: 'hello', token: this.token, last_seq: this.lastSeq }),
          onMessage: (m, link) => {
            if (this._ws !== link) return;
            if (link.welcomed) this.lastHeardAt = this._env.now();
            this._onMessage(m);
          },
          onClose: (ev, link) => this._onClose(link, ev),
        });
      } catch {
        this._wsFailed();
      }
    }

    /** @param {Link} link @param {{code:number, reason:string}} ev */
    _onClose(link, ev) {
      if (this._ws !== link) return;
      const refused = link.opened && !link.welcomed;
      this._ws = null;
      if (this.state === 'ended') return;
      const reason = ev.reason || '';
      const end = endReasonForClose(ev.code, reason);
      if (end) {
        // 4001 and 4003: the token was refused; 4004: the session is over.
        if (end === 'unauthorized' || end === 'kicked') this._emit('error', { code: 'unauthorized', message: reason || 'unauthorized' });
        this._finish(end);
        return;
      }
      // Opened but refused before any welcome: the session may be gone. The
      // close code (4004/4001) says so, but a browser does not always get to
      // see it (a broken close handshake shows as 1006), so ask REST, which
      // answers 401/410 for a gone session and so ends the client.
      if (refused) this._api('GET', '/sessions/' + this.session).catch((e) => this._restFailed(e));
      this._wsFailed();
    }

    /** Count a failed (or lost) socket, maybe start REST polling, and retry with backoff. */
    _wsFailed() {
      this._failures++;
      if (this._cfg.fallback && this._failures >= this._cfg.fallbackAfter) this._startPolling();
      if (this.state === 'live' || (!this._polling && this.state !== 'reconnecting')) this._setState('reconnecting');
      const delay = backoffDelay(this._failures - 1, this._cfg.backoffMinMs, this._cfg.backoffMaxMs, this._env.random);
      this._timer = this._env.setTimeout(() => this._connect(), delay);
    }

    /** @param {any} m */
    _onMessage(m) {
      switch (m.type) {
        case 'welcome':
          this._ws.welcome();
          this._failures = 0;
          this.lastHeardAt = this._env.now();
          this.expiresAt = m.expires_at;
          this._stopPolling();
          // Acks sent on a socket that died may never have arrived.
          this._serverAcked = typeof m.delivered_seq === 'number' ? m.delivered_seq : 0;
          if (typeof m.last_seq === 'number' && this.lastSeq > m.last_seq) this._serverAcked = this.lastSeq;
          this._setScanners(m.scanners, false);
          this._emit('welcome', m);
          this._setState('live');
          this._flushAck();
          break;
        case 'scan':
          this._receive(m);
          break;
        case 'scanner_joined':
          if (m.scanner) this.scanners.set(m.scanner.id, { id: m.scanner.id, name: m.scanner.name, connected: true });
          this._emit('scanner_joined', m.scanner);
          break;
        case 'scanner_left': {
          const s = this.scanners.get(m.scanner);
          if (m.reason === 'kicked' || m.reason === 'unpaired') this.scanners.delete(m.scanner);
          else if (s) s.connected = false;
          this._emit('scanner_left', { scanner: m.scanner, reason: m.reason });
          break;
        }
        case 'error':
          this._emit('error', { code: m.code, message: m.message });
          break;
        case 'session_expired':
          this._finish('expired', true);
          break;
        case 'session_ended':
          this._finish(m.reason || 'deleted', true);
          break;
        case 'renewed':
          this._renewed(m);
          break;
        default: // pong and future types
      }
    }

    /**
     * The session reached its maximum age and the box renewed it: same session,
     * seqs and scanners, a new token from now on (REST, the next hello, and
     * the stored entry, so that a reload or another tab uses it too).
     */
    _renewed(m) {
      if (typeof m.token !== 'string' || !m.token) return;
      this.token = m.token;
      if (typeof m.expires_at === 'number') this.expiresAt = m.expires_at;
      this._save();
      this._emit('renewed', { token: m.token, expires_at: this.expiresAt });
    }

    // --- REST long-poll fallback ------------------------------------------------

    _startPolling() {
      if (this._polling) return;
      this._polling = true;
      // Unknown what the daemon holds as delivered: re-send the ack once.
      this._serverAcked = 0;
      this._pollLoop(++this._pollGen);
      this._pollScanners(this._pollGen);
    }

    _stopPolling() {
      if (!this._polling) return;
      this._polling = false;
      this._pollGen++;
      if (this._pollAbort) this._pollAbort.abort();
      this._pollAbort = null;
      this._env.clearTimeout(this._scannerTimer);
    }

    /** @param {number} gen stop as soon as _pollGen moves on */
    async _pollLoop(gen) {
      let errors = 0;
      // The first request does not wait, so the state says `fallback` as soon
      // as REST is known to work rather than after a long-poll's wait.
      let wait = 0;
      while (gen === this._pollGen && this.state !== 'ended') {
        const ctrl = typeof AbortController === 'function' ? new AbortController() : null;
        this._pollAbort = ctrl;
        try {
          const r = await this._api('GET', '/sessions/' + this.session + '/scans?after=' + this._handed +
            '&wait=' + wait, undefined, ctrl ? ctrl.signal : undefined);
          if (gen !== this._pollGen) return;
          errors = 0;
          this.lastHeardAt = this._env.now();
          wait = this._cfg.pollWaitS;
          this._setState('fallback');
          for (const s of (r && r.scans) || []) this._receive(s);
          this._flushAck();
        } catch (e) {
          if (gen !== this._pollGen) return;
          if (this._restFailed(e)) return;
          if (this.state === 'fallback') this._setState('reconnecting');
          await new Promise((res) => this._env.setTimeout(res,
            backoffDelay(errors++, this._cfg.backoffMinMs, this._cfg.backoffMaxMs, this._env.random)));
        }
      }
    }

    /** Fallback: scanner_joined / scanner_left derived from GET /sessions/{sid}, now and then. */
    async _pollScanners(gen) {
      if (gen !== this._pollGen || this.state === 'ended') return;
      try {
        const r = await this._api('GET', '/sessions/' + this.session);
        if (gen !== this._pollGen) return;
        this.expiresAt = r.expires_at;
        this._setScanners(r.scanners, true);
      } catch (e) {
        if (gen !== this._pollGen || this._restFailed(e)) return;
      }
      this._scannerTimer = this._env.setTimeout(() => this._pollScanners(gen), this._cfg.scannerPollMs);
    }

    /** A REST call failed: ends the client if the session is gone. @returns {boolean} ended */
    _restFailed(e) {
      const reason = e instanceof ScanBridgeError ? endReasonForStatus(e.status) : null;
      if (!reason || this.state === 'ended') return this.state === 'ended';
      if (reason === 'unauthorized') this._emit('error', { code: e.code, message: e.message });
      this._finish(reason);
      return true;
    }

    // --- the end -----------------------------------------------------------------

    /**
     * @param {EndReason} [reason]
     * @param {boolean} [serverCloses] the daemon is closing the socket itself
     *   (4004 after session_ended / session_expired, or after our DELETE):
     *   closing it from here too would cross its close frame.
     */
    _finish(reason = 'closed', serverCloses = false) {
      if (this.state !== 'ended') this.endReason = reason;
      this._env.clearTimeout(this._timer);
      this._env.clearTimeout(this._retryTimer);
      this._timer = this._retryTimer = null;
      this._stopPolling();
      const link = this._ws;
      this._ws = null;
      if (link) link.close(serverCloses);
      // Scans not yet handled are dropped here: they were not acknowledged, so
      // the daemon replays them when the session is resumed.
      this._queue = [];
      this._blocked = false;
      // 'closed' keeps the session stored so it can be resumed; otherwise it is gone.
      if (this.endReason !== 'closed') this._forget();
      this._setState('ended');
    }
  }

  // --- the scanner side ------------------------------------------------------------

  /**
   * @typedef {'idle'|'connecting'|'live'|'reconnecting'|'offline'|'ended'} ScannerState
   */
  const SCANNER_DEFAULTS = {
    backoffMinMs: 500,
    backoffMaxMs: 30000,
    connectTimeoutMs: 10000,        // socket not welcomed by then counts as failed
    answerMs: 10000,                // a scan or ping unanswered this long: the socket is dead
    silenceMs: 70000,               // nothing at all from the daemon this long: dead
    watchdogMs: 2500,               // how often the two above are checked
    offlineRetryMs: 30000,          // offline: the 'online' event reconnects; this is the fallback
    maxImagesInFlight: 2,           // the daemon decodes 2 frames per connection at a time
    imageIntervalMs: 250,           // at most one image frame this often
    imageTimeoutMs: 4000,           // a frame the daemon dropped gets no answer: forgotten
    watchNetwork: true,             // follow the browser's online/offline and visibility events
  };

  /** `error` codes (without an `id`) that answer an image frame. */
  const IMAGE_ERRORS = ['busy', 'unsupported_media_type', 'invalid_request'];

  /**
   * Scanner side of a scanbridge session (what our phone page uses): one
   * paired scanner's WebSocket. It owns the connection — URL, subprotocol,
   * hello, ping, half-open detection, close codes, reconnect with backoff —
   * and leaves the outbox (what to send, and keeping it until `delivered`)
   * to the app: after every welcome, send what is not yet acknowledged again,
   * with the same ids.
   *
   * Events (CustomEvent, data in `detail`): `state` (ScannerState), `welcome`
   * (the welcome message; `deliveredSeq` is updated), `ack` ({id, seq,
   * duplicate}), `delivered` ({id, seq}), `decoded` ({codes, ms}), `error`
   * ({code, message, id?} — `id` when it answers a scan, `image: true` when it
   * answers an image frame), `renewed` ({token, expires_at}: the session was
   * renewed at its maximum age; keep the new token wherever you keep
   * credentials), `ended` ({reason}: EndReason, also in `endReason`; final,
   * no reconnect).
   */
  class ScanBridgeScanner extends EventTarget {
    /**
     * Trade a pair code for a scanner token (POST /api/v1/pair).
     * @param {{pair_code: string, name?: string, base?: string, env?: object}} opts
     * @returns {Promise<{session: string, scanner: string, scanner_token: string, expires_at: number}>}
     *   rejects with a ScanBridgeError (`pair_code_invalid`, `session_full`,
     *   `rate_limited`, …), or the browser's TypeError when the box is unreachable
     */
    static pair(opts = {}) {
      const env = makeEnv(opts.env);
      const base = (opts.base || root.location.origin).replace(/\/+$/, '');
      const body = { pair_code: opts.pair_code };
      if (opts.name) body.name = opts.name;
      return request(env, base + '/api/v1/pair', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
    }

    /**
     * @param {object} opts `scanner_token` (required), `base` (default: the
     *   page's origin), `session`, `scanner` (known ids, e.g. from pair());
     *   the SCANNER_DEFAULTS above; `env` replaces the browser globals.
     */
    constructor(opts = {}) {
      super();
      this._env = makeEnv(opts.env);
      const cfg = { ...SCANNER_DEFAULTS };
      for (const k of Object.keys(SCANNER_DEFAULTS)) if (opts[k] !== undefined) cfg[k] = opts[k];
      this._cfg = cfg;
      this.base = (opts.base || root.location.origin).replace(/\/+$/, '');
      /** @type {string|null} */ this.token = opts.scanner_token || null;
      /** @type {string|null} */ this.session = opts.session || null;
      /** This scanner's id. @type {string|null} */ this.scanner = opts.scanner || null;
      /** @type {ScannerState} */ this.state = 'idle';
      /** @type {EndReason|null} */ this.endReason = null;
      /** Every seq ≤ this is delivered (welcome.delivered_seq, then live `delivered`). */
      this.deliveredSeq = 0;
      /** @type {number|null} */ this.expiresAt = null;
      /** Ids of scans sent on this connection and not yet answered (ack or error). @type {Set<string>} */
      this.inFlight = new Set();
      /** @type {Link|null} */ this._link = null;
      this._failures = 0;          // connection attempts failed in a row
      this._timer = null;          // next attempt
      this._watch = null;          // half-open watchdog
      /** An answer (pong, ack) is due since; null = none. @type {number|null} */
      this._awaitSince = null;
      /** @type {number[]} send times of unanswered image frames, oldest first */
      this._images = [];
      this._lastImage = -Infinity;
      this._listening = false;
      this._onOnline = () => {
        if (this.state === 'idle' || this.state === 'ended' || this.live) return;
        this._failures = 0;
        this._dropLink();
        this._connect();
      };
      this._onOffline = () => {
        if (this.state === 'idle' || this.state === 'ended') return;
        // Chromium (at least) keeps an open socket that lost the network
        // without closing it: drop it now rather than wait for the watchdog.
        this._dropLink();
        this._lost();
      };
      this._onVisibility = () => {
        const d = this._env.document;
        if ((d && d.hidden) || this.state === 'idle' || this.state === 'ended') return;
        if (!this._link) {             // waiting to retry: try now
          this._failures = 0;
          this._connect();
        } else if (this.live) {
          this.ping();                 // is the socket still alive after the sleep?
        }
      };
    }

    /** Welcomed: scans and images can be sent. */
    get live() {
      return !!this._link && this._link.welcomed;
    }

    /** Connect (and keep reconnecting until close() or the end). @returns {this} */
    open() {
      if (this.state === 'ended') {
        this.state = 'idle';
        this.endReason = null;
        this._failures = 0;
      }
      if (this.state !== 'idle') return this;
      if (!this.token) throw new TypeError('ScanBridgeScanner: scanner_token is required');
      this._listen(true);
      this._connect();
      return this;
    }

    /**
     * Retry now instead of waiting out the backoff (what the 'online' event
     * does). Does nothing while live.
     */
    reconnect() {
      if (this.state === 'idle' || this.state === 'ended' || this.live) return;
      this._failures = 0;
      this._dropLink();
      this._connect();
    }

    /** Send a `ping` now; no answer within `answerMs` drops the socket. @returns {boolean} sent */
    ping() {
      return this.live && this._link.ping();
    }

    /**
     * Send a scan. Keep it until `ack` (or an `error` with its id); after a
     * reconnect send it again with the same id.
     * @param {{id: string, code: string, format?: string, scanned_at?: number|null}} scan
     * @returns {boolean} sent (false when not live)
     */
    sendScan(scan) {
      if (!this.live) return false;
      /** @type {Record<string, any>} */
      const msg = { type: 'scan', id: scan.id, code: scan.code };
      if (scan.format != null) msg.format = scan.format;
      if (scan.scanned_at != null) msg.scanned_at = scan.scanned_at;
      if (!this._link.send(msg)) return false;
      if (this._awaitSince === null) this._awaitSince = this._env.now();
      this.inFlight.add(scan.id);
      return true;
    }

    /**
     * Whether an image frame may go now: live, fewer than `maxImagesInFlight`
     * unanswered, and `imageIntervalMs` since the last one.
     */
    canSendImage() {
      if (!this.live) return false;
      const now = this._env.now(), c = this._cfg;
      while (this._images.length && now - this._images[0] >= c.imageTimeoutMs) this._images.shift();
      return this._images.length < c.maxImagesInFlight && now - this._lastImage >= c.imageIntervalMs;
    }

    /**
     * Send one whole JPEG or PNG as a binary frame for the daemon's decoder;
     * the answer is a `decoded` event (it never submits a scan by itself).
     * @param {Blob|ArrayBuffer|ArrayBufferView} image @returns {boolean} sent
     */
    sendImage(image) {
      if (!this.canSendImage() || !this._link.sendRaw(image)) return false;
      const now = this._env.now();
      this._images.push(now);
      this._lastImage = now;
      return true;
    }

    /**
     * Decode an image over REST (POST /api/v1/decode), e.g. a photo.
     * @param {Blob} image @param {string} [type] default: the blob's type, else image/jpeg
     * @returns {Promise<{codes: {code: string, format: string}[], ms: number}>}
     */
    decode(image, type) {
      return request(this._env, this.base + '/api/v1/decode', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + this.token, 'Content-Type': type || image.type || 'image/jpeg' },
        body: image,
      });
    }

    /** Disconnect for good (endReason 'closed'); the token stays valid. */
    close() {
      this._finish('closed');
    }

    /**
     * Leave the session for good (DELETE …/scanners/{id}): the box frees the
     * slot and tells the desktops `scanner_left` `unpaired`. Ends this client
     * (endReason `unpaired`) whatever the answer.
     * @returns {Promise<boolean>} whether the box knows (false: unreachable,
     *   so it still counts this scanner until the session ends)
     */
    async unpair() {
      let told = false;
      try {
        if (this.session && this.scanner) {
          const res = await this._env.fetch(this.base + '/api/v1/sessions/' + encodeURIComponent(this.session) +
            '/scanners/' + encodeURIComponent(this.scanner),
          { method: 'DELETE', headers: { Authorization: 'Bearer ' + this.token } });
          // 401/404: the session or the scanner is gone already; that is unpaired too.
          told = res.ok || res.status === 401 || res.status === 404 || res.status === 410;
        }
      } catch { /* unreachable */ }
      this._finish('unpaired', told);
      return told;
    }

    // --- internals ---------------------------------------------------------------

    /** @param {ScannerState} s */
    _setState(s) {
      if (this.state === s) return;
      this.state = s;
      this._emit('state', s);
    }

    /** @param {string} type @param {any} detail */
    _emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    }

    _listen(on) {
      if (!this._cfg.watchNetwork || on === this._listening) return;
      this._listening = on;
      const m = on ? 'addEventListener' : 'removeEventListener';
      const w = this._env.window, d = this._env.document;
      if (w && typeof w[m] === 'function') {
        w[m]('online', this._onOnline);
        w[m]('offline', this._onOffline);
      }
      if (d && typeof d[m] === 'function') d[m]('visibilitychange', this._onVisibility);
    }

    _connect() {
      this._env.clearTimeout(this._timer);
      this._timer = null;
      if (this.state === 'ended' || this._link) return;
      this._setState(this._failures ? 'reconnecting' : 'connecting');
      try {
        this._link = new Link(this._env, this.base, {
          connectTimeoutMs: this._cfg.connectTimeoutMs,
          hello: () => ({ type: 'hello', token: this.token }),
          onMessage: (m, link) => { if (this._link === link) this._onMessage(m); },
          onClose: (ev, link) => this._onClose(link, ev),
          onPing: () => { if (this._awaitSince === null) this._awaitSince = this._env.now(); },
        });
      } catch {
        this._lost();
      }
    }

    /** Forget the current socket and everything that was in flight on it. */
    _dropLink() {
      const link = this._link;
      this._link = null;
      if (link) link.close();
      this._env.clearInterval(this._watch);
      this._watch = null;
      this.inFlight.clear();
      this._awaitSince = null;
      this._images = [];
      this._lastImage = -Infinity;
    }

    /** @param {Link} link @param {{code:number, reason:string}} ev */
    _onClose(link, ev) {
      if (this._link !== link) return;
      this._dropLink();
      if (this.state === 'ended') return;
      // A lost close frame (1006) is treated as a network drop: the
      // reconnect's hello then gets the real answer (4003 kicked, 4004 ended).
      const end = endReasonForClose(ev.code, ev.reason);
      if (end) this._finish(end);
      else this._lost();
    }

    /** The socket is gone: retry after the backoff (or, offline, when the network is back). */
    _lost() {
      this._env.clearTimeout(this._timer);
      if (this.state === 'ended') return;
      const nav = this._env.navigator;
      const offline = !!nav && nav.onLine === false;
      this._setState(offline ? 'offline' : 'reconnecting');
      const delay = offline ? this._cfg.offlineRetryMs
        : backoffDelay(this._failures++, this._cfg.backoffMinMs, this._cfg.backoffMaxMs, this._env.random);
      this._timer = this._env.setTimeout(() => this._connect(), delay);
    }

    /**
     * Every watchdogMs: give up on a socket that went silent — a half-open
     * connection after the phone changed Wi-Fi or slept: nothing closes it,
     * messages just vanish. Dead when nothing at all arrived for silenceMs,
     * or when a ping or scan is unanswered and nothing arrived for answerMs.
     */
    _watchdog() {
      const link = this._link;
      if (!link || !link.welcomed) return;
      const now = this._env.now();
      const silent = now - link.lastRx > this._cfg.silenceMs;
      const unanswered = this._awaitSince !== null && now - Math.max(this._awaitSince, link.lastRx) > this._cfg.answerMs;
      if (silent || unanswered) link.fail('no answer');
    }

    /** @param {any} m */
    _onMessage(m) {
      switch (m.type) {
        case 'welcome':
          this._link.welcome();
          this._failures = 0;
          if (m.session) this.session = m.session;
          if (m.scanner) this.scanner = m.scanner;
          this.deliveredSeq = typeof m.delivered_seq === 'number' ? m.delivered_seq : 0;
          if (typeof m.expires_at === 'number') this.expiresAt = m.expires_at;
          this.inFlight.clear();
          this._images = [];
          this._lastImage = -Infinity;
          this._env.clearInterval(this._watch);
          this._watch = this._env.setInterval(() => this._watchdog(), this._cfg.watchdogMs);
          this._emit('welcome', m);
          this._setState('live');
          break;
        case 'ack':
          this.inFlight.delete(m.id);
          this._emit('ack', { id: m.id, seq: m.seq, duplicate: !!m.duplicate });
          break;
        case 'delivered':
          if (typeof m.seq === 'number' && m.seq > this.deliveredSeq) this.deliveredSeq = m.seq;
          this._emit('delivered', { id: m.id, seq: m.seq });
          break;
        case 'decoded':
          this._images.shift();
          this._emit('decoded', { codes: Array.isArray(m.codes) ? m.codes : [], ms: m.ms });
          break;
        case 'error': {
          /** @type {Record<string, any>} */
          const d = { code: m.code, message: m.message || '' };
          if (m.id) {
            d.id = m.id;
            this.inFlight.delete(m.id);
          } else if (IMAGE_ERRORS.includes(m.code) && this._images.length) {
            this._images.shift();
            d.image = true;
          }
          this._emit('error', d);
          break;
        }
        case 'session_expired':
          this._finish('expired', true);
          return;
        case 'session_ended':
          this._finish('deleted', true);
          return;
        case 'renewed':
          if (typeof m.token === 'string' && m.token) {
            this.token = m.token;
            if (typeof m.expires_at === 'number') this.expiresAt = m.expires_at;
            this._emit('renewed', { token: m.token, expires_at: this.expiresAt });
          }
          break;
        default: // pong and future types
      }
      // Anything that arrives answers a ping; scans still unanswered keep the
      // clock running from now (max(_awaitSince, lastRx) in the watchdog).
      if (!this.inFlight.size) this._awaitSince = null;
    }

    /** @param {EndReason} reason @param {boolean} [serverCloses] see Link.close */
    _finish(reason, serverCloses = false) {
      if (this.state === 'ended') return;
      this.endReason = reason;
      this._env.clearTimeout(this._timer);
      this._timer = null;
      const link = this._link;
      this._link = null;
      if (link) link.close(serverCloses);
      this._dropLink();
      this._listen(false);
      this._setState('ended');
      this._emit('ended', { reason });
    }
  }

  /** `new ScanBridgeScanner(opts).open()`. */
  function connectScanner(opts) {
    return new ScanBridgeScanner(opts).open();
  }

  /** Scan fields only (drops our bookkeeping). @returns {Scan} */
  function publicScan(scan) {
    const { _attempt, ...s } = scan;
    return /** @type {Scan} */ (s);
  }

  /** Waits for every promise in `list`, including ones added while waiting. */
  async function settleAll(list) {
    for (let done = 0; done < list.length;) {
      const n = list.length;
      await Promise.all(list.slice(done, n));
      done = n;
    }
  }

  function errorText(err) {
    return err && err.message ? err.message : String(err);
  }

  /** sessionStorage, or null where it is missing or denied (sandboxed iframes throw). */
  function safeSessionStorage() {
    try { return root.sessionStorage || null; } catch { return null; }
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

  root.ScanBridge = Object.freeze({
    ScanBridgeClient, ScanBridgeScanner, connectScanner, ScanBridgeError, backoffDelay, PING_MS, version: VERSION,
  });
})(globalThis);
