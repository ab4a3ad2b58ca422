-- Suggestions as a member types in the search box (`store::suggestions`):
-- prefix ranges over handles (`members_handle_key`), names and the word
-- after a name's first space ("ada lovelace" is found by "love"), space
-- names and slugs (`spaces_slug_key`), topics (`item_topics`' key).
CREATE INDEX members_name_prefix ON members (lower(display_name));
CREATE INDEX members_surname_prefix ON members (substr(lower(display_name), instr(display_name, ' ') + 1));
CREATE INDEX spaces_name_prefix ON spaces (lower(name));

-- A member's last distinct searches (the canonical query text), offered
-- when the box is empty or by prefix; ten are kept.
CREATE TABLE recent_searches (
    member_id   BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    query       TEXT NOT NULL,
    searched_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, query)
);
CREATE INDEX recent_searches_member ON recent_searches (member_id, searched_at);
