// SPDX-License-Identifier: MIT
// Helpers of the cashier / store-IT suites (till, cashier, a11y .test.mjs):
// a desktop till and real phones against one daemon, with clean-up.
import assert from 'node:assert/strict';
import { Daemon, launchBrowser, newPage, waitFor, SLOW } from './harness.mjs';

export const LONG = { timeout: 30000 * SLOW };

/** Browser, daemons and contexts of one test file; `reset()` after each test. */
export class Till {
  async launch(opts) { this.browser = await launchBrowser(opts); this.daemons = []; this.pages = []; return this; }
  async close() { await this.browser?.close(); }

  async reset() {
    for (const p of this.pages) await p.context().close().catch(() => {});
    this.pages = [];
    for (const d of this.daemons) await d.cleanup();
    this.daemons = [];
  }

  async daemon(args = []) {
    const d = await new Daemon({ args }).start();
    this.daemons.push(d);
    return d;
  }

  /** A new page in its own context (another device), or in `context` (another tab). */
  async page(kind, contextOpts = {}, context = null) {
    let page;
    if (context) {
      page = await context.newPage();
      page.problems = [];
      page.on('pageerror', (e) => page.problems.push(`${kind} pageerror: ${e}`));
      page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`${kind} console: ${m.text()}`); });
    } else {
      page = await newPage(this.browser, kind, contextOpts);
    }
    this.pages.push(page);
    return page;
  }

  /** The desktop page at `daemon`, live, with its pairing URL. */
  async desktop(daemon, contextOpts = {}, context = null) {
    const page = await this.page('desktop', contextOpts, context);
    await page.goto(daemon.url + '/');
    await waitLive(page);
    return { page, url: await pairUrl(page) };
  }

  /** A phone paired through `url` as `name`. */
  async phone(url, name, contextOpts = {}) {
    const phone = await this.page('phone', contextOpts);
    await phone.goto(url);
    await phone.getByLabel('Scanner name').fill(name);
    await phone.getByRole('button', { name: 'Pair' }).click();
    await phone.getByLabel('Barcode').waitFor({ state: 'visible', ...LONG });
    await waitFor(async () => (await phone.locator('#state').getAttribute('data-state')) === 'live', { what: `${name} live`, ...LONG });
    return phone;
  }
}

export const stateOf = (page) => page.locator('#state').getAttribute('data-state');

export async function waitLive(page, what = 'desktop live') {
  await waitFor(async () => (await stateOf(page)) === 'live', { what, ...LONG });
}

/** The pairing URL the desktop shows now (opening the folded QR panel if needed). */
export async function pairUrl(page, not = '') {
  const toggle = page.locator('#pair-toggle');
  if (await toggle.isVisible() && (await toggle.getAttribute('aria-expanded')) === 'false') await toggle.click();
  return waitFor(async () => {
    const u = ((await page.locator('#pair-url').textContent()) || '').trim();
    return u && u !== not ? u : null;
  }, { what: 'pairing URL', ...LONG });
}

export async function typeCode(phone, code) {
  await phone.getByLabel('Barcode').fill(code);
  await phone.getByRole('button', { name: 'Send', exact: true }).click();
}

export const scansList = (page) => page.getByRole('list', { name: 'Scans' });

/** Rows of the scan list, top first: [{code, times}]. */
export async function rows(page) {
  return scansList(page).getByRole('listitem').evaluateAll((lis) => lis.map((li) => ({
    code: li.querySelector('.code').textContent, times: li.querySelector('.times').textContent,
  })));
}

export async function waitRow(page, code, times = '') {
  return waitFor(async () => (await rows(page)).some((r) => r.code === code && r.times === times),
    { what: `desktop row ${code} ${times}`, ...LONG });
}

export async function waitDelivered(phone, code) {
  const item = phone.getByRole('list', { name: 'Outbox' }).getByRole('listitem').filter({ hasText: code });
  await waitFor(async () => (await item.count()) >= 1 &&
    (await item.first().locator('.status').textContent()).trim() === 'delivered',
  { what: `phone shows ${code} delivered`, ...LONG });
}

/** The till's session as the desktop keeps it (localStorage). */
export function tillSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('scanbridge.client') || 'null'));
}

export function scannerItem(page, name) {
  return page.locator('#scanners > li').filter({ hasText: name });
}

const NETWORK_NOISE = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed|Failed to load resource: net::/;

export function assertNoProblems(pages, { outage = false } = {}) {
  const problems = pages.flatMap((p) => p.problems).filter((m) => !outage || !NETWORK_NOISE.test(m));
  assert.deepEqual(problems, [], 'no console errors or page errors');
}
