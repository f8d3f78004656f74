-- SPDX-License-Identifier: MIT
-- Migration 4: scans becomes a rowid table written in arrival order, found
-- by (session_id, seq) through an index, and without the UNIQUE(session_id,
-- client_id) index. Both changes are for the write cost per scan: client
-- ids are random, so that index took each new scan to a random page of a
-- B-tree that grows with every scan kept (a dirty 4 KiB WAL frame per scan
-- under load), and a table keyed by (session_id, seq) has one place of
-- insertion per session, so a group commit over 100 busy sessions dirtied
-- (and split) 100 leaf pages. Rows now go to the end of one table; the
-- (session_id, seq) index still has an insertion point per session, but
-- its entries are a fifth of a row. A resent scan is found by the session
-- layer's in-memory index of client ids (idset.c), built from this table
-- when the session first takes a scan after start. Measured in
-- docs/benchmarks.md ("Performance II").
CREATE TABLE scans_v4 (
	session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL,
	client_id    TEXT NOT NULL,
	code         TEXT,              -- NULL once purged
	format       TEXT NOT NULL,
	scanner_id   TEXT NOT NULL,
	scanned_at   INTEGER,           -- NULL when the client gave none
	received_at  INTEGER NOT NULL,
	delivered_at INTEGER            -- NULL until a desktop acknowledged it
);
INSERT INTO scans_v4 SELECT session_id, seq, client_id, code, format, scanner_id,
	scanned_at, received_at, delivered_at FROM scans ORDER BY received_at, session_id, seq;
DROP TABLE scans;
ALTER TABLE scans_v4 RENAME TO scans;
-- replay, receipts, export, the session's head, and the cascade from sessions
CREATE UNIQUE INDEX scans_session_seq ON scans(session_id, seq);
-- store_purge: only rows that still hold content
CREATE INDEX scans_purge ON scans(delivered_at) WHERE code IS NOT NULL;
