// SPDX-License-Identifier: MIT
// The phone scanner page (served at /p). Pairs with the pair code in the URL
// fragment, then reads codes from the camera (BarcodeDetector, or frames sent
// to the daemon's decoder), from a photo or from the keyboard. Every scan is
// written to the IndexedDB outbox before it is sent, resent with its id after
// a reconnect, and shown pending → sent → delivered. The connection is the
// embeddable client's scanner side (ScanBridgeScanner); this page keeps the
// outbox and draws it.

import { ScanBridgeError, ScanBridgeScanner } from '/client/scanbridge.js';
import {
  adoptSession, applyAck, applyDelivered, applyDeliveredUpTo, applyError,
  cameraErrorText, cameraUnavailableReason, cleanManual, codeProblem, endText,
  guessFormat, isOpen, makeId, newItem, pairCodeFromHash, pairFailure, RepeatFilter, STATE_HINT,
  TokenBucket, toSend, trimItems, undeliveredCount,
} from './core.mjs';
import { openStore } from './store.mjs';
import { Camera, readPhoto } from './camera.mjs';
import * as fb from './feedback.mjs';

const NAME_KEY = 'scanbridge.name';
const CRED_KEY = 'scanbridge.scanner'; // {session, scanner, scanner_token, expires_at, name}
const CAMERA_KEY = 'scanbridge.camera'; // '1' when the camera was left on
const KBD_KEY = 'scanbridge.letters';   // '1': the barcode field offers letters, not the number pad
const MAX_ITEMS = 200;
const MAX_IN_FLIGHT = 20;
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
  scanForm: $('scan-form'), barcode: $('barcode'), sendBtn: $('send-btn'), kbdBtn: $('kbd-btn'),
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
/** The connection while paired. @type {ScanBridgeScanner|null} */ let scanner = null;
let flushTimer = 0;
const bucket = new TokenBucket({ burst: 40, perSec: 10 }, performance.now());
const repeats = new RepeatFilter(2500);
const camera = new Camera(els.video, {
  onCodes: (codes) => onDetected(codes),
  // The client paces frames: at most 2 unanswered, one per 250 ms.
  wantFrame: () => !!scanner && scanner.canSendImage(),
  onFrame: (blob) => { if (scanner) scanner.sendImage(blob); },
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
    // A typo is fixed where it was made: back into the field, edit, send again.
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.className = 'link';
    edit.textContent = 'Edit';
    edit.title = 'Put it back in the field to correct it and send it again';
    edit.setAttribute('aria-label', 'Edit ' + it.code);
    edit.addEventListener('click', () => editRejected(it));
    err.append(' ', edit);
    li.append(err);
  } else if (it.state === 'ended') {
    const err = document.createElement('p');
    err.className = 'reason';
    err.textContent = STATE_HINT.ended;
    li.append(err);
  }
  return li;
}

/** Puts a rejected code back into the field (and out of the outbox) to be corrected. */
async function editRejected(it) {
  if (!/^\d*$/.test(it.code)) setLetters(true);
  els.barcode.value = it.code;
  els.barcode.focus();
  els.barcode.select();
  items = items.filter((x) => x !== it);
  renderOutbox();
  await store?.remove(it.id).catch(() => {});
}

/** Number pad (inputmode numeric: most retail codes) or letters, remembered. */
function setLetters(on) {
  els.barcode.inputMode = on ? 'text' : 'numeric';
  els.kbdBtn.setAttribute('aria-pressed', String(on));
  localStorage.setItem(KBD_KEY, on ? '1' : '0');
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

/**
 * Sends pending items of this session, oldest first, paced by the bucket.
 * Items the client has in flight (sent on this connection, not yet answered)
 * are skipped; after a reconnect nothing is in flight, so every item still
 * pending goes again, with its original id.
 */
function flush() {
  clearTimeout(flushTimer);
  if (!creds || !scanner || !scanner.live) return;
  for (const it of toSend(items, creds.session, scanner.inFlight, MAX_IN_FLIGHT)) {
    const now = performance.now();
    if (!bucket.take(now)) {
      flushTimer = setTimeout(flush, bucket.wait(now) + 5);
      return;
    }
    if (!scanner.sendScan(it)) return;
  }
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
      if (!scanner) throw new Error('not paired');
      codes = (await scanner.decode(r.jpeg, 'image/jpeg')).codes || [];
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

// --- the connection ---------------------------------------------------------------

/** Opens the scanner connection for `creds` (closing any previous one). */
function connect() {
  disconnect();
  if (!creds) return;
  const s = new ScanBridgeScanner({ scanner_token: creds.scanner_token, session: creds.session, scanner: creds.scanner });
  scanner = s;
  const on = (type, fn) => s.addEventListener(type, (e) => { if (scanner === s) fn(e.detail); });
  on('state', onState);
  on('welcome', onWelcome);
  on('ack', onAck);
  on('delivered', onDelivered);
  on('decoded', (d) => { if (d.codes.length) onDetected(d.codes); });
  on('error', onError);
  on('ended', (d) => { if (d.reason !== 'closed') endSession(endText(d.reason)); });
  // The session reached its maximum age and goes on: keep the new token where
  // the credentials live, so a reload or a restart of the phone uses it.
  on('renewed', (d) => {
    if (!creds) return;
    creds = { ...creds, scanner_token: d.token, expires_at: d.expires_at ?? creds.expires_at };
    localStorage.setItem(CRED_KEY, JSON.stringify(creds));
  });
  s.open();
}

/** Closes the connection; nothing it says is heard any more. */
function disconnect() {
  const s = scanner;
  scanner = null;
  clearTimeout(flushTimer);
  if (s) s.close();
}

function onState(st) {
  setState(st);
  if (st !== 'live') clearTimeout(flushTimer);
  if (st === 'offline') showMessage('No network. Scans are kept on this phone and sent when it is back.', 'conn');
  else if (els.message.dataset.kind === 'conn') showMessage('');
}

async function onWelcome(m) {
  const session = creds.session;
  const changed = applyDeliveredUpTo(items, session, m.delivered_seq || 0);
  if (changed.length) fb.delivered();
  await save(...changed);
  renderOutbox();
  flush();
}

async function onAck({ id, seq }) {
  const it = findItem(id);
  if (it && applyAck(it, seq, scanner.deliveredSeq)) {
    if (it.state === 'delivered') fb.delivered();
    renderOutbox();
    await save(it);
  }
  flush();
}

async function onDelivered({ id, seq }) {
  const it = findItem(id);
  if (it && applyDelivered(it, seq)) {
    fb.delivered();
    renderOutbox();
    await save(it);
  }
}

async function onError(d) {
  const it = d.id ? findItem(d.id) : null;
  if (!it) {
    // An image frame the decoder could not take, or our own pacing slipped:
    // nothing to tell the user.
    if (!d.image && d.code !== 'rate_limited') showMessage('Error: ' + (d.message || d.code));
    return;
  }
  if (applyError(it, d.code, d.message) === 'retry') {
    clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, 2000 + Math.random() * 1000);
  } else {
    fb.rejected();
  }
  renderOutbox();
  await save(it);
}

function endSession(text) {
  disconnect();
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
  connect();
  if (localStorage.getItem(CAMERA_KEY) === '1' && !cameraUnavailableReason(cameraEnv())) startCamera();
}

async function pair(code, name) {
  setState('pairing');
  showView('pair');
  els.name.value = name;
  els.pairBtn.disabled = true;
  let body;
  try {
    body = await ScanBridgeScanner.pair({ pair_code: code, name });
  } catch (e) {
    els.pairBtn.disabled = false;
    if (!(e instanceof ScanBridgeError)) {
      setState(creds ? 'reconnecting' : 'idle');
      showMessage('Could not reach the till’s scanbridge box (' + e.message + '). Check the Wi-Fi, then press Pair again.');
      return;
    }
    clearHash();
    const text = pairFailure(e.code, e.message);
    if (creds) { await startPaired(); } else { setState('idle'); showView('unpaired'); }
    showMessage(text);
    fb.rejected();
    return;
  }
  els.pairBtn.disabled = false;
  clearHash();
  disconnect();
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
    disconnect();
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

els.unpair.addEventListener('click', async () => {
  // Tell the box, so the till drops this scanner and its slot is free; when
  // the box cannot be reached, forget it here anyway and say so.
  const s = scanner || (creds && new ScanBridgeScanner({ scanner_token: creds.scanner_token, session: creds.session, scanner: creds.scanner }));
  const name = creds ? (creds.name || creds.scanner) : '';
  scanner = null;
  clearTimeout(flushTimer);
  els.unpair.disabled = true;
  const told = s ? await s.unpair() : false;
  els.unpair.disabled = false;
  stopCamera(false);
  creds = null;
  localStorage.removeItem(CRED_KEY);
  setState('idle');
  showMessage(told ? '' : `Unpaired on this phone only: the box could not be reached. On the till, remove “${name}”.`, 'info');
  showView('unpaired');
});

els.kbdBtn.addEventListener('click', () => {
  setLetters(els.barcode.inputMode !== 'text');
  els.barcode.focus();
});

els.forgetName.addEventListener('click', () => {
  localStorage.removeItem(NAME_KEY);
  els.nameNote.hidden = true;
});

for (const type of ['pointerdown', 'keydown']) window.addEventListener(type, fb.unlock, { passive: true });
window.addEventListener('hashchange', route);
// Network changes and waking up (reconnect now, probe the socket) are the
// client's: it listens to online / offline / visibilitychange itself.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    if (camera.running) camera.stop();
  } else if (creds && localStorage.getItem(CAMERA_KEY) === '1' && !camera.running) {
    startCamera();
  }
});

// --- secure connection (issue 14) ------------------------------------------------
// Over plain HTTP on a LAN address there is no live camera: point to /trust,
// where this phone installs the box's certificate once. Photo and typing
// still work meanwhile.

setLetters(localStorage.getItem(KBD_KEY) === '1');

function initTrustBanner() {
  $('trust-banner').hidden = !!window.isSecureContext;
}

async function main() {
  store = await openStore();
  items = await store.all();
  nextN = items.reduce((m, it) => Math.max(m, it.n || 0), 0) + 1;
  if (!store.durable) showMessage('This browser keeps no offline storage here: scans not yet sent are lost on reload.', 'info');
  initCameraHint();
  route();
}

initTrustBanner();

main();
