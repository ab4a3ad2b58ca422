-- Cheaper stream pages.
--
-- Each item keeps its reaction counts (reactions on the item itself, not
-- on its comments) as text, one "emoji<TAB>count" line per emoji in the
-- order they were first used, rewritten in the transaction that adds or
-- removes a reaction. A stream page then reads counts with the item row
-- instead of counting the reactions table for twenty items, and asks only
-- which of them the viewer gave (reactions_member).
ALTER TABLE items ADD COLUMN reaction_summary TEXT NOT NULL DEFAULT '';

UPDATE items SET reaction_summary = (
    SELECT group_concat(emoji || char(9) || n, char(10) ORDER BY first, emoji)
    FROM (SELECT emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions r
          WHERE r.item_id = items.id AND r.comment_id = 0 GROUP BY emoji))
WHERE id IN (SELECT item_id FROM reactions WHERE comment_id = 0);

CREATE INDEX reactions_member ON reactions (member_id, item_id);

-- Every home page asks what the viewer muted; almost nobody mutes much.
CREATE INDEX follows_muted ON follows (member_id) WHERE level = 'muted';

-- An open space's audience is the org (counted now and then) plus the
-- guests who belong to it, found through this small (covering) index.
CREATE INDEX members_guests ON members (id, deactivated_at) WHERE role = 'guest';
