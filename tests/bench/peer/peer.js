// SPDX-License-Identifier: MIT
// A minimal Node.js relay of the scanbridge v1 protocol (docs/protocol.md), kept
// only as a yardstick for tests/bench: `ws` for WebSocket, `better-sqlite3` for
// SQLite, the daemon's own schema (schema/001_initial.sql), WAL and the same
// synchronous modes. It implements what `scanbridge-sim load` and `idle` use:
//   POST /api/v1/sessions, POST /api/v1/sessions/{sid}/pair-code, POST /api/v1/pair, GET /healthz, GET /metrics (counts),
//   /ws (subprotocol scanbridge.v1): hello/welcome, scan -> store -> ack after
//   commit -> forward to desktops, desktop ack -> delivered, ping/pong.
// Group commit like the daemon: the first change of an event-loop pass opens a
// transaction, setImmediate commits it after the pass, and only then are acks,
// forwards, receipts and REST answers released.
// Not implemented (not used by the benchmarks): rate limits, expiry and cleanup,
// kick, replay pacing, DELETE/GET sessions, long-poll, REST scans, images.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const Database = require('better-sqlite3');
const { WebSocketServer } = require('ws');

// ---- options: --port N --bind ADDR --data-dir DIR --durability normal|full
const opt = { port: 8090, bind: '127.0.0.1', 'data-dir': 'data-peer', durability: 'normal' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt) || i + 1 >= process.argv.length) { console.error(`usage: peer.js [--port N] [--bind A] [--data-dir D] [--durability normal|full]`); process.exit(2); }
  opt[k] = process.argv[i + 1];
}
const BASE = `http://${opt.bind}:${opt.port}`;
const TTL_MS = 600e3, MAX_AGE_S = 86400, PAIR_TTL_MS = 600e3;

// ---- store
fs.mkdirSync(opt['data-dir'], { recursive: true, mode: 0o700 });
const db = new Database(path.join(opt['data-dir'], 'peer.db'));
if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') throw new Error('no WAL');
db.pragma('foreign_keys = ON');
db.pragma(`synchronous = ${opt.durability === 'full' ? 'FULL' : 'NORMAL'}`);
if (db.pragma('user_version', { simple: true }) === 0) {
  db.exec('BEGIN');
  db.exec(fs.readFileSync(path.join(__dirname, '../../../schema/001_initial.sql'), 'utf8'));
  db.exec('PRAGMA user_version = 1; COMMIT');
}
const Q = {
  sessionAdd: db.prepare('INSERT INTO sessions(id, created_at, last_activity) VALUES (?, ?, ?)'),
  pairAdd: db.prepare('INSERT INTO pair_codes(code, session_id, expires_at) VALUES (?, ?, ?)'),
  pairTake: db.prepare('UPDATE pair_codes SET used = 1 WHERE code = ? AND used = 0 AND expires_at > ? RETURNING session_id'),
  scannerAdd: db.prepare('INSERT INTO scanners(session_id, id, name, created_at) VALUES (?, ?, ?, ?)'),
  scanFind: db.prepare('SELECT seq FROM scans WHERE session_id = ? AND client_id = ?'),
  scanAdd: db.prepare('INSERT INTO scans(session_id, seq, client_id, code, format, scanner_id, scanned_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
  scansDeliver: db.prepare('UPDATE scans SET delivered_at = ? WHERE session_id = ? AND seq > ? AND seq <= ? AND delivered_at IS NULL RETURNING seq, client_id, scanner_id'),
  sessionDeliver: db.prepare('UPDATE sessions SET delivered_seq = MAX(delivered_seq, ?) WHERE id = ?'),
  scansAfter: db.prepare('SELECT seq, client_id, code, format, scanner_id, scanned_at, received_at FROM scans WHERE session_id = ? AND seq > ? AND code IS NOT NULL ORDER BY seq'),
};

// ---- group commit: one transaction per event-loop pass
let inTxn = false, after = [];
function change(fn, then) {           // fn() runs inside the batch, then() after its commit
  if (!inTxn) { db.exec('BEGIN IMMEDIATE'); inTxn = true; setImmediate(flush); }
  fn();
  if (then) after.push(then);
}
function flush() {
  let ok = true;
  try { db.exec('COMMIT'); } catch (e) { ok = false; db.exec('ROLLBACK'); console.error('commit failed', e.message); }
  inTxn = false;
  const done = after; after = [];
  for (const f of done) f(ok);
}

// ---- tokens: HS256 JWT with the protocol's claims
const secret = crypto.randomBytes(32);
const b64 = (x) => Buffer.from(x).toString('base64url');
const HDR = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
function sign(claims) {
  const body = `${HDR}.${b64(JSON.stringify(claims))}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}
function verify(tok) {
  const p = typeof tok === 'string' ? tok.split('.') : [];
  if (p.length !== 3 || p[0] !== HDR) return null;
  const mac = crypto.createHmac('sha256', secret).update(`${p[0]}.${p[1]}`).digest();
  const got = Buffer.from(p[2], 'base64url');
  if (got.length !== mac.length || !crypto.timingSafeEqual(got, mac)) return null;
  try {
    const c = JSON.parse(Buffer.from(p[1], 'base64url'));
    return c.exp > Date.now() / 1000 ? c : null;
  } catch { return null; }
}

// ---- sessions in memory (the store holds the same rows)
const sessions = new Map();           // sid -> {id, created, head, delivered, desktops:Set, scanners:Map(id -> {name, socks:Set})}
const rid = (n) => crypto.randomBytes(n).toString('base64url');
const expiresAt = (s) => Math.min(Date.now() + TTL_MS, s.created + MAX_AGE_S * 1000);
let nconn = 0, relayed = 0;

function send(ws, obj) { if (ws.readyState === 1) ws.send(JSON.stringify(obj)); }
function toDesktops(s, obj) { const m = JSON.stringify(obj); for (const d of s.desktops) if (d.readyState === 1) d.send(m); }

// ---- REST
function reply(res, code, obj) {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(body);
}
const err = (res, code, c, m) => reply(res, code, { error: { code: c, message: m } });

function createSession(res) {
  const now = Date.now(), s = { id: rid(16), created: now, head: 0, delivered: 0, desktops: new Set(), scanners: new Map() };
  const code = rid(16);
  change(() => { Q.sessionAdd.run(s.id, now, now); Q.pairAdd.run(code, s.id, now + PAIR_TTL_MS); }, (ok) => {
    if (!ok) return err(res, 503, 'unavailable', 'not stored');
    sessions.set(s.id, s);
    const iat = Math.floor(now / 1000);
    reply(res, 201, {
      session: s.id, desktop_token: sign({ sid: s.id, role: 'desktop', sub: 'desktop', iat, exp: iat + MAX_AGE_S }),
      pair_code: code, pair_url: `${BASE}/p#${code}`, expires_at: expiresAt(s),
    });
  });
}

function newPairCode(req, res, sid) {
  const c = verify((req.headers.authorization || '').replace(/^Bearer /, '')), s = sessions.get(sid);
  if (!c || !s) return err(res, 401, 'unauthorized', 'bad token');
  if (c.sid !== sid || c.role !== 'desktop') return err(res, 403, 'forbidden', 'not this session');
  const now = Date.now(), code = rid(16);
  change(() => Q.pairAdd.run(code, sid, now + PAIR_TTL_MS), (ok) => (ok
    ? reply(res, 201, { pair_code: code, pair_url: `${BASE}/p#${code}`, expires_at: now + PAIR_TTL_MS })
    : err(res, 503, 'unavailable', 'not stored')));
}

function pair(res, body) {
  let b;
  try { b = JSON.parse(body || '{}'); } catch { return err(res, 400, 'invalid_request', 'body is not JSON'); }
  if (!b || typeof b.pair_code !== 'string') return err(res, 400, 'invalid_request', 'pair_code');
  const name = typeof b.name === 'string' && b.name.length ? b.name : 'Scanner';
  const now = Date.now(), scanner = rid(12);
  let s = null;
  change(() => {
    const row = Q.pairTake.get(b.pair_code, now);
    s = row && sessions.get(row.session_id);
    if (s) Q.scannerAdd.run(s.id, scanner, name, now);
  }, (ok) => {
    if (!ok) return err(res, 503, 'unavailable', 'not stored');
    if (!s) return err(res, 404, 'pair_code_invalid', 'unknown, used or expired pair code');
    s.scanners.set(scanner, { name, socks: new Set() });
    toDesktops(s, { type: 'scanner_joined', scanner: { id: scanner, name } });
    const iat = Math.floor(now / 1000);
    reply(res, 200, { session: s.id, scanner, scanner_token: sign({ sid: s.id, role: 'scanner', sub: scanner, iat, exp: iat + MAX_AGE_S }), expires_at: expiresAt(s) });
  });
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  let body = '';
  req.on('data', (c) => { body += c; if (body.length > 65536) req.destroy(); });
  req.on('end', () => {
    if (req.method === 'POST' && url === '/api/v1/sessions') return createSession(res);
    if (req.method === 'POST' && url === '/api/v1/pair') return pair(res, body);
    const pc = req.method === 'POST' && url.match(/^\/api\/v1\/sessions\/([A-Za-z0-9_-]+)\/pair-code$/);
    if (pc) return newPairCode(req, res, pc[1]);
    if (req.method === 'GET' && url === '/healthz') return reply(res, 200, { status: 'ok', db: 'ok', version: 'peer', uptime_s: Math.floor(process.uptime()) });
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(`scanbridge_connections ${nconn}\nscanbridge_sessions_active ${sessions.size}\nscanbridge_scans_relayed_total ${relayed}\n`);
    }
    err(res, 404, 'not_found', 'no such path');
  });
});

// ---- WebSocket
const FORMATS = new Set(['EAN_13', 'EAN_8', 'UPC_A', 'UPC_E', 'CODE_128', 'CODE_39', 'CODE_93', 'ITF',
  'CODABAR', 'QR_CODE', 'DATA_MATRIX', 'PDF_417', 'AZTEC', 'DATABAR', 'UNKNOWN']);
const DIGITS = { EAN_13: 13, EAN_8: 8, UPC_A: 12 };
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const CTRL_RE = /[\u0000-\u001f\u007f-\u009f]/;
function gs1ok(c) {
  let t = 0;
  for (let i = c.length - 2, w = 3; i >= 0; i--, w ^= 2) t += (c.charCodeAt(i) - 48) * w;
  return (10 - t % 10) % 10 === c.charCodeAt(c.length - 1) - 48;
}
function scanError(m) {
  if (typeof m.id !== 'string' || !ID_RE.test(m.id)) return ['invalid_request', 'id'];
  if (typeof m.code !== 'string' || !m.code.length || [...m.code].length > 512 || CTRL_RE.test(m.code)) return ['invalid_request', 'code'];
  const f = m.format === undefined ? 'UNKNOWN' : m.format;
  if (!FORMATS.has(f)) return ['invalid_request', 'format'];
  if (DIGITS[f] && (m.code.length !== DIGITS[f] || !/^\d+$/.test(m.code))) return ['invalid_request', 'code'];
  if (DIGITS[f] && !gs1ok(m.code)) return ['invalid_check_digit', 'check digit'];
  if (m.scanned_at !== undefined && m.scanned_at !== null && !Number.isInteger(m.scanned_at)) return ['invalid_request', 'scanned_at'];
  return null;
}

function hello(ws, m) {
  const c = verify(m.token), s = c && sessions.get(c.sid);
  if (!s || (c.role !== 'desktop' && !s.scanners.has(c.sub))) return ws.close(4001, 'unauthorized');
  ws.sess = s; ws.role = c.role; ws.sub = c.sub;
  const w = { type: 'welcome', role: c.role, session: s.id, last_seq: s.head, delivered_seq: s.delivered, expires_at: expiresAt(s) };
  if (c.role === 'desktop') {
    w.scanners = [...s.scanners].map(([id, sc]) => ({ id, name: sc.name, connected: sc.socks.size > 0 }));
    send(ws, w);
    s.desktops.add(ws);
    const last = Number.isInteger(m.last_seq) && m.last_seq > 0 ? m.last_seq : 0;
    for (const r of Q.scansAfter.all(s.id, last))
      send(ws, { type: 'scan', seq: r.seq, id: r.client_id, code: r.code, format: r.format, scanner: r.scanner_id, scanned_at: r.scanned_at, received_at: r.received_at });
  } else {
    w.scanner = c.sub;
    send(ws, w);
    const sc = s.scanners.get(c.sub);
    sc.socks.add(ws);
    toDesktops(s, { type: 'scanner_joined', scanner: { id: c.sub, name: sc.name } });
  }
}

function scan(ws, m) {
  const s = ws.sess, e = scanError(m);
  if (e) return send(ws, { type: 'error', code: e[0], message: e[1], id: typeof m.id === 'string' ? m.id : undefined });
  let seq = 0, dup = false, msg = null;
  change(() => {
    const row = Q.scanFind.get(s.id, m.id);
    if (row) { seq = row.seq; dup = true; return; }
    seq = s.head + 1;
    msg = { type: 'scan', seq, id: m.id, code: m.code, format: m.format || 'UNKNOWN', scanner: ws.sub, scanned_at: m.scanned_at ?? null, received_at: Date.now() };
    Q.scanAdd.run(s.id, seq, m.id, msg.code, msg.format, ws.sub, msg.scanned_at, msg.received_at);
    s.head = seq;
  }, (ok) => {
    if (!ok) { if (msg) s.head = seq - 1; return send(ws, { type: 'error', code: 'unavailable', message: 'not stored; resend it', id: m.id }); }
    send(ws, { type: 'ack', id: m.id, seq, duplicate: dup });
    if (msg) { relayed++; toDesktops(s, msg); }
  });
}

function ack(ws, m) {
  const s = ws.sess;
  if (!Number.isInteger(m.seq) || m.seq < 0 || m.seq > s.head) return send(ws, { type: 'error', code: 'invalid_request', message: 'seq' });
  if (m.seq <= s.delivered) return;
  const from = s.delivered;
  let rows = [];
  s.delivered = m.seq;
  change(() => { rows = Q.scansDeliver.all(Date.now(), s.id, from, m.seq); Q.sessionDeliver.run(m.seq, s.id); }, (ok) => {
    if (!ok) { s.delivered = from; return; }
    for (const r of rows) {
      const sc = s.scanners.get(r.scanner_id);
      if (sc) for (const w of sc.socks) send(w, { type: 'delivered', id: r.client_id, seq: r.seq });
    }
  });
}

const wss = new WebSocketServer({
  server, path: '/ws', maxPayload: 16384, perMessageDeflate: false,
  handleProtocols: (p) => (p.has('scanbridge.v1') ? 'scanbridge.v1' : false),
});
wss.on('connection', (ws) => {
  nconn++;
  const t = setTimeout(() => { if (!ws.sess) ws.close(4001, 'no hello in time'); }, 5000);
  ws.on('message', (data, binary) => {
    let m;
    if (binary) return ws.sess ? send(ws, { type: 'error', code: 'unsupported_media_type', message: 'no decoder' }) : ws.close(4001, 'unauthorized');
    try { m = JSON.parse(data); } catch { return ws.close(4000, 'not valid JSON'); }
    if (!m || typeof m !== 'object' || Array.isArray(m)) return ws.close(4000, 'not an object');
    if (!ws.sess) { clearTimeout(t); return m.type === 'hello' ? hello(ws, m) : ws.close(4001, 'the first message must be hello'); }
    switch (m.type) {
      case 'scan': return ws.role === 'scanner' ? scan(ws, m) : send(ws, { type: 'error', code: 'invalid_request', message: 'only a scanner sends scans' });
      case 'ack': return ws.role === 'desktop' ? ack(ws, m) : send(ws, { type: 'error', code: 'invalid_request', message: 'only a desktop acknowledges scans' });
      case 'ping': return send(ws, { type: 'pong', t: Date.now() });
      case 'hello': return send(ws, { type: 'error', code: 'invalid_request', message: 'second hello' });
      default: return ws.close(4000, 'type: unknown message type');
    }
  });
  ws.on('close', () => {
    nconn--;
    clearTimeout(t);
    const s = ws.sess;
    if (!s) return;
    if (ws.role === 'desktop') return s.desktops.delete(ws);
    const sc = s.scanners.get(ws.sub);
    sc.socks.delete(ws);
    if (!sc.socks.size) toDesktops(s, { type: 'scanner_left', scanner: ws.sub, reason: 'disconnected' });
  });
});

server.listen(opt.port, opt.bind, () => console.log(`peer: listening on ${BASE} (durability ${opt.durability})`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { if (inTxn) flush(); db.close(); process.exit(0); });
