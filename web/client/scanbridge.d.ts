// SPDX-License-Identifier: MIT
// Types of the scanbridge embeddable client (desktop side ScanBridgeClient,
// scanner side ScanBridgeScanner): /client/scanbridge.js (ES module)
// and, as `window.ScanBridge`, /client/scanbridge.global.js. Guide and
// reference: docs/embedding.md.

/** A scan as the daemon stores and forwards it (protocol v1 `scan`, without `type`). */
export interface Scan {
  seq: number;
  id: string;
  code: string;
  format: string;
  scanner: string;
  scanned_at: number | null;
  received_at: number;
}

/** What a `scan` event's detail is: the scan, plus non-enumerable helpers. */
export interface ScanDetail extends Scan {
  /** Delay the acknowledgement until `promise` resolves; a rejection refuses the scan. Call it while handling the event. */
  readonly waitUntil: (promise: PromiseLike<unknown> | unknown) => void;
  /** 1 for the first dispatch of this seq, 2+ for re-dispatches after a refusal. */
  readonly attempt: number;
}

export interface ScanEvent extends CustomEvent<ScanDetail> {
  readonly waitUntil: (promise: PromiseLike<unknown> | unknown) => void;
  readonly attempt: number;
}

export interface Scanner {
  id: string;
  name: string;
  connected?: boolean;
}

export type State = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'fallback' | 'ended';
export type EndReason = 'deleted' | 'expired' | 'unauthorized' | 'kicked' | 'unpaired' | 'closed';

/** The session outlived its maximum age and goes on: the same session, seqs and pairing, with this token from now on. */
export interface Renewed {
  token: string;
  /** ms since the epoch: the new end of the session's life. */
  expires_at: number | null;
}

export interface ClientErrorDetail {
  /** A protocol error code, `unauthorized`, or `handler_failed` (a scan handler refused a scan). */
  code: string;
  message: string;
  /** handler_failed: the refused scan, its seq, the dispatch attempt and what the handler threw. */
  seq?: number;
  scan?: Scan;
  attempt?: number;
  error?: unknown;
}

export interface Welcome {
  type: 'welcome';
  role: 'desktop';
  session: string;
  last_seq: number;
  delivered_seq: number;
  expires_at: number;
  scanners: Required<Scanner>[];
}

export interface ScanBridgeEventMap {
  scan: ScanEvent;
  scanner_joined: CustomEvent<Scanner>;
  scanner_left: CustomEvent<{ scanner: string; reason: 'disconnected' | 'kicked' | 'unpaired' | string }>;
  welcome: CustomEvent<Welcome>;
  renewed: CustomEvent<Renewed>;
  state: CustomEvent<State>;
  ack: CustomEvent<{ seq: number }>;
  error: CustomEvent<ClientErrorDetail>;
}

/** Replacements for browser globals, for tests. */
export interface ScanBridgeEnv {
  WebSocket?: { new (url: string, protocol: string): WebSocket };
  fetch?: typeof fetch;
  /** null disables persistence. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (t: unknown) => void;
  random?: () => number;
}

export interface ScanBridgeOptions {
  /** Daemon base URL; default: the page's origin. */
  base?: string;
  /** Attach to this session (with its desktop_token) instead of creating one. */
  session?: string;
  desktop_token?: string;
  /** Highest seq already handled, when attaching. */
  last_seq?: number;
  pair_url?: string;
  /** Bearer key for POST /sessions when the daemon has `api_key` set. */
  api_key?: string;
  /** Called for each scan before the `scan` listeners; a returned promise delays the ack, a rejection (or throw) refuses the scan. */
  onScan?: (scan: ScanDetail, event: ScanEvent) => unknown;
  /** sessionStorage key for {session, desktop_token, last_seq, pair_url}; false disables. Default 'scanbridge.client'. */
  storageKey?: string | false;
  /** Where that entry is kept: sessionStorage (default; per tab) or localStorage (a till: new tabs and browser restarts rejoin); null disables. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** Backoff of reconnects: first delay and cap, ms. Defaults 500 and 30000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Use the REST long-poll when the WebSocket fails. Default true. */
  fallback?: boolean;
  /** Failed WebSocket attempts in a row before polling. Default 2. */
  fallbackAfter?: number;
  /** A socket not welcomed within this counts as failed, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Long-poll wait, s (the daemon clamps to 30). Default 25. */
  pollWaitS?: number;
  /** Fallback: how often scanners are re-read, ms. Default 10000. */
  scannerPollMs?: number;
  /** First re-dispatch delay of a refused scan, ms (then doubling up to backoffMaxMs). Default 1000. */
  retryMinMs?: number;
  env?: ScanBridgeEnv;
}

export class ScanBridgeError extends Error {
  constructor(code: string, message: string, status: number);
  code: string;
  status: number;
}

export class ScanBridgeClient extends EventTarget {
  constructor(opts?: ScanBridgeOptions);
  readonly base: string;
  session: string | null;
  token: string | null;
  /** Highest seq the app has finished handling: acknowledged, stored, sent as hello last_seq. */
  lastSeq: number;
  pairUrl: string | null;
  expiresAt: number | null;
  /** When the box last answered anything (ms since the epoch; 0 = not yet). */
  lastHeardAt: number;
  state: State;
  endReason: EndReason | null;
  scanners: Map<string, Scanner>;

  open(): Promise<this>;
  toJSON(): { session: string | null; desktop_token: string | null; last_seq: number; pair_url: string | null };
  qrObjectUrl(): Promise<string>;
  newPairCode(): Promise<{ pair_code: string; pair_url: string; expires_at: number }>;
  /** GET …/scans.csv: every distinct code of the session, `code,format,count,scanner,time`. */
  scansCsv(): Promise<string>;
  kick(scannerId: string): boolean;
  end(): Promise<void>;
  close(): void;

  addEventListener<K extends keyof ScanBridgeEventMap>(type: K, listener: (ev: ScanBridgeEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ScanBridgeEventMap>(type: K, listener: (ev: ScanBridgeEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// --- scanner side -------------------------------------------------------------

export type ScannerState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'offline' | 'ended';

/** What POST /api/v1/pair answers. */
export interface ScannerCredentials {
  session: string;
  scanner: string;
  scanner_token: string;
  expires_at: number;
}

export interface ScannerWelcome {
  type: 'welcome';
  role: 'scanner';
  session: string;
  scanner: string;
  last_seq: number;
  delivered_seq: number;
  expires_at: number;
}

export interface DecodedCode {
  code: string;
  format: string;
}

export interface ScannerErrorDetail {
  /** A protocol error code: invalid_request, invalid_check_digit, rate_limited, busy, unsupported_media_type, unavailable. */
  code: string;
  message: string;
  /** Set when the error answers a scan (that scan is no longer in flight). */
  id?: string;
  /** True when the error answers an image frame. */
  image?: boolean;
}

export interface ScanBridgeScannerEventMap {
  state: CustomEvent<ScannerState>;
  welcome: CustomEvent<ScannerWelcome>;
  ack: CustomEvent<{ id: string; seq: number; duplicate: boolean }>;
  delivered: CustomEvent<{ id: string; seq: number }>;
  decoded: CustomEvent<{ codes: DecodedCode[]; ms: number }>;
  error: CustomEvent<ScannerErrorDetail>;
  renewed: CustomEvent<Renewed>;
  ended: CustomEvent<{ reason: EndReason }>;
}

export interface ScanBridgeScannerEnv extends Omit<ScanBridgeEnv, 'storage'> {
  /** Clock, ms (default Date.now). */
  now?: () => number;
  /** Where 'online' / 'offline' are listened to (default window); null: not at all. */
  window?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | null;
  /** Where 'visibilitychange' is listened to (default document). */
  document?: (Pick<EventTarget, 'addEventListener' | 'removeEventListener'> & { hidden?: boolean }) | null;
  /** navigator.onLine false: wait for 'online' instead of backing off. */
  navigator?: { onLine?: boolean } | null;
}

export interface ScanBridgeScannerOptions {
  /** The scanner token from pairing (required). */
  scanner_token: string;
  /** Daemon base URL; default: the page's origin. */
  base?: string;
  session?: string;
  scanner?: string;
  /** Reconnect backoff: first delay and cap, ms. Defaults 500 and 30000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A socket not welcomed within this counts as failed, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** A scan or ping unanswered this long (nothing received meanwhile) drops the socket, ms. Default 10000. */
  answerMs?: number;
  /** Nothing received this long drops the socket, ms. Default 70000. */
  silenceMs?: number;
  /** How often the two above are checked, ms. Default 2500. */
  watchdogMs?: number;
  /** Offline (navigator.onLine false): retry this often until 'online', ms. Default 30000. */
  offlineRetryMs?: number;
  /** Image frames unanswered at a time. Default 2 (the daemon's per-connection limit). */
  maxImagesInFlight?: number;
  /** At most one image frame this often, ms. Default 250. */
  imageIntervalMs?: number;
  /** An unanswered image frame is forgotten after this, ms (the daemon may drop it silently). Default 4000. */
  imageTimeoutMs?: number;
  /** Follow online/offline and visibility changes. Default true. */
  watchNetwork?: boolean;
  env?: ScanBridgeScannerEnv;
}

export class ScanBridgeScanner extends EventTarget {
  /** POST /api/v1/pair: trade a pair code for a scanner token. */
  static pair(opts: { pair_code: string; name?: string; base?: string; env?: ScanBridgeScannerEnv }): Promise<ScannerCredentials>;
  constructor(opts: ScanBridgeScannerOptions);
  readonly base: string;
  token: string | null;
  session: string | null;
  /** This scanner's id. */
  scanner: string | null;
  state: ScannerState;
  endReason: EndReason | null;
  /** Every seq ≤ this is delivered (welcome.delivered_seq, then live `delivered`). */
  deliveredSeq: number;
  expiresAt: number | null;
  /** Ids of scans sent on this connection and not yet answered. */
  readonly inFlight: ReadonlySet<string>;
  /** Welcomed: sendScan and sendImage work. */
  readonly live: boolean;

  open(): this;
  reconnect(): void;
  ping(): boolean;
  sendScan(scan: { id: string; code: string; format?: string; scanned_at?: number | null }): boolean;
  canSendImage(): boolean;
  sendImage(image: Blob | ArrayBuffer | ArrayBufferView): boolean;
  decode(image: Blob, type?: string): Promise<{ codes: DecodedCode[]; ms: number }>;
  close(): void;
  /** Leave the session (DELETE …/scanners/{id}); ends with `unpaired`. Resolves false when the box could not be told. */
  unpair(): Promise<boolean>;

  addEventListener<K extends keyof ScanBridgeScannerEventMap>(type: K, listener: (ev: ScanBridgeScannerEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ScanBridgeScannerEventMap>(type: K, listener: (ev: ScanBridgeScannerEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** `new ScanBridgeScanner(opts).open()`. */
export function connectScanner(opts: ScanBridgeScannerOptions): ScanBridgeScanner;

/** The application ping interval of both sides, ms (30000). */
export const PING_MS: number;

/** Retry delay for attempt n (0-based): min·2ⁿ capped at max, uniform in [cap/2, cap]. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random?: () => number): number;
export const version: string;
export default ScanBridgeClient;

declare global {
  interface Window {
    ScanBridge: {
      ScanBridgeClient: typeof ScanBridgeClient;
      ScanBridgeScanner: typeof ScanBridgeScanner;
      connectScanner: typeof connectScanner;
      ScanBridgeError: typeof ScanBridgeError;
      backoffDelay: typeof backoffDelay;
      PING_MS: number;
      version: string;
    };
  }
}
