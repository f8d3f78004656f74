// Desktop page (served at /): creates or re-attaches to a session, shows the
// pairing QR, the scanners and the incoming scans.
import { ScanBridgeClient } from '/client/scanbridge.js';

const KEY = 'scanbridge.desktop';        // {session, desktop_token, last_seq, pair_url}
const SCANS_KEY = 'scanbridge.desktop.scans';
const MAX_SCANS = 200;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  state: $('state'), qr: /** @type {HTMLImageElement} */ ($('qr')),
  pairUrl: /** @type {HTMLAnchorElement} */ ($('pair-url')),
  newCode: /** @type {HTMLButtonElement} */ ($('new-code')),
  end: /** @type {HTMLButtonElement} */ ($('end')),
  restart: /** @type {HTMLButtonElement} */ ($('restart')),
  message: $('message'), scanners: $('scanners'), noScanners: $('no-scanners'),
  scans: $('scans'), noScans: $('no-scans'),
};

const STATE_TEXT = {
  idle: 'Starting…', connecting: 'Connecting…', live: 'Live',
  reconnecting: 'Reconnecting…', ended: 'Session ended',
};

/** @type {ScanBridgeClient|null} */
let client = null;
/** @type {Map<string, {id:string, name:string, connected:boolean}>} */
const scanners = new Map();
/** @type {Array<object>} newest first */
let scans = [];
let qrUrl = '';

function load(key) {
  try { return JSON.parse(sessionStorage.getItem(key) || 'null'); } catch { return null; }
}
function save() {
  if (!client) return;
  sessionStorage.setItem(KEY, JSON.stringify({ ...client.toJSON(), pair_url: client.pairUrl }));
  sessionStorage.setItem(SCANS_KEY, JSON.stringify(scans));
}

function showMessage(text) {
  els.message.textContent = text || '';
  els.message.hidden = !text;
}

function setState(s) {
  els.state.textContent = STATE_TEXT[s] || s;
  els.state.dataset.state = s;
  const ended = s === 'ended';
  els.newCode.disabled = ended;
  els.end.disabled = ended;
  els.restart.hidden = !ended;
  if (ended) {
    els.qr.hidden = true;
    els.pairUrl.textContent = '';
  }
}

async function refreshQr(allowNewCode = true) {
  if (!client) return;
  try {
    if (!client.pairUrl) await client.newPairCode();
    const url = await client.qrObjectUrl();
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    qrUrl = url;
    els.qr.src = url;
    els.qr.hidden = false;
    els.pairUrl.href = client.pairUrl || '#';
    els.pairUrl.textContent = client.pairUrl || '';
    save();
  } catch (e) {
    if (allowNewCode && e.code === 'pair_code_invalid') {
      client.pairUrl = null;
      return refreshQr(false);
    }
    showMessage('Could not load the pairing code: ' + e.message);
  }
}

async function newCode() {
  if (!client) return;
  els.newCode.disabled = true;
  try {
    await client.newPairCode();
    showMessage('');
    await refreshQr(false);
  } catch (e) {
    showMessage('Could not create a new code: ' + e.message);
  } finally {
    els.newCode.disabled = client.state === 'ended';
  }
}

function renderScanners() {
  els.scanners.replaceChildren(...[...scanners.values()].map((s) => {
    const li = document.createElement('li');
    li.className = s.connected ? 'connected' : 'disconnected';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = s.name || s.id;
    const st = document.createElement('span');
    st.className = 'conn';
    st.textContent = s.connected ? 'connected' : 'disconnected';
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'secondary small';
    rm.textContent = 'Remove';
    rm.setAttribute('aria-label', 'Remove ' + (s.name || s.id));
    rm.addEventListener('click', () => {
      if (!client || !client.kick(s.id)) showMessage('Not connected; try again when live.');
    });
    li.append(name, ' ', st, ' ', rm);
    return li;
  }));
  els.noScanners.hidden = scanners.size > 0;
}

function scannerName(id) {
  const s = scanners.get(id);
  return (s && s.name) || id;
}

function scanItem(scan) {
  const li = document.createElement('li');
  li.dataset.seq = String(scan.seq);
  const code = document.createElement('span');
  code.className = 'code';
  code.textContent = scan.code;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const fmt = document.createElement('span');
  fmt.className = 'format';
  fmt.textContent = scan.format;
  const who = document.createElement('span');
  who.className = 'scanner';
  who.textContent = scan.scanner_name || scannerName(scan.scanner);
  const t = scan.scanned_at || scan.received_at;
  const time = document.createElement('time');
  time.dateTime = new Date(t).toISOString();
  time.textContent = new Date(t).toLocaleTimeString();
  meta.append(fmt, ' · ', who, ' · ', time);
  li.append(code, ' ', meta);
  return li;
}

function renderScans() {
  els.scans.replaceChildren(...scans.map(scanItem));
  els.noScans.hidden = scans.length > 0;
}

function onScan(ev) {
  const scan = { ...ev.detail, scanner_name: scannerName(ev.detail.scanner) };
  scans.unshift(scan);
  if (scans.length > MAX_SCANS) scans.length = MAX_SCANS;
  els.scans.prepend(scanItem(scan));
  while (els.scans.children.length > MAX_SCANS) els.scans.lastElementChild.remove();
  els.noScans.hidden = true;
  // Persist with this seq: the client acks after this handler returns.
  sessionStorage.setItem(KEY, JSON.stringify({ ...client.toJSON(), last_seq: scan.seq, pair_url: client.pairUrl }));
  sessionStorage.setItem(SCANS_KEY, JSON.stringify(scans));
}

function wire(c) {
  c.addEventListener('state', (e) => {
    setState(e.detail);
    if (e.detail === 'ended') {
      sessionStorage.removeItem(KEY);
      const why = { deleted: 'The session was ended.', expired: 'The session expired.',
        unauthorized: 'The session is no longer valid.' }[c.endReason] || 'The session is closed.';
      showMessage(why + ' Start a new session to pair again.');
    }
  });
  c.addEventListener('welcome', (e) => {
    scanners.clear();
    for (const s of e.detail.scanners || []) scanners.set(s.id, { ...s, connected: !!s.connected });
    renderScanners();
    showMessage('');
  });
  c.addEventListener('scanner_joined', (e) => {
    const s = e.detail;
    const isNew = !scanners.has(s.id);
    scanners.set(s.id, { id: s.id, name: s.name, connected: true });
    renderScanners();
    if (isNew) newCode(); // its pair code is used up: show a fresh one
  });
  c.addEventListener('scanner_left', (e) => {
    const { scanner, reason } = e.detail;
    if (reason === 'kicked') scanners.delete(scanner);
    else if (scanners.has(scanner)) scanners.get(scanner).connected = false;
    renderScanners();
  });
  c.addEventListener('scan', onScan);
  c.addEventListener('error', (e) => showMessage('Error: ' + (e.detail.message || e.detail.code)));
}

async function start(fresh) {
  showMessage('');
  setState('connecting');
  const saved = fresh ? null : load(KEY);
  scans = saved ? load(SCANS_KEY) || [] : [];
  scanners.clear();
  renderScanners();
  renderScans();
  client = new ScanBridgeClient(saved || {});
  wire(client);
  try {
    await client.open();
  } catch (e) {
    if (saved && ['unauthorized', 'session_expired', 'forbidden', 'not_found'].includes(e.code)) {
      sessionStorage.removeItem(KEY);
      sessionStorage.removeItem(SCANS_KEY);
      return start(true);
    }
    setState('ended');
    showMessage('Could not start a session: ' + e.message);
    return;
  }
  save();
  await refreshQr();
}

els.newCode.addEventListener('click', newCode);
els.end.addEventListener('click', async () => {
  if (!client) return;
  try { await client.end(); } catch (e) { showMessage('Could not end the session: ' + e.message); }
});
els.restart.addEventListener('click', () => {
  if (client) client.close();
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(SCANS_KEY);
  start(true);
});

start(false);
