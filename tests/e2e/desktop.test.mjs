// SPDX-License-Identifier: MIT
// The desktop POS page (/) in real Chromium against the real daemon, with the
// real phone page (/p) in a second browser context as the scanner: the QR
// decodes to the pairing URL, pairing shows the scanner, manual entry on the
// phone lands once in the Scans list and turns `delivered`, a reload or a
// daemon restart (graceful and kill -9) resumes the same session without
// duplicates, remove, new code, end and start again, sound/copy/clear.
// Once a phone is paired the QR folds away behind "Pair another phone":
// waitQr() opens it.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Daemon, launchBrowser, newPage, screenshot, decodeQR, waitFor, sleep, SLOW,
} from './lib/harness.mjs';

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {Daemon[]} */
let daemons = [];
/** @type {import('playwright-core').Page[]} */
let pages = [];

before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });
afterEach(async () => {
  for (const p of pages) await p.context().close().catch(() => {});
  pages = [];
  for (const d of daemons) await d.cleanup();
  daemons = [];
});

const LONG = { timeout: 30000 * SLOW };

async function startDaemon(args) {
  const d = await new Daemon({ args }).start();
  daemons.push(d);
  return d;
}

/** Keeps the page for clean-up; notes HTTP errors so that a console error
 * "Failed to load resource: 404" can be told apart in a failure message. */
async function track(page) {
  pages.push(page);
  page.httpErrors = [];
  page.on('response', (r) => { if (r.status() >= 400) page.httpErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  return page;
}

// --- desktop page --------------------------------------------------------------

const scansList = (page) => page.getByRole('list', { name: 'Scans' });
const qrImage = (page) => page.getByRole('img', { name: 'Pairing QR code' });
const stateOf = (page) => page.locator('#state').getAttribute('data-state');
const pairUrlOf = async (page) => (await page.locator('#pair-url').textContent()).trim();

async function waitLive(page, what = 'desktop live') {
  await waitFor(async () => (await stateOf(page)) === 'live', { what, ...LONG });
}

/** Waits until the QR is shown for a pairing URL (other than `not`); returns the URL. */
async function waitQr(page, not = '') {
  const toggle = page.locator('#pair-toggle');
  if (await toggle.isVisible() && (await toggle.getAttribute('aria-expanded')) === 'false') await toggle.click();
  await qrImage(page).waitFor({ state: 'visible', ...LONG });
  return waitFor(async () => {
    const url = await pairUrlOf(page);
    const src = await qrImage(page).getAttribute('src');
    return url && url !== not && src && src.startsWith('blob:') &&
      (await qrImage(page).evaluate((img) => img.complete && img.naturalWidth > 0)) ? url : null;
  }, { what: 'pairing QR', ...LONG });
}

async function openDesktop(daemon) {
  const page = await track(await newPage(browser, 'desktop'));
  await page.goto(daemon.url + '/');
  await waitLive(page);
  const url = await waitQr(page);
  return { page, url };
}

/** The session this till holds (the client's entry in localStorage). */
async function sessionOf(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('scanbridge.client') || 'null'));
}

/** The codes in the Scans list, top (newest) first. */
async function shownCodes(page) {
  return scansList(page).getByRole('listitem').locator('.code').allTextContents();
}

async function waitShown(page, code) {
  await waitFor(async () => (await shownCodes(page)).includes(code), { what: `desktop shows ${code}`, ...LONG });
}

function scannerItem(page, name) {
  return page.locator('#scanners > li').filter({ hasText: name });
}

/** Decodes the QR in a screenshot of the page and checks it is `url`. */
async function assertQrDecodes(page, url, shotName) {
  const path = await screenshot(page, shotName);
  assert.deepEqual(decodeQR(path), [url], 'the QR on screen encodes the pairing URL');
}

// --- phone page (the real one, as the scanner) -----------------------------------

async function pairPhone(url, name) {
  const phone = await track(await newPage(browser, 'phone'));
  await phone.goto(url);
  await phone.getByLabel('Scanner name').fill(name);
  await phone.getByRole('button', { name: 'Pair' }).click();
  await phone.getByLabel('Barcode').waitFor({ state: 'visible', ...LONG });
  return phone;
}

async function typeCode(phone, code) {
  await phone.getByLabel('Barcode').fill(code);
  await phone.getByRole('button', { name: 'Send' }).click();
}

async function outboxText(phone, code) {
  const item = phone.getByRole('list', { name: 'Outbox' }).getByRole('listitem').filter({ hasText: code });
  return (await item.count()) === 1 ? (await item.textContent()) : null;
}

async function waitDelivered(phone, code) {
  await waitFor(async () => /delivered/i.test((await outboxText(phone, code)) || ''),
    { what: `phone shows ${code} delivered`, ...LONG });
}

// --- checks ------------------------------------------------------------------------

/** Each code shown exactly once, in the order given (newest first). */
async function assertShownOnce(page, codesNewestFirst) {
  const shown = await shownCodes(page);
  assert.deepEqual(shown, codesNewestFirst, 'scan list: every code once, newest first');
  for (const c of codesNewestFirst) {
    assert.equal(await scansList(page).getByRole('listitem').filter({ hasText: c }).count(), 1, `${c}: one list item`);
  }
}

/** The daemon's view of the session: stored and delivered seqs. */
async function sessionInfo(daemon, s) {
  const r = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.equal(r.status, 200);
  return r.body;
}

function httpErrors(ps) {
  const errs = ps.flatMap((p) => p.httpErrors || []);
  return errs.length ? '; HTTP errors: ' + errs.join(', ') : '';
}

const NETWORK_NOISE = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed|Failed to load resource: net::/;

function assertNoProblems(...ps) {
  const problems = ps.flatMap((p) => p.problems);
  assert.deepEqual(problems, [], 'no console errors or page errors' + httpErrors(ps));
}

/** Same, but tolerating the network errors the browser logs while the daemon is down. */
function assertNoProblemsBesidesOutage(...ps) {
  const problems = ps.flatMap((p) => p.problems).filter((m) => !NETWORK_NOISE.test(m));
  assert.deepEqual(problems, [], 'no console errors or page errors (besides refused connections)' + httpErrors(ps));
}

// --- tests -----------------------------------------------------------------------

test('the QR decodes to the pairing URL; a phone pairs through it and shows up as a scanner', async () => {
  const daemon = await startDaemon();
  const { page, url } = await openDesktop(daemon);
  assert.match(url, new RegExp(`^${daemon.url.replace(/\./g, '\\.')}/p#[A-Za-z0-9_-]{22,}$`));
  await assertQrDecodes(page, url, 'desktop-qr');
  assert.equal(await page.locator('#no-scanners').isVisible(), true);

  const phone = await pairPhone(url, 'Till 1 phone');
  const item = scannerItem(page, 'Till 1 phone');
  await item.waitFor(LONG);
  await waitFor(async () => /connected/i.test(await item.textContent()), { what: 'scanner connected' });
  assert.equal(await page.locator('#no-scanners').isVisible(), false);

  // Its pair code is used up: the desktop shows a fresh one for the next phone.
  const next = await waitQr(page, url);
  assert.notEqual(next, url);
  await assertQrDecodes(page, next, 'desktop-qr-next');
  assertNoProblems(page, phone);
});

test('manual entry on the phone appears once in Scans and becomes delivered', async () => {
  const daemon = await startDaemon();
  const { page, url } = await openDesktop(daemon);
  const phone = await pairPhone(url, 'Till 1 phone');
  await scannerItem(page, 'Till 1 phone').waitFor(LONG);

  const codes = ['4006381333931', 'PLU-0042-X', '5901234123457'];
  for (const c of codes) {
    await typeCode(phone, c);
    await waitShown(page, c);
    await waitDelivered(phone, c);
  }
  await assertShownOnce(page, [...codes].reverse());

  // Each item carries format, scanner name and time; latency and seq in the time's tooltip.
  const top = scansList(page).getByRole('listitem').first();
  const text = await top.textContent();
  assert.match(text, /5901234123457/);
  assert.match(text, /Till 1 phone/);
  assert.match(await top.locator('time').getAttribute('title'), /Latency \d+(\.\d)? (ms|s)\b.*#3/, 'end-to-end latency and seq in the tooltip');
  assert.match(text, /EAN-13/);
  assert.equal(await scannerItem(page, 'Till 1 phone').filter({ hasText: '3 scans' }).count(), 1);

  const s = await sessionOf(page);
  const info = await sessionInfo(daemon, s);
  assert.equal(info.last_seq, 3);
  assert.equal(info.delivered_seq, 3);

  // For the README: toasts gone, highlight animation over.
  await page.mouse.move(0, 0);
  await waitFor(async () => !(await page.locator('#toast').evaluate((t) => t.classList.contains('show'))),
    { what: 'toast hidden' });
  await sleep(1800);
  await screenshot(page, 'desktop-basic');
  assertNoProblems(page, phone);
});

test('a reload resumes the same session: same QR, no duplicate scans, still delivering', async () => {
  const daemon = await startDaemon();
  const { page, url } = await openDesktop(daemon);
  const phone = await pairPhone(url, 'Till 1 phone');
  await scannerItem(page, 'Till 1 phone').waitFor(LONG);
  const pairUrl = await waitQr(page, url);
  for (const c of ['RELOAD-1', 'RELOAD-2']) {
    await typeCode(phone, c);
    await waitShown(page, c);
    await waitDelivered(phone, c);
  }
  const before = await sessionOf(page);
  const sessionsBefore = (await (await fetch(daemon.url + '/metrics')).text());

  await page.reload();
  await waitLive(page, 'desktop live after reload');
  assert.equal(await waitQr(page), pairUrl, 'same pairing URL after reload (no new code)');
  const after = await sessionOf(page);
  assert.equal(after.session, before.session, 'same session after reload');
  await scannerItem(page, 'Till 1 phone').waitFor(LONG);
  await sleep(500); // a replay would arrive right after welcome
  await assertShownOnce(page, ['RELOAD-2', 'RELOAD-1']);

  await typeCode(phone, 'RELOAD-3');
  await waitShown(page, 'RELOAD-3');
  await waitDelivered(phone, 'RELOAD-3');
  await assertShownOnce(page, ['RELOAD-3', 'RELOAD-2', 'RELOAD-1']);
  const info = await sessionInfo(daemon, after);
  assert.equal(info.last_seq, 3);
  assert.equal(info.delivered_seq, 3);
  // No second session was created by the reload.
  const created = (m) => Number((m.match(/^scanbridge_sessions_created_total\S*\s+(\d+)/m) || [])[1]);
  const sessionsAfter = await (await fetch(daemon.url + '/metrics')).text();
  assert.equal(created(sessionsAfter), created(sessionsBefore), 'no session created by the reload');
  assert.equal(created(sessionsAfter), 1);
  assertNoProblems(page, phone);
});

for (const hard of [false, true]) {
  test(`daemon ${hard ? 'kill -9' : 'graceful restart'} mid-session: the desktop resumes, scans typed meanwhile arrive once`, async () => {
    const daemon = await startDaemon();
    const { page, url } = await openDesktop(daemon);
    const phone = await pairPhone(url, 'Till 1 phone');
    await scannerItem(page, 'Till 1 phone').waitFor(LONG);
    const pairUrl = await waitQr(page, url);
    await typeCode(phone, 'BEFORE-1');
    await waitShown(page, 'BEFORE-1');
    await waitDelivered(phone, 'BEFORE-1');
    const s = await sessionOf(page);

    // A plain restart first.
    await daemon.restart({ hard });
    await waitLive(page, 'desktop live after restart');
    await typeCode(phone, 'AFTER-1');
    await waitShown(page, 'AFTER-1');
    await waitDelivered(phone, 'AFTER-1');

    // Then an outage during which the phone keeps scanning.
    if (hard) await daemon.kill(); else await daemon.stop();
    await waitFor(async () => (await stateOf(page)) !== 'live', { what: 'desktop notices the outage' });
    await typeCode(phone, 'DOWN-1');
    await typeCode(phone, 'DOWN-2');
    await waitFor(async () => (await outboxText(phone, 'DOWN-2')) !== null, { what: 'phone queued DOWN-2' });
    assert.doesNotMatch(await outboxText(phone, 'DOWN-1'), /delivered/i);
    await daemon.start();

    await waitLive(page, 'desktop live after the outage');
    for (const c of ['DOWN-1', 'DOWN-2']) {
      await waitShown(page, c);
      await waitDelivered(phone, c);
    }
    await sleep(500);
    await assertShownOnce(page, ['DOWN-2', 'DOWN-1', 'AFTER-1', 'BEFORE-1']);
    assert.equal((await sessionOf(page)).session, s.session, 'same session');
    assert.equal(await pairUrlOf(page), pairUrl, 'same pairing code (no new session or QR)');
    const info = await sessionInfo(daemon, s);
    assert.equal(info.last_seq, 4, 'each scan stored once');
    assert.equal(info.delivered_seq, 4);
    assertNoProblemsBesidesOutage(page, phone);
  });
}

test('remove a scanner; new code gives another pairing URL', async () => {
  const daemon = await startDaemon();
  const { page, url } = await openDesktop(daemon);
  const phone = await pairPhone(url, 'Till 1 phone');
  const item = scannerItem(page, 'Till 1 phone');
  await item.waitFor(LONG);
  const s = await sessionOf(page);

  const current = await waitQr(page, url);
  await page.getByRole('button', { name: 'New code for another scanner' }).click();
  const fresh = await waitQr(page, current);
  assert.notEqual(fresh, current);
  await assertQrDecodes(page, fresh, 'desktop-qr-new-code');

  await page.getByRole('button', { name: 'Remove Till 1 phone' }).click();
  await waitFor(async () => (await item.count()) === 0, { what: 'scanner removed from the list' });
  assert.equal(await page.locator('#no-scanners').isVisible(), true);
  const info = await sessionInfo(daemon, s);
  assert.equal(info.scanners.length, 0, 'the daemon no longer lists the scanner');
  // The kicked phone cannot scan any more.
  await waitFor(async () => !/live/i.test((await phone.locator('#state').getAttribute('data-state')) || ''),
    { what: 'phone no longer live' });
  assertNoProblems(page);
});

test('ending the session offers Start new session, which opens a new one', async () => {
  const daemon = await startDaemon();
  const { page, url } = await openDesktop(daemon);
  const s = await sessionOf(page);

  await page.getByRole('button', { name: 'End session' }).click();
  const dialog = page.getByRole('dialog', { name: 'End this session?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'End session' }).click();
  await waitFor(async () => (await stateOf(page)) === 'ended', { what: 'ended' });
  const restart = page.getByRole('button', { name: 'Start new session' });
  await restart.waitFor({ state: 'visible' });
  assert.equal(await qrImage(page).isVisible(), false, 'no QR of an ended session');
  assert.equal((await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token })).status >= 400, true);

  await restart.click();
  await waitLive(page);
  const next = await waitQr(page);
  assert.notEqual(next, url);
  assert.notEqual((await sessionOf(page)).session, s.session);
  await assertQrDecodes(page, next, 'desktop-qr-restarted');
  assertNoProblems(page);
});

test('an expired session offers Start new session', async () => {
  const daemon = await startDaemon(['--session-ttl', '3', '--cleanup-interval', '1']);
  const page = await track(await newPage(browser, 'desktop'));
  // No activity for 3 s from a page that pings every 30 s: the session expires.
  await page.goto(daemon.url + '/');
  await waitFor(async () => (await stateOf(page)) === 'ended', { what: 'session expired', ...LONG });
  await page.getByRole('button', { name: 'Start new session' }).waitFor({ state: 'visible' });
  assert.match(await page.locator('#ended-text').textContent(), /expired/i);
  assertNoProblems(page);
});

test('without a WebSocket the page falls back to polling and still receives and delivers', async () => {
  const daemon = await startDaemon();
  const page = await track(await newPage(browser, 'desktop'));
  // Every socket of this page is refused (a proxy that drops WebSockets).
  await page.routeWebSocket(/\/ws$/, (ws) => { ws.close({ code: 1011, reason: 'blocked by test' }); });
  await page.goto(daemon.url + '/');
  await waitFor(async () => (await stateOf(page)) === 'fallback', { what: 'desktop polling', ...LONG });
  assert.match(await page.locator('#state').textContent(), /polling/i);
  const url = await waitQr(page);

  const phone = await pairPhone(url, 'Till 3 phone');
  await scannerItem(page, 'Till 3 phone').waitFor(LONG); // from the periodic scanner poll
  for (const c of ['POLL-1', 'POLL-2']) {
    await typeCode(phone, c);
    await waitShown(page, c);
    await waitDelivered(phone, c);
  }
  await assertShownOnce(page, ['POLL-2', 'POLL-1']);
  assertNoProblems(page, phone);
});

test('sound preference is remembered; copy and clear work from the keyboard', async () => {
  const daemon = await startDaemon();
  const page = await track(await newPage(browser, 'desktop', { permissions: ['clipboard-read', 'clipboard-write'] }));
  await page.goto(daemon.url + '/');
  await waitLive(page);
  const url = await waitQr(page);

  const sound = page.getByRole('button', { name: 'Sound', exact: true });
  assert.equal(await sound.getAttribute('aria-pressed'), 'false');
  await sound.focus();
  await page.keyboard.press('Enter');
  assert.equal(await sound.getAttribute('aria-pressed'), 'true');

  const phone = await pairPhone(url, 'Till 9');
  await typeCode(phone, 'COPY-ME-1');
  await waitShown(page, 'COPY-ME-1');

  await page.reload();
  await waitLive(page);
  assert.equal(await page.getByRole('button', { name: 'Sound', exact: true }).getAttribute('aria-pressed'), 'true', 'remembered');

  await page.getByRole('button', { name: 'Copy COPY-ME-1' }).focus();
  await page.keyboard.press('Enter');
  await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'COPY-ME-1',
    { what: 'clipboard holds the code' });

  // Plain HTTP on a LAN address is not a secure context: no async Clipboard
  // API there. The page falls back to execCommand('copy').
  await page.evaluate(() => {
    window.__clipboard = navigator.clipboard;
    Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined, configurable: true });
  });
  await page.evaluate(() => window.__clipboard.writeText('something else'));
  await page.getByRole('button', { name: 'Copy all' }).click();
  await waitFor(async () => (await page.evaluate(() => window.__clipboard.readText())) === 'COPY-ME-1',
    { what: 'clipboard holds the code (fallback)' });
  assert.equal(await page.getByRole('button', { name: 'Copy all' }).evaluate((b) => b === document.activeElement), true,
    'focus stays on the button after the fallback copy');

  await page.getByRole('button', { name: 'Clear' }).focus();
  await page.keyboard.press('Enter');
  await waitFor(async () => (await scansList(page).getByRole('listitem').count()) === 0, { what: 'list cleared' });
  // Cleared is cleared: a reload does not bring them back, and new scans still come.
  await page.reload();
  await waitLive(page);
  await sleep(500);
  assert.equal(await scansList(page).getByRole('listitem').count(), 0);
  await typeCode(phone, 'AFTER-CLEAR');
  await waitShown(page, 'AFTER-CLEAR');
  await assertShownOnce(page, ['AFTER-CLEAR']);
  assertNoProblems(page, phone);
});
