// SPDX-License-Identifier: MIT
// Unit tests of the phone page's pure logic (web/phone/core.mjs) and its
// in-memory outbox store: ids, the repeated-detection window, outbox state
// transitions, the send bucket, texts. The connection (backoff, ping,
// half-open detection, close codes, frame pacing) is the client's scanner
// side: scanner.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as core from '../../web/phone/core.mjs';
import { MemoryStore, openStore } from '../../web/phone/store.mjs';

const {
  makeId, isValidId, RepeatFilter, formatFromDetector, guessFormat, codeProblem,
  cleanManual, newItem, isOpen, undeliveredCount, applyAck, applyDeliveredUpTo, applyDelivered,
  applyError, adoptSession, trimItems, toSend, endText, pairFailure, cameraUnavailableReason,
  cameraErrorText, fitWithin, TokenBucket, pairCodeFromHash,
} = core;

test('ids: 22 chars of the protocol alphabet, from getRandomValues, unique', () => {
  const seen = new Set();
  for (let i = 0; i < 2000; i++) {
    const id = makeId();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(isValidId(id));
    seen.add(id);
  }
  assert.equal(seen.size, 2000);
  // Deterministic with an injected source; every byte value maps into the alphabet.
  const ramp = (a) => { a.forEach((_, i) => { a[i] = i * 12; }); return a; };
  assert.equal(makeId(ramp), makeId(ramp));
  const all = (a) => a.fill(255);
  assert.equal(makeId(all), '_'.repeat(22));
  assert.ok(!isValidId(''));
  assert.ok(!isValidId('a'.repeat(65)));
  assert.ok(!isValidId('a b'));
});

test('ids do not need crypto.randomUUID (plain-HTTP pages lack it)', () => {
  const saved = globalThis.crypto.randomUUID;
  try {
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true });
    assert.match(makeId(), /^[A-Za-z0-9_-]{22}$/);
  } finally {
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: saved, configurable: true });
  }
});

test('one backoff: the phone has no copy of its own (it is the client\'s)', () => {
  assert.equal(core.backoffDelay, undefined);
  assert.equal(core.FramePacer, undefined, 'frame pacing is the client\'s too');
});

test('repeat filter: the same code held in view is one scan', () => {
  const f = new RepeatFilter(2500);
  assert.equal(f.accept('4006381333931', 'EAN_13', 0), true);
  // 20 more sightings, 200 ms apart (4 s in view): all the same scan.
  for (let t = 200; t <= 4000; t += 200) assert.equal(f.accept('4006381333931', 'EAN_13', t), false);
  // Another code meanwhile is its own scan.
  assert.equal(f.accept('OTHER', 'CODE_128', 4100), true);
  // Out of view for the window: counts again.
  assert.equal(f.accept('4006381333931', 'EAN_13', 4000 + 2500), true);
  // Just inside the window: still the same.
  assert.equal(f.accept('4006381333931', 'EAN_13', 6500 + 2499), false);
  // Same text, other format: a different code.
  assert.equal(f.accept('4006381333931', 'UNKNOWN', 9000), true);
  f.reset();
  assert.equal(f.accept('OTHER', 'CODE_128', 9001), true);
  // Forgotten entries are pruned.
  f.accept('X', 'UNKNOWN', 100000);
  assert.equal(f.seen.size, 1);
});

test('formats: detector names map to protocol names; typed 13 digits are EAN-13', () => {
  assert.equal(formatFromDetector('ean_13'), 'EAN_13');
  assert.equal(formatFromDetector('pdf417'), 'PDF_417');
  assert.equal(formatFromDetector('qr_code'), 'QR_CODE');
  assert.equal(formatFromDetector('data_matrix'), 'DATA_MATRIX');
  assert.equal(formatFromDetector('maxi_code'), 'UNKNOWN');
  assert.equal(formatFromDetector(undefined), 'UNKNOWN');
  assert.equal(guessFormat('4006381333931'), 'EAN_13');
  assert.equal(guessFormat('400638133393'), 'UNKNOWN');
  assert.equal(guessFormat('40063813339311'), 'UNKNOWN');
  assert.equal(guessFormat('ABC'), 'UNKNOWN');
  assert.equal(cleanManual('  x y \n'), 'x y');
  assert.equal(cleanManual(null), '');
});

test('code checks: empty, too long, control characters', () => {
  assert.equal(codeProblem('ABC'), null);
  assert.equal(codeProblem('é'.repeat(512)), null);
  assert.match(codeProblem(''), /empty/);
  assert.match(codeProblem('x'.repeat(513)), /512/);
  assert.match(codeProblem('AB\r\nC'), /control/);
  assert.match(codeProblem('A\u0085'), /control/);
  assert.match(codeProblem('A\u007f'), /control/);
});

function items3() {
  return [
    newItem({ id: 'a', session: 'S', code: 'A', format: 'UNKNOWN', now: 1, n: 1 }),
    newItem({ id: 'b', session: 'S', code: 'B', format: 'UNKNOWN', now: 2, n: 2 }),
    newItem({ id: 'c', session: 'S', code: 'C', format: undefined, now: 3, n: 3 }),
  ];
}

test('outbox: pending → sent → delivered, also via delivered_seq', () => {
  const items = items3();
  assert.equal(items[2].format, 'UNKNOWN');
  assert.equal(undeliveredCount(items, 'S'), 3);
  assert.ok(applyAck(items[0], 1, 0));
  assert.equal(items[0].state, 'sent');
  assert.equal(items[0].seq, 1);
  assert.ok(applyAck(items[1], 2, 0));
  assert.equal(undeliveredCount(items, 'S'), 3);
  // Live `delivered` for one.
  assert.ok(applyDelivered(items[0], 1));
  assert.equal(items[0].state, 'delivered');
  assert.ok(!applyDelivered(items[0], 1), 'only once');
  // welcome.delivered_seq after a reconnect: every seq ≤ it.
  const changed = applyDeliveredUpTo(items, 'S', 2);
  assert.deepEqual(changed.map((it) => it.id), ['b']);
  assert.equal(items[2].state, 'pending', 'no seq yet: not delivered');
  // An ack (duplicate resend) at or below delivered_seq is delivered at once.
  assert.ok(applyAck(items[2], 2, 2));
  assert.equal(items[2].state, 'delivered');
  assert.equal(undeliveredCount(items, 'S'), 0);
  // A late ack does not take a delivered item back to sent.
  assert.ok(!applyAck(items[0], 1, 0));
  assert.equal(items[0].state, 'delivered');
});

test('outbox: errors reject for good or keep pending for a retry', () => {
  const [a, b] = items3();
  assert.equal(applyError(a, 'invalid_check_digit', 'code: invalid check digit'), 'rejected');
  assert.equal(a.state, 'rejected');
  assert.deepEqual(a.error, { code: 'invalid_check_digit', message: 'code: invalid check digit' });
  assert.ok(!isOpen(a));
  assert.ok(!applyDelivered(a, 5), 'a rejected scan is never delivered');
  assert.equal(applyError(b, 'unavailable'), 'retry');
  assert.equal(b.state, 'pending');
  assert.equal(applyError(b, 'rate_limited'), 'retry');
  assert.equal(applyError(b, 'invalid_request', 'bad'), 'rejected');
  // A retried item that gets its ack loses the error.
  const [, , c] = items3();
  applyError(c, 'unavailable');
  applyAck(c, 9, 0);
  assert.equal(c.error, undefined);
});

test('outbox: what to send — oldest first, this session, not in flight, limited', () => {
  const items = items3().reverse(); // storage order is not send order
  items.push(newItem({ id: 'x', session: 'OTHER', code: 'X', now: 0, n: 0 }));
  assert.deepEqual(toSend(items, 'S', new Set(), 10).map((it) => it.id), ['a', 'b', 'c']);
  assert.deepEqual(toSend(items, 'S', new Set(['a']), 10).map((it) => it.id), ['b', 'c']);
  assert.deepEqual(toSend(items, 'S', new Set(['z']), 2).map((it) => it.id), ['a']);
  items.find((it) => it.id === 'b').state = 'sent';
  assert.deepEqual(toSend(items, 'S', new Set(), 10).map((it) => it.id), ['a', 'c']);
});

test('outbox: a new session ends open scans of the old one, drops finished ones', () => {
  const items = items3();
  items[0].state = 'delivered';
  items[1].state = 'sent';
  const fresh = newItem({ id: 'n', session: 'T', code: 'N', now: 9, n: 9 });
  const kept = adoptSession([...items, fresh], 'T');
  assert.deepEqual(kept.map((it) => [it.id, it.state]), [['b', 'ended'], ['c', 'ended'], ['n', 'pending']]);
  assert.equal(undeliveredCount(kept, 'T'), 1);
  // Same session again: nothing changes.
  assert.equal(adoptSession(kept, 'T').length, 3);
});

test('outbox: trimming drops the oldest finished items, never open ones', () => {
  const items = [];
  for (let i = 1; i <= 10; i++) {
    const it = newItem({ id: 'i' + i, session: 'S', code: 'C' + i, now: i, n: i });
    it.state = i % 2 ? 'delivered' : 'pending';
    items.push(it);
  }
  assert.deepEqual(trimItems(items, 8).map((it) => it.id), ['i1', 'i3']);
  assert.deepEqual(trimItems(items, 2).map((it) => it.id), ['i1', 'i3', 'i5', 'i7', 'i9']);
  assert.deepEqual(trimItems(items, 20), []);
});

test('end reasons (from close codes) and pairing failures have texts', () => {
  assert.match(endText('kicked'), /removed/);          // 4003
  assert.match(endText('deleted'), /ended/);           // 4004, session_ended
  assert.match(endText('expired'), /ended/);           // 4004, session_expired
  assert.match(endText('unauthorized'), /no longer paired/); // 4001
  assert.equal(endText('closed'), null);
  assert.equal(endText(undefined), null);
  assert.match(pairFailure('pair_code_invalid'), /used or expired/);
  assert.match(pairFailure('session_full'), /maximum/);
  assert.match(pairFailure('weird', 'boom'), /boom/);
});

test('camera: why it is unavailable, and getUserMedia errors', () => {
  const http = cameraUnavailableReason({ isSecureContext: false, hasGetUserMedia: false, protocol: 'http:', host: '192.168.1.20' });
  assert.match(http, /HTTPS/);
  assert.match(http, /plain HTTP \(192\.168\.1\.20\)/);
  assert.match(http, /Take photo/);
  assert.match(cameraUnavailableReason({ isSecureContext: true, hasGetUserMedia: false }), /no access/);
  assert.equal(cameraUnavailableReason({ isSecureContext: true, hasGetUserMedia: true }), null);
  assert.match(cameraErrorText('NotAllowedError'), /refused/);
  assert.match(cameraErrorText('NotFoundError'), /No camera/);
  assert.match(cameraErrorText('NotReadableError'), /in use/);
  assert.match(cameraErrorText(undefined), /could not be started/);
});

test('frames are downscaled, never upscaled', () => {
  assert.deepEqual(fitWithin(1280, 720, 960), { width: 960, height: 540 });
  assert.deepEqual(fitWithin(720, 1280, 960), { width: 540, height: 960 });
  assert.deepEqual(fitWithin(640, 480, 960), { width: 640, height: 480 });
  assert.deepEqual(fitWithin(0, 480, 960), { width: 0, height: 0 });
  assert.deepEqual(fitWithin(4000, 3, 960), { width: 960, height: 1 });
});

test('token bucket keeps resends under the daemon allowance', () => {
  const b = new TokenBucket({ burst: 40, perSec: 10 }, 0);
  let n = 0;
  while (b.take(0)) n++;
  assert.equal(n, 40);
  assert.equal(b.wait(0), 100);
  assert.ok(!b.take(50));
  assert.ok(b.take(101));
  // Over 10 s: burst + 10/s at most.
  const c = new TokenBucket({ burst: 40, perSec: 10 }, 0);
  let sent = 0;
  for (let t = 0; t <= 10000; t += 5) while (c.take(t)) sent++;
  assert.ok(sent <= 141 && sent >= 139, String(sent));
});

test('pair code from the fragment', () => {
  assert.equal(pairCodeFromHash('#CvzCkAExEE2c907u8K8uHA'), 'CvzCkAExEE2c907u8K8uHA');
  assert.equal(pairCodeFromHash(''), '');
  assert.equal(pairCodeFromHash('#'), '');
  assert.equal(pairCodeFromHash('#a%2Db'), 'a-b');
  assert.equal(pairCodeFromHash('#%E0%A4%A'), '%E0%A4%A');
});

test('memory store round-trips copies', async () => {
  const s = new MemoryStore();
  const [a, b] = items3();
  await s.put(a, b);
  a.state = 'sent';
  assert.deepEqual((await s.all()).map((it) => it.state), ['pending', 'pending'], 'stored copies');
  await s.put(a);
  assert.deepEqual((await s.all()).map((it) => [it.id, it.state]), [['a', 'sent'], ['b', 'pending']]);
  await s.remove('a');
  assert.deepEqual((await s.all()).map((it) => it.id), ['b']);
  // No IndexedDB (node): falls back to memory.
  const fallback = await openStore(undefined);
  assert.equal(fallback.durable, false);
});
