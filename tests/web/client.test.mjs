// SPDX-License-Identifier: MIT
// Unit tests of the embeddable client's logic (web/client/scanbridge*.js) with
// node's built-in runner. The browser seams — WebSocket, fetch,
// sessionStorage, timers, Math.random — are replaced through the client's
// `env` option by the fakes in fakes.mjs, so every test drives the daemon's
// side of the conversation by hand and time only moves when a test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScanBridgeClient, ScanBridgeError, backoffDelay } from '../../web/client/scanbridge.js';
import { FakeServer, FakeSocketFactory, FakeStorage, FakeTimers, flush } from './fakes.mjs';

const BASE = 'http://box.test';

const CREATED = { session: 'S', desktop_token: 'T', pair_code: 'P', pair_url: BASE + '/p#P', expires_at: 1 };
const INFO = { session: 'S', last_seq: 0, delivered_seq: 0, expires_at: 1, scanners: [] };
const WELCOME = { type: 'welcome', role: 'desktop', session: 'S', last_seq: 0, delivered_seq: 0, expires_at: 1, scanners: [] };
const scan = (seq, extra = {}) => ({ type: 'scan', seq, id: 'id' + seq, code: 'C' + seq, format: 'UNKNOWN',
  scanner: 'sc1', scanned_at: null, received_at: 1000 + seq, ...extra });

/** A client wired to fresh fakes; `events` records every event as [type, detail]. */
function setup({ routes = {}, storage = new FakeStorage(), opts = {}, random = () => 0.5 } = {}) {
  const timers = new FakeTimers();
  const sockets = new FakeSocketFactory();
  const server = new FakeServer({
    'POST /sessions': () => [201, CREATED],
    'GET /sessions/S': () => [200, INFO],
    ...routes,
  });
  const client = new ScanBridgeClient({
    base: BASE, ...opts,
    env: { WebSocket: sockets.WebSocket, fetch: server.fetch, storage, random,
      setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout,
      setInterval: timers.setInterval, clearInterval: timers.clearInterval },
  });
  const events = [];
  for (const t of ['scan', 'scanner_joined', 'scanner_left', 'welcome', 'state', 'ack', 'error']) {
    client.addEventListener(t, (e) => events.push([t, e.detail]));
  }
  const of = (t) => events.filter(([type]) => type === t).map(([, d]) => d);
  return { client, timers, sockets, server, storage, events, of };
}

/** open() and bring the socket to live. */
async function live(env, welcome = {}) {
  await env.client.open();
  const ws = env.sockets.last;
  ws.accept();
  ws.deliver({ ...WELCOME, ...welcome });
  return ws;
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// --- backoff -------------------------------------------------------------------

test('backoffDelay grows exponentially, is capped, and jitters within [cap/2, cap]', () => {
  for (let n = 0; n < 12; n++) {
    const cap = Math.min(30000, 500 * 2 ** n);
    assert.equal(backoffDelay(n, 500, 30000, () => 0), cap / 2, `attempt ${n} low`);
    assert.equal(backoffDelay(n, 500, 30000, () => 0.999999) <= cap, true, `attempt ${n} high`);
    assert.ok(backoffDelay(n, 500, 30000, () => 0.999999) > cap * 0.99);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(n, 500, 30000);
      assert.ok(d >= cap / 2 && d <= cap, `attempt ${n}: ${d} not in [${cap / 2}, ${cap}]`);
    }
  }
  assert.equal(backoffDelay(1000, 500, 30000, () => 1), 30000, 'huge attempt numbers stay capped');
});

test('reconnect delays grow with each failure and are jittered by random()', async () => {
  let r = 0;
  const env = setup({ opts: { fallback: false }, random: () => r });
  const ws = await live(env);
  ws.drop(1006);
  assert.equal(env.client.state, 'reconnecting');
  assert.deepEqual(env.timers.pending(), [250]);        // attempt 0: cap 500, random 0 → 250
  const delays = [];
  for (let i = 0; i < 8; i++) {
    r = i % 2;                                         // alternate both ends of the jitter
    const [d] = env.timers.pending();
    await env.timers.tick(d);
    env.sockets.last.fail();
    delays.push(env.timers.pending()[0]);
  }
  // failures 2..9 → caps 1000, 2000, 4000, …, capped at 30000; random 0 gives
  // cap/2, random 1 gives cap.
  assert.deepEqual(delays, [500, 2000, 2000, 8000, 8000, 30000, 15000, 30000]);
  assert.equal(env.sockets.all.length, 9);
  assert.equal(env.client.state, 'reconnecting');
});

// --- acks after the handler -------------------------------------------------------

test('a synchronous handler: the ack is sent as soon as dispatch returns', async () => {
  const env = setup();
  const ws = await live(env);
  let ackedDuringHandler = null;
  env.client.addEventListener('scan', () => { ackedDuringHandler = ws.messages('ack').length; });
  ws.deliver(scan(1));
  assert.equal(ackedDuringHandler, 0, 'not acked while the handler runs');
  assert.deepEqual(ws.messages('ack'), [{ type: 'ack', seq: 1 }]);
  assert.equal(env.client.lastSeq, 1);
  assert.equal(env.storage.json('scanbridge.client').last_seq, 1);
  const [detail] = env.of('scan');
  assert.deepEqual({ ...detail }, { seq: 1, id: 'id1', code: 'C1', format: 'UNKNOWN', scanner: 'sc1', scanned_at: null, received_at: 1001 },
    'detail spreads to the plain scan (helpers are not enumerable)');
  assert.equal(typeof detail.waitUntil, 'function');
});

test('waitUntil: ack only after the promise resolves; the next scan waits its turn', async () => {
  const env = setup();
  const ws = await live(env);
  const d = deferred();
  const seen = [];
  env.client.addEventListener('scan', (e) => {
    seen.push(e.detail.seq);
    if (e.detail.seq === 1) e.waitUntil(d.promise);
  });
  ws.deliver(scan(1));
  ws.deliver(scan(2));
  await flush();
  assert.deepEqual(seen, [1], 'scan 2 is not dispatched while scan 1 is pending');
  assert.equal(ws.messages('ack').length, 0);
  assert.equal(env.client.lastSeq, 0);
  d.resolve();
  await flush();
  assert.deepEqual(seen, [1, 2]);
  // Acks are cumulative: one ack may cover both.
  assert.equal(ws.messages('ack').at(-1).seq, 2);
  assert.equal(env.client.lastSeq, 2);
});

test('waitUntil on the detail, several promises, and one added while pending all count', async () => {
  const env = setup();
  const ws = await live(env);
  const a = deferred(), b = deferred(), late = deferred();
  env.client.addEventListener('scan', (e) => e.detail.waitUntil(a.promise));
  env.client.addEventListener('scan', (e) => {
    e.waitUntil(b.promise);
    b.promise.then(() => e.waitUntil(late.promise));   // extends while still pending
  });
  ws.deliver(scan(1));
  a.resolve(); await flush();
  assert.equal(ws.messages('ack').length, 0, 'b still pending');
  b.resolve(); await flush();
  assert.equal(ws.messages('ack').length, 0, 'the late promise is still pending');
  late.resolve(); await flush();
  assert.deepEqual(ws.messages('ack'), [{ type: 'ack', seq: 1 }]);
  // Once settled, the scan cannot be extended any more.
  const [detail] = env.of('scan');
  assert.throws(() => detail.waitUntil(Promise.resolve()), /after the scan was settled/);
});

test('onScan option: its returned promise delays the ack', async () => {
  const d = deferred();
  const got = [];
  const env = setup({ opts: { onScan: (s) => { got.push(s.code); return d.promise; } } });
  const ws = await live(env);
  ws.deliver(scan(1));
  await flush();
  assert.deepEqual(got, ['C1']);
  assert.equal(ws.messages('ack').length, 0);
  d.resolve();
  await flush();
  assert.deepEqual(ws.messages('ack'), [{ type: 'ack', seq: 1 }]);
  assert.deepEqual(env.of('ack'), [{ seq: 1 }]);
});

test('a rejected handler: error event, no ack, the same scan is dispatched again after a backoff', async () => {
  let fail = true;
  const env = setup({ opts: { onScan: () => (fail ? Promise.reject(new Error('POS offline')) : undefined) } });
  const ws = await live(env);
  const attempts = [];
  env.client.addEventListener('scan', (e) => attempts.push([e.detail.seq, e.attempt]));
  ws.deliver(scan(1));
  ws.deliver(scan(2));
  await flush();
  const [err] = env.of('error');
  assert.equal(err.code, 'handler_failed');
  assert.equal(err.seq, 1);
  assert.match(err.message, /POS offline/);
  assert.equal(ws.messages('ack').length, 0, 'a refused scan is not acknowledged');
  assert.equal(env.client.lastSeq, 0);
  assert.deepEqual(attempts, [[1, 1]], 'scan 2 waits behind the refused scan');
  // Retry: retryMinMs 1000 with random 0.5 → 750 ms.
  await env.timers.tick(700);
  assert.deepEqual(attempts, [[1, 1]]);
  await env.timers.tick(100);
  assert.deepEqual(attempts, [[1, 1], [1, 2]]);
  assert.equal(env.of('error').length, 2, 'second refusal');
  fail = false;
  await env.timers.tick(1500);                        // attempt 2's delay: cap 2000 → 1500
  assert.deepEqual(attempts, [[1, 1], [1, 2], [1, 3], [2, 1]]);
  assert.equal(ws.messages('ack').at(-1).seq, 2);
});

test('a throwing onScan refuses the scan too', async () => {
  const env = setup({ opts: { onScan: () => { throw new Error('bad'); } } });
  const ws = await live(env);
  ws.deliver(scan(1));
  await flush();
  assert.equal(env.of('error')[0].code, 'handler_failed');
  assert.equal(ws.messages('ack').length, 0);
});

// --- resume, replays ---------------------------------------------------------------

test('reconnect resumes from the last handled seq and drops replays already handed over', async () => {
  const env = setup({ opts: { fallback: false } });
  const ws = await live(env);
  const d = deferred();
  env.client.addEventListener('scan', (e) => { if (e.detail.seq === 3) e.waitUntil(d.promise); });
  ws.deliver(scan(1)); ws.deliver(scan(2)); ws.deliver(scan(3));
  await flush();
  assert.equal(env.client.lastSeq, 2, 'scan 3 is still being handled');
  ws.drop(1001, 'server shutting down');
  assert.equal(env.client.state, 'reconnecting');
  await env.timers.tick(env.timers.pending()[0]);
  const ws2 = env.sockets.last;
  assert.notEqual(ws2, ws);
  ws2.accept();
  assert.deepEqual(ws2.messages('hello'), [{ type: 'hello', token: 'T', last_seq: 2 }]);
  ws2.deliver({ ...WELCOME, last_seq: 3, delivered_seq: 2 });
  assert.equal(env.client.state, 'live');
  ws2.deliver(scan(3));                                // replay of the pending one
  ws2.deliver(scan(4));
  await flush();
  assert.deepEqual(env.of('scan').map((s) => s.seq), [1, 2, 3], 'no duplicate 3; 4 waits for 3');
  d.resolve();
  await flush();
  assert.deepEqual(env.of('scan').map((s) => s.seq), [1, 2, 3, 4]);
  assert.equal(ws2.messages('ack').at(-1).seq, 4);
  assert.ok(ws2.messages('ack').every((m) => m.seq >= 3));
});

test('acks lost with a dead socket are sent again after the welcome', async () => {
  const env = setup({ opts: { fallback: false } });
  const ws = await live(env);
  ws.deliver(scan(1));
  ws.drop(1006);
  await env.timers.tick(env.timers.pending()[0]);
  const ws2 = env.sockets.last;
  ws2.accept();
  ws2.deliver({ ...WELCOME, last_seq: 1, delivered_seq: 0 });  // the daemon never got ack 1
  assert.deepEqual(ws2.messages('ack'), [{ type: 'ack', seq: 1 }]);
});

test('a page reload resumes the stored session: GET not POST, hello with the stored last_seq', async () => {
  const storage = new FakeStorage({ 'scanbridge.client': JSON.stringify({ session: 'S', desktop_token: 'T', last_seq: 7, pair_url: 'u' }) });
  const env = setup({ storage });
  assert.equal(env.client.session, 'S');
  await env.client.open();
  assert.equal(env.server.of('POST', '/sessions').length, 0);
  assert.equal(env.server.of('GET', '/sessions/S').length, 1);
  const ws = env.sockets.last;
  ws.accept();
  assert.deepEqual(ws.messages('hello'), [{ type: 'hello', token: 'T', last_seq: 7 }]);
  ws.deliver({ ...WELCOME, last_seq: 9, delivered_seq: 7 });
  ws.deliver(scan(7));                                  // at or below last_seq: dropped
  ws.deliver(scan(8));
  assert.deepEqual(env.of('scan').map((s) => s.seq), [8]);
  assert.equal(storage.json('scanbridge.client').last_seq, 8);
  assert.equal(env.client.pairUrl, 'u');
});

test('a stored session that is gone is forgotten and a new one created', async () => {
  const storage = new FakeStorage({ 'scanbridge.client': JSON.stringify({ session: 'OLD', desktop_token: 'X', last_seq: 3 }) });
  const env = setup({ storage, routes: { 'GET /sessions/S': () => [401, { error: { code: 'unauthorized', message: 'no' } }] } });
  await env.client.open();
  assert.equal(env.server.of('POST', '/sessions').length, 1);
  assert.equal(env.client.session, 'S');
  assert.equal(env.client.lastSeq, 0);
  assert.deepEqual(storage.json('scanbridge.client'), { session: 'S', desktop_token: 'T', last_seq: 0, pair_url: CREATED.pair_url });
});

test('an explicitly given session that is gone rejects open()', async () => {
  const env = setup({ opts: { session: 'S', desktop_token: 'T' },
    routes: { 'GET /sessions/S': () => [410, { error: { code: 'session_expired', message: 'gone' } }] } });
  await assert.rejects(env.client.open(), (e) => e instanceof ScanBridgeError && e.code === 'session_expired' && e.status === 410);
  assert.equal(env.server.of('POST', '/sessions').length, 0);
});

test('open() twice at once creates one session and one socket', async () => {
  const env = setup();
  const [a, b] = await Promise.all([env.client.open(), env.client.open()]);
  assert.equal(a, b);
  assert.equal(env.server.of('POST', '/sessions').length, 1);
  assert.equal(env.sockets.all.length, 1);
  await env.client.open();
  assert.equal(env.sockets.all.length, 1, 'an open client stays as it is');
});

test('storageKey: a custom key, or false for no persistence', async () => {
  const env = setup({ opts: { storageKey: 'pos.scan' } });
  await env.client.open();
  assert.equal(env.storage.json('pos.scan').session, 'S');
  assert.equal(env.storage.getItem('scanbridge.client'), null);
  const off = setup({ opts: { storageKey: false } });
  await off.client.open();
  assert.equal(off.storage.map.size, 0);
});

// --- fallback ----------------------------------------------------------------------

/** Long-poll routes the test answers by hand: polls[i] = {req, answer(scans)}. */
function pollRoutes() {
  const polls = [];
  const acks = [];
  const routes = {
    'GET /sessions/S/scans': (req) => {
      const d = deferred();
      polls.push({ req, answer: (scans, last = 0) => d.resolve([200, { scans, last_seq: last }]), fail: (st, code) => d.resolve([st, { error: { code, message: code } }]) });
      return d.promise;
    },
    'POST /sessions/S/ack': (req) => { acks.push(req.body.seq); return [204]; },
  };
  return { polls, acks, routes };
}

test('after two failed WebSocket attempts: REST long-poll, state fallback, scans acked by POST; back to live when the socket works', async () => {
  const { polls, acks, routes } = pollRoutes();
  const env = setup({ routes });
  await env.client.open();
  assert.equal(env.client.state, 'connecting');
  env.sockets.last.fail();                              // error before open
  assert.equal(env.client.state, 'reconnecting');
  assert.equal(polls.length, 0, 'one failure is not enough');
  await env.timers.tick(env.timers.pending()[0]);
  env.sockets.last.fail();
  await flush();
  assert.equal(polls.length, 1, 'polling started');
  assert.equal(polls[0].req.query.get('after'), '0');
  assert.equal(polls[0].req.query.get('wait'), '0', 'the first poll answers at once');
  assert.equal(env.client.state, 'reconnecting', 'fallback only once a poll answered');
  const d = deferred();
  env.client.addEventListener('scan', (e) => e.waitUntil(d.promise));
  polls[0].answer([scan(1), scan(2)].map(({ type, ...s }) => s), 2);
  await flush();
  assert.equal(env.client.state, 'fallback');
  assert.deepEqual(env.of('scan').map((s) => s.seq), [1]);
  assert.deepEqual(acks, [], 'not acked while the handler pends');
  assert.equal(polls.length, 2);
  assert.equal(polls[1].req.query.get('after'), '2', 'polls on after what it already queued');
  assert.equal(polls[1].req.query.get('wait'), '25', 'then long-polls');
  d.resolve();
  await flush();
  assert.deepEqual(env.of('scan').map((s) => s.seq), [1, 2]);
  assert.equal(acks.at(-1), 2);
  assert.ok(acks.every((s, i) => i === 0 || s > acks[i - 1]), 'acks only go up');

  // The background probe keeps going; when it gets a welcome, polling stops.
  const probe = env.timers.pending()[0];
  await env.timers.tick(probe);
  const ws = env.sockets.last;
  assert.equal(env.client.state, 'fallback', 'a probe does not change the state');
  ws.accept();
  assert.deepEqual(ws.messages('hello'), [{ type: 'hello', token: 'T', last_seq: 2 }]);
  ws.deliver({ ...WELCOME, last_seq: 2, delivered_seq: 2 });
  assert.equal(env.client.state, 'live');
  assert.equal(polls[1].req.signal.aborted, true, 'the parked long-poll is cancelled');
  ws.deliver(scan(2));                                  // replay race: dropped
  ws.deliver(scan(3));
  await flush();
  assert.deepEqual(env.of('scan').map((s) => s.seq), [1, 2, 3]);
  assert.deepEqual(ws.messages('ack'), [{ type: 'ack', seq: 3 }]);
  assert.equal(polls.length, 2, 'no polling while live');
  assert.deepEqual(env.of('state'), ['connecting', 'reconnecting', 'fallback', 'live']);
});

test('fallback: scanners joining and leaving are derived from GET /sessions/{sid}', async () => {
  let scanners = [];
  const { routes } = pollRoutes();
  const env = setup({ routes: { ...routes, 'GET /sessions/S': () => [200, { ...INFO, scanners }] }, opts: { fallbackAfter: 1 } });
  await env.client.open();
  env.sockets.last.fail();
  await flush();
  assert.deepEqual(env.of('scanner_joined'), []);
  scanners = [{ id: 'a', name: 'Till phone', connected: true }, { id: 'b', name: 'B', connected: false }];
  await env.timers.tick(10000);
  assert.deepEqual(env.of('scanner_joined'), [{ id: 'a', name: 'Till phone', connected: true }, { id: 'b', name: 'B', connected: false }]);
  scanners = [{ id: 'a', name: 'Till phone', connected: false }];
  await env.timers.tick(10000);
  assert.deepEqual(env.of('scanner_left'), [{ scanner: 'a', reason: 'disconnected' }, { scanner: 'b', reason: 'kicked' }]);
  scanners = [{ id: 'a', name: 'Till phone', connected: true }];
  await env.timers.tick(10000);
  assert.equal(env.of('scanner_joined').length, 3);
  assert.equal(env.client.scanners.get('a').connected, true);
});

test('fallback: a failing poll backs off and shows reconnecting; fallback: false never polls', async () => {
  const { polls, routes } = pollRoutes();
  const env = setup({ routes, opts: { fallbackAfter: 1 } });
  await env.client.open();
  env.sockets.last.fail();
  await flush();
  polls[0].answer([]);
  await flush();
  assert.equal(env.client.state, 'fallback');
  polls[1].fail(503, 'busy');
  await flush();
  assert.equal(env.client.state, 'reconnecting');
  assert.equal(polls.length, 2, 'waits before polling again');
  await env.timers.tick(375);                           // backoff(0) with random 0.5
  assert.equal(polls.length, 3);

  const off = setup({ routes, opts: { fallback: false } });
  await off.client.open();
  for (let i = 0; i < 4; i++) { off.sockets.last.fail(); await off.timers.tick(off.timers.pending()[0]); }
  assert.equal(off.server.of('GET', '/sessions/S/scans').length, 0);
  assert.equal(off.client.state, 'reconnecting');
});

// --- the end ----------------------------------------------------------------------

test('session_ended → ended "deleted", the stored session forgotten, nothing reconnects', async () => {
  const env = setup();
  const ws = await live(env);
  ws.deliver({ type: 'session_ended', reason: 'deleted' });
  assert.equal(env.client.state, 'ended');
  assert.equal(env.client.endReason, 'deleted');
  assert.equal(ws.closedByClient, null, 'the daemon closes the socket; we do not cross its close frame');
  ws.drop(4004, 'session ended');
  assert.equal(env.storage.getItem('scanbridge.client'), null);
  await env.timers.tick(60000);
  assert.equal(env.sockets.all.length, 1, 'nothing reconnects');
  assert.equal(env.of('state').at(-1), 'ended');
  assert.equal(env.of('state').filter((s) => s === 'ended').length, 1);
});

test('close codes: 4004 alone → expired; 4001 → unauthorized with an error; 4001 hello timeout → retry', async () => {
  const a = setup();
  (await live(a)).drop(4004, 'session expired');
  assert.equal(a.client.state, 'ended');
  assert.equal(a.client.endReason, 'expired');

  const b = setup();
  (await live(b)).drop(4001, 'unauthorized');
  assert.equal(b.client.endReason, 'unauthorized');
  assert.equal(b.of('error')[0].code, 'unauthorized');

  const c = setup();
  await c.client.open();
  c.sockets.last.drop(4001, 'no hello in time');
  assert.equal(c.client.state, 'reconnecting');
});

test('a socket refused before its welcome with a close the page cannot read: REST says the session is gone', async () => {
  const env = setup({ opts: { fallback: false },
    routes: { 'GET /sessions/S': (req) => (env.sockets.all.length ? [401, { error: { code: 'unauthorized', message: 'revoked' } }] : [200, INFO]) } });
  await env.client.open();
  const ws = env.sockets.last;
  ws.accept();
  ws.drop(1006);                                        // really a 4004, seen as 1006
  await flush();
  assert.equal(env.client.state, 'ended');
  assert.equal(env.client.endReason, 'unauthorized');
});

test('REST answers end the client too: 401 while polling → unauthorized, 410 → expired', async () => {
  for (const [status, code, reason] of [[401, 'unauthorized', 'unauthorized'], [410, 'session_expired', 'expired']]) {
    const { polls, routes } = pollRoutes();
    const env = setup({ routes, opts: { fallbackAfter: 1 } });
    await env.client.open();
    env.sockets.last.fail();
    await flush();
    polls[0].fail(status, code);
    await flush();
    assert.equal(env.client.state, 'ended', String(status));
    assert.equal(env.client.endReason, reason);
    assert.deepEqual(env.timers.pending(), [], 'no probe after the end');
  }
});

test('close() keeps the session for a later resume; end() deletes and forgets it', async () => {
  const env = setup({ routes: { 'DELETE /sessions/S': () => [204] } });
  const ws = await live(env);
  env.client.close();
  assert.equal(ws.closedByClient, 1000);
  assert.equal(env.client.endReason, 'closed');
  assert.equal(env.storage.json('scanbridge.client').session, 'S');
  await env.client.open();                              // reopen resumes
  assert.equal(env.client.state, 'connecting');
  env.sockets.last.accept();
  env.sockets.last.deliver(WELCOME);
  await env.client.end();
  assert.equal(env.server.of('DELETE', '/sessions/S').length, 1);
  assert.equal(env.client.endReason, 'deleted');
  assert.equal(env.storage.getItem('scanbridge.client'), null);
});

test('scans queued behind a pending handler are not acked after close(); they come back on resume', async () => {
  const env = setup();
  const ws = await live(env);
  const d = deferred();
  env.client.addEventListener('scan', (e) => e.waitUntil(d.promise));
  ws.deliver(scan(1)); ws.deliver(scan(2));
  env.client.close();
  d.resolve();
  await flush();
  assert.equal(ws.messages('ack').length, 0);
  assert.equal(env.storage.json('scanbridge.client').last_seq, 0);
});

test('welcome, scanner_joined/left and kick over the live socket', async () => {
  const env = setup();
  const ws = await live(env, { scanners: [{ id: 'a', name: 'A', connected: false }] });
  assert.equal(env.of('welcome').length, 1);
  assert.deepEqual(env.of('scanner_joined'), [], 'the welcome list is not replayed as events');
  ws.deliver({ type: 'scanner_joined', scanner: { id: 'b', name: 'B' } });
  ws.deliver({ type: 'scanner_left', scanner: 'a', reason: 'kicked' });
  assert.deepEqual(env.of('scanner_joined'), [{ id: 'b', name: 'B' }]);
  assert.deepEqual(env.of('scanner_left'), [{ scanner: 'a', reason: 'kicked' }]);
  assert.deepEqual([...env.client.scanners.keys()], ['b']);
  assert.equal(env.client.kick('b'), true);
  assert.deepEqual(ws.messages('kick'), [{ type: 'kick', scanner: 'b' }]);
  ws.deliver({ type: 'error', code: 'invalid_request', message: 'kick: unknown scanner' });
  assert.equal(env.of('error')[0].code, 'invalid_request');
});

test('a socket that never gets a welcome is given up after connectTimeoutMs', async () => {
  const env = setup({ opts: { fallback: false } });
  await env.client.open();
  const ws = env.sockets.last;
  ws.accept();                                          // open, but the daemon never answers
  await env.timers.tick(9999);
  assert.equal(env.client.state, 'connecting');
  await env.timers.tick(1);
  assert.equal(env.client.state, 'reconnecting');
  assert.notEqual(ws.closedByClient, null);
});

test('the classic script defines window.ScanBridge with the same classes as the module', async () => {
  await import('../../web/client/scanbridge.global.js');
  assert.equal(globalThis.ScanBridge.ScanBridgeClient, ScanBridgeClient);
  assert.equal(typeof globalThis.ScanBridge.version, 'string');
});

// --- issue 19: renewal, storage, lastHeardAt, scans.csv ------------------------------

test('renewed: the new token is used from then on (REST, next hello, storage) and a renewed event fires', async () => {
  const storage = new FakeStorage();
  const env = setup({ storage });
  const renewed = [];
  env.client.addEventListener('renewed', (e) => renewed.push(e.detail));
  const ws = await live(env);
  assert.ok(env.client.lastHeardAt > 0, 'heard from the box');
  ws.deliver({ type: 'renewed', token: 'T2', expires_at: 5000 });
  assert.deepEqual(renewed, [{ token: 'T2', expires_at: 5000 }]);
  assert.equal(env.client.token, 'T2');
  assert.equal(env.client.expiresAt, 5000);
  assert.equal(JSON.parse(storage.getItem('scanbridge.client')).desktop_token, 'T2', 'stored for reloads and other tabs');
  assert.equal(env.client.state, 'live', 'nothing else changes');
  // Malformed: ignored.
  ws.deliver({ type: 'renewed' });
  assert.equal(env.client.token, 'T2');
  // The next hello and REST calls carry it.
  ws.drop(1006);
  await env.timers.tick(60000);
  env.sockets.last.accept();
  assert.equal(env.sockets.last.sent[0].token, 'T2');
  env.server.routes['POST /sessions/S/pair-code'] = () => [201, { pair_code: 'P2', pair_url: BASE + '/p#P2', expires_at: 9 }];
  await env.client.newPairCode();
  assert.equal(env.server.of('POST', '/sessions/S/pair-code')[0].headers.Authorization, 'Bearer T2');
});

test('storage option: a till keeps its session in the given Storage (localStorage), and a new client rejoins it', async () => {
  const shared = new FakeStorage();
  const env = setup({ opts: { storage: shared }, storage: new FakeStorage() });
  await live(env);
  assert.equal(JSON.parse(shared.getItem('scanbridge.client')).session, 'S');
  const tab2 = setup({ opts: { storage: shared } });
  assert.equal(tab2.client.session, 'S', 'another tab of the till rejoins');
  assert.equal(tab2.client.token, 'T');
});

test('scansCsv fetches the box\'s CSV with the desktop token; scanner_left unpaired drops the scanner', async () => {
  const env = setup({ routes: { 'GET /sessions/S/scans.csv': () => [200, 'code,format,count,scanner,time\r\n'] } });
  const ws = await live(env, { scanners: [{ id: 'sc1', name: 'A', connected: true }] });
  assert.match(await env.client.scansCsv(), /^code,format,count,scanner,time/);
  assert.equal(env.server.of('GET', '/sessions/S/scans.csv')[0].headers.Authorization, 'Bearer T');
  ws.deliver({ type: 'scanner_left', scanner: 'sc1', reason: 'unpaired' });
  assert.equal(env.client.scanners.has('sc1'), false);
  assert.deepEqual(env.of('scanner_left').at(-1), { scanner: 'sc1', reason: 'unpaired' });
});
