// SPDX-License-Identifier: MIT
// scanbridge embeddable client — the ES module (the documented URL,
// /client/scanbridge.js). The code lives in scanbridge.global.js, a classic
// script that also serves pages without modules (window.ScanBridge); this
// module runs it once and re-exports what it defines. Types: scanbridge.d.ts.
// Usage (docs/embedding.md):
//   import { ScanBridgeClient } from '/client/scanbridge.js';
//   const c = new ScanBridgeClient({ onScan: (scan) => pos.addItem(scan.code) });
//   await c.open();
import './scanbridge.global.js';

const lib = globalThis.ScanBridge;

export const ScanBridgeClient = lib.ScanBridgeClient;
export const ScanBridgeError = lib.ScanBridgeError;
export const backoffDelay = lib.backoffDelay;
export const version = lib.version;
export default ScanBridgeClient;
