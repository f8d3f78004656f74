// SPDX-License-Identifier: MIT
// scanbridge embeddable client — the ES module (the documented URL,
// /client/scanbridge.js): the desktop side (ScanBridgeClient) and the scanner
// side (ScanBridgeScanner, which the phone page uses). The code lives in scanbridge.global.js, a classic
// script that also serves pages without modules (window.ScanBridge); this
// module runs it once and re-exports what it defines. Types: scanbridge.d.ts.
// Usage (docs/embedding.md):
//   import { ScanBridgeClient } from '/client/scanbridge.js';
//   const c = new ScanBridgeClient({ onScan: (scan) => pos.addItem(scan.code) });
//   await c.open();
import './scanbridge.global.js';

const lib = globalThis.ScanBridge;

export const ScanBridgeClient = lib.ScanBridgeClient;
export const ScanBridgeScanner = lib.ScanBridgeScanner;
export const connectScanner = lib.connectScanner;
export const ScanBridgeError = lib.ScanBridgeError;
export const backoffDelay = lib.backoffDelay;
export const PING_MS = lib.PING_MS;
export const version = lib.version;
export default ScanBridgeClient;
