// The cashier's view of the scans, as pure functions (no DOM, unit-tested in
// tests/web/desktop-list.test.mjs): one row per code and format with a count,
// filtering, export as CSV / JSON, a colour per scanner, and whether a pairing
// link can be opened from a phone at all.

/**
 * @typedef {{seq:number, id:string, code:string, format:string, scanner:string,
 *   scanner_name:string, scanned_at:(number|null), received_at:number, latency_ms:(number|null), colour?:number}} ViewScan
 * @typedef {{key:string, code:string, format:string, count:number, last:ViewScan, first_seq:number}} Row
 */

/** @param {{code:string, format:string}} s */
export const rowKey = (s) => s.format + '\u0000' + s.code;

/** When a scan happened: the phone's clock if it said, else the box's. @param {ViewScan} s */
export const scanTime = (s) => (typeof s.scanned_at === 'number' ? s.scanned_at : s.received_at);

/**
 * Groups scans (any order) into rows, the most recently scanned code first:
 * what a cashier counts is "this item, 3 times", not three lines.
 * @param {ViewScan[]} scans @returns {Row[]}
 */
export function groupRows(scans) {
  /** @type {Map<string, Row>} */
  const rows = new Map();
  for (const s of [...scans].sort((a, b) => a.seq - b.seq)) {
    const key = rowKey(s);
    const r = rows.get(key);
    if (r) { r.count++; r.last = s; } else rows.set(key, { key, code: s.code, format: s.format, count: 1, last: s, first_seq: s.seq });
  }
  return [...rows.values()].sort((a, b) => b.last.seq - a.last.seq);
}

/**
 * Rows whose code, format or scanner name contains the query (case-insensitive).
 * @param {Row[]} rows @param {string} query
 */
export function filterRows(rows, query) {
  const q = query.trim().toLowerCase();
  if (!q) return rows;
  return rows.filter((r) => r.code.toLowerCase().includes(q) || r.last.scanner_name.toLowerCase().includes(q) ||
    r.format.toLowerCase().replace(/_/g, '-').includes(q.replace(/_/g, '-')));
}

/**
 * Export records, in first-seen order like the box's scans.csv: code, format,
 * count, the scanner of the last scan, and its time (ISO 8601 UTC).
 * @param {Row[]} rows
 */
export function exportRecords(rows) {
  return [...rows].sort((a, b) => a.first_seq - b.first_seq).map((r) => ({
    code: r.code, format: r.format, count: r.count, scanner: r.last.scanner_name,
    time: new Date(scanTime(r.last)).toISOString(),
  }));
}

export const CSV_COLUMNS = ['code', 'format', 'count', 'scanner', 'time'];

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. @param {unknown} v */
export function csvField(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** @param {ReturnType<typeof exportRecords>} records @returns {string} CSV with a header row, CRLF line ends */
export function toCsv(records) {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) lines.push(CSV_COLUMNS.map((c) => csvField(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Parses CSV as toCsv (and the box) write it. @param {string} text @returns {string[][]} */
export function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/**
 * A stable colour slot (0..n-1) per scanner id, so the same phone keeps its
 * colour across reloads and tabs. @param {string} id @param {number} n
 */
export function colourSlot(id, n = 8) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % n;
}

/**
 * Whether a phone can open this link: not when its host is this computer
 * (loopback) or "any address" (unspecified) — the box then listens only on
 * itself, or its public_url is wrong.
 * @param {string} url @returns {'loopback'|'unspecified'|''}
 */
export function unreachableHost(url) {
  let host;
  try { host = new URL(url).hostname.toLowerCase(); } catch { return ''; }
  host = host.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) ||
      host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host) || /^::ffff:7f/.test(host)) return 'loopback';
  if (host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0') return 'unspecified';
  return '';
}

/** Whether every character of a code is a digit (the phone offers a number pad). @param {string} s */
export const isNumeric = (s) => /^\d+$/.test(s);
