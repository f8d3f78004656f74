// SPDX-License-Identifier: MIT
// Keyboard and accessibility of both pages (issue 19, items 7 and 9), in real
// Chromium against the real daemon: a keyboard-only pass through the till
// (skip link, shortcuts, delete and Undo), "copy each new scan", axe-core's
// WCAG A/AA rules (names, roles, contrast) in the light and dark schemes,
// focus rings and the phone's field border at 3:1 or more, polite
// announcements, the number pad, a rejected code edited and resent, and
// "Take photo" across the row over plain HTTP.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, waitFor } from './lib/harness.mjs';
import { axeViolations, contrast } from './lib/axe.mjs';
import {
  Till, LONG, assertNoProblems, rows, scannerItem, typeCode, waitDelivered, waitRow,
} from './lib/till.mjs';

const till = new Till();
before(() => till.launch());
after(() => till.close());
afterEach(() => till.reset());

const CLIP = { permissions: ['clipboard-read', 'clipboard-write'] };
const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  return e ? (e.getAttribute('aria-label') || e.textContent || e.id || e.tagName).trim() : '';
});

/** The focus ring of the focused element against what is behind it. */
async function focusRingContrast(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    const cs = getComputedStyle(e);
    let bg = 'rgba(0, 0, 0, 0)';
    for (let p = e.parentElement; p && /rgba\(0, 0, 0, 0\)|transparent/.test(bg); p = p.parentElement) bg = getComputedStyle(p).backgroundColor;
    if (/rgba\(0, 0, 0, 0\)/.test(bg)) bg = getComputedStyle(document.documentElement).backgroundColor;
    return { outline: cs.outlineColor, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), bg };
  });
}

test('keyboard only: skip link, shortcuts, copy, filter, delete and Undo; copy each new scan', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon, CLIP);
  const phone = await till.phone(url, 'Till 2 phone');
  await scannerItem(page, 'Till 2 phone').waitFor(LONG);
  for (const c of ['4006381333931', 'KEY-2']) {
    await typeCode(phone, c);
    await waitRow(page, c);
  }
  await page.reload(); // a fresh page: Tab starts at the top
  await waitFor(async () => (await rows(page)).length === 2, { what: 'list restored' });

  // The first Tab stop is the skip link; it lands on the scans.
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Skip to scans');
  const ring = await focusRingContrast(page);
  assert.ok(ring.width >= 2 && ring.style !== 'none' && contrast(ring.outline, ring.bg) >= 3, `skip link focus ring ${JSON.stringify(ring)}`);
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'scans-h');

  // Alt+C copies the last scan; Alt+L goes to the list; Tab walks its rows.
  await page.keyboard.press('Alt+KeyC');
  await waitFor(async () => (await clipboard(page)) === 'KEY-2', { what: 'Alt+C copied the last scan' });
  await page.keyboard.press('Alt+KeyL');
  assert.equal(await focused(page), 'Copy KEY-2');
  for (const [label, min] of [['Copy KEY-2', 3]]) {
    const r = await focusRingContrast(page);
    assert.ok(contrast(r.outline, r.bg) >= min, `${label}: focus ring ${JSON.stringify(r)}`);
  }
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Delete KEY-2');
  await page.keyboard.press('Enter');
  assert.deepEqual((await rows(page)).map((r) => r.code), ['4006381333931']);
  assert.equal(await focused(page), 'Undo', 'Undo has the focus after a delete');
  await page.keyboard.press('Enter');
  assert.deepEqual((await rows(page)).map((r) => r.code), ['KEY-2', '4006381333931']);

  // "/" filters from anywhere but a field.
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'filter');
  await page.keyboard.type('4006');
  assert.deepEqual((await rows(page)).map((r) => r.code), ['4006381333931']);
  await page.keyboard.press('Escape');
  assert.equal((await rows(page)).length, 2);

  // Sound reads as a state: a toggle named "Sound", pressed or not, showing on/off.
  const sound = page.getByRole('button', { name: 'Sound', exact: true });
  assert.equal(await sound.getAttribute('aria-pressed'), 'false');
  assert.equal((await sound.textContent()).trim(), 'Sound: off');

  // "Copy each new scan to the clipboard", switched on from the keyboard.
  const auto = page.getByRole('checkbox', { name: 'Copy each new scan to the clipboard' });
  await auto.focus();
  await page.keyboard.press('Space');
  assert.equal(await auto.isChecked(), true);
  await typeCode(phone, 'AUTO-COPY-1');
  await waitRow(page, 'AUTO-COPY-1');
  await waitFor(async () => (await clipboard(page)) === 'AUTO-COPY-1', { what: 'new scan copied by itself' });
  await page.reload();
  assert.equal(await page.getByRole('checkbox', { name: 'Copy each new scan to the clipboard' }).isChecked(), true, 'remembered');
  assertNoProblems([page, phone]);
});

test('axe (WCAG A/AA: names, roles, contrast) on both pages, light and dark; announcements; title', async () => {
  const daemon = await till.daemon();
  for (const colorScheme of ['light', 'dark']) {
    const { page, url } = await till.desktop(daemon, { colorScheme, viewport: { width: 1366, height: 768 } });
    const phone = await till.phone(url, `${colorScheme} phone`, { colorScheme });
    await scannerItem(page, `${colorScheme} phone`).waitFor(LONG);
    await typeCode(phone, '4006381333931');
    await waitRow(page, '4006381333931');
    await waitDelivered(phone, '4006381333931');
    await typeCode(phone, '4006381333931');
    await waitRow(page, '4006381333931', '×2');
    await typeCode(phone, '4006381333932'); // a wrong check digit: a rejected item with its reason
    await waitFor(async () => /check digit/.test(await phone.locator('#outbox').textContent()), { what: 'rejected' });

    assert.equal(await page.locator('#announce').getAttribute('aria-live'), 'polite');
    assert.equal(await page.locator('#announce').textContent(), `4006381333931 from ${colorScheme} phone, 2 times`);
    assert.match(await page.title(), /^\(2\) scanbridge — Live$/);
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    if (colorScheme === 'dark') assert.ok(contrast(dark, 'rgb(0, 0, 0)') < 2, `dark page background ${dark}`);

    await page.getByRole('button', { name: 'Delete 4006381333931' }).click(); // the toast with Undo, too
    assert.deepEqual(await axeViolations(page), [], `desktop (${colorScheme})`);
    assert.deepEqual(await axeViolations(phone), [], `phone (${colorScheme})`);

    // The phone's barcode field: its edge at 3:1, its focus ring at 3:1.
    const field = await phone.getByLabel('Barcode').evaluate((e) => {
      e.focus();
      const cs = getComputedStyle(e);
      const card = getComputedStyle(e.closest('.manual')).backgroundColor;
      return { border: cs.borderTopColor, outline: cs.outlineColor, card, page: getComputedStyle(document.body).backgroundColor };
    });
    assert.ok(contrast(field.border, field.card) >= 3, `phone field border ${JSON.stringify(field)}`);
    await phone.keyboard.press('Shift+Tab');
    await phone.keyboard.press('Tab');
    const ring = await focusRingContrast(phone);
    assert.ok(ring.style !== 'none' && contrast(ring.outline, ring.bg) >= 3, `phone focus ring ${JSON.stringify(ring)}`);
    assertNoProblems([page, phone]);
  }
});

test('phone: number pad for numeric codes, letters on demand; a rejected code is edited and resent', async () => {
  const daemon = await till.daemon();
  const { page, url } = await till.desktop(daemon);
  const phone = await till.phone(url, 'Till 5 phone', { viewport: { width: 360, height: 740 } });
  const field = phone.getByLabel('Barcode');
  assert.equal(await field.getAttribute('inputmode'), 'numeric', 'retail codes are digits: the number pad');
  const letters = phone.getByRole('button', { name: 'ABC' });
  await letters.click();
  assert.equal(await field.getAttribute('inputmode'), 'text');
  assert.equal(await letters.getAttribute('aria-pressed'), 'true');
  await letters.click();
  assert.equal(await field.getAttribute('inputmode'), 'numeric');

  await typeCode(phone, '4006381333932');
  const edit = phone.getByRole('button', { name: 'Edit 4006381333932' });
  await edit.waitFor(LONG);
  await edit.click();
  assert.equal(await field.inputValue(), '4006381333932', 'back in the field');
  assert.equal(await phone.evaluate(() => document.activeElement.id), 'barcode');
  assert.equal(await phone.getByRole('list', { name: 'Outbox' }).getByRole('listitem').filter({ hasText: '4006381333932' }).count(), 0);
  await field.press('End');
  await field.press('Backspace');
  await field.type('1');
  await phone.getByRole('button', { name: 'Send', exact: true }).click();
  await waitRow(page, '4006381333931');
  await waitDelivered(phone, '4006381333931');
  assert.equal(await phone.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true, '360 px: no sideways scrolling');
  assertNoProblems([page, phone]);
});

test('phone over plain HTTP: the camera explained in plain words, "Take photo" across the row', async () => {
  // The box answers only to its own names (against DNS rebinding): add this one.
  const daemon = await till.daemon(['--allowed-hosts', 'scanbridge.lan']);
  const br = await launchBrowser({ args: ['--host-resolver-rules=MAP scanbridge.lan 127.0.0.1'] });
  try {
    const r = await daemon.api('POST', '/sessions');
    const phone = await newPage(br, 'phone');
    await phone.goto(`http://scanbridge.lan:${daemon.port}/p#${r.body.pair_code}`);
    await phone.getByLabel('Scanner name').fill('LAN phone');
    await phone.getByRole('button', { name: 'Pair' }).click();
    await phone.getByLabel('Barcode').waitFor(LONG);
    assert.equal(await phone.getByRole('button', { name: 'Start camera' }).count(), 0);
    const hint = await phone.locator('#camera-hint').textContent();
    assert.match(hint, /^Phones allow the live camera only on a secure connection \(HTTPS\)\. This page was opened over plain HTTP \(scanbridge\.lan:\d+\), so: tap "Take photo" to photograph the barcode, or type the code below\.$/);
    const [photo, tools] = await Promise.all([phone.locator('#photo-btn').boundingBox(), phone.locator('.tools').boundingBox()]);
    assert.ok(Math.abs(photo.width - tools.width) < 1, `"Take photo" spans the row (${photo.width} of ${tools.width})`);
    assertNoProblems([phone]);
  } finally {
    await br.close();
  }
});
