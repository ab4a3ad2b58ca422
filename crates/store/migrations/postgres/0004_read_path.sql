-- Cheaper stream pages.
--
-- Each item keeps its reaction counts (reactions on the item itself, not
-- on its comments) as text, one "emoji<TAB>count" line per emoji in the
-- order they were first used, rewritten in the transaction that adds or
-- removes a reaction. A stream page then reads counts with the item row
-- instead of counting the reactions table for twenty items, and asks only
-- which of them the viewer gave (reactions_member).
ALTER TABLE items ADD COLUMN reaction_summary TEXT NOT NULL DEFAULT '';

UPDATE items SET reaction_summary = s.summary
FROM (SELECT item_id, string_agg(emoji || E'\t' || n, E'\n' ORDER BY first, emoji) AS summary
      FROM (SELECT item_id, emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions
            WHERE comment_id = 0 GROUP BY item_id, emoji) g
      GROUP BY item_id) s
WHERE items.id = s.item_id;

CREATE INDEX reactions_member ON reactions (member_id, item_id);

-- Every home page asks what the viewer muted; almost nobody mutes much.
CREATE INDEX follows_muted ON follows (member_id) WHERE level = 'muted';

-- An open space's audience is the org (counted now and then) plus the
-- guests who belong to it, found through this small (covering) index.
CREATE INDEX members_guests ON members (id, deactivated_at) WHERE role = 'guest';
