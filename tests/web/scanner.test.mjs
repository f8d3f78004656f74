// SPDX-License-Identifier: MIT
// Unit tests of the embeddable client's scanner side (ScanBridgeScanner in
// web/client/scanbridge.global.js), the connection the phone page uses: URL,
// subprotocol, hello, ping, half-open detection, close codes, reconnect with
// the shared backoff, network and visibility changes, image frame pacing,
// pairing and REST decode. Same fakes as client.test.mjs (fakes.mjs): the
// test plays the daemon, and time only moves when a test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScanBridgeClient, ScanBridgeScanner, ScanBridgeError, connectScanner, backoffDelay, PING_MS,
} from '../../web/client/scanbridge.js';
import { FakeServer, FakeSocketFactory, FakeTimers, flush } from './fakes.mjs';

const BASE = 'http://box.test';
const WELCOME = { type: 'welcome', role: 'scanner', session: 'S', scanner: 'sc1', last_seq: 4, delivered_seq: 2, expires_at: 99 };

/** A scanner wired to fresh fakes; `events` records every event as [type, detail]. */
function setup({ opts = {}, routes = {}, random = () => 0.5 } = {}) {
  const timers = new FakeTimers();
  const sockets = new FakeSocketFactory();
  const server = new FakeServer(routes);
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { hidden: false });
  const nav = { onLine: true };
  const env = { WebSocket: sockets.WebSocket, fetch: server.fetch, random, now: () => timers.now,
    setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout,
    setInterval: timers.setInterval, clearInterval: timers.clearInterval,
    window: win, document: doc, navigator: nav };
  const scanner = new ScanBridgeScanner({ base: BASE, scanner_token: 'TOK', ...opts, env });
  const events = [];
  for (const t of ['state', 'welcome', 'ack', 'delivered', 'decoded', 'error', 'ended']) {
    scanner.addEventListener(t, (e) => events.push([t, e.detail]));
  }
  const of = (t) => events.filter(([type]) => type === t).map(([, d]) => d);
  return { scanner, timers, sockets, server, win, doc, nav, env, events, of };
}

/** open() and bring the socket to live. */
function live(env, welcome = {}) {
  if (env.scanner.state === 'idle') env.scanner.open();
  const ws = env.sockets.last;
  ws.accept();
  ws.deliver({ ...WELCOME, ...welcome });
  return ws;
}

const item = (n) => ({ id: 'id' + n, code: 'C' + n, format: 'UNKNOWN', scanned_at: 1000 + n });

// --- the connection ------------------------------------------------------------

test('connects to /ws with the subprotocol, says hello with the scanner token, goes live on welcome', () => {
  const env = setup();
  assert.equal(env.scanner.state, 'idle');
  assert.equal(env.scanner.open(), env.scanner);
  const ws = env.sockets.last;
  assert.equal(ws.url, 'ws://box.test/ws');
  assert.equal(ws.protocol, 'scanbridge.v1');
  assert.equal(env.scanner.state, 'connecting');
  assert.equal(env.scanner.live, false);
  assert.equal(env.scanner.sendScan(item(1)), false, 'nothing goes before the welcome');
  ws.accept();
  assert.deepEqual(ws.sent, [{ type: 'hello', token: 'TOK' }], 'a scanner hello has no last_seq');
  ws.deliver(WELCOME);
  assert.equal(env.scanner.state, 'live');
  assert.equal(env.scanner.live, true);
  assert.equal(env.scanner.session, 'S');
  assert.equal(env.scanner.scanner, 'sc1');
  assert.equal(env.scanner.deliveredSeq, 2);
  assert.equal(env.scanner.expiresAt, 99);
  assert.deepEqual(env.of('state'), ['connecting', 'live']);
  assert.deepEqual(env.of('welcome'), [WELCOME]);
  // https pages use wss; a trailing slash on base is fine.
  const s = setup({ opts: { base: 'https://box.test/' } });
  s.scanner.open();
  assert.equal(s.sockets.last.url, 'wss://box.test/ws');
  assert.throws(() => new ScanBridgeScanner({ base: BASE, env: s.env }).open(), /scanner_token/);
});

test('scans: sent with their id, in flight until ack or error; delivered moves deliveredSeq', () => {
  const env = setup();
  const ws = live(env);
  assert.equal(env.scanner.sendScan(item(1)), true);
  assert.equal(env.scanner.sendScan({ id: 'id2', code: 'C2' }), true);
  assert.deepEqual(ws.messages('scan'), [
    { type: 'scan', id: 'id1', code: 'C1', format: 'UNKNOWN', scanned_at: 1001 },
    { type: 'scan', id: 'id2', code: 'C2' },
  ]);
  assert.deepEqual([...env.scanner.inFlight], ['id1', 'id2']);
  ws.deliver({ type: 'ack', id: 'id1', seq: 5, duplicate: false });
  ws.deliver({ type: 'error', id: 'id2', code: 'invalid_check_digit', message: 'code: invalid check digit' });
  assert.deepEqual([...env.scanner.inFlight], []);
  assert.deepEqual(env.of('ack'), [{ id: 'id1', seq: 5, duplicate: false }]);
  assert.deepEqual(env.of('error'), [{ code: 'invalid_check_digit', message: 'code: invalid check digit', id: 'id2' }]);
  ws.deliver({ type: 'ack', id: 'id1', seq: 5, duplicate: true });
  assert.equal(env.of('ack')[1].duplicate, true);
  ws.deliver({ type: 'delivered', id: 'id1', seq: 5 });
  assert.deepEqual(env.of('delivered'), [{ id: 'id1', seq: 5 }]);
  assert.equal(env.scanner.deliveredSeq, 5);
  ws.deliver({ type: 'delivered', id: 'id0', seq: 3 });
  assert.equal(env.scanner.deliveredSeq, 5, 'never goes back');
  ws.deliver({ type: 'error', code: 'invalid_request', message: 'hello: already said' });
  assert.deepEqual(env.of('error').at(-1), { code: 'invalid_request', message: 'hello: already said' });
  ws.deliver({ type: 'pong', t: 1 });
  ws.deliver({ type: 'something_new' });
  assert.equal(env.scanner.state, 'live');
});

test('both sides ping every PING_MS (30 s, as PROTOCOL.md says)', async () => {
  assert.equal(PING_MS, 30000);
  const env = setup();
  const ws = live(env);
  await env.timers.tick(29999);
  assert.equal(ws.messages('ping').length, 0);
  await env.timers.tick(1);
  assert.equal(ws.messages('ping').length, 1);
  ws.deliver({ type: 'pong', t: 1 });
  await env.timers.tick(30000);
  assert.equal(ws.messages('ping').length, 2);

  // The desktop side, through the same transport.
  const timers = new FakeTimers();
  const sockets = new FakeSocketFactory();
  const server = new FakeServer({ 'POST /sessions': () => [201, { session: 'S', desktop_token: 'T', pair_url: 'u', expires_at: 1 }] });
  const desk = new ScanBridgeClient({ base: BASE, storageKey: false, env: { WebSocket: sockets.WebSocket, fetch: server.fetch,
    setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout, setInterval: timers.setInterval, clearInterval: timers.clearInterval } });
  await desk.open();
  sockets.last.accept();
  assert.equal(sockets.last.protocol, 'scanbridge.v1');
  sockets.last.deliver({ type: 'welcome', role: 'desktop', session: 'S', last_seq: 0, delivered_seq: 0, expires_at: 1, scanners: [] });
  await timers.tick(PING_MS);
  assert.deepEqual(sockets.last.messages('ping'), [{ type: 'ping' }]);
  desk.close();
});

// --- half-open sockets -----------------------------------------------------------

test('half-open: a scan unanswered for answerMs drops the socket; the reconnect starts with nothing in flight', async () => {
  const env = setup({ random: () => 0 });
  const ws = live(env);
  env.scanner.sendScan(item(1));
  await env.timers.tick(5000);
  ws.deliver({ type: 'pong', t: 1 });                    // anything that arrives pushes the deadline
  await env.timers.tick(10000);                          // 10 s after the pong: not more than answerMs yet
  assert.equal(env.scanner.state, 'live');
  await env.timers.tick(2500);                           // > 10 s of silence with a scan in flight
  assert.equal(env.scanner.state, 'reconnecting');
  assert.notEqual(ws.closedByClient, null, 'the dead socket is closed');
  assert.deepEqual([...env.scanner.inFlight], []);
  assert.equal(env.scanner.sendScan(item(1)), false);
  assert.deepEqual(env.timers.pending(), [250], 'first retry: backoffDelay(0, 500, 30000) with random 0');
  await env.timers.tick(250);
  const ws2 = live(env);
  assert.notEqual(ws2, ws);
  assert.equal(env.scanner.state, 'live');
  // The app resends with the same id; a late ack on the old socket is not heard.
  assert.equal(env.scanner.sendScan(item(1)), true);
  ws.deliver({ type: 'ack', id: 'id1', seq: 1, duplicate: false });
  assert.deepEqual(env.of('ack'), []);
  ws2.deliver({ type: 'ack', id: 'id1', seq: 1, duplicate: true });
  assert.deepEqual(env.of('ack'), [{ id: 'id1', seq: 1, duplicate: true }]);
  assert.deepEqual(env.of('state'), ['connecting', 'live', 'reconnecting', 'live']);
});

test('half-open: an unanswered ping drops the socket; answered pings keep it for ever', async () => {
  const env = setup();
  const ws = live(env);
  // Pongs come back: minutes pass, nothing happens.
  for (let i = 0; i < 10; i++) {
    await env.timers.tick(PING_MS);
    ws.deliver({ type: 'pong', t: i });
  }
  assert.equal(env.scanner.state, 'live');
  assert.equal(env.sockets.all.length, 1);
  // The next ping vanishes.
  await env.timers.tick(PING_MS + 10000);
  assert.equal(env.scanner.state, 'live', 'not before answerMs');
  await env.timers.tick(2500);
  assert.equal(env.scanner.state, 'reconnecting');
  assert.equal(env.of('ended').length, 0);
});

test('a socket that never gets a welcome is given up after connectTimeoutMs', async () => {
  const env = setup();
  env.scanner.open();
  const ws = env.sockets.last;
  ws.accept();
  await env.timers.tick(9999);
  assert.equal(env.scanner.state, 'connecting');
  await env.timers.tick(1);
  assert.equal(env.scanner.state, 'reconnecting');
  assert.notEqual(ws.closedByClient, null);
});

// --- close codes, the end -----------------------------------------------------------

test('close codes: 4003 kicked, 4004 ended/expired, 4001 unauthorized are final; the rest reconnect', async () => {
  for (const [code, reason, end] of [
    [4003, 'kicked', 'kicked'],
    [4004, 'session ended', 'deleted'],
    [4004, 'session expired', 'expired'],
    [4001, 'unauthorized', 'unauthorized'],
  ]) {
    const env = setup();
    live(env).drop(code, reason);
    assert.equal(env.scanner.state, 'ended', `${code} ${reason}`);
    assert.equal(env.scanner.endReason, end);
    assert.deepEqual(env.of('ended'), [{ reason: end }]);
    assert.deepEqual(env.timers.pending(), [], 'nothing reconnects');
    await env.timers.tick(60000);
    assert.equal(env.sockets.all.length, 1);
  }
  for (const [code, reason] of [[4001, 'no hello in time'], [4000, 'not valid JSON'], [4008, 'rate limited'],
    [4013, 'server at capacity'], [1009, 'message too big'], [1001, 'server shutting down'],
    [1008, 'send queue overflow'], [1011, ''], [1006, '']]) {
    const env = setup();
    live(env).drop(code, reason);
    assert.equal(env.scanner.state, 'reconnecting', `${code} ${reason}`);
    assert.equal(env.of('ended').length, 0);
    await env.timers.tick(env.timers.pending()[0]);
    assert.equal(env.sockets.all.length, 2, `${code}: reconnected`);
  }
});

test('session_ended / session_expired end at once; the daemon closes the socket, not us', async () => {
  for (const [type, end] of [['session_ended', 'deleted'], ['session_expired', 'expired']]) {
    const env = setup();
    const ws = live(env);
    env.scanner.sendScan(item(1));
    ws.deliver(type === 'session_ended' ? { type, reason: 'deleted' } : { type });
    assert.equal(env.scanner.state, 'ended');
    assert.equal(env.scanner.endReason, end);
    assert.deepEqual(env.of('ended'), [{ reason: end }]);
    assert.equal(ws.closedByClient, null, 'no crossing close frames');
    assert.equal(env.scanner.sendScan(item(2)), false);
    ws.drop(4004, 'session ended');
    assert.equal(env.of('ended').length, 1, 'the close that follows changes nothing');
    assert.equal(env.of('state').filter((s) => s === 'ended').length, 1);
    await env.timers.tick(60000);
    assert.equal(env.sockets.all.length, 1);
  }
});

test('close(): ended "closed", the socket closed 1000, no timers, no listeners; open() starts again', async () => {
  const env = setup();
  const ws = live(env);
  env.scanner.close();
  assert.equal(ws.closedByClient, 1000);
  assert.equal(env.scanner.endReason, 'closed');
  assert.deepEqual(env.of('ended'), [{ reason: 'closed' }]);
  assert.equal(env.timers.timers.size, 0, 'no timer or interval left');
  env.nav.onLine = false;
  env.win.dispatchEvent(new Event('offline'));
  env.nav.onLine = true;
  env.win.dispatchEvent(new Event('online'));
  env.doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(env.sockets.all.length, 1, 'a closed scanner ignores the network');
  assert.equal(env.scanner.state, 'ended');
  env.scanner.open();
  assert.equal(env.sockets.all.length, 2);
  assert.equal(env.scanner.state, 'connecting');
});

// --- backoff ------------------------------------------------------------------------

test('reconnect delays: the shared backoffDelay(n, 500, 30000), reset by a welcome', async () => {
  let r = 0;
  const env = setup({ random: () => r });
  live(env).drop(1006);
  const delays = [];
  for (let i = 1; i <= 8; i++) {
    const [d] = env.timers.pending();
    delays.push(d);
    await env.timers.tick(d);
    r = i % 2;                                           // alternate both ends of the jitter
    env.sockets.last.fail();
  }
  // caps 500, 1000, 2000, … 30000; random 0 gives cap/2, random 1 the cap.
  assert.deepEqual(delays, [250, 1000, 1000, 4000, 4000, 16000, 15000, 30000]);
  assert.deepEqual(delays, delays.map((d, n) => backoffDelay(n, 500, 30000, () => n % 2)));
  await env.timers.tick(env.timers.pending()[0]);
  live(env);
  env.sockets.last.drop(1006);
  r = 0;
  assert.deepEqual(env.timers.pending(), [250], 'a welcome resets the backoff');
  // reconnect(): retry now.
  env.scanner.reconnect();
  assert.equal(env.sockets.all.length, 11);
  assert.equal(env.scanner.state, 'connecting');
  assert.deepEqual(env.timers.pending(), [10000], 'only the welcome deadline');
});

// --- network and visibility -----------------------------------------------------------

test('offline: the socket is dropped, state offline, no backoff; online: reconnects at once', async () => {
  const env = setup();
  const ws = live(env);
  env.scanner.sendScan(item(1));
  env.nav.onLine = false;
  env.win.dispatchEvent(new Event('offline'));
  assert.notEqual(ws.closedByClient, null, 'the (silently dead) socket is dropped');
  assert.equal(env.scanner.state, 'offline');
  assert.deepEqual([...env.scanner.inFlight], []);
  assert.deepEqual(env.timers.pending(), [30000], 'only a slow fallback retry');
  await env.timers.tick(30000);
  env.sockets.last.fail();                               // still offline
  assert.equal(env.scanner.state, 'offline');
  env.nav.onLine = true;
  env.win.dispatchEvent(new Event('online'));
  assert.equal(env.scanner.state, 'connecting');
  assert.equal(env.sockets.all.length, 3);
  live(env);
  env.win.dispatchEvent(new Event('online'));            // already live: nothing
  assert.equal(env.sockets.all.length, 3);
  assert.deepEqual(env.of('state'), ['connecting', 'live', 'offline', 'connecting', 'offline', 'connecting', 'live']);
});

test('back from the background: retry at once when waiting, probe with a ping when live', async () => {
  const env = setup();
  const ws = live(env);
  env.doc.hidden = true;
  env.doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(ws.messages('ping').length, 0, 'hidden: nothing');
  env.doc.hidden = false;
  env.doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(ws.messages('ping').length, 1, 'visible: is the socket still alive?');
  await env.timers.tick(12500);                          // no pong: it was not
  assert.equal(env.scanner.state, 'reconnecting');
  const before = env.sockets.all.length;
  env.doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(env.sockets.all.length, before + 1, 'no waiting out the backoff');
  // watchNetwork: false ignores all of it.
  const off = setup({ opts: { watchNetwork: false } });
  live(off);
  off.nav.onLine = false;
  off.win.dispatchEvent(new Event('offline'));
  assert.equal(off.scanner.state, 'live');
});

// --- images ----------------------------------------------------------------------------

test('image frames: binary, at most 2 unanswered, one per 250 ms, lost answers forgotten', async () => {
  const env = setup();
  assert.equal(env.scanner.canSendImage(), false, 'not before live');
  const ws = live(env);
  const img = new Uint8Array([0xff, 0xd8, 0xff]);
  assert.equal(env.scanner.canSendImage(), true);
  assert.equal(env.scanner.sendImage(img), true);
  assert.deepEqual(ws.binary, [img]);
  assert.equal(env.scanner.canSendImage(), false, 'interval');
  await env.timers.tick(250);
  assert.equal(env.scanner.sendImage(img), true);
  await env.timers.tick(350);
  assert.equal(env.scanner.canSendImage(), false, 'two in flight');
  assert.equal(env.scanner.sendImage(img), false);
  ws.deliver({ type: 'decoded', codes: [{ code: '4006381333931', format: 'EAN_13' }], ms: 4.2 });
  assert.deepEqual(env.of('decoded'), [{ codes: [{ code: '4006381333931', format: 'EAN_13' }], ms: 4.2 }]);
  assert.equal(env.scanner.sendImage(img), true);
  // busy (decoder queue full) answers a frame too, and is marked as such.
  ws.deliver({ type: 'error', code: 'busy', message: 'decoder busy' });
  assert.deepEqual(env.of('error'), [{ code: 'busy', message: 'decoder busy', image: true }]);
  await env.timers.tick(250);
  assert.equal(env.scanner.sendImage(img), true);
  assert.equal(env.scanner.canSendImage(), false);
  // The daemon drops stale frames without an answer: they time out.
  await env.timers.tick(4000);
  assert.equal(env.scanner.canSendImage(), true);
  assert.equal(ws.binary.length, 4);
  // With instant answers: ≤ 4 frames a second.
  let n = 0;
  const t0 = env.timers.now;
  while (env.timers.now - t0 < 10000) {
    if (env.scanner.sendImage(img)) { n++; ws.deliver({ type: 'decoded', codes: [], ms: 1 }); }
    await env.timers.tick(10);
  }
  assert.ok(n <= 40 && n >= 35, String(n));
  // A reconnect forgets frames in flight.
  env.scanner.sendImage(img);
  ws.drop(1006);
  await env.timers.tick(env.timers.pending()[0]);
  live(env);
  assert.equal(env.scanner.canSendImage(), true);
});

// --- REST: pairing, photo decode -------------------------------------------------------

test('pair(): POST /api/v1/pair; refusals are ScanBridgeErrors with the protocol code', async () => {
  const creds = { session: 'S', scanner: 'sc1', scanner_token: 'TOK', expires_at: 9 };
  const server = new FakeServer({
    'POST /pair': (req) => (req.body.pair_code === 'good' ? [200, creds] : [404, { error: { code: 'pair_code_invalid', message: 'no' } }]),
  });
  const env = { fetch: server.fetch };
  assert.deepEqual(await ScanBridgeScanner.pair({ base: BASE, pair_code: 'good', name: 'Till 2 phone', env }), creds);
  assert.deepEqual(server.requests[0].body, { pair_code: 'good', name: 'Till 2 phone' });
  assert.equal(server.requests[0].headers['Content-Type'], 'application/json');
  await assert.rejects(ScanBridgeScanner.pair({ base: BASE, pair_code: 'bad', env }),
    (e) => e instanceof ScanBridgeError && e.code === 'pair_code_invalid' && e.status === 404);
  assert.deepEqual(server.requests[1].body, { pair_code: 'bad' });
});

test('decode(): POST /api/v1/decode with the scanner token and the image type', async () => {
  const env = setup({ routes: {
    'POST /decode': (req) => (req.headers['Content-Type'] === 'image/jpeg'
      ? [200, { codes: [{ code: 'PHOTO-42', format: 'CODE_128' }], ms: 12 }]
      : [415, { error: { code: 'unsupported_media_type', message: 'image/jpeg or image/png' } }]),
  } });
  const jpeg = new Blob([new Uint8Array([0xff, 0xd8])], { type: 'image/jpeg' });
  assert.deepEqual(await env.scanner.decode(jpeg), { codes: [{ code: 'PHOTO-42', format: 'CODE_128' }], ms: 12 });
  const [req] = env.server.requests;
  assert.equal(req.headers.Authorization, 'Bearer TOK');
  assert.equal(req.body, jpeg);
  await assert.rejects(env.scanner.decode(jpeg, 'image/gif'), (e) => e.code === 'unsupported_media_type');
  assert.equal(env.sockets.all.length, 0, 'REST needs no socket');
});

test('connectScanner() is new + open(); the classic script exports the scanner side too', async () => {
  const timers = new FakeTimers();
  const sockets = new FakeSocketFactory();
  const s = connectScanner({ base: BASE, scanner_token: 'TOK', env: { WebSocket: sockets.WebSocket,
    setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout, setInterval: timers.setInterval,
    clearInterval: timers.clearInterval, window: null, document: null, navigator: null } });
  assert.ok(s instanceof ScanBridgeScanner);
  assert.equal(s.state, 'connecting');
  s.close();
  await import('../../web/client/scanbridge.global.js');
  assert.equal(globalThis.ScanBridge.ScanBridgeScanner, ScanBridgeScanner);
  assert.equal(globalThis.ScanBridge.connectScanner, connectScanner);
  assert.equal(globalThis.ScanBridge.PING_MS, 30000);
});

// --- issue 19: renewal and unpair -------------------------------------------------

test('renewed: the scanner keeps the new token for its next hello and says so', async () => {
  const env = setup();
  const renewed = [];
  env.scanner.addEventListener('renewed', (e) => renewed.push(e.detail));
  const ws = live(env);
  ws.deliver({ type: 'renewed', token: 'TOK2', expires_at: 777 });
  assert.deepEqual(renewed, [{ token: 'TOK2', expires_at: 777 }]);
  assert.equal(env.scanner.token, 'TOK2');
  assert.equal(env.scanner.expiresAt, 777);
  assert.equal(env.scanner.state, 'live');
  ws.drop(1006);
  await env.timers.tick(60000);
  env.sockets.last.accept();
  assert.deepEqual(env.sockets.last.sent[0], { type: 'hello', token: 'TOK2' });
});

test('unpair: DELETE …/scanners/{id} with the scanner token, then ended "unpaired"; unreachable → false', async () => {
  const env = setup({ routes: { 'DELETE /sessions/S/scanners/sc1': () => [204, null] } });
  live(env);
  assert.equal(await env.scanner.unpair(), true);
  const req = env.server.of('DELETE', '/sessions/S/scanners/sc1')[0];
  assert.equal(req.headers.Authorization, 'Bearer TOK');
  assert.equal(env.scanner.state, 'ended');
  assert.deepEqual(env.of('ended'), [{ reason: 'unpaired' }]);

  const off = setup();
  off.env.fetch = off.server.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
  off.scanner._env.fetch = off.env.fetch;
  live(off);
  assert.equal(await off.scanner.unpair(), false, 'the box was not told');
  assert.equal(off.scanner.endReason, 'unpaired');
});

test('a close 1000 "unpaired" (another tab unpaired this scanner) ends it', () => {
  const env = setup();
  const ws = live(env);
  ws.drop(1000, 'unpaired');
  assert.equal(env.scanner.state, 'ended');
  assert.equal(env.scanner.endReason, 'unpaired');
});
