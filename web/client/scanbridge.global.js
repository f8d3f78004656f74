// SPDX-License-Identifier: MIT
// scanbridge embeddable client (desktop side of protocol v1, docs/protocol.md),
// classic-script build: <script src="/client/scanbridge.global.js"> defines
// `window.ScanBridge = {ScanBridgeClient, ScanBridgeError, backoffDelay, version}`.
// /client/scanbridge.js is the ES module; it imports this file and re-exports
// the same objects, so there is one copy of the code and no build step. The
// file therefore has to be valid both as a classic script and as module code:
// no import/export, strict mode, only `globalThis` at the top level.
// Guide and API reference: docs/embedding.md.
(function (root) {
  'use strict';

  const VERSION = '1.0.0';
  // Loaded twice (classic tag and module import): keep the first copy so that
  // `instanceof ScanBridgeClient` means the same thing everywhere on the page.
  if (root.ScanBridge && root.ScanBridge.version === VERSION) return;

  /**
   * @typedef {{seq:number, id:string, code:string, format:string, scanner:string,
   *            scanned_at:(number|null), received_at:number}} Scan
   * @typedef {{id:string, name:string, connected?:boolean}} Scanner
   * @typedef {'idle'|'connecting'|'live'|'reconnecting'|'fallback'|'ended'} State
   * @typedef {'deleted'|'expired'|'unauthorized'|'kicked'|'closed'} EndReason
   */

  const PING_MS = 30000;            // PROTOCOL.md: our clients ping every 30 s
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
   * so a store full of tills does not reconnect in lock-step after a restart,
   * yet never retries sooner than half the nominal delay.
   * @param {number} attempt @param {number} minMs @param {number} maxMs
   * @param {() => number} [random] @returns {number} milliseconds
   */
  function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
    const cap = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
    return cap / 2 + random() * (cap / 2);
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
   * `error` ({code, message, ...}).
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
      this._env = {
        WebSocket: env.WebSocket || root.WebSocket,
        fetch: env.fetch || ((...a) => root.fetch(...a)),
        storage: 'storage' in env ? env.storage : safeSessionStorage(),
        setTimeout: env.setTimeout || ((f, ms) => root.setTimeout(f, ms)),
        clearTimeout: env.clearTimeout || ((t) => root.clearTimeout(t)),
        setInterval: env.setInterval || ((f, ms) => root.setInterval(f, ms)),
        clearInterval: env.clearInterval || ((t) => root.clearInterval(t)),
        random: env.random || Math.random,
      };
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
      /** @type {WebSocket|null} */ this._ws = null;
      this._welcomed = false;      // the current socket got its welcome
      this._wsOpened = false;      // the current socket opened
      this._failures = 0;          // WebSocket attempts failed in a row
      this._timer = null;          // next WebSocket attempt
      this._ping = null;
      this._connectTimer = null;
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

    /** Remove a scanner from the session (needs state `live`). @param {string} scannerId @returns {boolean} sent */
    kick(scannerId) {
      return this._welcomed && this._send({ type: 'kick', scanner: scannerId });
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
      const res = await this._env.fetch(this._url(path), init);
      if (!res.ok) throw await toError(res);
      return res.status === 204 ? null : res.json();
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
      if (this._welcomed) {
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

    /** @param {object} msg @returns {boolean} sent */
    _send(msg) {
      const ws = this._ws;
      if (!ws || ws.readyState !== 1 /* OPEN */) return false;
      try { ws.send(JSON.stringify(msg)); } catch { return false; }
      return true;
    }

    _connect() {
      this._timer = null;
      if (this.state === 'ended' || this._ws) return;
      // In fallback the socket is a background probe: the state stays put.
      if (this.state !== 'fallback') this._setState(this._failures ? 'reconnecting' : 'connecting');
      let ws;
      try {
        ws = new this._env.WebSocket(this.base.replace(/^http/, 'ws') + '/ws', 'scanbridge.v1');
      } catch {
        this._wsFailed();
        return;
      }
      this._ws = ws;
      this._welcomed = false;
      this._wsOpened = false;
      // A socket can hang half-open (a proxy, a dead Wi-Fi): give it a deadline.
      this._connectTimer = this._env.setTimeout(() => {
        if (this._ws === ws && !this._welcomed) this._dropSocket(ws);
      }, this._cfg.connectTimeoutMs);
      ws.onopen = () => {
        if (this._ws !== ws) return;
        this._wsOpened = true;
        // last_seq = what the app has finished with; anything after it that
        // is already queued here comes back as a replay and is dropped.
        ws.send(JSON.stringify({ type: 'hello', token: this.token, last_seq: this.lastSeq }));
        this._ping = this._env.setInterval(() => this._send({ type: 'ping' }), PING_MS);
      };
      ws.onmessage = (ev) => {
        if (this._ws !== ws || typeof ev.data !== 'string') return;
        let m;
        try { m = JSON.parse(ev.data); } catch { return; }
        if (m && typeof m === 'object') this._onMessage(m);
      };
      ws.onerror = () => { /* always followed by close */ };
      ws.onclose = (ev) => this._onClose(ws, ev);
    }

    /** Abandon a socket as failed (timeout): same path as a network close. */
    _dropSocket(ws) {
      try { ws.close(); } catch { /* already closing */ }
      this._onClose(ws, { code: 1006, reason: 'timeout' });
    }

    /** @param {WebSocket} ws @param {{code:number, reason:string}} ev */
    _onClose(ws, ev) {
      if (this._ws !== ws) return;
      const refused = this._wsOpened && !this._welcomed;
      this._ws = null;
      this._welcomed = false;
      this._env.clearInterval(this._ping);
      this._env.clearTimeout(this._connectTimer);
      if (this.state === 'ended') return;
      const code = ev.code, reason = ev.reason || '';
      if (code === 4004) {
        this._finish(/ended|deleted/i.test(reason) ? 'deleted' : 'expired');
        return;
      }
      // 4001 is final unless we were merely too slow to say hello.
      if ((code === 4001 && !/in time/i.test(reason)) || code === 4003) {
        this._emit('error', { code: 'unauthorized', message: reason || 'unauthorized' });
        this._finish(code === 4003 ? 'kicked' : 'unauthorized');
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
          this._welcomed = true;
          this._failures = 0;
          this._env.clearTimeout(this._connectTimer);
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
          if (m.reason === 'kicked') this.scanners.delete(m.scanner);
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
        default: // pong and future types
      }
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
      this._env.clearTimeout(this._connectTimer);
      this._env.clearInterval(this._ping);
      this._timer = this._retryTimer = null;
      this._stopPolling();
      const ws = this._ws;
      this._ws = null;
      this._welcomed = false;
      if (ws) {
        ws.onmessage = ws.onclose = null;
        const close = () => { try { if (ws.readyState < 2) ws.close(1000); } catch { /* closed */ } };
        if (serverCloses) this._env.setTimeout(close, 5000); else close();
      }
      // Scans not yet handled are dropped here: they were not acknowledged, so
      // the daemon replays them when the session is resumed.
      this._queue = [];
      this._blocked = false;
      // 'closed' keeps the session stored so it can be resumed; otherwise it is gone.
      if (this.endReason !== 'closed') this._forget();
      this._setState('ended');
    }
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

  root.ScanBridge = Object.freeze({ ScanBridgeClient, ScanBridgeError, backoffDelay, version: VERSION });
})(globalThis);
