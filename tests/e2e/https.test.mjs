// SPDX-License-Identifier: MIT
// HTTPS with the box's own certificate authority (issue 14), in real Chromium
// against the real daemon started with `--tls on`:
//
// - a browser whose NSS store trusts the box's CA (a fresh NSS database in a
//   temporary HOME, the CA added with certutil) opens the desktop page at
//   https://sbtest-box.local (mapped to 127.0.0.1, so it is NOT localhost)
//   without a certificate error and shows "Secure connection"; the phone page
//   opened from the desktop's pairing link is a secure context, talks wss://,
//   and a code read by the (fake) camera reaches the desktop and turns
//   delivered on the phone;
// - the plain-HTTP listener redirects http://…/p#code to the https page, the
//   fragment kept, and pairing proceeds there;
// - a browser without the CA gets ERR_CERT_AUTHORITY_INVALID for the https
//   page, while http://…/trust (served over plain HTTP) shows the onboarding
//   page with the CA's real fingerprint.
//
// Needs certutil (libnss3-tools); skipped with a message without it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM, CHROMIUM_ARGS, Daemon, decodeQR, freePort, newPage, screenshot, waitFor, SLOW,
} from './lib/harness.mjs';
import { makeBarcodeVideo } from './lib/video.mjs';

const HOST = 'sbtest-box';
const NAME = `${HOST}.local`;
const CODE = '4006381333931';
const LONG = { timeout: 30000 * SLOW };

const HAVE_CERTUTIL = !spawnSync('certutil', ['-H'], { stdio: 'ignore' }).error;
const SKIP = HAVE_CERTUTIL ? false : 'certutil not found (install libnss3-tools): HTTPS browser test skipped';

let daemon;
let httpPort;
let httpsPort;
let tmp;
let caPem;
/** @type {X509Certificate} */
let ca;
/** @type {import('playwright-core').Browser} */ let trusted;
/** @type {import('playwright-core').Browser} */ let untrusted;

/** A fresh NSS database in `home` (as Chromium on Linux reads it), trusting `pemPath` if given. */
function nssHome(home, pemPath) {
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  if (pemPath) execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-t', 'C,,', '-n', 'scanbridge-test', '-i', pemPath]);
  return home;
}

/** Debian's chromium with HOME (its NSS store) set, sbtest-box.local → 127.0.0.1. */
function launch(home, extra = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${NAME} 127.0.0.1`, ...extra],
    env: { ...process.env, HOME: home },
  });
}


/**
 * GET http://127.0.0.1:<http><path> from node with this Host header,
 * redirects not followed (node's fetch cannot set Host).
 */
function httpGet(path, host = `127.0.0.1:${httpPort}`) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: httpPort, path, headers: { Host: host } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET https://127.0.0.1:<https><path> from node, trusting only the box's CA. */
function httpsGet(path) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: httpsPort, path, ca: caPem, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The certificate the https listener presents for `servername`. */
function peerCert(servername) {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername, ca: caPem }, () => {
      const c = s.getPeerCertificate();
      const ok = s.authorized;
      s.end();
      resolve({ cert: c, authorized: ok, error: s.authorizationError });
    });
    s.on('error', reject);
  });
}

function assertNoProblems(...pages) {
  assert.deepEqual(pages.flatMap((p) => p.problems), [], 'no console errors or page errors');
}

before(async () => {
  if (SKIP) return;
  tmp = mkdtempSync(join(tmpdir(), 'sbhttps-'));
  httpPort = await freePort();
  httpsPort = await freePort();
  // The harness passes `--port <http>` (the old name of --http-port) and
  // waits for /healthz, which the plain listener serves itself.
  daemon = await new Daemon({
    port: httpPort,
    args: ['--tls', 'on', '--hostname', HOST, '--http-port', String(httpPort), '--https-port', String(httpsPort)],
  }).start();
  const pemPath = join(daemon.dataDir, 'tls', 'ca.pem');
  caPem = readFileSync(pemPath, 'utf8');
  ca = new X509Certificate(caPem);
  const video = makeBarcodeVideo(tmp, CODE);
  trusted = await launch(nssHome(join(tmp, 'home-trusted'), pemPath), [
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`,
  ]);
  untrusted = await launch(nssHome(join(tmp, 'home-untrusted'), null));
});

after(async () => {
  await trusted?.close();
  await untrusted?.close();
  await daemon?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the box made a CA and a server certificate for its names; keys are 0600', { skip: SKIP }, async () => {
  assert.ok(ca.ca, 'ca.pem is a CA certificate');
  const tlsDir = join(daemon.dataDir, 'tls');
  for (const f of ['ca.key', 'server.key']) {
    const mode = statSync(join(tlsDir, f)).mode & 0o777;
    assert.equal(mode, 0o600, `${f} mode ${mode.toString(8)}`);
  }
  const { cert, authorized, error } = await peerCert(NAME);
  assert.ok(authorized, `the server certificate chains to ca.pem (${error})`);
  const san = cert.subjectaltname || '';
  for (const n of [`DNS:${HOST}`, `DNS:${NAME}`, 'DNS:localhost', 'IP Address:127.0.0.1']) {
    assert.ok(san.includes(n), `server certificate names ${n} (has: ${san})`);
  }
  // The plain listener: /healthz and /trust served, everything else redirected.
  assert.equal((await httpGet('/healthz')).status, 200);
  const trust = await httpGet('/trust');
  assert.equal(trust.status, 200);
  assert.match(trust.headers['content-type'] || '', /text\/html/);
  const api = await httpGet('/api/v1/sessions?x=1', `${NAME}:${httpPort}`);
  assert.equal(api.status, 301);
  assert.equal(api.headers.location, `https://${NAME}:${httpsPort}/api/v1/sessions?x=1`);
  // The https listener serves the same API.
  assert.equal((await httpsGet('/healthz')).status, 200);
});

test('trusted: desktop over https with no certificate error, phone from its link is secure and uses wss; a camera scan is delivered', { skip: SKIP }, async (t) => {
  const desk = await newPage(trusted, 'desktop');
  const sockets = [];
  desk.on('websocket', (ws) => sockets.push(ws.url()));
  const res = await desk.goto(`https://${NAME}:${httpsPort}/`);
  assert.equal(res.status(), 200);
  assert.ok(await desk.evaluate(() => window.isSecureContext));
  await waitFor(async () => (await desk.locator('#state').getAttribute('data-state')) === 'live', { what: 'desktop live', ...LONG });
  assert.equal(await desk.locator('#trust').getAttribute('data-trust'), 'secure');
  assert.equal((await desk.locator('#trust-text').textContent()).trim(), 'Secure connection');
  assert.ok(await desk.locator('#trust').isVisible());

  // The pairing link the desktop shows (and its QR) is https.
  const link = await waitFor(async () => {
    const u = (await desk.locator('#pair-url').textContent()).trim();
    return /#[A-Za-z0-9_-]{22,}$/.test(u) ? u : null;
  }, { what: 'pairing link', ...LONG });
  const u = new URL(link);
  assert.equal(u.protocol, 'https:', `pairing link ${link}`);
  assert.equal(u.port, String(httpsPort), `pairing link ${link}`);
  assert.equal(u.pathname, '/p');
  let phoneUrl = link;
  if (u.hostname !== NAME) {
    // Not the name the desktop used: open the same path on sbtest-box.local
    // (127.0.0.1 would be a secure context even over plain HTTP).
    t.diagnostic(`pairing link names ${u.hostname}, not ${NAME}: opened the same path on ${NAME}`);
    phoneUrl = `https://${NAME}:${httpsPort}${u.pathname}${u.hash}`;
  }
  const shot = await screenshot(desk, 'https-desktop');
  assert.deepEqual(decodeQR(shot), [link], 'the QR encodes the link shown');

  const phone = await newPage(trusted, 'phone');
  phone.on('websocket', (ws) => sockets.push(ws.url()));
  await phone.goto(phoneUrl);
  assert.equal(await phone.evaluate(() => window.isSecureContext), true);
  assert.equal(await phone.locator('#trust-banner').isVisible(), false, 'no "set up trust" banner on a secure page');
  await phone.getByLabel('Scanner name').fill('Secure phone');
  await phone.getByRole('button', { name: 'Pair' }).click();
  await waitFor(async () => (await phone.locator('#state').getAttribute('data-state')) === 'live', { what: 'phone live', ...LONG });
  await desk.locator('#scanners > li').filter({ hasText: 'Secure phone' }).waitFor(LONG);

  // The camera: Chromium's fake device plays the barcode video (no
  // BarcodeDetector in headless Linux Chromium: frames go to the daemon).
  await phone.getByRole('button', { name: 'Start camera' }).click();
  await phone.getByRole('button', { name: 'Stop camera' }).waitFor();
  const scans = desk.getByRole('list', { name: 'Scans' }).getByRole('listitem');
  await waitFor(async () => (await scans.count()) >= 1, { what: 'camera scan on the desktop', ...LONG });
  assert.equal((await scans.first().locator('.code').textContent()).trim(), CODE);
  assert.equal((await scans.first().locator('.format').textContent()).trim(), 'EAN-13');
  const item = phone.getByRole('list', { name: 'Outbox' }).getByRole('listitem').filter({ hasText: CODE }).first();
  await waitFor(async () => (await item.count()) && (await item.locator('.status').textContent()).trim() === 'delivered',
    { what: 'phone shows delivered', ...LONG });
  await phone.getByRole('button', { name: 'Stop camera' }).click();
  assert.equal(await scans.count(), 1, 'a code held in view is one scan');
  await screenshot(phone, 'https-phone');

  assert.ok(sockets.length >= 2, `sockets: ${sockets}`);
  for (const s of sockets) assert.match(s, new RegExp(`^wss://${NAME.replace(/\./g, '\\.')}:${httpsPort}/ws$`));
  assertNoProblems(desk, phone);

  // http://…/p#code is redirected to the https page, the fragment kept, and pairing proceeds there.
  const next = await waitFor(async () => {
    const v = (await desk.locator('#pair-url').textContent()).trim();
    return v && v !== link && /#[A-Za-z0-9_-]{22,}$/.test(v) ? v : null;
  }, { what: 'a fresh pairing link', ...LONG });
  const code = new URL(next).hash.slice(1);
  const phone2 = await newPage(trusted, 'phone');
  const landed = await phone2.goto(`http://${NAME}:${httpPort}/p#${code}`);
  assert.equal(landed.status(), 200);
  const hop = landed.request().redirectedFrom();
  assert.ok(hop, 'redirected');
  const moved = await hop.response();
  assert.deepEqual([hop.url(), moved.status(), moved.headers().location],
    [`http://${NAME}:${httpPort}/p`, 301, `https://${NAME}:${httpsPort}/p`]);
  const loc = await phone2.evaluate(() => ({ protocol: location.protocol, host: location.host, path: location.pathname, hash: location.hash }));
  assert.deepEqual(loc, { protocol: 'https:', host: `${NAME}:${httpsPort}`, path: '/p', hash: `#${code}` });
  assert.equal(await phone2.evaluate(() => window.isSecureContext), true);
  await phone2.getByLabel('Scanner name').fill('Redirected phone');
  await phone2.getByRole('button', { name: 'Pair' }).click();
  await waitFor(async () => (await phone2.locator('#state').getAttribute('data-state')) === 'live', { what: 'redirected phone live', ...LONG });
  await desk.locator('#scanners > li').filter({ hasText: 'Redirected phone' }).waitFor(LONG);
  assertNoProblems(desk, phone, phone2);
  for (const p of [desk, phone, phone2]) await p.context().close();
});

test('untrusted: the https page is refused; http://…/trust onboards with the real fingerprint', { skip: SKIP }, async () => {
  const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';
  const refused = await newPage(untrusted, 'phone', { userAgent: ANDROID });
  await assert.rejects(refused.goto(`https://${NAME}:${httpsPort}/`), /net::ERR_CERT_AUTHORITY_INVALID/);
  await refused.context().close();

  const page = await newPage(untrusted, 'phone', { userAgent: ANDROID });
  const res = await page.goto(`http://${NAME}:${httpPort}/trust`);
  assert.equal(res.status(), 200);
  assert.equal(page.url(), `http://${NAME}:${httpPort}/trust`, 'not redirected');
  await page.waitForSelector('html[data-ready="true"]', { state: 'attached' });
  assert.ok(await page.getByRole('heading', { name: 'Trust this scanbridge box', level: 1 }).isVisible());
  assert.equal(await page.locator('#box-name').textContent(), HOST);
  // This device's steps first: an Android phone.
  assert.equal((await page.locator('#mine-h').textContent()).trim(), 'Set up this Android phone');
  assert.ok(await page.locator('#mine').getByRole('link', { name: 'Download the certificate' }).isVisible());

  const shown = (await page.locator('#fingerprint').textContent()).replace(/\s+/g, '');
  assert.equal(shown, ca.fingerprint256, 'the page shows the SHA-256 fingerprint of ca.pem');
  const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(daemon.dataDir, 'tls', 'ca.pem')], { encoding: 'utf8' });
  assert.equal(openssl.trim().split('=')[1], shown, 'as openssl computes it');

  const info = await page.evaluate(async () => (await fetch('/trust/info.json')).json());
  assert.equal(info.tls, true);
  assert.equal(info.mode, 'local-ca');
  assert.equal(info.box, HOST);
  assert.equal(info.https_url, `https://${NAME}:${httpsPort}/`);
  // Plain HTTP (a phone that does not trust the box yet can open it), on the http port.
  assert.match(info.trust_url, new RegExp(`^http://[^/]+:${httpPort}/trust$`));
  assert.equal(await page.locator('#trust-url').textContent(), info.trust_url);
  assert.equal(info.ca.sha256, ca.fingerprint256);
  // A phone continues to the secure phone page (a computer to the desktop page).
  assert.equal(await page.getByRole('link', { name: 'Continue to the secure page' }).getAttribute('href'), info.https_url + 'p');

  // The QR on the page encodes the trust page's address for phones.
  await page.locator('#qr-img').scrollIntoViewIfNeeded();
  await waitFor(() => page.locator('#qr-img').evaluate((img) => img.complete && img.naturalWidth > 0), { what: 'QR image' });
  const qrShot = join(tmp, 'trust-qr.png');
  await page.locator('#qr-img').screenshot({ path: qrShot });
  assert.deepEqual(decodeQR(qrShot), [info.trust_url]);

  // The downloads: the same certificate in DER and PEM, and the iOS profile.
  const der = await httpGet('/trust/ca.crt');
  assert.equal(der.status, 200);
  assert.equal(der.headers['content-type'], 'application/x-x509-ca-cert');
  assert.match(der.headers['content-disposition'] || '', /^attachment/);
  assert.ok(der.body.equals(ca.raw), 'ca.crt is ca.pem in DER');
  const pem = await httpGet('/trust/ca.pem');
  assert.equal(pem.status, 200);
  assert.equal(new X509Certificate(pem.body).fingerprint256, ca.fingerprint256);
  const mc = await httpGet('/trust/scanbridge.mobileconfig');
  assert.equal(mc.status, 200);
  assert.equal(mc.headers['content-type'], 'application/x-apple-aspen-config');
  assert.ok(mc.body.toString('utf8').replace(/\s/g, '').includes(caPem.replace(/-----[^-]+-----|\s/g, '')), 'the profile holds the CA');

  await screenshot(page, 'https-trust-untrusted');
  assertNoProblems(page);
  await page.context().close();
});
