-- The daily digest (`store::digest`). Each member chooses the hour it comes
-- in their own time zone (0-23, 8 by default). `digest_day` is the local
-- date ('2026-12-07') of the last digest claimed for them, so no restart,
-- second node or late run sends two in one day; `digest_until` is when that
-- digest's window ended (microseconds), where the next one starts: 0 until
-- the digest job first sees the member, which starts their clock.
ALTER TABLE members ADD COLUMN digest_hour BIGINT NOT NULL DEFAULT 8;
ALTER TABLE members ADD COLUMN digest_day TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN digest_until BIGINT NOT NULL DEFAULT 0;
