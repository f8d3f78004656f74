// SPDX-License-Identifier: MIT
// Unit tests of the desktop's scan-list logic (web/desktop-list.js): rows with
// counts, filter, export records and CSV, colour slots, unreachable pair links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  colourSlot, exportRecords, filterRows, groupRows, parseCsv, toCsv, unreachableHost,
} from '../../web/desktop-list.js';

const scan = (seq, code, extra = {}) => ({ seq, id: 'i' + seq, code, format: 'EAN_13', scanner: 'a', scanner_name: 'Till 2',
  scanned_at: null, received_at: Date.UTC(2024, 4, 1, 12, 0, seq), latency_ms: 5, ...extra });

test('rows: one per code and format, ×N, most recently scanned first; export in first-seen order', () => {
  const scans = [scan(4, 'X', { scanner_name: 'Till 3' }), scan(3, 'B'), scan(2, 'X'), scan(1, 'A'), scan(5, 'X', { format: 'CODE_128' })];
  const rows = groupRows(scans);
  assert.deepEqual(rows.map((r) => [r.code, r.format, r.count]), [['X', 'CODE_128', 1], ['X', 'EAN_13', 2], ['B', 'EAN_13', 1], ['A', 'EAN_13', 1]]);
  assert.deepEqual(exportRecords(rows), [
    { code: 'A', format: 'EAN_13', count: 1, scanner: 'Till 2', time: '2024-05-01T12:00:01.000Z' },
    { code: 'X', format: 'EAN_13', count: 2, scanner: 'Till 3', time: '2024-05-01T12:00:04.000Z' },
    { code: 'B', format: 'EAN_13', count: 1, scanner: 'Till 2', time: '2024-05-01T12:00:03.000Z' },
    { code: 'X', format: 'CODE_128', count: 1, scanner: 'Till 2', time: '2024-05-01T12:00:05.000Z' },
  ]);
  assert.deepEqual(filterRows(rows, 'till 3').map((r) => r.code), ['X']);
  assert.deepEqual(filterRows(rows, 'code-128').map((r) => r.format), ['CODE_128']);
  assert.equal(filterRows(rows, '  ').length, 4);
});

test('CSV: header, RFC 4180 quoting, CRLF; parseCsv reads it back', () => {
  const recs = [{ code: 'a,"b"\nc', format: 'UNKNOWN', count: 2, scanner: 'Till, 2', time: '2024-05-01T12:00:00.000Z' }];
  const csv = toCsv(recs);
  assert.equal(csv, 'code,format,count,scanner,time\r\n"a,""b""\nc",UNKNOWN,2,"Till, 2",2024-05-01T12:00:00.000Z\r\n');
  assert.deepEqual(parseCsv(csv), [['code', 'format', 'count', 'scanner', 'time'], ['a,"b"\nc', 'UNKNOWN', '2', 'Till, 2', '2024-05-01T12:00:00.000Z']]);
});

test('pairing links phones cannot open: loopback and unspecified hosts', () => {
  for (const u of ['http://127.0.0.1:8080/p#x', 'http://127.1.2.3/p', 'http://localhost:8080/p', 'http://till.localhost/p', 'http://[::1]:8080/p']) {
    assert.equal(unreachableHost(u), 'loopback', u);
  }
  for (const u of ['http://0.0.0.0:8080/p', 'http://[::]:8080/p']) assert.equal(unreachableHost(u), 'unspecified', u);
  for (const u of ['http://192.168.1.20:8080/p', 'https://scanbridge.lan:8443/p', 'http://[fe80::1]/p', 'not a url']) {
    assert.equal(unreachableHost(u), '', u);
  }
});

test('colour slots are stable and in range', () => {
  assert.equal(colourSlot('abc'), colourSlot('abc'));
  for (const id of ['a', 'bb', 'xyz123', '']) assert.ok(colourSlot(id) >= 0 && colourSlot(id) < 8);
});
