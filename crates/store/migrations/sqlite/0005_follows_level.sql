-- Fan-out and its counts read a target's followers with their level
-- ("everyone but the muted", "the watchers"). With the level in the index
-- those reads never visit the follows rows themselves: before, every
-- comment looked each follower's row up at random to check the level.
CREATE INDEX follows_target_level ON follows (target_type, target, member_id, level);
DROP INDEX follows_target;
