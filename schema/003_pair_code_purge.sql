-- SPDX-License-Identifier: MIT
-- Migration 3: the cleanup pass deletes used and expired pair codes
-- (store_pair_codes_purge: expires_at <= now OR used = 1); these two indexes
-- make that a search on each side of the OR instead of a scan of every code.
-- The used one is partial: a code is used at most once, just before it goes.
CREATE INDEX pair_codes_expires_at ON pair_codes(expires_at);
CREATE INDEX pair_codes_used ON pair_codes(used) WHERE used = 1;
