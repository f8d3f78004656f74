// Desktop POS page (served at /): opens the till's session (or rejoins it:
// reloads, new tabs, browser restarts), shows the pairing QR, the scanners and
// the scans a cashier counts — one row per code with ×N, the last scan large,
// filter, export, undoable delete and clear. Built on the embeddable client;
// everything it shows comes from its events.
import { ScanBridgeClient, backoffDelay } from '/client/scanbridge.js';
import { beep, copyText, download, el, fmtLatency, fmtTime, load, save, stamp } from '/desktop-util.js';
import { colourSlot, exportRecords, filterRows, groupRows, rowKey, scanTime, toCsv, unreachableHost } from '/desktop-list.js';

// localStorage (per browser profile and origin): the till's session lives as
// long as the daemon keeps it, whatever happens to tabs. The client keeps the
// session itself (CLIENT_KEY); the page keeps what the view shows, tagged
// with the session it belongs to, and preferences.
const store = localStorage;
const CLIENT_KEY = 'scanbridge.client';
const VIEW_KEY = 'scanbridge.desktop';         // {session, code_refresh_at, scanners}
const SCANS_KEY = 'scanbridge.desktop.scans';  // {session, scans} newest first
const SOUND_KEY = 'scanbridge.sound';
const AUTOCOPY_KEY = 'scanbridge.autocopy';

const MAX_SCANS = 2000;
const UNDO_MS = 8000;
const CODE_REFRESH_MS = 5 * 60 * 1000;   // rotate a pair code whose expiry we do not know
const CODE_MARGIN_MS = 60 * 1000;        // rotate this long before a known expiry
const RETRY_MIN_MS = 1000;                // opening the session: the client's backoff, from 1 s
const RETRY_MAX_MS = 30000;

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const els = {
  state: $('state'), banner: $('banner'), sound: $('sound'), soundState: $('sound-state'), end: $('end'),
  reach: $('reach'), reachHost: $('reach-host'), reachWhy: $('reach-why'),
  pairToggle: $('pair-toggle'), pairLive: $('pair-live'), qrBox: $('qr-box'), qr: $('qr'),
  pairUrl: $('pair-url'), newCode: $('new-code'),
  pairEnded: $('pair-ended'), endedText: $('ended-text'), restart: $('restart'),
  scanners: $('scanners'), noScanners: $('no-scanners'), scannerCount: $('scanner-count'),
  scansH: $('scans-h'), scannersH: $('scanners-h'),
  scans: $('scans'), noScans: $('no-scans'), scanCount: $('scan-count'),
  last: $('last'), lastCode: $('last-code'), lastTimes: $('last-times'), lastFormat: $('last-format'),
  lastWho: $('last-who'), lastTime: $('last-time'), copyLast: $('copy-last'),
  filterRow: $('filter-row'), filter: $('filter'), filterCount: $('filter-count'),
  copyAll: $('copy-all'), exportCsv: $('export-csv'), exportJson: $('export-json'), exportBox: $('export-box'),
  clear: $('clear'), autoCopy: $('auto-copy'), announce: $('announce'),
  toast: $('toast'), toastText: $('toast-text'), toastUndo: $('toast-undo'), confirmEnd: $('confirm-end'),
};

const STATE_TEXT = {
  idle: 'Starting…', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…',
  fallback: 'Live (polling)', ended: 'Session ended', offline: 'Offline',
};
const END_TEXT = {
  deleted: 'This session was ended. Phones paired with it were disconnected.',
  expired: 'This session expired after a long time without activity.',
  unauthorized: 'This session is no longer valid.',
};

/** @typedef {import('/desktop-list.js').ViewScan} ViewScan */
/** @typedef {{id:string, name:string, connected:boolean, last_seen:(number|null), scans:number, colour:number}} ViewScanner */

/** @type {ScanBridgeClient|null} */
let client = null;
let generation = 0;          // bumps on every (re)start so stale async work can bail out
/** @type {Map<string, ViewScanner>} */
let scanners = new Map();
/** @type {ViewScan[]} newest first; what the list shows (cleared and deleted ones are gone from here) */
let scans = [];
let qrObject = '';
let codeTimer = 0;
let codeRefreshAt = 0;
let toastTimer = 0;
/** @type {(() => void)|null} what the toast's Undo does */
let undoFn = null;
let pairOpen = false;        // the QR is shown although a phone is paired
let soundOn = load(store, SOUND_KEY) === true;
let autoCopy = load(store, AUTOCOPY_KEY) === true;

// --- persistence -------------------------------------------------------------

function persist() {
  if (!client || !client.session) return;
  save(store, VIEW_KEY, { session: client.session, code_refresh_at: codeRefreshAt, scanners: [...scanners.values()] });
}
function persistScans() {
  if (client && client.session) save(store, SCANS_KEY, { session: client.session, scans });
}
function forget() {
  for (const k of [CLIENT_KEY, VIEW_KEY, SCANS_KEY]) save(store, k, null);
}

/** Restores the view of `session` saved earlier (by this or another tab; nothing for another session). */
function restoreView(session) {
  const v = load(store, VIEW_KEY);
  const sc = load(store, SCANS_KEY);
  const mine = (x) => !!session && !!x && x.session === session;
  scans = mine(sc) && Array.isArray(sc.scans) ? sc.scans : [];
  scanners = new Map(mine(v) && Array.isArray(v.scanners) ? v.scanners.map((s) => [s.id, { ...s, connected: false }]) : []);
  codeRefreshAt = (mine(v) && v.code_refresh_at) || 0;
  renderScans();
  renderScanners();
}

// --- small UI pieces -----------------------------------------------------------

/** A toast; with `undo`, an Undo button that works for UNDO_MS. */
function toast(text, bad = false, undo = null) {
  els.toastText.textContent = text;
  els.toast.classList.toggle('bad', bad);
  els.toast.classList.add('show');
  undoFn = undo;
  els.toastUndo.hidden = !undo;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, undo ? UNDO_MS : bad ? 6000 : 2500);
}
function hideToast() {
  const hadFocus = els.toast.contains(document.activeElement);
  els.toast.classList.remove('show');
  els.toastUndo.hidden = true;
  undoFn = null;
  if (hadFocus) els.scansH.focus();
}

function banner(text) {
  els.banner.textContent = text || '';
  els.banner.title = text || '';
}

const isLive = () => !!client && (client.state === 'live' || client.state === 'fallback');
/** The box cannot be reached right now (as opposed to: the session is over). */
const isOut = () => /^(reconnecting|offline)$/.test(els.state.dataset.state || '');

/** Why the state is not Live, and since when the box has been silent. */
function outageText(s) {
  if (s === 'fallback') return 'Receiving scans over HTTP polling (no WebSocket).';
  if (s !== 'reconnecting' && s !== 'offline') return '';
  const t = client && client.lastHeardAt;
  const since = t ? `Last heard from the box at ${fmtTime(t)}.` : 'Not reached yet.';
  return `Cannot reach the scanbridge box. ${since} Scans wait on the phones. Retrying…`;
}

function setState(s) {
  els.state.textContent = STATE_TEXT[s] || s;
  els.state.dataset.state = s;
  document.body.dataset.state = s;
  banner(outageText(s));
  renderTitle();
  renderActions();
  renderScanners();
}

/** Buttons that need the daemon are off while it cannot be reached. */
function renderActions() {
  const s = client ? client.state : 'idle';
  const ended = s === 'ended';
  els.end.disabled = ended || !client || !client.session || isOut();
  els.newCode.disabled = ended || !isLive() || codeBusy;
  els.exportBox.disabled = !isLive();
  els.pairEnded.hidden = !ended;
  renderPairPanel();
}

function renderTitle() {
  const s = client ? client.state : 'idle';
  const n = scans.length;
  document.title = (n ? `(${n}) ` : '') + `scanbridge — ${STATE_TEXT[s] || s}`;
}

function renderSound() {
  els.sound.setAttribute('aria-pressed', String(soundOn));
  els.soundState.textContent = soundOn ? ': on' : ': off';
  els.sound.title = soundOn ? 'A beep on each scan (on). Click to mute' : 'No beep on scans (off). Click to beep on each scan';
}

// --- pairing QR ------------------------------------------------------------------

/** Once a phone is paired the QR folds away behind "Pair another phone". */
function renderPairPanel() {
  const ended = !!client && client.state === 'ended';
  const collapsible = scanners.size > 0 && !ended;
  const open = !ended && (!collapsible || pairOpen);
  els.pairToggle.hidden = !collapsible;
  els.pairToggle.setAttribute('aria-expanded', String(open));
  els.pairToggle.textContent = open ? 'Hide pairing code' : 'Pair another phone';
  els.pairLive.hidden = !open;
}

/** A banner when the pairing link names this computer: phones cannot open it. */
function checkReach(url) {
  const why = url ? unreachableHost(url) : '';
  els.reach.hidden = !why;
  if (!why) return;
  els.reachHost.textContent = new URL(url).host;
  els.reachWhy.textContent = why === 'loopback' ? 'this computer only' : 'not an address phones can use';
}

function showQr(url) {
  if (qrObject) URL.revokeObjectURL(qrObject);
  qrObject = url;
  els.qr.src = url;
  els.qr.hidden = false;
  els.qrBox.dataset.loading = 'false';
  els.pairUrl.textContent = client.pairUrl || '';
  checkReach(client.pairUrl);
}

function scheduleCodeRefresh(at) {
  codeRefreshAt = at;
  clearTimeout(codeTimer);
  codeTimer = setTimeout(() => { if (isLive()) newCode(false); }, Math.max(1000, at - Date.now()));
  persist();
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
    scheduleCodeRefresh(codeRefreshAt || Date.now() + CODE_REFRESH_MS);
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
    if (gen === generation) renderActions();
  }
}

// --- scanners ----------------------------------------------------------------------

function scannerName(id) {
  const s = scanners.get(id);
  return (s && s.name) || 'Scanner ' + String(id).slice(0, 6);
}

/**
 * A scanner's colour slot: the first one no other scanner of the session has
 * (hashing random ids would give two phones the same colour one time in eight).
 */
function freeColour(id) {
  const used = new Set([...scanners.values()].map((s) => s.colour));
  for (let i = 0; i < 8; i++) if (!used.has(i)) return i;
  return colourSlot(id);
}
/** @param {string} id */
function colourOf(id) {
  const s = scanners.get(id);
  return s && typeof s.colour === 'number' ? s.colour : colourSlot(id);
}

function upsertScanner(id, fields) {
  const s = scanners.get(id) || { id, name: '', connected: false, last_seen: null, scans: 0, colour: freeColour(id) };
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

/** A scanner's connection as far as this page knows: unknown while the box is out of reach. */
function connText(s) {
  if (isOut()) return ['unknown', 'Unknown'];
  return s.connected ? ['connected', 'Connected'] : ['offline', 'Offline'];
}

function renderScanners() {
  const canKick = !!client && client.state === 'live';
  els.scanners.classList.toggle('ended-session', !!client && client.state === 'ended');
  const items = [...scanners.values()].sort((a, b) =>
    Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name));
  els.scanners.replaceChildren(...items.map((s) => {
    const [cls, label] = connText(s);
    const li = el('li', cls);
    li.dataset.id = s.id;
    li.dataset.colour = String(colourOf(s.id));
    const info = el('div', 'info');
    const name = el('span', 'name', s.name || scannerName(s.id));
    name.title = s.name || s.id;
    const meta = el('span', 'meta');
    meta.append(el('span', 'conn', label));
    if (s.last_seen) {
      const t = el('time', '', (s.connected ? 'last scan ' : 'last seen ') + fmtTime(s.last_seen));
      t.dateTime = new Date(s.last_seen).toISOString();
      if (!s.connected || s.scans) meta.append(' · ', t);
    }
    if (s.scans) meta.append(' · ', s.scans === 1 ? '1 scan' : s.scans + ' scans');
    info.append(name, meta);
    const rm = el('button', 'secondary small', 'Remove');
    rm.type = 'button';
    rm.setAttribute('aria-label', 'Remove ' + (s.name || scannerName(s.id)));
    rm.disabled = !canKick;
    rm.addEventListener('click', () => kick(s.id, rm));
    li.append(el('span', 'dot'), info, rm);
    return li;
  }));
  els.noScanners.hidden = scanners.size > 0;
  const n = [...scanners.values()].filter((s) => s.connected).length;
  els.scannerCount.textContent = !scanners.size ? '' : isOut() ? `${scanners.size} paired` : `${n} of ${scanners.size} connected`;
  renderPairPanel();
}

function kick(id, button) {
  if (!client || !client.kick(id)) {
    toast('Not connected — try again when the status is Live.', true);
    return;
  }
  button.disabled = true;
  button.textContent = 'Removing…';
}

/** A scanner left the session for good (removed here, or unpaired on the phone). */
function dropScanner(id, text) {
  const s = scanners.get(id);
  scanners.delete(id);
  if (s) toast(`${s.name || 'Scanner'} ${text}`);
  if (els.scanners.contains(document.activeElement)) els.scannersH.focus();
}

// --- scans ---------------------------------------------------------------------------

/** @param {import('/desktop-list.js').Row} r */
function rowItem(r) {
  const s = r.last;
  const li = el('li');
  li.dataset.key = r.key;
  li.dataset.seq = String(s.seq);
  li.dataset.colour = String(s.colour ?? colourOf(s.scanner));
  const code = el('span', 'code', r.code);
  const times = el('span', 'times', r.count > 1 ? '×' + r.count : '');
  times.setAttribute('aria-label', r.count > 1 ? r.count + ' times' : '');
  const head = el('span', 'row-head');
  head.append(code, ' ', times);
  const meta = el('span', 'meta');
  const t = scanTime(s);
  const time = el('time', '', fmtTime(t));
  time.dateTime = new Date(t).toISOString();
  // Latency and seq are for IT, not for the cashier: a tooltip.
  time.title = `Latency ${fmtLatency(s.latency_ms)} (phone to screen) · #${s.seq}`;
  meta.append(el('span', 'format', s.format.replace(/_/g, '-')), el('span', 'who', s.scanner_name), time);
  const copy = button('ghost small copy', 'Copy', 'Copy ' + r.code, () => copyCode(r.code));
  const del = button('ghost small del', 'Delete', 'Delete ' + r.code, () => deleteRow(r.key));
  li.append(head, copy, del, meta);
  return li;
}

function button(cls, text, label, onClick) {
  const b = el('button', cls, text);
  b.type = 'button';
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

async function copyCode(code) {
  const ok = await copyText(code);
  toast(ok ? 'Copied ' + code : 'Copy failed: select the code and press Ctrl+C', !ok);
}

function renderLast(rows) {
  const r = rows.find((x) => x.last.seq === Math.max(...scans.map((s) => s.seq)));
  els.last.hidden = !r;
  if (!r) return;
  const s = r.last;
  els.lastCode.textContent = r.code;
  els.lastTimes.textContent = r.count > 1 ? '×' + r.count : '';
  els.lastFormat.textContent = s.format.replace(/_/g, '-');
  els.lastWho.textContent = s.scanner_name;
  els.last.dataset.colour = String(s.colour ?? colourOf(s.scanner));
  els.lastTime.textContent = fmtTime(scanTime(s));
  els.lastTime.dateTime = new Date(scanTime(s)).toISOString();
}

function renderScans() {
  const rows = groupRows(scans);
  const shown = filterRows(rows, els.filter.value);
  els.scans.replaceChildren(...shown.map(rowItem));
  renderLast(rows);
  const n = scans.length;
  els.scanCount.textContent = n ? `${n} ${n === 1 ? 'scan' : 'scans'}, ${rows.length} ${rows.length === 1 ? 'code' : 'codes'}` : '';
  els.filterCount.textContent = els.filter.value.trim() ? `${shown.length} of ${rows.length}` : '';
  els.noScans.hidden = n > 0;
  els.filterRow.hidden = n === 0 && !els.filter.value;
  for (const b of [els.copyAll, els.exportCsv, els.exportJson, els.clear]) b.disabled = n === 0;
  renderTitle();
}

/** Makes the row of `key` flash: a repeat is as visible as a new code. */
function flashRow(key) {
  const li = [...els.scans.children].find((x) => /** @type {HTMLElement} */ (x).dataset.key === key);
  if (li) li.classList.add('fresh');
  els.last.classList.remove('fresh');
  void els.last.offsetWidth; // restart the animation
  els.last.classList.add('fresh');
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
    latency_ms: typeof from === 'number' ? now - from : null, colour: colourOf(d.scanner),
  };
  scans.unshift(s);
  if (scans.length > MAX_SCANS) scans.length = MAX_SCANS;
  renderScans();
  flashRow(rowKey(s));
  const count = scans.filter((x) => rowKey(x) === rowKey(s)).length;
  els.announce.textContent = `${s.code} from ${s.scanner_name}` + (count > 1 ? `, ${count} times` : '');
  const sc = scanners.get(d.scanner);
  if (sc) {
    sc.scans++;
    sc.last_seen = Math.max(sc.last_seen || 0, now);
    renderScanners();
    persist();
  }
  // Stored before this handler returns, i.e. before the client acknowledges
  // the scan and stores its seq: a reload in between replays it, and the
  // check above keeps it from showing twice.
  persistScans();
  if (soundOn) beep();
  if (autoCopy) autoCopyCode(s.code);
}

let autoCopyWarned = false;
/** "Copy each new scan": for POS software that cannot embed the client. */
async function autoCopyCode(code) {
  const ok = await copyText(code);
  if (!ok && !autoCopyWarned) {
    autoCopyWarned = true; // once: a failing clipboard would otherwise toast every scan
    toast('Could not copy the scan automatically: the browser allows it only while this page has focus.', true);
  }
}

/** Takes scans out of the list, with Undo (the box still has them: "All (from box)"). */
function removeScans(pred, text) {
  const gone = scans.filter(pred);
  if (!gone.length) return;
  scans = scans.filter((s) => !pred(s));
  persistScans();
  renderScans();
  const gen = generation;
  toast(text, false, () => {
    if (gen !== generation) return;
    const have = new Set(scans.map((s) => s.seq));
    scans = [...scans, ...gone.filter((s) => !have.has(s.seq))].sort((a, b) => b.seq - a.seq);
    persistScans();
    renderScans();
    toast('Restored');
  });
  // The button that was pressed is gone or disabled: Undo is the natural next stop.
  els.toastUndo.focus();
}

function deleteRow(key) {
  const code = scans.find((s) => rowKey(s) === key)?.code || '';
  removeScans((s) => rowKey(s) === key, `Deleted ${code}`);
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
    persist();
    if (!qrObject || (codeRefreshAt && Date.now() >= codeRefreshAt)) refreshQr();
    else scheduleCodeRefresh(codeRefreshAt);
  }));
  c.addEventListener('scanner_joined', mine((e) => {
    const s = e.detail;
    const isNew = !scanners.has(s.id);
    upsertScanner(s.id, { name: s.name || '', connected: true, last_seen: Date.now() });
    if (isNew) pairOpen = false;
    renderScanners();
    persist();
    if (isNew) {
      toast(`${s.name || 'A scanner'} paired`);
      newCode(false); // its code is used up: a fresh one for the next phone
    }
  }));
  c.addEventListener('scanner_left', mine((e) => {
    const { scanner, reason } = e.detail;
    const s = scanners.get(scanner);
    if (reason === 'kicked') dropScanner(scanner, 'removed');
    else if (reason === 'unpaired') dropScanner(scanner, 'unpaired itself');
    else if (s) {
      s.connected = false;
      s.last_seen = Date.now();
    }
    renderScanners();
    persist();
  }));
  // A till open all day: the session is renewed at its maximum age, the client
  // keeps the new token (also for other tabs); nothing to do but remember.
  c.addEventListener('renewed', mine(() => persist()));
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
  els.reach.hidden = true;
  els.endedText.textContent = END_TEXT[reason] || 'This session is closed.';
  for (const s of scanners.values()) s.connected = false;
  renderScanners();
  const f = /** @type {HTMLButtonElement|null} */ (document.activeElement);
  if (!f || f === document.body || f.disabled || f.closest('[hidden]')) els.restart.focus();
}

let retryTimer = 0;

/** Opens the till's session (the client rejoins the stored one) or a new one. */
async function start(attempt = 0) {
  clearTimeout(retryTimer);
  clearTimeout(codeTimer);
  const gen = ++generation;
  if (qrObject) { URL.revokeObjectURL(qrObject); qrObject = ''; }
  els.qr.hidden = true;
  els.qrBox.dataset.loading = 'true';
  els.pairUrl.textContent = '';
  const c = new ScanBridgeClient({ storage: store, storageKey: CLIENT_KEY });
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
  if (load(store, VIEW_KEY)?.session !== c.session) restoreView(c.session);
  persist();
  persistScans();
  setState(c.state);
  refreshQr();
}

// --- controls ----------------------------------------------------------------------

els.newCode.addEventListener('click', () => newCode(true));
els.pairToggle.addEventListener('click', () => {
  pairOpen = !pairOpen;
  renderPairPanel();
  if (pairOpen && (!qrObject || (codeRefreshAt && Date.now() >= codeRefreshAt))) refreshQr();
});

els.sound.addEventListener('click', () => {
  soundOn = !soundOn;
  save(store, SOUND_KEY, soundOn);
  renderSound();
  if (soundOn) beep(); // a sample, and unlocks audio (this is a user gesture)
});

els.autoCopy.checked = autoCopy;
els.autoCopy.addEventListener('change', () => {
  autoCopy = els.autoCopy.checked;
  autoCopyWarned = false;
  save(store, AUTOCOPY_KEY, autoCopy);
});

els.copyAll.addEventListener('click', async () => {
  const codes = groupRows(scans).map((r) => r.code);
  const ok = await copyText(codes.join('\n'));
  toast(ok ? `Copied ${codes.length} ${codes.length === 1 ? 'code' : 'codes'}` : 'Copy failed', !ok);
});
els.copyLast.addEventListener('click', copyLast);

function copyLast() {
  if (scans.length) copyCode(scans.reduce((a, b) => (b.seq > a.seq ? b : a)).code);
  else toast('No scan yet', true);
}

els.exportCsv.addEventListener('click', () => {
  download(`scans-${stamp(Date.now())}.csv`, 'text/csv;charset=utf-8', toCsv(exportRecords(groupRows(scans))));
});
els.exportJson.addEventListener('click', () => {
  download(`scans-${stamp(Date.now())}.json`, 'application/json',
    JSON.stringify(exportRecords(groupRows(scans)), null, 2) + '\n');
});
els.exportBox.addEventListener('click', async () => {
  if (!client) return;
  try {
    download(`scans-${stamp(Date.now())}-all.csv`, 'text/csv;charset=utf-8', await client.scansCsv());
  } catch (e) {
    toast('Could not get the scans from the box: ' + (e.message || e), true);
  }
});

els.filter.addEventListener('input', renderScans);
els.filter.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && els.filter.value) { els.filter.value = ''; renderScans(); }
});

els.clear.addEventListener('click', () => {
  const n = scans.length;
  removeScans(() => true, `Cleared ${n} ${n === 1 ? 'scan' : 'scans'}`);
});
els.toastUndo.addEventListener('click', () => {
  const fn = undoFn;
  hideToast();
  if (fn) fn();
  els.scansH.focus();
});

// Keyboard: Alt+C copies the last scan, Alt+L goes to the list, / filters,
// Ctrl+Z undoes while the Undo toast is up. `code` (not `key`): Alt changes
// the character on some layouts.
document.addEventListener('keydown', (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(/** @type {HTMLElement} */ (e.target).tagName || '');
  if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyC') { e.preventDefault(); copyLast(); return; }
  if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyL') { e.preventDefault(); focusList(); return; }
  if (!typing && e.key === '/' && !e.altKey && !e.ctrlKey && !e.metaKey) { e.preventDefault(); els.filterRow.hidden = false; els.filter.focus(); return; }
  if (!typing && undoFn && (e.ctrlKey || e.metaKey) && e.key === 'z') { e.preventDefault(); els.toastUndo.click(); }
});

/** The first row's Copy button (Tab goes on through the list), else the heading. */
function focusList() {
  const first = els.scans.querySelector('button');
  (first || els.scansH).focus();
}

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
