// SPDX-License-Identifier: MIT
// The embeddable client (web/client/) in a real browser against the real
// daemon: a minimal POS page (tests/e2e/pages/embed.html, served by the
// daemon itself, so with its CSP: no inline script) imports
// /client/scanbridge.js and records every event in window.events. The scanner
// side is driven from node over REST (POST /pair, POST /scans), and
// "delivered" is read back as the scanner sees it (GET /scans/{id}).
// Also: the REST fallback with the WebSocket blocked (page.routeWebSocket),
// and a POS page on another origin (served by node) using the classic-script
// build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Daemon, WEB_ROOT, launchBrowser, newPage, waitFor, sleep, screenshot } from './lib/harness.mjs';

const PAGES = join(dirname(fileURLToPath(import.meta.url)), 'pages');

/** @type {Daemon} */ let daemon;
/** @type {import('playwright-core').Browser} */ let browser;
/** @type {import('node:http').Server} */ let posServer;
let posOrigin;
let webRoot;

before(async () => {
  // The same-origin test page is served by the daemon itself, from a web root
  // made of the checkout's web/ (symlinked, so the files under test) plus
  // pages/embed.*: the page gets the daemon's real headers and CSP. (A page
  // fulfilled by page.route() counts as "public" to Chromium's Local Network
  // Access checks, which then block its requests to 127.0.0.1.)
  webRoot = mkdtempSync(join(tmpdir(), 'sbembed-'));
  for (const f of readdirSync(WEB_ROOT)) symlinkSync(join(WEB_ROOT, f), join(webRoot, f));
  for (const f of ['embed.html', 'embed.js']) symlinkSync(join(PAGES, f), join(webRoot, f));
  // The cross-origin POS is served by node at http://localhost:<port2>, the
  // daemon at http://127.0.0.1:<port>: another origin, which the daemon allows.
  posServer = createServer((req, res) => {
    const daemonUrl = daemon.url;
    if (req.url === '/pos.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(readFileSync(join(PAGES, 'pos.html'), 'utf8').replaceAll('{{DAEMON}}', daemonUrl));
    } else if (req.url === '/pos.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(readFileSync(join(PAGES, 'pos.js')));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((res) => posServer.listen(0, '127.0.0.1', res));
  posOrigin = `http://localhost:${posServer.address().port}`;
  daemon = new Daemon({ args: ['--web-root', webRoot, '--allowed-origins', posOrigin] });
  await daemon.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.cleanup();
  posServer?.close();
  if (webRoot) rmSync(webRoot, { recursive: true, force: true });
});

/** Opens the test POS page at the daemon's origin (same-origin embedding). */
async function embedPage(query = '', { blockWs } = {}) {
  const page = await newPage(browser, 'desktop');
  if (blockWs) {
    // While blockWs() is true every socket to /ws is refused; otherwise it is
    // passed through to the daemon unchanged.
    await page.routeWebSocket(/\/ws$/, (ws) => {
      if (blockWs()) ws.close();
      else ws.connectToServer();
    });
  }
  await page.goto(daemon.url + '/embed.html' + query);
  return page;
}

/**
 * The page's problems, less one the client is not responsible for: the daemon
 * answers the browser's reply to its close frame with a second close frame,
 * which Chromium logs as "Close received after close" (and reports the close
 * as 1006 instead of 4004/4001; the client copes, see _onClose).
 */
const problems = (page) => page.problems.filter((p) => !p.includes('Close received after close'));

const events = (page, type) => page.evaluate((t) => window.events.filter((e) => e.type === t).map((e) => e.detail), type);
const states = (page) => events(page, 'state');
const scanSeqs = async (page) => (await events(page, 'scan')).map((s) => s.seq);

async function waitState(page, state, what) {
  await waitFor(async () => (await page.evaluate(() => window.client && window.client.state)) === state,
    { what: what || `state ${state}` });
}

/** Pairs a scanner over REST with the page's current pair code. */
async function pairScanner(page, name) {
  const pairUrl = await waitFor(() => page.evaluate(() => window.opened && window.client.pairUrl), { what: 'pair URL' });
  const code = pairUrl.split('#')[1];
  const r = await daemon.api('POST', '/pair', { body: { pair_code: code, name } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body; // {session, scanner, scanner_token}
}

async function sendScan(sc, id, code, format = 'UNKNOWN') {
  const r = await daemon.api('POST', `/sessions/${sc.session}/scans`, { token: sc.scanner_token, body: { id, code, format } });
  assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
  return r.body.seq;
}

async function delivered(sc, id) {
  const r = await daemon.api('GET', `/sessions/${sc.session}/scans/${id}`, { token: sc.scanner_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.delivered;
}

test('events, ack only after the async handler, reload resumes without duplicates, session end', async () => {
  const page = await embedPage();
  await waitState(page, 'live');
  const st = await states(page);
  assert.equal(st[0], 'connecting');
  assert.ok(st.includes('live'), st.join());
  assert.equal((await events(page, 'welcome')).length, 1);
  const session = await page.evaluate(() => window.client.session);

  const sc = await pairScanner(page, 'Till 1 phone');
  const joined = await waitFor(async () => (await events(page, 'scanner_joined')).find((s) => s.id === sc.scanner), { what: 'scanner_joined' });
  assert.equal(joined.name, 'Till 1 phone');

  // A slow handler: the scan is on the page, but not delivered until it resolves.
  await page.evaluate(() => window.setHold(true));
  const seq1 = await sendScan(sc, 'emb-1', '4006381333931', 'EAN_13');
  await waitFor(async () => (await scanSeqs(page)).includes(seq1), { what: 'scan event' });
  const [s1] = await events(page, 'scan');
  assert.equal(s1.code, '4006381333931');
  assert.equal(s1.format, 'EAN_13');
  assert.equal(s1.scanner, sc.scanner);
  assert.equal(await delivered(sc, 'emb-1'), false, 'delivered while the handler still pends');
  await sleep(1000);                       // give a premature ack every chance to arrive
  assert.equal(await delivered(sc, 'emb-1'), false, 'delivered while the handler still pends (later)');
  assert.deepEqual(await events(page, 'ack'), []);
  await page.evaluate((s) => window.release(s), seq1);
  await waitFor(() => delivered(sc, 'emb-1'), { what: 'delivered after the handler resolved' });
  assert.deepEqual(await events(page, 'ack'), [{ seq: seq1 }]);

  // Fast scans, handled synchronously.
  await page.evaluate(() => window.setHold(false));
  await sendScan(sc, 'emb-2', 'two');
  await sendScan(sc, 'emb-3', 'three');
  await waitFor(async () => (await delivered(sc, 'emb-2')) && delivered(sc, 'emb-3'), { what: 'scans 2 and 3 delivered' });
  assert.deepEqual(await scanSeqs(page), [1, 2, 3]);

  // A second phone, removed from the POS page: scanner_left kicked, its token dead.
  const other = await (async () => {
    await page.evaluate(() => window.client.newPairCode());
    return pairScanner(page, 'Spare phone');
  })();
  await waitFor(async () => (await events(page, 'scanner_joined')).some((s) => s.id === other.scanner), { what: 'second scanner joined' });
  assert.equal(await page.evaluate((id) => window.client.kick(id), other.scanner), true);
  await waitFor(async () => (await events(page, 'scanner_left')).some((l) => l.scanner === other.scanner && l.reason === 'kicked'),
    { what: 'scanner_left kicked' });
  assert.equal((await daemon.api('POST', `/sessions/${other.session}/scans`, { token: other.scanner_token, body: { id: 'k-1', code: 'x' } })).status, 401);
  assert.deepEqual(await page.evaluate(() => [...window.client.scanners.keys()]), [sc.scanner]);

  // One scan still pending when the page reloads: it was never acknowledged,
  // so the reloaded page gets it again; 1..3 must not come back.
  await page.evaluate(() => window.setHold(true));
  const seq4 = await sendScan(sc, 'emb-4', 'four');
  await waitFor(async () => (await scanSeqs(page)).includes(seq4), { what: 'scan 4 on the page' });
  await page.reload();
  await waitState(page, 'live', 'live after reload');
  assert.equal(await page.evaluate(() => window.client.session), session, 'same session after reload');
  await waitFor(async () => (await scanSeqs(page)).includes(seq4), { what: 'scan 4 again after reload' });
  assert.equal(await delivered(sc, 'emb-4'), false);
  await page.evaluate((s) => window.release(s), seq4);
  await waitFor(() => delivered(sc, 'emb-4'), { what: 'scan 4 delivered' });
  await page.evaluate(() => window.setHold(false));
  const seq5 = await sendScan(sc, 'emb-5', 'five');
  await waitFor(async () => (await scanSeqs(page)).includes(seq5), { what: 'scan 5 after reload' });
  await waitFor(() => delivered(sc, 'emb-5'), { what: 'scan 5 delivered' });
  assert.deepEqual(await scanSeqs(page), [4, 5], 'no replay of what was already handled, no duplicates');
  // A resend of an old id is not forwarded again.
  await sendScan(sc, 'emb-2', 'two');
  await sleep(500);
  assert.deepEqual(await scanSeqs(page), [4, 5]);

  // The session ended from elsewhere: state ended, reason deleted, forgotten.
  const token = await page.evaluate(() => window.client.token);
  assert.equal((await daemon.api('DELETE', `/sessions/${session}`, { token })).status, 204);
  await waitState(page, 'ended');
  assert.equal(await page.evaluate(() => window.client.endReason), 'deleted');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('scanbridge.client')), null);
  assert.deepEqual(problems(page), []);

  // A reload with a stored session that has gone meanwhile starts a new one
  // (the browser logs the 401 of the check).
  await page.evaluate((saved) => sessionStorage.setItem('scanbridge.client', JSON.stringify(saved)),
    { session, desktop_token: token, last_seq: 5 });
  await page.reload();
  await waitState(page, 'live', 'live in a new session');
  const fresh = await page.evaluate(() => window.client.toJSON());
  assert.notEqual(fresh.session, session);
  assert.equal(fresh.last_seq, 0);
  assert.equal(JSON.parse(await page.evaluate(() => sessionStorage.getItem('scanbridge.client'))).session, fresh.session);
  assert.deepEqual(problems(page).filter((p) => !/status of 401/.test(p)), []);
  await page.context().close();
});

test('WebSocket blocked: REST long-poll fallback delivers and acks; unblocked: back to live', async () => {
  let blocked = true;
  const page = await embedPage('?backoffMaxMs=1000&scannerPollMs=500', { blockWs: () => blocked });
  await waitState(page, 'fallback');
  assert.ok(!(await states(page)).includes('live'));

  const sc = await pairScanner(page, 'Fallback phone');
  // No live events in fallback: joins come from polling GET /sessions/{sid}.
  await waitFor(async () => (await events(page, 'scanner_joined')).some((s) => s.id === sc.scanner), { what: 'scanner_joined by polling' });

  await page.evaluate(() => window.setHold(true));
  const seq1 = await sendScan(sc, 'fb-1', 'fallback one');
  await waitFor(async () => (await scanSeqs(page)).includes(seq1), { what: 'scan over the long-poll' });
  await sleep(1000);
  assert.equal(await delivered(sc, 'fb-1'), false, 'not acked while the handler pends');
  await page.evaluate((s) => window.release(s), seq1);
  await waitFor(() => delivered(sc, 'fb-1'), { what: 'acked over REST' });
  await page.evaluate(() => window.setHold(false));
  const seq2 = await sendScan(sc, 'fb-2', 'fallback two');
  await waitFor(() => delivered(sc, 'fb-2'), { what: 'second scan acked over REST' });
  assert.equal(await page.evaluate(() => window.client.state), 'fallback');

  blocked = false;
  await waitState(page, 'live', 'back to live once the WebSocket works');
  const seq3 = await sendScan(sc, 'fb-3', 'live again');
  await waitFor(() => delivered(sc, 'fb-3'), { what: 'scan after the return delivered' });
  assert.deepEqual(await scanSeqs(page), [seq1, seq2, seq3], 'each scan exactly once across the switch');
  const st = await states(page);
  assert.equal(st.at(-1), 'live');
  assert.ok(st.indexOf('fallback') < st.lastIndexOf('live'), st.join());
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

test('a POS page on another origin: classic-script build, CORS REST and WebSocket', async () => {
  const page = await newPage(browser, 'desktop');
  await page.goto(posOrigin + '/pos.html');
  await waitState(page, 'live');
  const sc = await pairScanner(page, 'Cross-origin phone');
  await sendScan(sc, 'xo-1', '96385074', 'EAN_8');
  await waitFor(() => delivered(sc, 'xo-1'), { what: 'delivered through the onScan handler' });
  assert.deepEqual(await page.evaluate(() => window.taken), ['96385074']);
  // The pair code is used up: a new one, and its QR as a blob URL, through CORS too.
  const fresh = await page.evaluate(() => window.client.newPairCode());
  assert.equal(await page.evaluate(() => window.client.pairUrl), fresh.pair_url);
  const qr = await page.evaluate(() => window.client.qrObjectUrl());
  assert.match(qr, /^blob:/);
  await screenshot(page, 'embed-cross-origin');
  await page.evaluate(() => window.client.end());
  assert.equal(await page.evaluate(() => window.client.endReason), 'deleted');
  assert.equal((await daemon.api('GET', `/sessions/${sc.session}/scans/xo-1`, { token: sc.scanner_token })).status, 401);
  assert.deepEqual(problems(page), []);
  await page.context().close();
});
