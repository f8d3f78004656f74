// SPDX-License-Identifier: MIT
// The scan list a cashier counts (issue 19, items 3, 5, 6 and 8), in real
// Chromium against the real daemon with real phones: one row per code with
// ×N, the last scan large, a colour per scanner, filter, undoable delete and
// clear, CSV / JSON export from the page and from the box, honesty while the
// box is unreachable, the layouts from a POS side window to 1920 px, and the
// README screenshot.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { screenshot, waitFor, sleep } from './lib/harness.mjs';
import {
  Till, LONG, assertNoProblems, pairUrl, rows, scannerItem, stateOf, tillSession, typeCode,
  waitDelivered, waitLive, waitRow,
} from './lib/till.mjs';
import { parseCsv } from '../../web/desktop-list.js';

const till = new Till();
before(() => till.launch());
after(() => till.close());
afterEach(() => till.reset());

/** Scans straight from a paired phone's credentials over REST: many, fast. */
async function postScans(daemon, phone, codes) {
  const c = await phone.evaluate(() => JSON.parse(localStorage.getItem('scanbridge.scanner')));
  for (const [i, code] of codes.entries()) {
    const r = await daemon.api('POST', `/sessions/${c.session}/scans`, {
      token: c.scanner_token, body: { id: `rest-${Date.now()}-${i}`, code, format: /^\d{13}$/.test(code) ? 'EAN_13' : 'CODE_128' },
    });
    assert.ok(r.status === 201, `scan ${code} stored (${r.status})`);
  }
}

const lastCard = async (page) => ({
  code: await page.locator('#last-code').textContent(),
  times: await page.locator('#last-times').textContent(),
  who: await page.locator('#last-who').textContent(),
});

/** A downloaded file's text. */
async function downloadText(page, button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button, exact: true }).click()]);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), 'utf8') };
}

test('one row per code with ×N, the last scan large, a colour per scanner, filter; 55 scans', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon, { viewport: { width: 1366, height: 768 } });
  const p2 = await till.phone(url, 'Till 2 phone');
  await scannerItem(page, 'Till 2 phone').waitFor(LONG);
  // Paired: the QR folds away behind "Pair another phone".
  const toggle = page.getByRole('button', { name: 'Pair another phone' });
  await toggle.waitFor({ state: 'visible', ...LONG });
  assert.equal(await page.locator('#qr').isVisible(), false, 'QR collapsed once a phone is paired');
  const p3 = await till.phone(await pairUrl(page), 'Till 3 phone');
  await scannerItem(page, 'Till 3 phone').waitFor(LONG);

  await typeCode(p2, '4006381333931');
  await waitRow(page, '4006381333931');
  await typeCode(p3, '5901234123457');
  await waitRow(page, '5901234123457');
  await typeCode(p2, '4006381333931');
  await waitRow(page, '4006381333931', '×2');
  assert.deepEqual(await rows(page), [{ code: '4006381333931', times: '×2' }, { code: '5901234123457', times: '' }]);
  const top = page.getByRole('list', { name: 'Scans' }).getByRole('listitem').first();
  assert.match(await top.getAttribute('class'), /fresh/, 'a repeat flashes its row');
  assert.deepEqual(await lastCard(page), { code: '4006381333931', times: '×2', who: 'Till 2 phone' });
  assert.equal(await page.locator('#announce').textContent(), '4006381333931 from Till 2 phone, 2 times');
  assert.match(await top.locator('time').getAttribute('title'), /^Latency \d+(\.\d)? (ms|s) \(phone to screen\) · #3$/);
  // A colour per scanner, on its rows and its entry in Scanners.
  const colour = (loc) => loc.evaluate((e) => getComputedStyle(e).borderLeftColor);
  const rowOf = (code) => page.getByRole('list', { name: 'Scans' }).getByRole('listitem').filter({ hasText: code });
  assert.notEqual(await colour(rowOf('4006381333931')), await colour(rowOf('5901234123457')));
  assert.equal(await scannerItem(page, 'Till 2 phone').locator('.dot').evaluate((e) => getComputedStyle(e).backgroundColor),
    await colour(rowOf('4006381333931')));

  // 55 scans in all: 50 more, 25 codes twice each.
  const more = Array.from({ length: 25 }, (_, i) => `SKU-${String(i).padStart(3, '0')}`);
  await postScans(daemon, p3, [...more, ...more]);
  await waitFor(async () => /^53 scans, 27 codes$/.test(await page.locator('#scan-count').textContent()), { what: '53 scans', ...LONG });
  await postScans(daemon, p2, ['4006381333931', '4006381333931']);
  await waitRow(page, '4006381333931', '×4');
  assert.equal(await page.locator('#scan-count').textContent(), '55 scans, 27 codes');
  assert.equal(await page.title(), '(55) scanbridge — Live', 'the tab title counts the scans');
  assert.equal((await rows(page)).length, 27);

  // Filter by code or scanner name; Escape clears it.
  const filter = page.getByRole('searchbox', { name: 'Filter scans' });
  await filter.fill('till 3');
  assert.deepEqual((await rows(page)).length, 26, 'Till 3 phone scanned 26 codes');
  await filter.fill('SKU-01');
  assert.deepEqual((await rows(page)).map((r) => r.code), ['SKU-019', 'SKU-018', 'SKU-017', 'SKU-016', 'SKU-015',
    'SKU-014', 'SKU-013', 'SKU-012', 'SKU-011', 'SKU-010']);
  assert.equal(await page.locator('#filter-count').textContent(), '10 of 27');
  await filter.press('Escape');
  assert.equal((await rows(page)).length, 27);

  await toggle.click();
  await page.locator('#qr').waitFor({ state: 'visible' });
  assertNoProblems([page, p2, p3]);
});

test('delete a row and clear the list, each undoable; the box keeps every scan; CSV and JSON export', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon, { viewport: { width: 1366, height: 768 } });
  const phone = await till.phone(url, 'Till 1 phone');
  for (const c of ['4006381333931', 'A,"quoted"', '4006381333931', '5901234123457']) {
    await typeCode(phone, c);
    await waitDelivered(phone, c);
  }
  await waitRow(page, '4006381333931', '×2');

  // Page export: the list's rows, first seen first.
  const csv = await downloadText(page, 'CSV');
  assert.match(csv.name, /^scans-\d{4}-\d\d-\d\d-\d{4}\.csv$/);
  const table = parseCsv(csv.text);
  assert.deepEqual(table[0], ['code', 'format', 'count', 'scanner', 'time']);
  assert.deepEqual(table.slice(1).map((r) => r.slice(0, 4)), [
    ['4006381333931', 'EAN_13', '2', 'Till 1 phone'],
    ['A,"quoted"', 'UNKNOWN', '1', 'Till 1 phone'],
    ['5901234123457', 'EAN_13', '1', 'Till 1 phone'],
  ]);
  for (const r of table.slice(1)) assert.match(r[4], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const json = JSON.parse((await downloadText(page, 'JSON')).text);
  assert.deepEqual(json.map((r) => [r.code, r.format, r.count, r.scanner]), table.slice(1).map((r) => [r[0], r[1], Number(r[2]), r[3]]));

  // Delete one row: gone, Undo (focused) brings it back.
  await page.getByRole('button', { name: 'Delete 5901234123457' }).click();
  assert.deepEqual((await rows(page)).map((r) => r.code), ['4006381333931', 'A,"quoted"']);
  const undo = page.getByRole('button', { name: 'Undo' });
  assert.equal(await undo.evaluate((b) => b === document.activeElement), true, 'Undo has the focus');
  assert.match(await page.locator('#toast').textContent(), /Deleted 5901234123457/);
  await undo.click();
  assert.deepEqual((await rows(page)).map((r) => r.code), ['5901234123457', '4006381333931', 'A,"quoted"']);

  // Clear: empty, Undo restores; cleared again it stays cleared across a reload.
  await page.getByRole('button', { name: 'Clear list' }).click();
  assert.deepEqual(await rows(page), []);
  await page.getByRole('button', { name: 'Undo' }).click();
  assert.equal((await rows(page)).length, 3);
  await page.getByRole('button', { name: 'Clear list' }).click();
  await waitFor(async () => !(await page.getByRole('button', { name: 'Undo' }).isVisible()), { what: 'undo expired', timeout: 15000 });
  await page.reload();
  await waitLive(page);
  await sleep(300); // a replay would arrive right after the welcome
  assert.deepEqual(await rows(page), []);

  // ...but the box has them all: "All (from box)" and GET …/scans.csv.
  const s = await tillSession(page);
  const res = await fetch(`${daemon.url}/api/v1/sessions/${s.session}/scans.csv`, { headers: { Authorization: 'Bearer ' + s.desktop_token } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/csv;\s*charset=utf-8$/i);
  assert.match(res.headers.get('content-disposition') || '', /^attachment/);
  const box = parseCsv(await res.text());
  assert.deepEqual(box[0], ['code', 'format', 'count', 'scanner', 'time']);
  assert.deepEqual(box.slice(1).map((r) => r.slice(0, 4)), table.slice(1).map((r) => r.slice(0, 4)), 'the box\'s CSV has the same rows');
  for (const r of box.slice(1)) assert.match(r[4], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const fromPage = parseCsv((await downloadText(page, 'All (from box)')).text);
  assert.deepEqual(fromPage.map((r) => r.slice(0, 4)), box.map((r) => r.slice(0, 4)));
  const noToken = await fetch(`${daemon.url}/api/v1/sessions/${s.session}/scans.csv`);
  assert.equal(noToken.status, 401);
  assertNoProblems([page, phone]);
});

test('while the box is unreachable: scanners "unknown", daemon actions off, when it was last heard', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon);
  const phone = await till.phone(url, 'Till 4 phone');
  const item = scannerItem(page, 'Till 4 phone');
  await waitFor(async () => /Connected/.test(await item.textContent()), { what: 'connected', ...LONG });
  await page.getByRole('button', { name: 'Pair another phone' }).click();

  await daemon.kill();
  await waitFor(async () => /reconnecting|offline/.test(await stateOf(page)), { what: 'outage noticed', ...LONG });
  assert.match(await item.textContent(), /Unknown/);
  assert.doesNotMatch(await item.textContent(), /Connected|Offline/);
  for (const name of ['New code for another scanner', 'End session', 'Remove Till 4 phone', 'All (from box)']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).isDisabled(), true, `${name} disabled`);
  }
  assert.match(await page.locator('#banner').textContent(), /Last heard from the box at \d\d:\d\d:\d\d/);

  await daemon.start();
  await waitLive(page, 'back');
  await waitFor(async () => /Connected/.test(await item.textContent()), { what: 'connected again', ...LONG });
  for (const name of ['New code for another scanner', 'End session', 'All (from box)']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).isEnabled(), true, `${name} enabled again`);
  }
  assert.equal(await page.locator('#banner').textContent(), '');
  assertNoProblems([page, phone], { outage: true });
});

test('layouts: scans first below 760 px; nothing overflows from 700 to 1920 px; README screenshot', async () => {
  // public_url: a link phones can open, so the screenshot shows no warning.
  const daemon = await till.daemon(['--public-url', 'http://192.168.1.20:8080']);
  const { page, url } = await till.desktop(daemon, { viewport: { width: 1366, height: 768 } });
  const phone = await till.phone(daemon.url + '/p#' + url.split('#')[1], 'Till 2 phone');
  const phone3 = await till.phone(daemon.url + '/p#' + (await pairUrl(page, url)).split('#')[1], 'Till 3 phone');
  for (const [p, c] of [[phone, '4006381333931'], [phone3, '9780201379624'], [phone, 'SKU-00172'], [phone, '4006381333931']]) {
    await typeCode(p, c);
    await waitDelivered(p, c);
  }
  await waitRow(page, '4006381333931', '×2');
  for (const [width, height] of [[1920, 1080], [1366, 768], [800, 700], [700, 700]]) {
    await page.setViewportSize({ width, height });
    const box = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - innerWidth,
      scans: document.querySelector('.scans-panel').getBoundingClientRect().top,
      pair: document.querySelector('.pair').getBoundingClientRect().top,
    }));
    assert.ok(box.overflow <= 0, `${width}px: no horizontal scrolling`);
    if (width < 760) assert.ok(box.scans < box.pair, `${width}px: the scans come first`);
    else assert.equal(box.scans, box.pair, `${width}px: side by side`);
    assert.equal(await page.locator('#last').isVisible(), true);
  }
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.mouse.move(0, 0);
  await waitFor(async () => !(await page.locator('#toast').evaluate((t) => t.classList.contains('show'))), { what: 'toast hidden' });
  await sleep(1800); // the flash is over
  await screenshot(page, 'desktop');
  assertNoProblems([page, phone, phone3]);
});
