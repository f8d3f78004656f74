// SPDX-License-Identifier: MIT
// The phone page's pure logic, importable in node for unit tests: scan ids,
// the repeated-detection filter, outbox state transitions, format guessing
// and mapping, and the texts for the ways a session ends. No DOM, no
// storage, no clock of its own: callers pass time and randomness in. The
// connection itself (hello, ping, half-open detection, close codes,
// reconnect backoff, image frame pacing) is the client's ScanBridgeScanner
// (web/client/scanbridge.global.js).

/** Outbox item states, in the order a scan normally goes through them. */
export const STATES = Object.freeze(['pending', 'sent', 'delivered', 'rejected', 'ended']);

/** Human text shown next to each state (the state name itself is shown too). */
export const STATE_HINT = Object.freeze({
  pending: 'waiting to be sent',
  sent: 'stored, waiting for the till',
  delivered: 'received by the till',
  rejected: 'refused',
  ended: 'session ended before delivery',
});

/** `error` codes after which a scan stays pending and is sent again later. */
export const RETRYABLE = Object.freeze(['unavailable', 'busy', 'rate_limited']);

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A scan id: 22 chars of [A-Za-z0-9_-] (132 random bits). Uses
 * crypto.getRandomValues, which, unlike crypto.randomUUID, also exists on
 * plain-HTTP pages.
 * @param {(a: Uint8Array) => Uint8Array} [getRandomValues]
 */
export function makeId(getRandomValues = (a) => globalThis.crypto.getRandomValues(a)) {
  const bytes = getRandomValues(new Uint8Array(22));
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b & 63];
  return s;
}

/** True when s is a valid protocol scan id. */
export function isValidId(s) {
  return typeof s === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(s);
}

/**
 * Turns a stream of detections into scans: the same code (and format) seen
 * again within `windowMs` of its previous sighting is the same scan, so a
 * barcode held in front of the camera for ten seconds is one scan. The window
 * slides: it restarts at every sighting, so the code must leave the view (or
 * stop being read) for `windowMs` before it counts again.
 */
export class RepeatFilter {
  /** @param {number} [windowMs] */
  constructor(windowMs = 2500) {
    this.windowMs = windowMs;
    /** @type {Map<string, number>} key → last seen (ms) */
    this.seen = new Map();
  }

  /**
   * Records a sighting; returns true when it is a new scan.
   * @param {string} code @param {string} format @param {number} now ms
   */
  accept(code, format, now) {
    for (const [k, t] of this.seen) if (now - t >= this.windowMs) this.seen.delete(k);
    const key = format + '\u0000' + code;
    const fresh = !this.seen.has(key);
    this.seen.set(key, now);
    return fresh;
  }

  reset() { this.seen.clear(); }
}

const DETECTOR_FORMATS = {
  ean_13: 'EAN_13', ean_8: 'EAN_8', upc_a: 'UPC_A', upc_e: 'UPC_E', code_128: 'CODE_128',
  code_39: 'CODE_39', code_93: 'CODE_93', itf: 'ITF', codabar: 'CODABAR', qr_code: 'QR_CODE',
  data_matrix: 'DATA_MATRIX', pdf417: 'PDF_417', aztec: 'AZTEC',
};

/** The protocol format name for a BarcodeDetector format ('UNKNOWN' if none). */
export function formatFromDetector(f) {
  return DETECTOR_FORMATS[f] || 'UNKNOWN';
}

/** BarcodeDetector formats we can name on the wire. */
export const DETECTOR_FORMAT_NAMES = Object.freeze(Object.keys(DETECTOR_FORMATS));

/**
 * The format a typed code is sent with: 13 digits are an EAN-13 (so the
 * daemon checks the check digit and a typo is refused instead of reaching the
 * till); anything else is UNKNOWN.
 */
export function guessFormat(code) {
  return /^[0-9]{13}$/.test(code) ? 'EAN_13' : 'UNKNOWN';
}

/** Unicode control characters (Cc), which the protocol refuses in a code. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks a code before it is queued. Returns null when it can be sent, else a
 * reason. Only what can never succeed is refused here; the daemon has the
 * last word (check digits).
 */
export function codeProblem(code) {
  if (typeof code !== 'string' || code.length === 0) return 'empty';
  if ([...code].length > 512) return 'longer than 512 characters';
  if (CONTROL.test(code)) return 'contains control characters';
  return null;
}

/** Trims what a person types: surrounding white space. */
export function cleanManual(raw) {
  return String(raw ?? '').trim();
}

/**
 * @typedef {{id:string, session:string, code:string, format:string,
 *   scanned_at:number, n:number, state:string, seq?:number,
 *   error?:{code:string, message:string}, source?:string}} Item
 */

/** A new outbox item (state pending). */
export function newItem({ id, session, code, format, now, n, source = 'manual' }) {
  return { id, session, code, format: format || 'UNKNOWN', scanned_at: now, n, state: 'pending', source };
}

/** True while an item still has to reach the till (counts as undelivered). */
export function isOpen(it) {
  return it.state === 'pending' || it.state === 'sent';
}

/** Number of scans of `session` not yet delivered (pending or sent). */
export function undeliveredCount(items, session) {
  let n = 0;
  for (const it of items) if (it.session === session && isOpen(it)) n++;
  return n;
}

/**
 * The server acknowledged a scan (stored with `seq`). Returns the items whose
 * state changed (mutated in place); a scan at or below `deliveredSeq` is
 * already delivered.
 */
export function applyAck(it, seq, deliveredSeq) {
  if (!it || it.state === 'delivered') return false;
  it.seq = seq;
  delete it.error;
  it.state = seq <= deliveredSeq ? 'delivered' : 'sent';
  return true;
}

/**
 * Every stored scan of `session` with seq ≤ upTo is delivered. Returns the
 * items that became delivered.
 */
export function applyDeliveredUpTo(items, session, upTo) {
  const changed = [];
  for (const it of items) {
    if (it.session === session && it.state === 'sent' && typeof it.seq === 'number' && it.seq <= upTo) {
      it.state = 'delivered';
      changed.push(it);
    }
  }
  return changed;
}

/** A `delivered` message for one item. Returns true when it changed. */
export function applyDelivered(it, seq) {
  if (!it || it.state === 'delivered' || it.state === 'rejected') return false;
  it.seq = seq;
  delete it.error;
  it.state = 'delivered';
  return true;
}

/**
 * An `error` answering a scan. Retryable codes leave it pending (returns
 * 'retry'); anything else rejects it for good (returns 'rejected').
 */
export function applyError(it, code, message) {
  it.error = { code, message: message || '' };
  if (RETRYABLE.includes(code)) {
    it.state = 'pending';
    return 'retry';
  }
  it.state = 'rejected';
  return 'rejected';
}

/**
 * Paired (again) with `session`: open items of other sessions can never be
 * sent (their tokens are gone) and become 'ended'; finished items of other
 * sessions are dropped. Returns the items to keep.
 */
export function adoptSession(items, session) {
  const keep = [];
  for (const it of items) {
    if (it.session === session) keep.push(it);
    else if (isOpen(it)) { it.state = 'ended'; keep.push(it); }
    else if (it.state === 'ended') keep.push(it);
  }
  return keep;
}

/**
 * Which finished items to forget so at most `max` items are kept: oldest
 * finished first; open items are never dropped. Returns the dropped ones.
 */
export function trimItems(items, max) {
  const sorted = [...items].sort((a, b) => a.n - b.n);
  const drop = [];
  let excess = items.length - max;
  for (const it of sorted) {
    if (excess <= 0) break;
    if (!isOpen(it)) { drop.push(it); excess--; }
  }
  return drop;
}

/** Items of `session` to send, oldest first: pending and not in flight. */
export function toSend(items, session, inFlight, limit) {
  const out = [];
  for (const it of [...items].sort((a, b) => a.n - b.n)) {
    if (out.length + inFlight.size >= limit) break;
    if (it.session === session && it.state === 'pending' && !inFlight.has(it.id)) out.push(it);
  }
  return out;
}

/**
 * What to tell the user when the scanner connection ends for good, by the
 * client's end reason (close 4001 → unauthorized, 4003 → kicked, 4004 or
 * session_ended / session_expired → deleted / expired); null for 'closed'
 * (the page closed it itself).
 */
export function endText(reason) {
  switch (reason) {
    case 'unauthorized': return 'This phone is no longer paired: it was removed at the till, or the session ended. Scan the pairing QR code on the till again.';
    case 'kicked': return 'This phone was removed from the session at the till. Scan the pairing QR code on the till again.';
    case 'deleted':
    case 'expired': return 'The session at the till has ended. Scan the new pairing QR code on the till to continue.';
    default: return null;
  }
}

/** Error messages for a failed pairing, by error code. */
export function pairFailure(code, message) {
  return {
    pair_code_invalid: 'This pairing code is invalid, already used or expired. Show a new QR code on the till and scan it again.',
    session_full: 'This session already has the maximum number of scanners. Remove one at the till first.',
    rate_limited: 'Too many pairing attempts. Wait a minute and try again.',
    session_expired: 'The session at the till has ended. Scan the new pairing QR code.',
  }[code] || 'Pairing failed: ' + (message || code);
}

/**
 * Why the live camera cannot be used, or null when it can.
 * @param {{isSecureContext?: boolean, hasGetUserMedia?: boolean, protocol?: string, host?: string}} env
 */
export function cameraUnavailableReason(env) {
  if (!env.isSecureContext) {
    // Plain words for a cashier: what works now, and why the live camera does not.
    return `Phones allow the live camera only on a secure connection (HTTPS). This page was opened over plain ${
      (env.protocol || 'http:').replace(':', '').toUpperCase()} (${env.host || 'this address'}), so: ` +
      'tap "Take photo" to photograph the barcode, or type the code below.';
  }
  if (!env.hasGetUserMedia) return 'This browser gives no access to the camera. Use "Take photo" or type the code.';
  return null;
}

/** The text for a getUserMedia failure. */
export function cameraErrorText(name) {
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was refused. Allow the camera for this page in the browser settings, or use "Take photo".';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Use "Take photo" or type the code.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera is in use by another app. Close it and try again.';
    default:
      return 'The camera could not be started. Use "Take photo" or type the code.';
  }
}

/**
 * Size to scale a w×h frame to so its longer side is at most maxSide
 * (never upscales). Returns integer dimensions.
 */
export function fitWithin(w, h, maxSide) {
  if (!(w > 0 && h > 0)) return { width: 0, height: 0 };
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** Parses the pair code from a location.hash ('' when none). */
export function pairCodeFromHash(hash) {
  let code = String(hash || '').replace(/^#/, '');
  try { code = decodeURIComponent(code); } catch { /* keep it raw */ }
  return code.trim();
}

/**
 * A token bucket for our own sends, kept under the daemon's per-connection
 * allowance (burst 100, 20/s) so a long outbox resent after a reconnect is
 * not answered `rate_limited`.
 */
export class TokenBucket {
  constructor({ burst = 40, perSec = 10 } = {}, now = 0) {
    Object.assign(this, { burst, perSec, tokens: burst, at: now });
  }

  refill(now) {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) * this.perSec / 1000);
    this.at = now;
  }

  /** Takes one token if there is one. */
  take(now) {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Ms until a token is available. */
  wait(now) {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * 1000 / this.perSec);
  }
}
