// Phone page (served at /p): pairs with the pair code in location.hash, then
// sends manually entered codes through an outbox that survives reloads and
// reconnects (localStorage for now).
'use strict';
(() => {
  const NAME_KEY = 'scanbridge.name';
  const CRED_KEY = 'scanbridge.scanner';   // {session, scanner, scanner_token, expires_at, name}
  const OUTBOX_KEY = 'scanbridge.outbox';  // {session, items: [OutboxItem]} oldest first
  const MAX_ITEMS = 100;
  const MAX_IN_FLIGHT = 50;
  const PING_MS = 30000;
  const RETRYABLE = ['unavailable', 'busy', 'rate_limited'];
  const STATE_TEXT = {
    idle: 'Not paired', pairing: 'Pairing…', connecting: 'Connecting…', live: 'Live',
    reconnecting: 'Reconnecting…', ended: 'Session ended',
  };

  /**
   * @typedef {{id:string, code:string, format:string, scanned_at:number,
   *            state:'pending'|'sent'|'delivered'|'failed', seq?:number,
   *            error?:{code:string, message:string}}} OutboxItem
   */

  const $ = (id) => document.getElementById(id);
  const els = {
    state: $('state'), message: $('message'), pair: $('pair'), pairForm: $('pair-form'),
    name: $('name'), pairBtn: $('pair-btn'), unpaired: $('unpaired'), scan: $('scan'),
    who: $('who'), scanForm: $('scan-form'), barcode: $('barcode'), outbox: $('outbox'),
    noOutbox: $('no-outbox'), unpair: $('unpair'),
  };

  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
  }

  let creds = load(CRED_KEY);
  /** @type {{session:string|null, items:OutboxItem[]}} */
  let outbox = load(OUTBOX_KEY) || { session: null, items: [] };
  let deliveredSeq = 0;
  /** @type {WebSocket|null} */ let ws = null;
  let live = false;
  let attempt = 0;
  let reconnectTimer = 0;
  let retryTimer = 0;
  let pingTimer = 0;
  /** ids sent on the current connection and not yet answered */
  let inFlight = new Set();

  function showMessage(text) {
    els.message.textContent = text || '';
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
  }

  // --- outbox ------------------------------------------------------------

  function saveOutbox() {
    const items = outbox.items;
    // Drop the oldest finished items beyond the cap; never drop unfinished ones.
    for (let i = 0; items.length > MAX_ITEMS && i < items.length;) {
      if (items[i].state === 'delivered' || items[i].state === 'failed') items.splice(i, 1);
      else i++;
    }
    localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
  }

  function findItem(id) {
    return outbox.items.find((it) => it.id === id);
  }

  function renderOutbox() {
    els.outbox.replaceChildren(...outbox.items.slice().reverse().map((it) => {
      const li = document.createElement('li');
      li.dataset.id = it.id;
      li.dataset.state = it.state;
      const code = document.createElement('span');
      code.className = 'code';
      code.textContent = it.code;
      const st = document.createElement('span');
      st.className = 'status';
      st.textContent = it.state;
      li.append(code, ' ', st);
      if (it.error) {
        const err = document.createElement('p');
        err.className = 'error';
        err.textContent = it.error.code + (it.error.message ? ': ' + it.error.message : '');
        li.append(err);
      }
      return li;
    }));
    els.noOutbox.hidden = outbox.items.length > 0;
  }

  function markDelivered(upTo) {
    if (upTo > deliveredSeq) deliveredSeq = upTo;
    for (const it of outbox.items) {
      if (it.state === 'sent' && it.seq !== undefined && it.seq <= deliveredSeq) it.state = 'delivered';
    }
  }

  function randomId() {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    let s = '';
    for (const b of bytes) s += abc[b & 63];
    return s;
  }

  function send(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** Send pending items not already in flight on this connection. */
  function flush() {
    if (!live) return;
    for (const it of outbox.items) {
      if (inFlight.size >= MAX_IN_FLIGHT) break;
      if (it.state !== 'pending' || inFlight.has(it.id)) continue;
      if (!send({ type: 'scan', id: it.id, code: it.code, format: it.format, scanned_at: it.scanned_at })) break;
      inFlight.add(it.id);
    }
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, 2000 + Math.random() * 1000);
  }

  function submitCode(raw) {
    const code = raw.trim();
    if (!code) return;
    /** @type {OutboxItem} */
    const it = {
      id: randomId(), code, format: /^\d{13}$/.test(code) ? 'EAN_13' : 'UNKNOWN',
      scanned_at: Date.now(), state: 'pending',
    };
    outbox.items.push(it);
    saveOutbox();
    renderOutbox();
    flush();
  }

  // --- WebSocket -----------------------------------------------------------

  function onMessage(m) {
    switch (m.type) {
      case 'welcome':
        attempt = 0;
        live = true;
        inFlight = new Set();
        setState('live');
        showMessage('');
        markDelivered(m.delivered_seq || 0);
        saveOutbox();
        renderOutbox();
        flush();
        break;
      case 'ack': {
        inFlight.delete(m.id);
        const it = findItem(m.id);
        if (it) {
          it.seq = m.seq;
          delete it.error;
          if (it.state !== 'delivered') it.state = m.seq <= deliveredSeq ? 'delivered' : 'sent';
          saveOutbox();
          renderOutbox();
        }
        flush();
        break;
      }
      case 'delivered': {
        const it = findItem(m.id);
        if (it) { it.seq = m.seq; it.state = 'delivered'; }
        markDelivered(m.seq);
        saveOutbox();
        renderOutbox();
        break;
      }
      case 'error': {
        const it = m.id ? findItem(m.id) : null;
        if (!it) { showMessage('Error: ' + (m.message || m.code)); break; }
        inFlight.delete(it.id);
        it.error = { code: m.code, message: m.message || '' };
        if (RETRYABLE.includes(m.code)) scheduleRetry(); // stays pending, resent later
        else it.state = 'failed';
        saveOutbox();
        renderOutbox();
        break;
      }
      case 'session_expired':
        endSession('The session expired. Scan a new pairing code on the desktop.');
        break;
      case 'session_ended':
        endSession('The desktop ended the session. Scan a new pairing code to continue.');
        break;
      default: // pong, decoded, future types
    }
  }

  function connect() {
    if (!creds) return;
    clearTimeout(reconnectTimer);
    setState(attempt ? 'reconnecting' : 'connecting');
    const sock = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws', 'scanbridge.v1');
    ws = sock;
    sock.onopen = () => {
      sock.send(JSON.stringify({ type: 'hello', token: creds.scanner_token }));
      pingTimer = setInterval(() => send({ type: 'ping' }), PING_MS);
    };
    sock.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (ws === sock) onMessage(m);
    };
    sock.onclose = (ev) => {
      clearInterval(pingTimer);
      if (ws !== sock) return;
      ws = null;
      live = false;
      if (ev.code === 4003) return endSession('This phone was removed from the session.');
      if (ev.code === 4004) return endSession('The session has ended. Scan a new pairing code.');
      if (ev.code === 4001) return endSession('This phone is no longer paired. Scan a new pairing code.');
      setState('reconnecting');
      const cap = Math.min(30000, 500 * 2 ** attempt++);
      reconnectTimer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
    };
  }

  function disconnect() {
    clearTimeout(reconnectTimer);
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    live = false;
    const sock = ws;
    ws = null;
    if (sock) sock.close(1000);
  }

  function endSession(text) {
    disconnect();
    creds = null;
    localStorage.removeItem(CRED_KEY);
    setState('ended');
    showMessage(text);
    els.scanForm.querySelector('button').disabled = true;
  }

  // --- pairing ---------------------------------------------------------------

  function clearHash() {
    history.replaceState(null, '', location.pathname + location.search);
  }

  function startPaired() {
    els.who.textContent = creds.name || creds.scanner;
    els.scanForm.querySelector('button').disabled = false;
    if (outbox.session !== creds.session) {
      outbox = { session: creds.session, items: [] };
      saveOutbox();
    }
    renderOutbox();
    showView('scan');
    attempt = 0;
    connect();
  }

  async function pair(code, name) {
    setState('pairing');
    els.pairBtn.disabled = true;
    let res;
    try {
      res = await fetch('/api/v1/pair', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ pair_code: code, name }),
      });
    } catch (e) {
      setState('idle');
      showMessage('Could not reach the desktop: ' + e.message + '. Check the Wi-Fi and try again.');
      els.pairBtn.disabled = false;
      return;
    }
    els.pairBtn.disabled = false;
    clearHash();
    let body = null;
    try { body = await res.json(); } catch { /* empty or not JSON */ }
    if (!res.ok) {
      const err = (body && body.error) || { code: 'http_' + res.status, message: res.statusText };
      const text = {
        pair_code_invalid: 'This pairing code is invalid, used or expired. Press "New code" on the desktop and scan again.',
        session_full: 'This session already has the maximum number of scanners.',
        rate_limited: 'Too many attempts; wait a minute and try again.',
      }[err.code] || 'Pairing failed: ' + (err.message || err.code);
      showMessage(text);
      if (creds) { startPaired(); showMessage(text); } else { setState('idle'); showView('unpaired'); }
      return;
    }
    disconnect();
    creds = { ...body, name };
    localStorage.setItem(CRED_KEY, JSON.stringify(creds));
    showMessage('');
    startPaired();
    els.barcode.focus();
  }

  function route() {
    let code = location.hash.replace(/^#/, '');
    try { code = decodeURIComponent(code); } catch { /* keep it raw */ }
    if (code) {
      disconnect();
      setState('idle');
      els.name.value = localStorage.getItem(NAME_KEY) || '';
      els.pairForm.dataset.code = code;
      showView('pair');
      (els.name.value ? els.pairBtn : els.name).focus();
    } else if (creds) {
      startPaired();
    } else {
      setState('idle');
      renderOutbox();
      showView('unpaired');
    }
  }

  els.pairForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = els.name.value.trim();
    if (!name) return;
    localStorage.setItem(NAME_KEY, name);
    pair(els.pairForm.dataset.code || '', name);
  });

  els.scanForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitCode(els.barcode.value);
    els.barcode.value = '';
    els.barcode.focus();
  });

  els.unpair.addEventListener('click', () => {
    disconnect();
    creds = null;
    localStorage.removeItem(CRED_KEY);
    setState('idle');
    showMessage('');
    showView('unpaired');
  });

  window.addEventListener('hashchange', route);
  window.addEventListener('online', () => { if (creds && !ws) { attempt = 0; connect(); } });
  route();
})();
