// Desktop POS page (served at /): opens a session (or resumes this tab's one
// after a reload), shows the pairing QR, the scanners and the live scan list.
// Built on the embeddable client; everything it shows comes from its events.
import { ScanBridgeClient, backoffDelay } from '/client/scanbridge.js';
import { beep, copyText, el, fmtLatency, fmtTime, load, save } from '/desktop-util.js';

// sessionStorage (per tab, survives reloads). The client keeps the session
// itself (its default key, CLIENT_KEY); the page keeps what the view shows,
// tagged with the session it belongs to.
const CLIENT_KEY = 'scanbridge.client';
const VIEW_KEY = 'scanbridge.desktop';         // {session, code_refresh_at, scanners}
const SCANS_KEY = 'scanbridge.desktop.scans';  // {session, scans} newest first
// localStorage (per browser): preferences.
const SOUND_KEY = 'scanbridge.sound';

const MAX_SCANS = 500;
const CODE_REFRESH_MS = 5 * 60 * 1000;   // rotate a pair code whose expiry we do not know
const CODE_MARGIN_MS = 60 * 1000;        // rotate this long before a known expiry
const RETRY_MIN_MS = 1000;                // opening the session: the client's backoff, from 1 s
const RETRY_MAX_MS = 30000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  state: $('state'), banner: $('banner'), sound: $('sound'), soundState: $('sound-state'), end: $('end'),
  pairLive: $('pair-live'), qrBox: $('qr-box'), qr: /** @type {HTMLImageElement} */ ($('qr')),
  pairUrl: $('pair-url'), newCode: /** @type {HTMLButtonElement} */ ($('new-code')),
  pairEnded: $('pair-ended'), endedText: $('ended-text'), restart: $('restart'),
  scanners: $('scanners'), noScanners: $('no-scanners'), scannerCount: $('scanner-count'),
  scansH: $('scans-h'), scannersH: $('scanners-h'),
  scans: $('scans'), noScans: $('no-scans'), scanCount: $('scan-count'),
  copyAll: /** @type {HTMLButtonElement} */ ($('copy-all')), clear: /** @type {HTMLButtonElement} */ ($('clear')),
  toast: $('toast'), confirmEnd: /** @type {HTMLDialogElement} */ ($('confirm-end')),
};

const STATE_TEXT = {
  idle: 'Starting…', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…',
  fallback: 'Live (polling)', ended: 'Session ended', offline: 'Offline',
};
const BANNER_TEXT = {
  reconnecting: 'Connection lost. Scans wait on the phones.',
  offline: 'Cannot reach the scanbridge box. Retrying…',
  fallback: 'Receiving scans over HTTP polling (no WebSocket).',
};
const END_TEXT = {
  deleted: 'This session was ended. Phones paired with it were disconnected.',
  expired: 'This session expired after a long time without activity.',
  unauthorized: 'This session is no longer valid.',
};

/** @typedef {{seq:number, id:string, code:string, format:string, scanner:string,
 *   scanner_name:string, scanned_at:(number|null), received_at:number, latency_ms:(number|null)}} ViewScan */
/** @typedef {{id:string, name:string, connected:boolean, last_seen:(number|null), scans:number}} ViewScanner */

/** @type {ScanBridgeClient|null} */
let client = null;
let generation = 0;          // bumps on every (re)start so stale async work can bail out
/** @type {Map<string, ViewScanner>} */
let scanners = new Map();
/** @type {ViewScan[]} newest first */
let scans = [];
let qrObject = '';
let codeTimer = 0;
let codeRefreshAt = 0;
let toastTimer = 0;
let soundOn = load(localStorage, SOUND_KEY) === true;

// --- persistence -------------------------------------------------------------

function persist() {
  if (!client || !client.session) return;
  save(sessionStorage, VIEW_KEY, {
    session: client.session, code_refresh_at: codeRefreshAt, scanners: [...scanners.values()],
  });
}
function persistScans() {
  if (client && client.session) save(sessionStorage, SCANS_KEY, { session: client.session, scans });
}
const persistScanners = persist;
function forget() {
  for (const k of [CLIENT_KEY, VIEW_KEY, SCANS_KEY]) save(sessionStorage, k, null);
}

/** Restores the view of `session` saved before a reload (nothing for another session). */
function restoreView(session) {
  const v = load(sessionStorage, VIEW_KEY);
  const sc = load(sessionStorage, SCANS_KEY);
  const mine = (x) => !!session && !!x && x.session === session;
  scans = mine(sc) && Array.isArray(sc.scans) ? sc.scans : [];
  scanners = new Map(mine(v) && Array.isArray(v.scanners) ? v.scanners.map((s) => [s.id, { ...s, connected: false }]) : []);
  codeRefreshAt = (mine(v) && v.code_refresh_at) || 0;
  renderScans();
  renderScanners();
}

// --- small UI pieces -----------------------------------------------------------

function toast(text, bad = false) {
  els.toast.textContent = text;
  els.toast.classList.toggle('bad', bad);
  els.toast.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => els.toast.classList.remove('show'), bad ? 6000 : 2500);
}

function banner(text) {
  els.banner.textContent = text || '';
  els.banner.title = text || '';
}

function setState(s) {
  els.state.textContent = STATE_TEXT[s] || s;
  document.title = `scanbridge — ${STATE_TEXT[s] || s}`;
  els.state.dataset.state = s;
  document.body.dataset.state = s;
  banner(BANNER_TEXT[s] || '');
  const ended = s === 'ended';
  els.end.disabled = ended || !client || !client.session;
  els.newCode.disabled = ended || !(s === 'live' || s === 'fallback');
  els.pairLive.hidden = ended;
  els.pairEnded.hidden = !ended;
  renderScanners();
}

function renderSound() {
  els.sound.setAttribute('aria-pressed', String(soundOn));
  els.soundState.textContent = soundOn ? 'on' : 'off';
  els.sound.title = soundOn ? 'Beep on each scan: click to mute' : 'Click to beep on each scan';
}

// --- pairing QR ------------------------------------------------------------------

function showQr(url) {
  if (qrObject) URL.revokeObjectURL(qrObject);
  qrObject = url;
  els.qr.src = url;
  els.qr.hidden = false;
  els.qrBox.dataset.loading = 'false';
  els.pairUrl.textContent = client.pairUrl || '';
}

function scheduleCodeRefresh(at) {
  codeRefreshAt = at;
  clearTimeout(codeTimer);
  codeTimer = setTimeout(() => { if (isLive()) newCode(false); }, Math.max(1000, at - Date.now()));
  persist();
}

function isLive() {
  return !!client && (client.state === 'live' || client.state === 'fallback');
}

/** Shows the QR of the current pair URL; issues a new code if it is used up or stale. */
let qrBusy = false;
async function refreshQr() {
  if (!client || qrBusy) return;
  qrBusy = true;
  try { await loadQr(); } finally { qrBusy = false; }
}
async function loadQr() {
  const gen = generation;
  if (!client.pairUrl || (codeRefreshAt && Date.now() >= codeRefreshAt)) return newCode(false);
  try {
    const url = await client.qrObjectUrl();
    if (gen !== generation) { URL.revokeObjectURL(url); return; }
    showQr(url);
    if (!codeRefreshAt) scheduleCodeRefresh(Date.now() + CODE_REFRESH_MS);
    else scheduleCodeRefresh(codeRefreshAt);
  } catch (e) {
    if (gen !== generation) return;
    if (e && e.code === 'pair_code_invalid') return newCode(false);
    scheduleCodeRefresh(Date.now() + 15000); // try again later
  }
}

let codeBusy = false;
/** A fresh pair code (and QR). @param {boolean} user whether the user asked for it */
async function newCode(user = true) {
  if (!client || codeBusy) return;
  const gen = generation;
  codeBusy = true;
  els.newCode.disabled = true;
  els.newCode.setAttribute('aria-busy', 'true');
  try {
    const r = await client.newPairCode();
    if (gen !== generation) return;
    const url = await client.qrObjectUrl();
    if (gen !== generation) { URL.revokeObjectURL(url); return; }
    showQr(url);
    const exp = typeof r.expires_at === 'number' ? r.expires_at : Date.now() + CODE_REFRESH_MS;
    scheduleCodeRefresh(Math.max(Date.now() + 10000, Math.min(exp - CODE_MARGIN_MS, Date.now() + 4 * CODE_REFRESH_MS)));
    if (user) toast('New pairing code ready');
  } catch (e) {
    if (gen !== generation) return;
    if (user) toast('Could not create a new code: ' + (e.message || e), true);
    scheduleCodeRefresh(Date.now() + 15000);
  } finally {
    codeBusy = false;
    els.newCode.removeAttribute('aria-busy');
    if (gen === generation) els.newCode.disabled = !isLive();
  }
}

// --- scanners ----------------------------------------------------------------------

function scannerName(id) {
  const s = scanners.get(id);
  return (s && s.name) || 'Scanner ' + String(id).slice(0, 6);
}

function upsertScanner(id, fields) {
  const s = scanners.get(id) || { id, name: '', connected: false, last_seen: null, scans: 0 };
  Object.assign(s, fields);
  scanners.set(id, s);
  // Scans that arrived before the scanner's name was known get it now.
  if (s.name && scans.some((x) => x.scanner === id && x.scanner_name !== s.name)) {
    for (const x of scans) if (x.scanner === id) x.scanner_name = s.name;
    renderScans();
    persistScans();
  }
  return s;
}

function renderScanners() {
  const canKick = !!client && client.state === 'live';
  els.scanners.classList.toggle('ended-session', !!client && client.state === 'ended');
  const items = [...scanners.values()].sort((a, b) =>
    Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name));
  els.scanners.replaceChildren(...items.map((s) => {
    const li = el('li', s.connected ? 'connected' : 'offline');
    li.dataset.id = s.id;
    const info = el('div', 'info');
    const name = el('span', 'name', s.name || scannerName(s.id));
    name.title = s.name || s.id;
    const meta = el('span', 'meta');
    const pill = el('span', 'conn', s.connected ? 'Connected' : 'Offline');
    meta.append(pill);
    if (s.last_seen) {
      const t = el('time', '', (s.connected ? 'last scan ' : 'last seen ') + fmtTime(s.last_seen));
      /** @type {HTMLTimeElement} */ (t).dateTime = new Date(s.last_seen).toISOString();
      if (!s.connected || s.scans) meta.append(' · ', t);
    }
    if (s.scans) meta.append(' · ', s.scans === 1 ? '1 scan' : s.scans + ' scans');
    info.append(name, meta);
    const rm = el('button', 'secondary small', 'Remove');
    rm.type = 'button';
    rm.setAttribute('aria-label', 'Remove ' + (s.name || scannerName(s.id)));
    rm.disabled = !canKick;
    rm.addEventListener('click', () => kick(s.id, rm));
    li.append(info, rm);
    return li;
  }));
  els.noScanners.hidden = scanners.size > 0;
  const n = [...scanners.values()].filter((s) => s.connected).length;
  els.scannerCount.textContent = scanners.size ? `${n} of ${scanners.size} connected` : '';
}

function kick(id, button) {
  if (!client || !client.kick(id)) {
    toast('Not connected — try again when the status is Live.', true);
    return;
  }
  button.disabled = true;
  button.textContent = 'Removing…';
}

// --- scans ---------------------------------------------------------------------------

/** @param {ViewScan} s */
function scanItem(s) {
  const li = el('li');
  li.dataset.seq = String(s.seq);
  const code = el('span', 'code', s.code);
  const copy = el('button', 'ghost small copy', 'Copy');
  copy.type = 'button';
  copy.setAttribute('aria-label', 'Copy ' + s.code);
  copy.addEventListener('click', async () => {
    const ok = await copyText(s.code);
    toast(ok ? 'Copied ' + s.code : 'Copy failed: select the code and press Ctrl+C', !ok);
  });
  const meta = el('span', 'meta');
  const t = s.scanned_at || s.received_at;
  const time = el('time', '', fmtTime(t));
  /** @type {HTMLTimeElement} */ (time).dateTime = new Date(t).toISOString();
  const lat = el('span', 'latency', 'latency ' + fmtLatency(s.latency_ms));
  lat.title = 'End to end: from the scan on the phone to this screen';
  meta.append(el('span', 'format', s.format.replace(/_/g, '-')), el('span', 'who', s.scanner_name),
    time, lat, el('span', 'seq', '#' + s.seq));
  li.append(code, copy, meta);
  return li;
}

function renderScanCount() {
  els.scanCount.textContent = scans.length ? String(scans.length) : '';
  els.noScans.hidden = scans.length > 0;
  els.copyAll.disabled = scans.length === 0;
  els.clear.disabled = scans.length === 0;
}

function renderScans() {
  els.scans.replaceChildren(...scans.map(scanItem));
  renderScanCount();
}

function onScan(ev) {
  const d = ev.detail;
  if (scans.some((s) => s.seq === d.seq || s.id === d.id)) return; // already shown
  const now = Date.now();
  const from = typeof d.scanned_at === 'number' ? d.scanned_at : d.received_at;
  /** @type {ViewScan} */
  const s = {
    seq: d.seq, id: d.id, code: d.code, format: d.format || 'UNKNOWN', scanner: d.scanner,
    scanner_name: scannerName(d.scanner), scanned_at: d.scanned_at ?? null, received_at: d.received_at,
    latency_ms: typeof from === 'number' ? now - from : null,
  };
  scans.unshift(s);
  if (scans.length > MAX_SCANS) scans.length = MAX_SCANS;
  const li = scanItem(s);
  li.classList.add('fresh');
  els.scans.prepend(li);
  while (els.scans.children.length > MAX_SCANS) els.scans.lastElementChild.remove();
  renderScanCount();
  const sc = scanners.get(d.scanner);
  if (sc) {
    sc.scans++;
    sc.last_seen = Math.max(sc.last_seen || 0, now);
    renderScanners();
    persistScanners();
  }
  // Stored before this handler returns, i.e. before the client acknowledges
  // the scan and stores its seq: a reload in between replays it, and the
  // check above keeps it from showing twice.
  persistScans();
  if (soundOn) beep();
}

// --- the client ----------------------------------------------------------------------

function wire(c) {
  const mine = (fn) => (e) => { if (c === client) fn(e); };
  c.addEventListener('state', mine((e) => {
    setState(e.detail);
    if (e.detail === 'ended') onEnded(c.endReason);
  }));
  c.addEventListener('welcome', mine((e) => {
    const seen = new Set();
    for (const s of e.detail.scanners || []) {
      seen.add(s.id);
      const prev = scanners.get(s.id);
      upsertScanner(s.id, { name: s.name || '', connected: !!s.connected,
        last_seen: s.connected ? Date.now() : (prev ? prev.last_seen : null) });
    }
    for (const id of [...scanners.keys()]) if (!seen.has(id)) scanners.delete(id); // removed meanwhile
    renderScanners();
    persistScanners();
    persist();
    if (!qrObject || (codeRefreshAt && Date.now() >= codeRefreshAt)) refreshQr();
    else scheduleCodeRefresh(codeRefreshAt);
  }));
  c.addEventListener('scanner_joined', mine((e) => {
    const s = e.detail;
    const isNew = !scanners.has(s.id);
    upsertScanner(s.id, { name: s.name || '', connected: true, last_seen: Date.now() });
    renderScanners();
    persistScanners();
    if (isNew) {
      toast(`${s.name || 'A scanner'} paired`);
      newCode(false); // its code is used up: show a fresh one for the next phone
    }
  }));
  c.addEventListener('scanner_left', mine((e) => {
    const { scanner, reason } = e.detail;
    const s = scanners.get(scanner);
    if (reason === 'kicked') {
      scanners.delete(scanner);
      if (s) toast(`${s.name || 'Scanner'} removed`);
      if (els.scanners.contains(document.activeElement)) els.scannersH.focus();
    } else if (s) {
      s.connected = false;
      s.last_seen = Date.now();
    }
    renderScanners();
    persistScanners();
  }));
  c.addEventListener('scan', mine(onScan));
  c.addEventListener('error', mine((e) => {
    const d = e.detail || {};
    if (d.code !== 'unauthorized') toast('Error: ' + (d.message || d.code), true);
  }));
}

function onEnded(reason) {
  clearTimeout(codeTimer);
  if (qrObject) { URL.revokeObjectURL(qrObject); qrObject = ''; }
  els.qr.hidden = true;
  els.qr.removeAttribute('src');
  els.qrBox.dataset.loading = 'true';
  els.pairUrl.textContent = '';
  els.endedText.textContent = END_TEXT[reason] || 'This session is closed.';
  for (const s of scanners.values()) s.connected = false;
  renderScanners();
  const f = /** @type {HTMLButtonElement|null} */ (document.activeElement);
  if (!f || f === document.body || f.disabled || f.closest('[hidden]')) els.restart.focus();
}

let retryTimer = 0;

/** Opens this tab's session (the client resumes it after a reload) or a new one. */
async function start(attempt = 0) {
  clearTimeout(retryTimer);
  clearTimeout(codeTimer);
  const gen = ++generation;
  if (qrObject) { URL.revokeObjectURL(qrObject); qrObject = ''; }
  els.qr.hidden = true;
  els.qrBox.dataset.loading = 'true';
  els.pairUrl.textContent = '';
  const c = new ScanBridgeClient();
  client = c;
  wire(c);
  if (!attempt) restoreView(c.session); // the stored session, if any: no flash of an empty list
  setState('connecting');
  try {
    await c.open();
  } catch (e) {
    if (gen !== generation) return;
    const code = e && e.code;
    if (!code || /^http_5|^unavailable$|^busy$|^rate_limited$/.test(code)) {
      // The box is unreachable or busy: keep trying, like the socket does.
      setState('offline');
      retryTimer = setTimeout(() => start(attempt + 1), backoffDelay(attempt, RETRY_MIN_MS, RETRY_MAX_MS));
      return;
    }
    setState('ended');
    onEnded('');
    els.endedText.textContent = 'Could not start a session: ' + (e.message || code);
    return;
  }
  if (gen !== generation) return;
  // A stored session that was gone has been replaced by a new one.
  if (load(sessionStorage, VIEW_KEY)?.session !== c.session) restoreView(c.session);
  persist();
  persistScans();
  setState(c.state);
  refreshQr();
}

// --- controls ----------------------------------------------------------------------

els.newCode.addEventListener('click', () => newCode(true));

els.sound.addEventListener('click', () => {
  soundOn = !soundOn;
  save(localStorage, SOUND_KEY, soundOn);
  renderSound();
  if (soundOn) beep(); // a sample, and unlocks audio (this is a user gesture)
});

els.copyAll.addEventListener('click', async () => {
  const ok = await copyText(scans.map((s) => s.code).join('\n'));
  toast(ok ? `Copied ${scans.length} ${scans.length === 1 ? 'code' : 'codes'}` : 'Copy failed', !ok);
});

els.clear.addEventListener('click', () => {
  // Only the view: the scans were delivered when they arrived.
  scans = [];
  persistScans();
  renderScans();
  els.scansH.focus();
  toast('List cleared');
});

els.end.addEventListener('click', () => {
  if (typeof els.confirmEnd.showModal === 'function') els.confirmEnd.showModal();
  else endSession();
});
els.confirmEnd.addEventListener('close', () => {
  if (els.confirmEnd.returnValue === 'end') endSession();
  els.confirmEnd.returnValue = '';
});

async function endSession() {
  if (!client) return;
  try { await client.end(); } catch (e) { toast('Could not end the session: ' + (e.message || e), true); }
}

els.restart.addEventListener('click', () => {
  if (client && client.state !== 'ended') client.close();
  forget();
  start();
});

// --- connection trust (issue 14) -----------------------------------------------------
// A small status in the header: is this page's connection secure, and where
// do phones set up trust (the box's CA, at /trust)? Independent of the session.

/** Names a browser treats as this computer (a secure context even over http:). */
const LOCAL_HOST = /^(localhost|.+\.localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

/** 'secure' (https:), 'local' (http: to this computer) or 'insecure'. */
function connectionTrust(loc) {
  if (loc.protocol === 'https:') return 'secure';
  if (LOCAL_HOST.test(loc.hostname)) return 'local';
  return 'insecure';
}

async function showTrust() {
  const box = $('trust');
  const text = $('trust-text');
  const link = /** @type {HTMLAnchorElement} */ ($('trust-link'));
  const kind = connectionTrust(location);
  box.dataset.trust = kind;
  link.hidden = false;
  if (kind === 'secure') {
    text.textContent = 'Secure connection';
    link.textContent = 'Phone setup';
    link.title = 'Install this box\'s certificate on a phone (once per phone)';
  } else if (kind === 'insecure') {
    text.textContent = 'Not secure — phones can\'t use the camera';
    link.textContent = 'Set up trust';
    link.title = 'Install this box\'s certificate so that its pages are secure';
  } else {
    // Secure for this computer, but phones reach the box by another name.
    text.textContent = 'This computer only (localhost)';
    link.hidden = true;
    box.hidden = false;
    let info = null;
    try {
      const r = await fetch('/trust/info.json', { headers: { Accept: 'application/json' } });
      if (r.ok) info = await r.json();
    } catch { /* the box is unreachable: the state pill says so */ }
    if (!info) return;
    link.textContent = info.tls ? 'Phones: set up trust' : 'Phones: HTTPS is off';
    link.title = info.tls ? 'Install this box\'s certificate on each phone (once)'
      : 'Phones need HTTPS for the live camera: how to turn it on';
    link.hidden = false;
  }
  box.title = text.textContent;
  box.hidden = false;
}

renderSound();
showTrust();
start();
