-- Suggestions as a member types in the search box (`store::suggestions`):
-- prefix ranges over handles, names and the word after a name's first
-- space ("ada lovelace" is found by "love"), space names and slugs, in
-- byte order (COLLATE "C") whatever the database's collation, so that a
-- range holds exactly the strings that start with the prefix. Topics use
-- `item_topics`' key (the range is checked again in Rust).
CREATE INDEX members_handle_prefix ON members ((handle COLLATE "C"));
CREATE INDEX members_name_prefix ON members ((lower(display_name) COLLATE "C"));
CREATE INDEX members_surname_prefix ON members ((substr(lower(display_name), strpos(display_name, ' ') + 1) COLLATE "C"));
CREATE INDEX spaces_slug_prefix ON spaces ((slug COLLATE "C"));
CREATE INDEX spaces_name_prefix ON spaces ((lower(name) COLLATE "C"));

-- A member's last distinct searches (the canonical query text), offered
-- when the box is empty or by prefix; ten are kept.
CREATE TABLE recent_searches (
    member_id   BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    query       TEXT NOT NULL,
    searched_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, query)
);
CREATE INDEX recent_searches_member ON recent_searches (member_id, searched_at);
