-- SPDX-License-Identifier: MIT
-- Migration 1: the initial scanbridge schema. Sessions own their pair codes,
-- scanners and scans (ON DELETE CASCADE, foreign_keys is on); a scan's content
-- (code) is set to NULL once purged while the row stays as the client-id -> seq
-- tombstone. Ended sessions are remembered for a while so clients get the right
-- answer. store.c runs this file and `PRAGMA user_version = 1` in one
-- transaction, so it must not contain BEGIN/COMMIT itself. All times are ms.

CREATE TABLE sessions (
	id             TEXT PRIMARY KEY,
	created_at     INTEGER NOT NULL,
	last_activity  INTEGER NOT NULL,
	delivered_seq  INTEGER NOT NULL DEFAULT 0,
	last_pair_code TEXT NOT NULL DEFAULT ''
);
-- store_sessions_expired: last_activity <= now - ttl OR created_at <= now - max_age
CREATE INDEX sessions_last_activity ON sessions(last_activity);
CREATE INDEX sessions_created_at ON sessions(created_at);

CREATE TABLE pair_codes (
	code       TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL,
	used       INTEGER NOT NULL DEFAULT 0
);
-- the cascade from sessions
CREATE INDEX pair_codes_session ON pair_codes(session_id);

CREATE TABLE scanners (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	id         TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	kicked     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (session_id, id)
) WITHOUT ROWID;

CREATE TABLE scans (
	session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL,
	client_id    TEXT NOT NULL,
	code         TEXT,              -- NULL once purged
	format       TEXT NOT NULL,
	scanner_id   TEXT NOT NULL,
	scanned_at   INTEGER,           -- NULL when the client gave none
	received_at  INTEGER NOT NULL,
	delivered_at INTEGER,           -- NULL until a desktop acknowledged it
	PRIMARY KEY (session_id, seq),
	UNIQUE (session_id, client_id)
) WITHOUT ROWID;
-- store_purge: only rows that still hold content
CREATE INDEX scans_purge ON scans(delivered_at) WHERE code IS NOT NULL;

CREATE TABLE ended_sessions (
	id         TEXT PRIMARY KEY,
	reason     INTEGER NOT NULL,
	keep_until INTEGER NOT NULL
);
-- store_purge drops rows past keep_until
CREATE INDEX ended_sessions_keep_until ON ended_sessions(keep_until);
