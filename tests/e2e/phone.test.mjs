// SPDX-License-Identifier: MIT
// The phone scanner page (/p) in real Chromium against the real daemon:
// pairing, manual entry → delivered, the camera path (Chromium's fake camera
// playing a barcode video made at test time; headless Linux Chromium has no
// BarcodeDetector, so frames go to the daemon's decoder), the offline outbox,
// rejected codes, reload persistence and the page's transfer size.
//
// The desktop side is played in node over REST (GET scans, POST ack) with the
// desktop token, so these tests do not depend on the desktop page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Daemon, launchBrowser, newPage, waitFor, screenshot, sleep, SLOW } from './lib/harness.mjs';
import { makeBarcodeVideo } from './lib/video.mjs';

let daemon;
let browser;

before(async () => {
  // scanbridge.lan: the LAN name the plain-HTTP test reaches the box by (a
  // box answers only to its own names: allowed_hosts, against DNS rebinding)
  daemon = await new Daemon({ args: ['--allowed-hosts', 'scanbridge.lan'] }).start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.cleanup();
});

/** A session created as the desktop would, over REST. */
async function newSession() {
  const r = await daemon.api('POST', '/sessions');
  assert.equal(r.status, 201);
  return r.body;
}

async function scansOf(s) {
  const r = await daemon.api('GET', `/sessions/${s.session}/scans?after=0&limit=500`, { token: s.desktop_token });
  assert.equal(r.status, 200);
  return r.body.scans;
}

/** The desktop acknowledges everything it has: the phone's scans become delivered. */
async function ackAll(s) {
  const r = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.equal(r.status, 200);
  if (r.body.last_seq > 0) {
    const a = await daemon.api('POST', `/sessions/${s.session}/ack`, { token: s.desktop_token, body: { seq: r.body.last_seq } });
    assert.equal(a.status, 204);
  }
  return r.body.last_seq;
}

/** A phone page in its own context, paired with `s` through the form. */
async function pairedPhone(s, { name = 'Till 2 phone', br = browser } = {}) {
  const page = await newPage(br, 'phone');
  await page.addInitScript(recordFeedback);
  await page.goto(s.pair_url.replace(/^http:\/\/[^/]+/, daemon.url));
  await page.getByLabel('Scanner name').fill(name);
  await page.getByRole('button', { name: 'Pair' }).click();
  await waitForLive(page);
  return page;
}

/**
 * Runs in the page before its scripts: records vibrations and the tones
 * started (oscillator frequencies), as `window.feedback`.
 */
function recordFeedback() {
  window.feedback = { vibrate: [], tones: [] };
  Object.defineProperty(navigator, 'vibrate', {
    configurable: true,
    value: (p) => { window.feedback.vibrate.push(p); return true; },
  });
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...a) {
    window.feedback.tones.push(this.frequency.value);
    return start.apply(this, a);
  };
}

async function feedback(page) {
  return page.evaluate(() => window.feedback);
}

async function waitForLive(page) {
  await waitFor(async () => (await page.locator('#state').getAttribute('data-state')) === 'live',
    { what: 'phone connected', timeout: 15000 * SLOW });
}

function outboxItems(page) {
  return page.getByRole('list', { name: 'Outbox' }).getByRole('listitem');
}

/** The state text of the outbox item holding `code` (the newest such item). */
async function itemState(page, code) {
  const item = outboxItems(page).filter({ has: page.locator('.code', { hasText: new RegExp(`^${code}$`) }) }).first();
  if (!(await item.count())) return null;
  return (await item.locator('.status').textContent()).trim();
}

async function waitItemState(page, code, state, timeout = 15000 * SLOW) {
  await waitFor(async () => (await itemState(page, code)) === state,
    { what: `outbox item ${code} ${state}`, timeout });
}

async function sendManual(page, code) {
  await page.getByLabel('Barcode').fill(code);
  await page.getByRole('button', { name: 'Send' }).click();
}

async function undelivered(page) {
  return Number(await page.locator('#undelivered').getAttribute('data-count'));
}

/**
 * Asserts the page logged no errors, except the `allowed` ones (regexps).
 * @param {RegExp[]} [allowed]
 */
function assertNoProblems(page, allowed = []) {
  assert.deepEqual(page.problems.filter((p) => !allowed.some((re) => re.test(p))), [], 'page problems');
}


test('manual entry reaches the desktop and shows delivered', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  // The daemon knows the scanner by the name typed.
  const info = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.deepEqual(info.body.scanners.map((x) => x.name), ['Till 2 phone']);

  await sendManual(page, 'ABC-123');
  await waitFor(async () => (await scansOf(s)).length === 1, { what: 'scan at the desktop' });
  const [scan] = await scansOf(s);
  assert.equal(scan.code, 'ABC-123');
  assert.equal(scan.format, 'UNKNOWN');
  assert.match(scan.id, /^[A-Za-z0-9_-]{22}$/);
  await waitItemState(page, 'ABC-123', 'sent');
  assert.equal(await undelivered(page), 1);

  assert.deepEqual((await feedback(page)).vibrate, [], 'no "done" before delivery');
  await ackAll(s);
  await waitItemState(page, 'ABC-123', 'delivered');
  assert.equal(await undelivered(page), 0);
  // Delivered: a beep and a short vibration.
  await waitFor(async () => (await feedback(page)).vibrate.length === 1, { what: 'vibration' });
  const fx = await feedback(page);
  assert.deepEqual(fx.vibrate, [70]);
  assert.ok(fx.tones.includes(1760), `delivered beep (tones: ${fx.tones})`);

  // A 13-digit code goes as an EAN-13 and arrives with its format.
  await sendManual(page, '4006381333931');
  await waitFor(async () => (await scansOf(s)).length === 2, { what: 'second scan' });
  assert.equal((await scansOf(s))[1].format, 'EAN_13');
  await ackAll(s);
  await waitItemState(page, '4006381333931', 'delivered');

  // Reload: pairing and outbox are kept (IndexedDB + localStorage).
  await page.reload();
  await waitForLive(page);
  assert.equal(await itemState(page, 'ABC-123'), 'delivered');
  assert.equal(await itemState(page, '4006381333931'), 'delivered');
  assert.equal(await outboxItems(page).count(), 2);
  assertNoProblems(page);
  await page.context().close();
});

test('a code with a wrong check digit is rejected, not resent', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  await sendManual(page, '4006381333932'); // EAN-13, check digit should be 1
  await waitItemState(page, '4006381333932', 'rejected');
  const item = outboxItems(page).filter({ hasText: '4006381333932' });
  assert.match(await item.textContent(), /check digit/i);
  // The error sound and vibration, distinct from "delivered".
  await waitFor(async () => (await feedback(page)).vibrate.length === 1, { what: 'error vibration' });
  const fx = await feedback(page);
  assert.deepEqual(fx.vibrate, [[120, 80, 220]]);
  assert.ok(fx.tones.includes(220) && !fx.tones.includes(1760), `error tones: ${fx.tones}`);
  assert.equal(await undelivered(page), 0);
  // Nothing stored; a good code after it goes through.
  await sendManual(page, 'OK-1');
  await waitItemState(page, 'OK-1', 'sent');
  assert.deepEqual((await scansOf(s)).map((x) => x.code), ['OK-1']);
  // After a reload and reconnect, the rejected scan is still rejected and was not resent.
  await page.reload();
  await waitForLive(page);
  await sleep(500);
  assert.equal(await itemState(page, '4006381333932'), 'rejected');
  assert.deepEqual((await scansOf(s)).map((x) => x.code), ['OK-1']);
  assertNoProblems(page);
  await page.context().close();
});

test('offline: scans wait in the outbox and are delivered once, in order, when back', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  const ctx = page.context();
  const notLive = async () => (await page.locator('#state').getAttribute('data-state')) !== 'live';
  await sendManual(page, 'BEFORE-1');
  await waitItemState(page, 'BEFORE-1', 'sent');

  // Chromium's offline emulation blocks the open WebSocket's traffic without
  // closing it; the page drops it on the 'offline' event (and a silent socket
  // after its answer timeout).
  await ctx.setOffline(true);
  await waitFor(notLive, { what: 'phone notices it is offline' });
  assert.equal(await page.locator('#state').textContent(), 'Offline');
  const codes = ['OFF-1', 'OFF-2', 'OFF-3'];
  for (const c of codes) await sendManual(page, c);
  // the outbox renders after its store write: wait for each row, then check
  for (const c of codes) await waitItemState(page, c, 'pending');
  assert.equal(await undelivered(page), 4);
  await sleep(1000);
  assert.deepEqual((await scansOf(s)).map((x) => x.code), ['BEFORE-1'], 'nothing left the phone');

  await ctx.setOffline(false);
  await waitForLive(page);
  await waitFor(async () => (await scansOf(s)).length === 4, { what: 'all four at the desktop' });
  let got = await scansOf(s);
  assert.deepEqual(got.map((x) => x.code), ['BEFORE-1', ...codes]);
  assert.deepEqual(got.map((x) => x.seq), [1, 2, 3, 4]);
  assert.equal(new Set(got.map((x) => x.id)).size, 4);
  for (const c of codes) await waitItemState(page, c, 'sent');
  assert.equal(await undelivered(page), 4);

  // The till takes them while the phone is offline: the phone learns it from
  // welcome.delivered_seq when it is back.
  await ctx.setOffline(true);
  await waitFor(notLive, { what: 'offline before the ack' });
  await ackAll(s);
  await sleep(500);
  for (const c of codes) assert.equal(await itemState(page, c), 'sent');
  await ctx.setOffline(false);
  for (const c of ['BEFORE-1', ...codes]) await waitItemState(page, c, 'delivered');
  assert.equal(await undelivered(page), 0);

  // Offline again, and the page is reloaded meanwhile (the reload itself
  // fails): the pending scans are on disk and go out when the page is back.
  await ctx.setOffline(true);
  await waitFor(notLive, { what: 'offline again' });
  for (const c of ['LATE-1', 'LATE-2']) await sendManual(page, c);
  await waitFor(async () => (await itemState(page, 'LATE-2')) === 'pending', { what: 'LATE-2 queued' });
  await page.reload().catch(() => {});
  await ctx.setOffline(false);
  await page.goto(daemon.url + '/p');
  await waitForLive(page);
  await waitFor(async () => (await scansOf(s)).length === 6, { what: 'the two late scans' });
  await ackAll(s);
  for (const c of ['LATE-1', 'LATE-2']) await waitItemState(page, c, 'delivered');
  await sleep(1000);
  got = await scansOf(s);
  assert.deepEqual(got.map((x) => x.code), ['BEFORE-1', ...codes, 'LATE-1', 'LATE-2'], 'each once, in order');
  assert.deepEqual(got.map((x) => x.seq), [1, 2, 3, 4, 5, 6]);
  assert.equal(await undelivered(page), 0);
  // Offline, the browser logs its failed reconnects and the failed reload.
  assertNoProblems(page, [/net::ERR_INTERNET_DISCONNECTED/]);
  await ctx.close();
});

test('a half-open socket (messages vanish, nothing closes) is detected and the scan resent', async () => {
  const s = await newSession();
  const page = await newPage(browser, 'phone');
  let blackhole = false;
  let sockets = 0;
  // Every socket of the page goes through this relay, which can swallow
  // traffic in both directions without closing anything.
  await page.routeWebSocket(/\/ws$/, (ws) => {
    sockets++;
    const server = ws.connectToServer();
    ws.onMessage((m) => { if (!blackhole) server.send(m); });
    server.onMessage((m) => { if (!blackhole) ws.send(m); });
  });
  await page.goto(s.pair_url.replace(/^http:\/\/[^/]+/, daemon.url));
  await page.getByLabel('Scanner name').fill('Half-open phone');
  await page.getByRole('button', { name: 'Pair' }).click();
  await waitForLive(page);
  assert.equal(sockets, 1);

  blackhole = true;
  await sendManual(page, 'LOST-1');
  await sleep(500);
  assert.equal(await itemState(page, 'LOST-1'), 'pending');
  blackhole = false; // the network is back, but that socket is dead for good
  // No ack within the answer timeout (10 s): the page gives up on the socket,
  // reconnects and resends.
  await waitItemState(page, 'LOST-1', 'sent', 40000 * SLOW);
  assert.ok(sockets >= 2, 'reconnected');
  const got = await scansOf(s);
  assert.deepEqual(got.map((x) => x.code), ['LOST-1']);
  assertNoProblems(page);
  await page.context().close();
});

/** A PNG photo of a Code 128 barcode (GNU barcode + ImageMagick). */
function makeBarcodePhoto(dir, text) {
  const svg = join(dir, 'photo.svg');
  const png = join(dir, 'photo.png');
  execFileSync('barcode', ['-n', '-b', text, '-e', '128', '-S', '-o', svg]);
  execFileSync('convert', ['-density', '300', svg, '-colorspace', 'Gray', '-trim', '+repage', '-shave', '4x4',
    '-trim', '+repage', '-bordercolor', 'white', '-border', '60', '-resize', '900x', png]);
  return png;
}

test('photo: the daemon reads it and the code is sent; no code → a hint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbphoto-'));
  try {
    const s = await newSession();
    const page = await pairedPhone(s);
    await page.getByLabel('Take photo').setInputFiles(makeBarcodePhoto(dir, 'PHOTO-42'));
    await waitFor(async () => (await scansOf(s)).length === 1, { what: 'photo scan at the desktop' });
    const [scan] = await scansOf(s);
    assert.equal(scan.code, 'PHOTO-42');
    assert.equal(scan.format, 'CODE_128');
    await waitItemState(page, 'PHOTO-42', 'sent');

    const blank = join(dir, 'blank.png');
    execFileSync('convert', ['-size', '400x300', 'xc:white', blank]);
    await page.getByLabel('Take photo').setInputFiles(blank);
    await waitFor(async () => /No barcode found/.test(await page.locator('#message').textContent()),
      { what: 'no-code hint' });
    assert.equal((await scansOf(s)).length, 1);
    assertNoProblems(page);
    await page.context().close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session ended at the till: back to "scan the QR code again"', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  const r = await daemon.api('DELETE', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.equal(r.status, 204);
  await waitFor(async () => page.getByRole('heading', { name: 'Scan the QR code on the till' }).isVisible(),
    { what: 'unpaired view' });
  assert.match(await page.getByRole('alert').textContent(), /session .* has ended/i);
  // A reload stays unpaired (the token was dropped).
  assertNoProblems(page);
  await page.reload();
  assert.ok(await page.getByRole('heading', { name: 'Scan the QR code on the till' }).isVisible());

  // A new pair code in the fragment pairs again, with the remembered name, no question.
  const s2 = await newSession();
  await page.goto(s2.pair_url.replace(/^http:\/\/[^/]+/, daemon.url));
  await waitForLive(page);
  const info = await daemon.api('GET', `/sessions/${s2.session}`, { token: s2.desktop_token });
  assert.deepEqual(info.body.scanners.map((x) => x.name), ['Till 2 phone']);
  assertNoProblems(page);
  await page.context().close();
});

test('a kicked phone is told so and asks for the QR code again', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  const info = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  const scannerId = info.body.scanners[0].id;
  // Kick over the desktop's WebSocket (there is no REST kick).
  const desk = await newPage(browser, 'desktop');
  await desk.goto(daemon.url + '/healthz');
  await desk.evaluate(async ({ token, scanner }) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws', 'scanbridge.v1');
    await new Promise((res) => { ws.onopen = res; });
    ws.send(JSON.stringify({ type: 'hello', token }));
    await new Promise((res) => { ws.onmessage = res; });
    ws.send(JSON.stringify({ type: 'kick', scanner }));
    await new Promise((res) => setTimeout(res, 200));
    ws.close();
  }, { token: s.desktop_token, scanner: scannerId });
  await waitFor(async () => page.getByRole('heading', { name: 'Scan the QR code on the till' }).isVisible(),
    { what: 'unpaired view after kick' });
  assert.match(await page.getByRole('alert').textContent(), /removed/i);
  assertNoProblems(page);
  await desk.context().close();
  await page.context().close();
});

test('phone page transfer is at most 150 KB gzipped', async (t) => {
  const page = await newPage(browser, 'phone');
  const bodies = [];
  page.on('response', async (res) => {
    if (!res.url().startsWith(daemon.url)) return;
    bodies.push(res.body().then((b) => ({ url: res.url(), gz: gzipSync(b).length })).catch(() => null));
  });
  await page.goto(daemon.url + '/p');
  await page.waitForLoadState('networkidle');
  const sizes = (await Promise.all(bodies)).filter(Boolean);
  const total = sizes.reduce((n, x) => n + x.gz, 0);
  const urls = sizes.map((x) => new URL(x.url).pathname);
  assert.ok(urls.includes('/p') && urls.includes('/phone/phone.mjs') && urls.includes('/phone/phone.css'), urls.join(' '));
  assert.ok(total <= 150 * 1024, `phone page is ${total} bytes gzipped`);
  t.diagnostic(`phone page: ${total} bytes gzipped in ${sizes.length} responses`);
  // Not paired: it says what to do.
  assert.ok(await page.getByRole('heading', { name: 'Scan the QR code on the till' }).isVisible());
  assertNoProblems(page);
  await page.context().close();
});

test('plain HTTP on a LAN address: no camera, a clear hint, photo and typing offered', async () => {
  // Chromium treats http://127.0.0.1 as secure; another address of this host
  // is not. A host-resolver rule maps a LAN-looking name to the daemon.
  const br = await launchBrowser({ args: ['--host-resolver-rules=MAP scanbridge.lan 127.0.0.1'] });
  try {
    const s = await newSession();
    const page = await newPage(br, 'phone');
    await page.goto(`http://scanbridge.lan:${daemon.port}/p#${s.pair_code}`);
    await page.getByLabel('Scanner name').fill('Insecure phone');
    await page.getByRole('button', { name: 'Pair' }).click();
    await waitForLive(page);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    assert.equal(await page.getByRole('button', { name: 'Start camera' }).count(), 0);
    assert.match(await page.locator('#camera-hint').textContent(), /secure connection \(HTTPS\).*plain HTTP/);
    assert.ok(await page.getByLabel('Take photo').count());
    await sendManual(page, 'LAN-1');
    await waitItemState(page, 'LAN-1', 'sent');
    assertNoProblems(page);
  } finally {
    await br.close();
  }
});

// ---- camera ---------------------------------------------------------------


test('camera: frames go to the daemon decoder; a code held in view is one scan', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbphone-'));
  const code = '4006381333931';
  const br = await launchBrowser({ fakeVideo: makeBarcodeVideo(dir, code) });
  try {
    const s = await newSession();
    const page = await pairedPhone(s, { br, name: 'Camera phone' });
    assert.equal(await page.evaluate(() => 'BarcodeDetector' in window), false, 'headless Linux Chromium has no BarcodeDetector');
    await page.getByRole('button', { name: 'Start camera' }).click();
    await page.getByRole('button', { name: 'Stop camera' }).waitFor();
    await waitFor(async () => (await scansOf(s)).length >= 1, { what: 'camera scan at the desktop', timeout: 20000 * SLOW });
    // Keep the code in view for several more seconds: still one scan.
    const framesAt = await metric('scanbridge_frames_decoded_total');
    await sleep(5000);
    const got = await scansOf(s);
    assert.equal(got.length, 1, JSON.stringify(got));
    assert.equal(got[0].code, code);
    assert.equal(got[0].format, 'EAN_13');
    assert.ok((await metric('scanbridge_frames_decoded_total')) > framesAt, 'frames kept being decoded while in view');
    await ackAll(s);
    await waitItemState(page, code, 'delivered');
    // Stop and start again: the same code counts as a new scan then.
    await page.getByRole('button', { name: 'Stop camera' }).click();
    await page.getByRole('button', { name: 'Start camera' }).click();
    await waitFor(async () => (await scansOf(s)).length === 2, { what: 'second camera scan', timeout: 20000 * SLOW });
    await page.getByRole('button', { name: 'Stop camera' }).click();
    assertNoProblems(page);
    await page.context().close();
  } finally {
    await br.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('camera with a BarcodeDetector: read in the browser, no frames to the daemon', async () => {
  // Chromium's built-in fake camera (no file) and a stand-in BarcodeDetector,
  // as on Android Chrome or Safari, which have one.
  const br = await launchBrowser({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
  try {
    const s = await newSession();
    const page = await newPage(br, 'phone');
    await page.addInitScript(() => {
      window.detectCalls = 0;
      window.BarcodeDetector = class {
        static async getSupportedFormats() { return ['ean_13', 'qr_code', 'maxi_code']; }
        constructor(opts) { window.detectorFormats = opts.formats; }
        async detect() {
          window.detectCalls++;
          return [{ rawValue: 'https://example.com/item/7', format: 'qr_code' }];
        }
      };
    });
    await page.goto(s.pair_url.replace(/^http:\/\/[^/]+/, daemon.url));
    await page.getByLabel('Scanner name').fill('Detector phone');
    await page.getByRole('button', { name: 'Pair' }).click();
    await waitForLive(page);
    const framesBefore = await metric('scanbridge_frames_decoded_total');
    await page.getByRole('button', { name: 'Start camera' }).click();
    await waitFor(async () => (await scansOf(s)).length >= 1, { what: 'detector scan at the desktop' });
    await waitFor(async () => (await page.evaluate(() => window.detectCalls)) > 20, { what: 'detector keeps seeing it' });
    const got = await scansOf(s);
    assert.deepEqual(got.map((x) => [x.code, x.format]), [['https://example.com/item/7', 'QR_CODE']]);
    assert.deepEqual(await page.evaluate(() => window.detectorFormats), ['ean_13', 'qr_code']);
    assert.equal(await metric('scanbridge_frames_decoded_total'), framesBefore, 'no frames sent');
    await page.getByRole('button', { name: 'Stop camera' }).click();
    assertNoProblems(page);
    await page.context().close();
  } finally {
    await br.close();
  }
});

/** The value of an unlabelled /metrics sample. */
async function metric(name) {
  const text = await (await fetch(daemon.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `metric ${name}`);
  return Number(line.split(/\s+/)[1]);
}

test('screenshot of the phone after a few delivered scans', async () => {
  const s = await newSession();
  const page = await pairedPhone(s);
  for (const c of ['4006381333931', '9780201379624', 'SKU-00172']) await sendManual(page, c);
  await waitFor(async () => (await scansOf(s)).length === 3, { what: 'three scans' });
  await ackAll(s);
  for (const c of ['4006381333931', '9780201379624']) await waitItemState(page, c, 'delivered');
  await sendManual(page, 'SKU-00173');
  await waitItemState(page, 'SKU-00173', 'sent');
  await page.getByLabel('Barcode').blur();
  await screenshot(page, 'phone');
  assertNoProblems(page);
  await page.context().close();
});
