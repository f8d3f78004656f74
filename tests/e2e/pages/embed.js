// SPDX-License-Identifier: MIT
// The test POS page's code: the ~10 lines of docs/embedding.md plus hooks the
// test drives. Every client event goes into window.events as plain JSON.
// Query parameters become numeric client options (?backoffMaxMs=1000).
// window.setHold(true) makes the scan handler wait for window.release(seq);
// it is kept in sessionStorage so that it holds across a reload too.
import { ScanBridgeClient } from '/client/scanbridge.js';

const opts = {};
for (const [k, v] of new URLSearchParams(location.search)) opts[k] = Number(v);

window.events = [];
window.setHold = (on) => sessionStorage.setItem('embed.hold', on ? '1' : '0');
window.pending = new Map();   // seq → resolve of a held scan
window.release = (seq) => { window.pending.get(seq)?.(); window.pending.delete(seq); };

const client = new ScanBridgeClient(opts);
window.client = client;
for (const type of ['state', 'welcome', 'scanner_joined', 'scanner_left', 'scan', 'ack', 'error']) {
  client.addEventListener(type, (e) => {
    window.events.push({ type, detail: JSON.parse(JSON.stringify(e.detail ?? null)), t: Date.now() });
    if (type === 'state') document.getElementById('state').textContent = e.detail;
  });
}
// A slow, asynchronous POS: the phone must not see "delivered" before it is done.
client.addEventListener('scan', (e) => {
  if (sessionStorage.getItem('embed.hold') === '1') e.waitUntil(new Promise((resolve) => window.pending.set(e.detail.seq, resolve)));
});
client.open().then(() => { window.opened = client.toJSON(); }, (e) => { window.openError = String(e); });
