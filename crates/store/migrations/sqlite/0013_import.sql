-- Mail archives imported into a space (`store::import`). An imported item
-- or comment whose author is no member is written by the space's creator
-- and carries who sent it ("Name <address>"), which the page shows
-- instead; a matched author leaves it NULL.
ALTER TABLE items ADD COLUMN imported_from TEXT;
ALTER TABLE comments ADD COLUMN imported_from TEXT;

-- Each imported message once per space: its Message-ID (or "sha256:" and
-- the hash of the raw message when it has none), and what it became.
CREATE TABLE imported_messages (
    space_id    BIGINT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    item_id     BIGINT NOT NULL,
    comment_id  BIGINT,
    PRIMARY KEY (space_id, message_key)
);
