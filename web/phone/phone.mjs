// SPDX-License-Identifier: MIT
// The phone scanner page (served at /p). Pairs with the pair code in the URL
// fragment, then reads codes from the camera (BarcodeDetector, or frames sent
// to the daemon's decoder), from a photo or from the keyboard. Every scan is
// written to the IndexedDB outbox before it is sent, resent with its id after
// a reconnect, and shown pending → sent → delivered.

import {
  adoptSession, applyAck, applyDelivered, applyDeliveredUpTo, applyError, backoffDelay,
  cameraErrorText, cameraUnavailableReason, cleanManual, closeReason, codeProblem, FramePacer,
  guessFormat, isOpen, makeId, newItem, pairCodeFromHash, pairFailure, RepeatFilter, STATE_HINT,
  TokenBucket, toSend, trimItems, undeliveredCount,
} from './core.mjs';
import { openStore } from './store.mjs';
import { Camera, readPhoto } from './camera.mjs';
import * as fb from './feedback.mjs';

const NAME_KEY = 'scanbridge.name';
const CRED_KEY = 'scanbridge.scanner'; // {session, scanner, scanner_token, expires_at, name}
const CAMERA_KEY = 'scanbridge.camera'; // '1' when the camera was left on
const MAX_ITEMS = 200;
const MAX_IN_FLIGHT = 20;
const PING_MS = 25000;
const SILENCE_MS = 70000; // nothing at all from the daemon for this long: reconnect
const ANSWER_MS = 10000; // a scan or ping unanswered this long: the socket is dead
const STATE_TEXT = {
  idle: 'Not paired', pairing: 'Pairing…', connecting: 'Connecting…', live: 'Connected',
  reconnecting: 'Reconnecting…', offline: 'Offline', ended: 'Not paired',
};

const $ = (id) => document.getElementById(id);
const els = {
  state: $('state'), count: $('undelivered'), message: $('message'),
  pair: $('pair'), pairForm: $('pair-form'), name: $('name'), pairBtn: $('pair-btn'),
  unpaired: $('unpaired'), nameNote: $('name-note'), savedName: $('saved-name'), forgetName: $('forget-name'),
  scan: $('scan'), viewfinder: $('viewfinder'), video: $('video'), vfIdle: $('vf-idle'),
  cameraBtn: $('camera-btn'), photo: $('photo'), photoBtn: $('photo-btn'), cameraHint: $('camera-hint'),
  choices: $('choices'), choiceList: $('choice-list'),
  scanForm: $('scan-form'), barcode: $('barcode'), sendBtn: $('send-btn'),
  outboxPanel: $('outbox-panel'), outbox: $('outbox'), noOutbox: $('no-outbox'), clear: $('clear'),
  foot: $('paired-foot'), who: $('who'), unpair: $('unpair'),
};

function loadJSON(key) {
  try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
}

let creds = loadJSON(CRED_KEY);
/** @type {import('./core.mjs').Item[]} */
let items = [];
let store = null;
let nextN = 1;
let deliveredSeq = 0;
/** @type {WebSocket|null} */ let ws = null;
let live = false;
let attempt = 0;
let reconnectTimer = 0;
let flushTimer = 0;
let watchTimer = 0;
let lastRx = 0;
let awaitingSince = 0;
let inFlight = new Set();
const bucket = new TokenBucket({ burst: 40, perSec: 10 }, performance.now());
const pacer = new FramePacer({ intervalMs: 250, maxInFlight: 2, timeoutMs: 4000 });
const repeats = new RepeatFilter(2500);
const camera = new Camera(els.video, {
  onCodes: (codes) => onDetected(codes),
  wantFrame: () => live && pacer.ready(performance.now()),
  onFrame: (blob) => {
    if (!live || !ws) return;
    ws.send(blob);
    pacer.sent(performance.now());
  },
});

// --- view ------------------------------------------------------------------

function showMessage(text, kind = 'error') {
  els.message.textContent = text || '';
  els.message.dataset.kind = kind;
  els.message.hidden = !text;
}

function setState(s) {
  els.state.textContent = STATE_TEXT[s] || s;
  els.state.dataset.state = s;
}

function showView(view) {
  els.pair.hidden = view !== 'pair';
  els.unpaired.hidden = view !== 'unpaired';
  els.scan.hidden = view !== 'scan';
  els.foot.hidden = view !== 'scan';
  if (view === 'unpaired') {
    const name = localStorage.getItem(NAME_KEY);
    els.nameNote.hidden = !name;
    els.savedName.textContent = name || '';
  }
  renderOutbox();
}

function timeText(ms) {
  try { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }); } catch { return ''; }
}

function renderItem(it) {
  const li = document.createElement('li');
  li.dataset.id = it.id;
  li.dataset.state = it.state;
  const main = document.createElement('div');
  main.className = 'item-main';
  const code = document.createElement('span');
  code.className = 'code';
  code.textContent = it.code;
  const st = document.createElement('span');
  st.className = 'status';
  st.textContent = it.state;
  st.title = STATE_HINT[it.state] || '';
  main.append(code, ' ', st);
  const meta = document.createElement('p');
  meta.className = 'meta';
  const parts = [timeText(it.scanned_at), it.format !== 'UNKNOWN' ? it.format.replace('_', '-') : '', it.source || ''];
  if (typeof it.seq === 'number') parts.push('#' + it.seq);
  meta.textContent = parts.filter(Boolean).join(' · ');
  li.append(main, meta);
  if (it.state === 'rejected' && it.error) {
    const err = document.createElement('p');
    err.className = 'reason';
    err.textContent = rejectText(it.error);
    li.append(err);
  } else if (it.state === 'ended') {
    const err = document.createElement('p');
    err.className = 'reason';
    err.textContent = STATE_HINT.ended;
    li.append(err);
  }
  return li;
}

function rejectText(e) {
  if (e.code === 'invalid_check_digit') return 'Wrong check digit — check the number and type it again.';
  if (e.code === 'invalid_request') return 'Not a valid code' + (e.message ? ': ' + e.message : '.');
  return e.code + (e.message ? ': ' + e.message : '');
}

function renderOutbox() {
  const sorted = [...items].sort((a, b) => b.n - a.n);
  els.outbox.replaceChildren(...sorted.map(renderItem));
  els.noOutbox.hidden = items.length > 0;
  els.outboxPanel.hidden = !creds && items.length === 0;
  els.clear.hidden = !items.some((it) => !isOpen(it));
  renderCount();
}

function renderCount() {
  const session = creds ? creds.session : null;
  const n = session ? undeliveredCount(items, session)
    : items.filter(isOpen).length;
  els.count.dataset.count = String(n);
  els.count.textContent = n === 0 ? 'All scans delivered' : `${n} undelivered`;
  els.count.hidden = !creds && n === 0;
}

// --- outbox ------------------------------------------------------------------

function save(...changed) {
  if (!store || changed.length === 0) return Promise.resolve();
  return store.put(...changed).catch((e) => showMessage('Could not save the outbox: ' + e.message));
}

function findItem(id) {
  return items.find((it) => it.id === id);
}

async function trim() {
  const drop = trimItems(items, MAX_ITEMS);
  if (!drop.length) return;
  const ids = new Set(drop.map((it) => it.id));
  items = items.filter((it) => !ids.has(it.id));
  await store?.remove(...ids).catch(() => {});
}

/** Queues a scan: stored in the outbox first, then sent. */
async function submitScan(code, format, source) {
  const problem = codeProblem(code);
  if (problem) {
    showMessage(`Not sent: the code is ${problem}.`);
    fb.rejected();
    return false;
  }
  if (!creds) return false;
  const it = newItem({ id: makeId(), session: creds.session, code, format, now: Date.now(), n: nextN++, source });
  await save(it); // on disk before anything can send it
  items.push(it);
  await trim();
  renderOutbox();
  flush();
  return true;
}

function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

/** Sends pending items of this session, oldest first, paced by the bucket. */
function flush() {
  clearTimeout(flushTimer);
  if (!live || !creds) return;
  for (const it of toSend(items, creds.session, inFlight, MAX_IN_FLIGHT)) {
    const now = performance.now();
    if (!bucket.take(now)) {
      flushTimer = setTimeout(flush, bucket.wait(now) + 5);
      return;
    }
    if (!send({ type: 'scan', id: it.id, code: it.code, format: it.format, scanned_at: it.scanned_at })) return;
    if (inFlight.size === 0) awaitingSince = Date.now();
    inFlight.add(it.id);
  }
}

function settle(id) {
  inFlight.delete(id);
  awaitingSince = inFlight.size ? Date.now() : 0;
}

// --- camera, photo -------------------------------------------------------------

function onDetected(codes) {
  const now = Date.now();
  for (const { code, format } of codes) {
    if (codeProblem(code)) continue; // e.g. CR LF in a QR code: never sendable
    if (!repeats.accept(code, format, now)) continue;
    fb.detected();
    flashViewfinder();
    submitScan(code, format, 'camera');
  }
}

let flashTimer = 0;
function flashViewfinder() {
  els.viewfinder.dataset.hit = 'true';
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { els.viewfinder.dataset.hit = 'false'; }, 350);
}

function cameraEnv() {
  return {
    isSecureContext: window.isSecureContext,
    hasGetUserMedia: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
    protocol: location.protocol, host: location.host,
  };
}

function showCameraHint(text) {
  els.cameraHint.textContent = text || '';
  els.cameraHint.hidden = !text;
}

function setCameraUi(on) {
  els.viewfinder.dataset.on = String(on);
  els.vfIdle.hidden = on;
  els.cameraBtn.textContent = on ? 'Stop camera' : 'Start camera';
}

async function startCamera() {
  const why = cameraUnavailableReason(cameraEnv());
  if (why) { showCameraHint(why); return; }
  els.cameraBtn.disabled = true;
  try {
    repeats.reset();
    pacer.reset();
    await camera.start();
    localStorage.setItem(CAMERA_KEY, '1');
    setCameraUi(true);
    showCameraHint(camera.mode === 'detector'
      ? 'Point the camera at a barcode.'
      : 'Point the camera at a barcode. Frames are read by the scanbridge box.');
  } catch (e) {
    camera.stop();
    setCameraUi(false);
    localStorage.removeItem(CAMERA_KEY);
    showCameraHint(cameraErrorText(e && e.name));
  } finally {
    els.cameraBtn.disabled = false;
  }
}

function stopCamera(remember = true) {
  camera.stop();
  pacer.reset();
  setCameraUi(false);
  if (remember) localStorage.removeItem(CAMERA_KEY);
  showCameraHint('');
  initCameraHint();
}

function initCameraHint() {
  const why = cameraUnavailableReason(cameraEnv());
  els.cameraBtn.hidden = !!why;
  els.viewfinder.hidden = !!why;
  showCameraHint(why);
}

async function onPhoto(file) {
  els.choices.hidden = true;
  if (!file || !creds) return;
  els.photoBtn.classList.add('working');
  try {
    const r = await readPhoto(file);
    let codes = r.codes;
    if (!codes) {
      const res = await fetch('/api/v1/decode', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + creds.scanner_token, 'Content-Type': 'image/jpeg' },
        body: r.jpeg,
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error((body && body.error && body.error.message) || 'HTTP ' + res.status);
      codes = body.codes || [];
    }
    codes = codes.filter((c) => !codeProblem(c.code));
    if (codes.length === 0) {
      showMessage('No barcode found in the photo. Take it again, closer and sharp, or type the code.', 'info');
      fb.rejected();
    } else if (codes.length === 1) {
      showMessage('');
      await submitScan(codes[0].code, codes[0].format, 'photo');
    } else {
      showMessage('');
      offerChoices(codes);
    }
  } catch (e) {
    showMessage('The photo could not be read: ' + e.message + '. Type the code instead, or try again when connected.');
  } finally {
    els.photoBtn.classList.remove('working');
    els.photo.value = '';
  }
}

function offerChoices(codes) {
  els.choiceList.replaceChildren(...codes.map((c) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary';
    b.textContent = c.code;
    b.addEventListener('click', () => {
      els.choices.hidden = true;
      submitScan(c.code, c.format, 'photo');
    });
    return b;
  }));
  els.choices.hidden = false;
}

// --- WebSocket -----------------------------------------------------------------

async function onMessage(m) {
  switch (m.type) {
    case 'welcome': {
      attempt = 0;
      live = true;
      inFlight = new Set();
      awaitingSince = 0;
      pacer.reset();
      setState('live');
      if (els.message.dataset.kind === 'conn') showMessage('');
      deliveredSeq = m.delivered_seq || 0;
      const changed = applyDeliveredUpTo(items, creds.session, deliveredSeq);
      if (changed.length) fb.delivered();
      await save(...changed);
      renderOutbox();
      flush();
      break;
    }
    case 'ack': {
      settle(m.id);
      const it = findItem(m.id);
      if (it && applyAck(it, m.seq, deliveredSeq)) {
        if (it.state === 'delivered') fb.delivered();
        renderOutbox();
        await save(it);
      }
      flush();
      break;
    }
    case 'delivered': {
      if (m.seq > deliveredSeq) deliveredSeq = m.seq;
      const it = findItem(m.id);
      if (it && applyDelivered(it, m.seq)) {
        fb.delivered();
        renderOutbox();
        await save(it);
      }
      break;
    }
    case 'decoded':
      pacer.answered();
      if (Array.isArray(m.codes) && m.codes.length) onDetected(m.codes);
      break;
    case 'error': {
      const it = m.id ? findItem(m.id) : null;
      if (!it) {
        if (['busy', 'unsupported_media_type', 'invalid_request'].includes(m.code) && pacer.pending.length) pacer.answered();
        else if (m.code !== 'rate_limited') showMessage('Error: ' + (m.message || m.code));
        break;
      }
      settle(it.id);
      if (applyError(it, m.code, m.message) === 'retry') {
        clearTimeout(flushTimer);
        flushTimer = setTimeout(flush, 2000 + Math.random() * 1000);
      } else {
        fb.rejected();
      }
      renderOutbox();
      await save(it);
      break;
    }
    case 'session_expired':
    case 'session_ended':
      endSession(closeReason(4004)); // a close 4004 follows; no need to wait for it
      break;
    default: // pong, future types
  }
}

/** Drops the socket without waiting for a close handshake (it may be dead). */
function dropSocket() {
  const sock = ws;
  ws = null;
  live = false;
  inFlight = new Set();
  awaitingSince = 0;
  pingSentAt = 0;
  pacer.reset();
  clearTimeout(flushTimer);
  if (sock) {
    sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
    try { sock.close(1000); } catch { /* already closed */ }
  }
}

function scheduleReconnect() {
  clearTimeout(reconnectTimer);
  if (!creds) return;
  const offline = navigator.onLine === false;
  setState(offline ? 'offline' : 'reconnecting');
  // Offline, the 'online' event reconnects; the timer is only a fallback.
  reconnectTimer = setTimeout(connect, offline ? 30000 : backoffDelay(attempt++));
}

function connect() {
  if (!creds) return;
  clearTimeout(reconnectTimer);
  dropSocket();
  setState(attempt ? 'reconnecting' : 'connecting');
  const sock = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws', 'scanbridge.v1');
  ws = sock;
  let opened = false;
  sock.onopen = () => {
    opened = true;
    lastRx = Date.now();
    sock.send(JSON.stringify({ type: 'hello', token: creds.scanner_token }));
  };
  sock.onmessage = (ev) => {
    if (ws !== sock || typeof ev.data !== 'string') return;
    lastRx = Date.now();
    pingSentAt = 0;
    if (awaitingSince) awaitingSince = lastRx;
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    onMessage(m);
  };
  sock.onclose = async (ev) => {
    if (ws !== sock) return;
    dropSocket();
    // A lost close frame (1006) is treated as a network drop: the reconnect's
    // hello then gets the real answer (4001 removed, 4004 ended).
    const reason = closeReason(ev.code);
    if (reason) return endSession(reason);
    if (!ws) scheduleReconnect();
  };
}

/**
 * Every few seconds: ping, and give up on a socket that went silent (a
 * half-open connection after the phone changed Wi-Fi or slept: nothing
 * closes it, messages just vanish).
 */
function watchdog() {
  if (!ws || !live) return;
  const now = Date.now();
  if (now - lastRx > SILENCE_MS || (awaitingSince && now - awaitingSince > ANSWER_MS) ||
      (pingSentAt && now - pingSentAt > ANSWER_MS)) {
    dropSocket();
    scheduleReconnect();
    return;
  }
  if (now - lastPing >= PING_MS) ping();
}
let lastPing = 0;
let pingSentAt = 0;

function ping() {
  lastPing = Date.now();
  if (send({ type: 'ping' }) && !pingSentAt) pingSentAt = lastPing;
}

function endSession(text) {
  dropSocket();
  clearTimeout(reconnectTimer);
  creds = null;
  localStorage.removeItem(CRED_KEY);
  stopCamera(false);
  setState('ended');
  showMessage(text);
  showView('unpaired');
}

// --- pairing -----------------------------------------------------------------

function clearHash() {
  history.replaceState(null, '', location.pathname + location.search);
}

async function startPaired() {
  els.who.textContent = creds.name || creds.scanner;
  const kept = adoptSession(items, creds.session);
  const keptIds = new Set(kept.map((it) => it.id));
  const dropped = items.filter((it) => !keptIds.has(it.id)).map((it) => it.id);
  items = kept;
  await save(...items.filter((it) => it.session !== creds.session));
  if (dropped.length) await store?.remove(...dropped).catch(() => {});
  showView('scan');
  initCameraHint();
  attempt = 0;
  connect();
  if (localStorage.getItem(CAMERA_KEY) === '1' && !cameraUnavailableReason(cameraEnv())) startCamera();
}

async function pair(code, name) {
  setState('pairing');
  showView('pair');
  els.name.value = name;
  els.pairBtn.disabled = true;
  let res;
  try {
    res = await fetch('/api/v1/pair', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pair_code: code, name }),
    });
  } catch (e) {
    setState(creds ? 'reconnecting' : 'idle');
    showMessage('Could not reach the till’s scanbridge box (' + e.message + '). Check the Wi-Fi, then press Pair again.');
    els.pairBtn.disabled = false;
    return;
  }
  els.pairBtn.disabled = false;
  clearHash();
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = (body && body.error) || { code: 'http_' + res.status, message: res.statusText };
    const text = pairFailure(err.code, err.message);
    if (creds) { await startPaired(); } else { setState('idle'); showView('unpaired'); }
    showMessage(text);
    fb.rejected();
    return;
  }
  dropSocket();
  stopCamera(false);
  creds = { ...body, name };
  localStorage.setItem(CRED_KEY, JSON.stringify(creds));
  showMessage('');
  await startPaired();
}

function route() {
  const code = pairCodeFromHash(location.hash);
  if (code) {
    const name = localStorage.getItem(NAME_KEY);
    els.pairForm.dataset.code = code;
    if (name) {
      pair(code, name);
      return;
    }
    dropSocket();
    clearTimeout(reconnectTimer);
    setState('idle');
    showView('pair');
    els.name.focus();
  } else if (creds) {
    startPaired();
  } else {
    setState('idle');
    showView('unpaired');
  }
}

// --- events --------------------------------------------------------------------

els.pairForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = els.name.value.trim();
  if (!name) return;
  localStorage.setItem(NAME_KEY, name);
  pair(els.pairForm.dataset.code || '', name);
});

els.scanForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const code = cleanManual(els.barcode.value);
  if (!code) return;
  els.barcode.value = '';
  els.barcode.focus();
  submitScan(code, guessFormat(code), 'typed');
});

els.cameraBtn.addEventListener('click', () => {
  if (camera.running) stopCamera(); else startCamera();
});
els.photo.addEventListener('change', () => onPhoto(els.photo.files && els.photo.files[0]));

els.clear.addEventListener('click', async () => {
  const done = items.filter((it) => !isOpen(it));
  items = items.filter(isOpen);
  await store?.remove(...done.map((it) => it.id)).catch(() => {});
  renderOutbox();
});

els.unpair.addEventListener('click', () => {
  dropSocket();
  clearTimeout(reconnectTimer);
  stopCamera(false);
  creds = null;
  localStorage.removeItem(CRED_KEY);
  setState('idle');
  showMessage('');
  showView('unpaired');
});

els.forgetName.addEventListener('click', () => {
  localStorage.removeItem(NAME_KEY);
  els.nameNote.hidden = true;
});

for (const type of ['pointerdown', 'keydown']) window.addEventListener(type, fb.unlock, { passive: true });
window.addEventListener('hashchange', route);
window.addEventListener('online', () => {
  if (creds && !live) { attempt = 0; connect(); }
  if (els.message.dataset.kind === 'conn') showMessage('');
});
window.addEventListener('offline', () => {
  if (!creds) return;
  dropSocket();
  setState('offline');
  showMessage('No network. Scans are kept on this phone and sent when it is back.', 'conn');
  scheduleReconnect();
});
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    if (camera.running) camera.stop();
  } else {
    if (creds && localStorage.getItem(CAMERA_KEY) === '1' && !camera.running) startCamera();
    if (creds && !ws) { attempt = 0; connect(); } else if (live) ping(); // is the socket still alive after the sleep?
  }
});

async function main() {
  store = await openStore();
  items = await store.all();
  nextN = items.reduce((m, it) => Math.max(m, it.n || 0), 0) + 1;
  if (!store.durable) showMessage('This browser keeps no offline storage here: scans not yet sent are lost on reload.', 'info');
  watchTimer = setInterval(watchdog, 2500);
  initCameraHint();
  route();
}

main();
