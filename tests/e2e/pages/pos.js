// SPDX-License-Identifier: MIT
// The cross-origin POS: the client talks to the daemon named by the script
// tag's data-daemon (REST with CORS, and the WebSocket).
/* global ScanBridge */
window.events = [];
window.taken = [];
const client = new ScanBridge.ScanBridgeClient({
  base: document.currentScript.dataset.daemon,
  onScan: async (scan) => { await new Promise((r) => setTimeout(r, 50)); window.taken.push(scan.code); },
});
window.client = client;
for (const type of ['state', 'scanner_joined', 'scan', 'ack', 'error']) {
  client.addEventListener(type, (e) => window.events.push({ type, detail: JSON.parse(JSON.stringify(e.detail ?? null)) }));
}
client.open().then(() => { window.opened = client.toJSON(); }, (e) => { window.openError = String(e); });
