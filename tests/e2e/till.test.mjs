// SPDX-License-Identifier: MIT
// A till as store IT sets it up and a cashier leaves it open all day (issue
// 19, items 1, 2 and 4), in real Chromium against the real daemon: a pairing
// link phones cannot open is called out with what to set; new tabs and a
// browser restart rejoin the till's session; the session is renewed at its
// maximum age without re-pairing; Unpair on the phone frees its slot.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './lib/harness.mjs';
import {
  Till, LONG, assertNoProblems, pairUrl, rows, scannerItem, stateOf, tillSession, typeCode,
  waitDelivered, waitLive, waitRow,
} from './lib/till.mjs';

const till = new Till();
before(() => till.launch());
after(() => till.close());
afterEach(() => till.reset());

const created = async (daemon) => Number(((await (await fetch(daemon.url + '/metrics')).text())
  .match(/^scanbridge_sessions_created_total\S*\s+(\d+)/m) || [])[1]);

test('a pairing link on this computer only: a banner says phones cannot open it and what to set', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/p#/);
  const reach = page.getByRole('alert').filter({ hasText: 'Phones cannot open this pairing link' });
  await reach.waitFor({ state: 'visible', ...LONG });
  const text = (await reach.textContent()).replace(/\s+/g, ' ');
  assert.match(text, /127\.0\.0\.1:\d+ is this computer only/);
  assert.match(text, /bind = 0\.0\.0\.0/);
  assert.match(text, /public_url/);
  assert.match(text, /\/etc\/scanbridge\/scanbridge\.conf/);
  assert.match(text, /make run ARGS="--bind 0\.0\.0\.0"/);
  assertNoProblems([page]);
});

test('a pairing link phones can open (public_url): no banner', async () => {
  const daemon = await till.daemon(['--public-url', 'http://192.0.2.10:8080']);
  const { page, url } = await till.desktop(daemon);
  assert.match(url, /^http:\/\/192\.0\.2\.10:8080\/p#[A-Za-z0-9_-]{22,}$/);
  await page.locator('#qr').waitFor({ state: 'visible', ...LONG });
  assert.equal(await page.locator('#reach').isVisible(), false);
  await page.getByRole('button', { name: 'New code for another scanner' }).click();
  await pairUrl(page, url);
  assert.equal(await page.locator('#reach').isVisible(), false, 'still none with a new code');
  assertNoProblems([page]);
});

test('two tabs and a browser restart rejoin the till\'s session; a session that is gone is replaced', async () => {
  const daemon = await till.daemon();
  const ctx = await till.browser.newContext({ viewport: { width: 1366, height: 768 } });
  const { page: tabA, url } = await till.desktop(daemon, {}, ctx);
  const phone = await till.phone(url, 'Till 2 phone');
  await typeCode(phone, 'TAB-1');
  await waitRow(tabA, 'TAB-1');
  await waitDelivered(phone, 'TAB-1');
  const s = await tillSession(tabA);

  // A second tab: a desktop of the same session, with the same list and scanner.
  const { page: tabB } = await till.desktop(daemon, {}, ctx);
  assert.equal((await tillSession(tabB)).session, s.session, 'the new tab joined the same session');
  await waitRow(tabB, 'TAB-1');
  await scannerItem(tabB, 'Till 2 phone').waitFor(LONG);
  await typeCode(phone, 'TAB-2');
  await waitRow(tabA, 'TAB-2');
  await waitRow(tabB, 'TAB-2');
  await waitDelivered(phone, 'TAB-2');
  assert.equal(await created(daemon), 1, 'no second session');

  // A browser restart: the profile's storage survives, the tabs do not.
  const state = await ctx.storageState();
  await ctx.close();
  const ctx2 = await till.browser.newContext({ storageState: state, viewport: { width: 1366, height: 768 } });
  const { page: again } = await till.desktop(daemon, {}, ctx2);
  assert.equal((await tillSession(again)).session, s.session, 'rejoined after the restart');
  assert.deepEqual((await rows(again)).map((r) => r.code), ['TAB-2', 'TAB-1']);
  await typeCode(phone, 'TAB-3');
  await waitRow(again, 'TAB-3');
  await waitDelivered(phone, 'TAB-3');
  assert.equal(await created(daemon), 1, 'still one session: the phone never re-paired');
  const info = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.equal(info.body.last_seq, 3);

  // Ended elsewhere (the daemon says it is gone): the till starts a new one.
  assert.equal((await daemon.api('DELETE', `/sessions/${s.session}`, { token: s.desktop_token })).status, 204);
  await waitFor(async () => (await stateOf(again)) === 'ended', { what: 'ended', ...LONG });
  await again.reload();
  await waitLive(again, 'a new session');
  assert.notEqual((await tillSession(again)).session, s.session);
  assert.deepEqual(await rows(again), [], 'the old session\'s list is not shown');
  assertNoProblems([again, phone]);
});

test('at its maximum age the session is renewed: no re-pairing, scans go on in order, reloads use the new token', async () => {
  const MAX_AGE = 14;
  const daemon = await till.daemon(['--session-max-age', String(MAX_AGE), '--cleanup-interval', '1']);
  const { page, url } = await till.desktop(daemon);
  const phone = await till.phone(url, 'All-day phone');
  await typeCode(phone, 'RENEW-1');
  await waitRow(page, 'RENEW-1');
  await waitDelivered(phone, 'RENEW-1');
  const before = await tillSession(page);
  const phoneBefore = await phone.evaluate(() => JSON.parse(localStorage.getItem('scanbridge.scanner')));
  const info = await daemon.api('GET', `/sessions/${before.session}`, { token: before.desktop_token });
  const oldEnd = info.body.expires_at;

  // Past the old end of life: both sides hold new tokens, nobody did anything.
  await waitFor(async () => Date.now() > oldEnd + 2000, { what: 'past the maximum age', timeout: (MAX_AGE + 10) * 1000 });
  const after = await tillSession(page);
  const phoneAfter = await phone.evaluate(() => JSON.parse(localStorage.getItem('scanbridge.scanner')));
  assert.equal(after.session, before.session, 'same session');
  assert.notEqual(after.desktop_token, before.desktop_token, 'the desktop keeps the new token');
  assert.notEqual(phoneAfter.scanner_token, phoneBefore.scanner_token, 'the phone keeps the new token');
  assert.equal(phoneAfter.session, phoneBefore.session);
  assert.equal(await stateOf(page), 'live');
  assert.equal(await phone.locator('#state').getAttribute('data-state'), 'live');

  await typeCode(phone, 'RENEW-2');
  await waitRow(page, 'RENEW-2');
  await waitDelivered(phone, 'RENEW-2');
  assert.deepEqual((await rows(page)).map((r) => r.code), ['RENEW-2', 'RENEW-1'], 'in order, nothing lost');
  const now = await daemon.api('GET', `/sessions/${after.session}`, { token: after.desktop_token });
  assert.equal(now.status, 200);
  assert.ok(now.body.expires_at > oldEnd, 'a new end of life');
  assert.equal(now.body.last_seq, 2);
  assert.equal(now.body.delivered_seq, 2);

  // A reload of either page rejoins with the new token.
  await page.reload();
  await waitLive(page, 'desktop live after reload');
  assert.equal((await tillSession(page)).session, before.session);
  await phone.reload();
  await waitFor(async () => (await phone.locator('#state').getAttribute('data-state')) === 'live', { what: 'phone live after reload', ...LONG });
  await typeCode(phone, 'RENEW-3');
  await waitRow(page, 'RENEW-3');
  assert.equal(await created(daemon), 1);
  assertNoProblems([page, phone]);
});

test('Unpair on the phone: the till drops the scanner and its slot is free', async () => {
  const daemon = await till.daemon(['--max-scanners', '1']);
  const { page, url } = await till.desktop(daemon);
  const s = await tillSession(page);
  const a = await till.phone(url, 'Phone A');
  await scannerItem(page, 'Phone A').waitFor(LONG);

  await a.getByRole('button', { name: 'Unpair' }).click();
  await a.getByRole('heading', { name: 'Scan the QR code on the till' }).waitFor(LONG);
  assert.equal(await a.locator('#message').isVisible(), false, 'no "could not tell the box" message');
  await waitFor(async () => (await scannerItem(page, 'Phone A').count()) === 0, { what: 'scanner gone from the till', ...LONG });
  assert.equal(await page.locator('#no-scanners').isVisible(), true, 'no ghost "Offline" scanner');
  const info = await daemon.api('GET', `/sessions/${s.session}`, { token: s.desktop_token });
  assert.deepEqual(info.body.scanners, [], 'the daemon no longer counts it');

  // The one slot is free: another phone pairs.
  const b = await till.phone(await pairUrl(page, url), 'Phone B');
  await scannerItem(page, 'Phone B').waitFor(LONG);

  // Offline: forgotten on the phone, and it says the till was not told.
  await b.context().setOffline(true);
  await b.getByRole('button', { name: 'Unpair' }).click();
  await b.getByRole('heading', { name: 'Scan the QR code on the till' }).waitFor(LONG);
  assert.match(await b.locator('#message').textContent(), /Unpaired on this phone only.*remove “Phone B”/);
  assert.equal(await b.evaluate(() => localStorage.getItem('scanbridge.scanner')), null);
  assertNoProblems([page, a], {});
});
