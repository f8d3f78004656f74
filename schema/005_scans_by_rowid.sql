-- SPDX-License-Identifier: MIT
-- Migration 5: scans loses its (session_id, seq) index and its foreign key.
-- The index had one insertion point per session, so a group commit over
-- 100 busy sessions rewrote 100 of its leaf pages in the WAL: about four in
-- five of the pages a commit wrote at 100 sessions x 2 scanners. The store
-- now keeps each session's seq -> rowid in memory (daemon/scan_index.c),
-- loaded from this table at open, and reads and deletes rows by rowid. The
-- foreign key goes because its ON DELETE CASCADE would search the whole
-- table for a deleted session's rows without that index: the store deletes
-- them itself, by rowid, in the same savepoint as the session. `id` names
-- the rowid so that a VACUUM cannot renumber it. Rows are copied session by
-- session in seq order, the order the store reads them back in; rows of a
-- session that no longer exists are left behind. Measured in
-- docs/benchmarks.md ("Performance II, part 4").
CREATE TABLE scans_v5 (
	id           INTEGER PRIMARY KEY,
	session_id   TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	client_id    TEXT NOT NULL,
	code         TEXT,              -- NULL once purged
	format       TEXT NOT NULL,
	scanner_id   TEXT NOT NULL,
	scanned_at   INTEGER,           -- NULL when the client gave none
	received_at  INTEGER NOT NULL,
	delivered_at INTEGER            -- NULL until a desktop acknowledged it
);
INSERT INTO scans_v5(session_id, seq, client_id, code, format, scanner_id, scanned_at,
	received_at, delivered_at)
	SELECT session_id, seq, client_id, code, format, scanner_id, scanned_at,
	received_at, delivered_at FROM scans
	WHERE session_id IN (SELECT id FROM sessions) ORDER BY session_id, seq;
DROP TABLE scans;
ALTER TABLE scans_v5 RENAME TO scans;
-- store_purge: only rows that still hold content
CREATE INDEX scans_purge ON scans(delivered_at) WHERE code IS NOT NULL;
