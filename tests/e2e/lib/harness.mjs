// SPDX-License-Identifier: MIT
// Shared pieces of the real-browser suite: the real daemon on a free port with
// its own data dir, Debian's chromium through playwright-core, desktop and
// phone contexts, screenshots and QR decoding (zbarimg from zbar-tools).
//
// Environment (set by CTest): SCANBRIDGED (daemon binary), SB_SOURCE_DIR
// (repository, for web/), SB_ARTIFACTS (where screenshots go; default
// <build>/e2e-artifacts), SB_SANITIZE (ON under ASan: slower timeouts).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.SB_SOURCE_DIR || resolve(HERE, '../../..');
export const WEB_ROOT = join(SOURCE_DIR, 'web');
export const SANITIZE = /^(on|1|true|yes)$/i.test(process.env.SB_SANITIZE || '');
/** Multiply upper time bounds by this (never lower bounds). */
export const SLOW = SANITIZE ? 3 : 1;
export const ARTIFACTS = process.env.SB_ARTIFACTS || join(SOURCE_DIR, 'build', 'e2e-artifacts');
export const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';

export const DESKTOP_VIEWPORT = { width: 1024, height: 768 };
export const PHONE_VIEWPORT = { width: 390, height: 844 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (the daemon retries once if it loses the race). */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** One scanbridged on its own port and temp data dir, serving web/ from the checkout. */
export class Daemon {
  /** @param {{args?: string[], port?: number}} [opts] */
  constructor(opts = {}) {
    this.bin = process.env.SCANBRIDGED;
    if (!this.bin) throw new Error('SCANBRIDGED is not set (path to the scanbridged binary)');
    this.tmp = mkdtempSync(join(tmpdir(), 'sbe2e-'));
    this.dataDir = join(this.tmp, 'data');
    mkdirSync(this.dataDir, { mode: 0o700 });
    this.config = join(this.tmp, 'scanbridge.conf');
    writeFileSync(this.config, '# e2e test\n');
    this.logPath = join(this.tmp, 'daemon.log');
    this.args = opts.args || [];
    this.port = opts.port || 0;
    /** @type {import('node:child_process').ChildProcess|null} */
    this.proc = null;
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  argv() {
    return ['--port', String(this.port), '--bind', '127.0.0.1', '--data-dir', this.dataDir,
      '--web-root', WEB_ROOT, '-c', this.config, ...this.args];
  }

  /** Starts the daemon and waits for /healthz to answer 200. */
  async start(timeoutMs = 10000 * SLOW) {
    if (!this.port) this.port = await freePort();
    const log = openSync(this.logPath, 'a');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SCANBRIDGE_')));
    this.proc = spawn(this.bin, this.argv(), { stdio: ['ignore', log, log], env });
    const exited = new Promise((res) => this.proc.once('exit', (code, sig) => res({ code, sig })));
    this._exited = exited;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const done = await Promise.race([exited, sleep(50).then(() => null)]);
      if (done) throw new Error(`scanbridged exited (${done.code ?? done.sig}) during start-up:\n${this.log().slice(-2000)}`);
      try {
        const r = await fetch(this.url + '/healthz');
        if (r.status === 200) return this;
      } catch { /* not listening yet */ }
    }
    this.proc.kill('SIGKILL');
    throw new Error('scanbridged did not become ready:\n' + this.log().slice(-2000));
  }

  /** SIGTERM (graceful drain) and wait for exit; returns the exit code. */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return this.proc?.exitCode ?? 0;
    this.proc.kill('SIGTERM');
    const { code } = await this._exited;
    return code;
  }

  /** kill -9: no drain, no goodbye. */
  async kill() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    this.proc.kill('SIGKILL');
    await this._exited;
  }

  /** Stop (or kill) and start again on the same port and data dir. */
  async restart({ hard = false } = {}) {
    if (hard) await this.kill(); else await this.stop();
    await this.start();
    return this;
  }

  log() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  /** Fails if the sanitizers reported anything in the daemon's log. */
  assertCleanLog() {
    const log = this.log();
    for (const m of ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer']) {
      if (log.includes(m)) throw new Error(`sanitizer report in daemon log:\n${log.slice(-4000)}`);
    }
  }

  async cleanup() {
    await this.stop();
    this.assertCleanLog();
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** JSON REST call to /api/v1 (for test set-up and cross-checks). */
  async api(method, path, { token, body } = {}) {
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(this.url + '/api/v1' + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Debian's chromium, never a downloaded browser. `fakeVideo` is a .y4m or
 * .mjpeg file the fake camera plays (getUserMedia then works without a prompt).
 * @param {{fakeVideo?: string, args?: string[]}} [opts]
 */
export async function launchBrowser(opts = {}) {
  const args = [...CHROMIUM_ARGS, ...(opts.args || [])];
  if (opts.fakeVideo) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${opts.fakeVideo}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/**
 * A page in its own context (own storage, like a separate device), collecting
 * page errors, console errors and failed/4xx-5xx requests in `page.problems`.
 * @param {import('playwright-core').Browser} browser
 * @param {'desktop'|'phone'} kind
 */
export async function newPage(browser, kind, contextOpts = {}) {
  const phone = kind === 'phone';
  const ctx = await browser.newContext({
    viewport: phone ? PHONE_VIEWPORT : DESKTOP_VIEWPORT,
    isMobile: phone, hasTouch: phone,
    permissions: contextOpts.permissions || [],
    ...contextOpts,
  });
  const page = await ctx.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`${kind} pageerror: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`${kind} console: ${m.text()}`); });
  return page;
}

/** Saves a screenshot under ARTIFACTS/<name>.png and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name + '.png');
  await page.screenshot({ path });
  return path;
}

/** Decodes the QR codes in a PNG with zbarimg; returns their texts. */
export function decodeQR(pngPath) {
  let out;
  try {
    out = execFileSync('zbarimg', ['--quiet', '--raw', '-Sdisable', '-Sqrcode.enable', pngPath], { encoding: 'utf8' });
  } catch (e) {
    if (e.status === 4) return []; // zbarimg: no symbol found
    throw e;
  }
  return out.split('\n').filter(Boolean);
}

/** Polls fn() until it returns a truthy value or the time runs out. */
export async function waitFor(fn, { timeout = 10000 * SLOW, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export { sleep };
