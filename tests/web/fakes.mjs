// SPDX-License-Identifier: MIT
// Fakes of the browser seams the embeddable client takes through its `env`
// option (WebSocket, fetch, sessionStorage, timers), shared by the unit tests
// of both sides (client.test.mjs, scanner.test.mjs). Not a test file itself.

/** Manual clock: timers run only from tick(). */
export class FakeTimers {
  constructor() { this.now = 0; this.next = 1; /** @type {Map<number,{at:number,fn:Function,every:number}>} */ this.timers = new Map(); }
  setTimeout = (fn, ms) => { const id = this.next++; this.timers.set(id, { at: this.now + ms, fn, every: 0, ms }); return id; };
  setInterval = (fn, ms) => { const id = this.next++; this.timers.set(id, { at: this.now + ms, fn, every: ms, ms }); return id; };
  clearTimeout = (id) => { this.timers.delete(id); };
  clearInterval = (id) => { this.timers.delete(id); };
  /** Delays of the pending one-shot timers, shortest first. */
  pending() { return [...this.timers.values()].filter((t) => !t.every).map((t) => t.at - this.now).sort((a, b) => a - b); }
  /** Advances time by ms, running due timers in order (and letting promises settle between them). */
  async tick(ms) {
    const end = this.now + ms;
    for (;;) {
      let best = null;
      for (const [id, t] of this.timers) if (t.at <= end && (!best || t.at < best[1].at)) best = [id, t];
      if (!best) break;
      const [id, t] = best;
      this.now = t.at;
      if (t.every) t.at += t.every; else this.timers.delete(id);
      t.fn();
      await flush();
    }
    this.now = end;
    await flush();
  }
}

/** Lets pending promise callbacks (and fetch fakes) run. */
export async function flush() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A WebSocket the test plays the server of. */
export class FakeSocketFactory {
  constructor() {
    /** @type {FakeWS[]} */ this.all = [];
    const factory = this;
    this.WebSocket = class FakeWS {
      constructor(url, protocol) {
        this.url = url; this.protocol = protocol; this.readyState = 0; this.sent = []; this.binary = []; this.closedByClient = null;
        factory.all.push(this);
      }
      send(s) {
        if (this.readyState !== 1) throw new Error('not open');
        if (typeof s === 'string') this.sent.push(JSON.parse(s)); else this.binary.push(s);
      }
      close(code) { if (this.readyState < 2) { this.readyState = 3; this.closedByClient = code ?? 1005; } }
      // --- the server's side
      accept() { this.readyState = 1; this.onopen?.({}); }
      deliver(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
      drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
      fail() { this.onerror?.({}); this.drop(1006); }
      messages(type) { return this.sent.filter((m) => m.type === type); }
    };
  }
  get last() { return this.all[this.all.length - 1]; }
}

export function response(status, body) {
  return {
    ok: status >= 200 && status < 300, status, statusText: String(status),
    json: async () => { if (body === undefined) throw new SyntaxError('no body'); return body; },
    text: async () => (typeof body === 'string' ? body : JSON.stringify(body ?? '')),
  };
}

/**
 * fetch served by `routes` ("METHOD /path" → fn(req) giving [status, body] or a
 * promise of it); the query string is in req.query. Records every request.
 */
export class FakeServer {
  constructor(routes = {}) {
    this.routes = routes; /** @type {any[]} */ this.requests = [];
    this.fetch = (url, init = {}) => {
      const u = new URL(url);
      const req = { method: init.method || 'GET', path: u.pathname.replace(/^\/api\/v1/, ''), query: u.searchParams,
        headers: init.headers || {}, signal: init.signal,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body };
      this.requests.push(req);
      const key = req.method + ' ' + req.path.replace(/^\/sessions\/[^/]+/, '/sessions/S');
      const fn = this.routes[key];
      if (!fn) return Promise.resolve(response(404, { error: { code: 'not_found', message: key } }));
      return new Promise((resolve, reject) => {
        if (req.signal) req.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
        Promise.resolve(fn(req)).then(([status, body]) => resolve(response(status, body)), reject);
      });
    };
  }
  of(method, pathPrefix) { return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)); }
}

export class FakeStorage {
  constructor(init = {}) { this.map = new Map(Object.entries(init)); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
  json(k) { return JSON.parse(this.getItem(k) || 'null'); }
}

