-- Expiry moved to the session layer (monotonic clock, all sessions in memory):
-- the database is no longer searched by activity or age.
DROP INDEX IF EXISTS sessions_last_activity;
DROP INDEX IF EXISTS sessions_created_at;
