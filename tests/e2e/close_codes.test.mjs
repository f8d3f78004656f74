// SPDX-License-Identifier: MIT
// The browser's own WebSocket must see the daemon's close codes (PROTOCOL.md:
// 4001 unauthorized, 4004 session ended, ...) as clean closes. Regression: the
// daemon used to echo the browser's reply to its close frame, and Chromium then
// reported "Close received after close" and code 1006 instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, launchBrowser, newPage } from './lib/harness.mjs';

let daemon, browser, page;

before(async () => {
  daemon = await new Daemon().start();
  browser = await launchBrowser();
  page = await newPage(browser, 'desktop');
  await page.goto(daemon.url + '/healthz'); // any same-origin page
});

after(async () => {
  await browser?.close();
  await daemon?.cleanup();
});

/** Opens /ws in the page, sends `hello` with `token` and reports how it closed. */
function closeAfterHello(token) {
  return page.evaluate(({ url, token }) => new Promise((resolve) => {
    const ws = new WebSocket(url, 'scanbridge.v1');
    const seen = [];
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
    ws.onmessage = (m) => seen.push(JSON.parse(m.data).type);
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, clean: e.wasClean, seen });
  }), { url: daemon.url.replace(/^http/, 'ws') + '/ws', token });
}

test('a bad token closes 4001, cleanly, as the browser sees it', async () => {
  const r = await closeAfterHello('not-a-token');
  assert.deepEqual([r.code, r.clean], [4001, true], JSON.stringify(r));
  assert.ok(r.reason.length > 0);
});

test('a deleted session closes its desktop 4004 after session_ended', async () => {
  const s = (await daemon.api('POST', '/sessions')).body;
  const closed = page.evaluate(({ url, token }) => new Promise((resolve) => {
    const ws = new WebSocket(url, 'scanbridge.v1');
    const seen = [];
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
    ws.onmessage = (m) => { seen.push(JSON.parse(m.data).type); window.__welcomed = true; };
    ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean, seen });
  }), { url: daemon.url.replace(/^http/, 'ws') + '/ws', token: s.desktop_token });
  await page.waitForFunction(() => window.__welcomed === true);
  const del = await daemon.api('DELETE', '/sessions/' + s.session, { token: s.desktop_token });
  assert.equal(del.status, 204);
  const r = await closed;
  assert.deepEqual([r.code, r.clean], [4004, true], JSON.stringify(r));
  assert.deepEqual(r.seen, ['welcome', 'session_ended']);
  assert.deepEqual(page.problems.filter((p) => !/favicon|404/.test(p)), []);
});
