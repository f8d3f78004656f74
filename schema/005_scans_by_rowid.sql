-- SPDX-License-Identifier: MIT
-- Migration 5: scans are written once and found by rowid.
-- * The (session_id, seq) index goes. It had one insertion point per
--   session, so a group commit over 100 busy sessions rewrote 100 of its leaf
--   pages in the WAL: about four in five of the pages a commit wrote at 100
--   sessions x 2 scanners. The store keeps each session's seq -> rowid in
--   memory (daemon/scan_index.c), loaded from this table at open.
-- * The foreign key goes: its ON DELETE CASCADE would search the whole table
--   for a deleted session's rows without that index. The store deletes them
--   itself, by rowid, in the same savepoint as the session.
-- * delivered_at and its purge index go. Stamping every delivered scan moved
--   an index entry per scan and cost ~3 us of the ~12 a scan cost; an ack is
--   now one row of deliveries: "the session's scans up to seq were delivered
--   at `at`". The purge clears a session's scans up to the highest seq
--   delivered long enough ago, from sessions.purged_seq on, then drops those
--   rows. Undelivered content is as before: kept.
-- `id` names the rowid so that a VACUUM cannot renumber it. Rows are copied
-- session by session in seq order, the order the store reads them back in;
-- rows of a session that no longer exists are left behind. Measured in
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
	received_at  INTEGER NOT NULL
);
INSERT INTO scans_v5(session_id, seq, client_id, code, format, scanner_id, scanned_at,
	received_at)
	SELECT session_id, seq, client_id, code, format, scanner_id, scanned_at,
	received_at FROM scans
	WHERE session_id IN (SELECT id FROM sessions) ORDER BY session_id, seq;

CREATE TABLE deliveries (
	session_id TEXT NOT NULL,
	seq        INTEGER NOT NULL,  -- the session's scans up to seq ...
	at         INTEGER NOT NULL   -- ... were delivered at or before this
);
-- store_purge: the rows delivered long enough ago, then their deletion
CREATE INDEX deliveries_at ON deliveries(at);
-- Delivered content not yet purged: purged as if all of it had been
-- delivered at the latest of its times (later, never earlier).
INSERT INTO deliveries(session_id, seq, at)
	SELECT session_id, MAX(seq), MAX(delivered_at) FROM scans
	WHERE delivered_at IS NOT NULL AND code IS NOT NULL
	AND session_id IN (SELECT id FROM sessions) GROUP BY session_id;
ALTER TABLE sessions ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;

DROP TABLE scans;
ALTER TABLE scans_v5 RENAME TO scans;
