#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Screenshots of the trust pieces (issue 14) for docs/https.md, into
// docs/images/trust-*.png: the /trust page on an iPhone and on an Android phone
// (390×844), on a Windows PC, the phone page's "set up trust" banner over plain
// HTTP, and the desktop page's connection status (secure, localhost, not
// secure). Starts two real daemons (HTTPS on, HTTPS off) with temp data dirs,
// named scanbridge-ab12, and Debian's chromium (tests/e2e's playwright-core).
//
//   SCANBRIDGED=build/bin/scanbridged node scripts/trust-screenshots.mjs [outdir]
//
// Needs `make test-deps` (tests/e2e/node_modules). Each image is kept under
// 150 KB; the script fails if one is not.
import { statSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.env.SCANBRIDGED ||= join(ROOT, 'build', 'bin', 'scanbridged');
process.env.SB_SOURCE_DIR ||= ROOT;
const { Daemon, freePort, launchBrowser, waitFor } = await import('../tests/e2e/lib/harness.mjs');

const OUT = resolve(process.argv[2] || join(ROOT, 'docs', 'images'));
const BOX = 'scanbridge-ab12';
const NAME = `${BOX}.local`;
const MAX_BYTES = 150 * 1024;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1024, height: 768 };
const UA = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};

/** `want` if nothing listens on it (nicer URLs in the pictures), else a free port. */
function portOr(want) {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => freePort().then(res));
    s.listen(want, '127.0.0.1', () => s.close(() => res(want)));
  });
}

const written = [];
async function shot(page, name, opts = {}) {
  const path = join(OUT, `trust-${name}.png`);
  await page.screenshot({ path, ...opts });
  const size = statSync(path).size;
  written.push([path, size]);
  console.log(`${path}  ${(size / 1024).toFixed(1)} KB`);
}

async function trustPage(browser, url, ua, viewport, mobile) {
  const ctx = await browser.newContext({ viewport, userAgent: ua, isMobile: mobile, hasTouch: mobile });
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForSelector('html[data-ready]', { state: 'attached' });
  await page.waitForLoadState('networkidle');
  return page;
}

/** The desktop page, live with its QR shown; the header is the picture. */
async function desktopStatus(browser, url, name) {
  const ctx = await browser.newContext({ viewport: DESKTOP, ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await page.goto(url);
  await waitFor(async () => (await page.locator('#state').getAttribute('data-state')) === 'live', { what: 'desktop live' });
  await page.locator('#trust').waitFor({ state: 'visible' });
  await page.waitForLoadState('networkidle');
  await shot(page, name, { clip: { x: 0, y: 0, width: DESKTOP.width, height: 56 } });
  await ctx.close();
}

mkdirSync(OUT, { recursive: true });
const httpPort = await portOr(8080);
const httpsPort = await portOr(8443);
const on = await new Daemon({
  port: httpPort,
  args: ['--tls', 'on', '--hostname', BOX, '--http-port', String(httpPort), '--https-port', String(httpsPort)],
}).start();
const off = await new Daemon({ args: ['--tls', 'off', '--hostname', BOX] }).start();
const browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${NAME} 127.0.0.1`] });
try {
  // /trust as a phone sees it: opened over plain HTTP from the QR code.
  for (const [name, ua] of [['iphone', UA.iphone], ['android', UA.android]]) {
    const page = await trustPage(browser, `http://${NAME}:${httpPort}/trust`, ua, PHONE, true);
    await shot(page, name);
    await page.context().close();
  }
  // A till: the Windows steps next to the QR code for phones.
  const win = await trustPage(browser, `http://${NAME}:${httpPort}/trust`, UA.windows, DESKTOP, false);
  await shot(win, 'windows');
  await win.context().close();

  // The phone page over plain HTTP on a LAN name (HTTPS off): the banner.
  {
    const ctx = await browser.newContext({ viewport: PHONE, userAgent: UA.android, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    await page.goto(`http://${NAME}:${off.port}/p`);
    await page.locator('#trust-banner').waitFor({ state: 'visible' });
    await page.waitForLoadState('networkidle');
    await shot(page, 'phone-banner', { clip: { x: 0, y: 0, width: PHONE.width, height: 420 } });
    await ctx.close();
  }

  // The desktop page's status: secure (https), this computer only, not secure.
  await desktopStatus(browser, `https://${NAME}:${httpsPort}/`, 'status-secure');
  await desktopStatus(browser, `http://127.0.0.1:${off.port}/`, 'status-localhost');
  await desktopStatus(browser, `http://${NAME}:${off.port}/`, 'status-insecure');
} finally {
  await browser.close();
  await on.cleanup();
  await off.cleanup();
}

const big = written.filter(([, size]) => size > MAX_BYTES);
if (big.length) {
  console.error(`over ${MAX_BYTES / 1024} KB: ${big.map(([p]) => p).join(', ')}`);
  process.exit(1);
}
