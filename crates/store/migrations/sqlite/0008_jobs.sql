-- One queue for background work (`store::jobs`). A job is queued (due at
-- `run_at`), running (claimed by `locked_by` until `lease_until`, which
-- its runner extends while it works; past it any runner may claim it
-- again) or dead (it failed `max_attempts` times; kept with its last
-- error until an admin retries it). A finished job is deleted. While a
-- job is queued or running its `unique_key` is its own: enqueueing the
-- same key again finds that job instead of adding one.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    unique_key   TEXT,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    last_error   TEXT,
    lease_until  INTEGER,
    locked_by    TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE state <> 'dead';
-- Claiming reads queued jobs by `run_at` and running ones (a handful)
-- by their lease; the admin's list reads a state newest first.
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_state ON jobs (state, id);

-- The fan-outs still pending become jobs of kind `fanout`, their
-- progress in the payload; the targets' newline-separated list becomes a
-- JSON array.
INSERT INTO jobs (kind, payload, unique_key, state, run_at, max_attempts, created_at, updated_at)
SELECT 'fanout',
       json_object(
           'activity', activity_id,
           'item', item_id,
           'targets', json(CASE WHEN targets = '' THEN '[]' ELSE
               '["' || replace(replace(replace(targets, '\', '\\'), '"', '\"'), char(10), '","') || '"]'
           END),
           'next_target', next_target,
           'after_member', after_member),
       'fanout:' || activity_id, 'queued', created_at, 10, created_at, created_at
FROM fanout_jobs
ORDER BY activity_id;
DROP TABLE fanout_jobs;
