// SPDX-License-Identifier: MIT
// The trust pieces that need no certificate store (issue 14), against the real
// daemon with HTTPS off (bind 127.0.0.1, tls auto): the desktop's connection
// status on localhost and on a LAN name, the phone page's "set up trust"
// banner over plain HTTP, the /trust page explaining that HTTPS is off, its
// platform detection, and the page without JavaScript. The HTTPS side is in
// https.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, launchBrowser, newPage, waitFor } from './lib/harness.mjs';

const LAN = 'scanbridge.lan';
let daemon;
let browser;

before(async () => {
  daemon = await new Daemon({ args: ['--allowed-hosts', LAN] }).start();
  // LAN: a name that is not this computer, so plain HTTP is not a secure context.
  browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${LAN} 127.0.0.1`] });
});

after(async () => {
  await browser?.close();
  await daemon?.cleanup();
});

const lan = (path) => `http://${LAN}:${daemon.port}${path}`;

function assertNoProblems(...pages) {
  assert.deepEqual(pages.flatMap((p) => p.problems), [], 'no console errors or page errors');
}

async function trustStatus(page) {
  const box = page.locator('#trust');
  await waitFor(async () => (await box.isVisible()) && (await box.getAttribute('data-trust')), { what: 'trust status' });
  await page.waitForLoadState('networkidle');
  const link = page.locator('#trust-link');
  return {
    kind: await box.getAttribute('data-trust'),
    text: (await page.locator('#trust-text').textContent()).trim(),
    link: (await link.isVisible()) ? [(await link.textContent()).trim(), await link.getAttribute('href')] : null,
  };
}

test('desktop: localhost says "this computer only" and that HTTPS is off; a LAN name says not secure', async () => {
  const page = await newPage(browser, 'desktop');
  await page.goto(daemon.url + '/');
  assert.deepEqual(await trustStatus(page), {
    kind: 'local', text: 'This computer only (localhost)', link: ['Phones: HTTPS is off', '/trust'],
  });
  await page.goto(lan('/'));
  assert.deepEqual(await trustStatus(page), {
    kind: 'insecure', text: 'Not secure — phones can\'t use the camera', link: ['Set up trust', '/trust'],
  });
  assertNoProblems(page);
  await page.context().close();
});

test('phone over plain HTTP: a banner to /trust, which says HTTPS is off and how IT turns it on', async () => {
  const page = await newPage(browser, 'phone');
  await page.goto(daemon.url + '/p');
  assert.equal(await page.locator('#trust-banner').isVisible(), false, 'no banner on 127.0.0.1 (a secure context)');

  await page.goto(lan('/p'));
  const banner = page.locator('#trust-banner');
  assert.ok(await banner.isVisible());
  assert.match(await banner.textContent(), /The live camera needs a secure connection\. Set up trust \(once per phone\) →/);
  // The fallbacks stay.
  assert.ok(await page.getByRole('heading', { name: 'Scan the QR code on the till' }).isVisible());

  await banner.getByRole('link').click();
  await page.waitForURL(lan('/trust'));
  await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
  assert.ok(await page.getByRole('heading', { name: 'HTTPS is off on this box' }).isVisible());
  assert.match(await page.locator('#off').textContent(), /tls = on/);
  for (const id of ['#downloads', '#qr', '#platforms', '#mine', '#check', '#continue', '#intro-ca']) {
    assert.equal(await page.locator(id).isVisible(), false, `${id} hidden when HTTPS is off`);
  }
  const info = await page.evaluate(async () => (await fetch('/trust/info.json')).json());
  assert.equal(info.tls, false);
  assert.equal(info.mode, 'off');
  assert.equal(info.https_url, null);
  assert.equal(info.ca, null);
  assert.equal(await page.locator('#box-name').textContent(), info.box);
  assertNoProblems(page);
  await page.context().close();
});

const UAS = {
  android: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  ios: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  macos: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  chromeos: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  linux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};

test('/trust puts this device\'s steps first: Android, iPhone, iPad (a "Mac" with touch), Windows, macOS, ChromeOS, Linux', async () => {
  const cases = [...Object.entries(UAS).map(([want, ua]) => ({ want, ua, touch: want === 'android' || want === 'ios' })),
    { want: 'ios', ua: UAS.macos, touch: true }]; // iPadOS Safari reports a Mac
  for (const { want, ua, touch } of cases) {
    const page = await newPage(browser, touch ? 'phone' : 'desktop', { userAgent: ua, hasTouch: touch, isMobile: touch && ua !== UAS.macos });
    await page.goto(lan('/trust'));
    await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
    assert.equal(await page.locator('html').getAttribute('data-platform'), want, ua);
    assert.equal(await page.locator('#mine').getAttribute('data-platform'), want, 'its steps moved first');
    assert.equal(await page.locator(`details[data-platform="${want}"]`).count(), 0, 'not repeated below');
    assert.equal(await page.locator('details.platform').count(), 5, 'the others stay below');
    assertNoProblems(page);
    await page.context().close();
  }
  // ?for= overrides the detection (support staff, screenshots).
  const page = await newPage(browser, 'desktop', { userAgent: UAS.linux });
  await page.goto(lan('/trust?for=windows'));
  await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
  assert.equal(await page.locator('#mine').getAttribute('data-platform'), 'windows');
  await page.context().close();
});

test('/trust without JavaScript: every platform\'s steps and the downloads are there', async () => {
  const page = await newPage(browser, 'phone', { javaScriptEnabled: false });
  await page.goto(lan('/trust/'));
  assert.ok(await page.getByRole('heading', { name: 'Trust this scanbridge box', level: 1 }).isVisible());
  assert.equal(await page.locator('details.platform').count(), 6);
  for (const name of ['Android', 'iPhone, iPad', 'Windows', 'macOS', 'ChromeOS', 'Linux']) {
    assert.ok(await page.locator('summary', { hasText: name }).isVisible(), name);
  }
  assert.ok(await page.getByRole('link', { name: 'CA certificate (.crt)' }).isVisible());
  assertNoProblems(page);
  await page.context().close();
});
