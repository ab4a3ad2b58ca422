-- Saved searches a member follows (`store::searches`): the query's
-- canonical text (`domain::search::Query`'s Display), one per member and
-- query, at a follow level (`watching`, `following`, `muted`: the words of
-- `follows.level`), and the activity the matching job has looked at up to.
CREATE TABLE saved_searches (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    query        TEXT NOT NULL,
    level        TEXT NOT NULL,
    matched_upto INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX saved_searches_member_query ON saved_searches (member_id, query);
-- The job walks the searches that deliver, in id order.
CREATE INDEX saved_searches_live ON saved_searches (id) WHERE level <> 'muted';

-- What a followed search delivered to its owner's home: once per member
-- and activity, whichever of their searches matched first (the insert
-- that finds the row there delivers nothing), with the query as the home
-- entry names it.
CREATE TABLE search_deliveries (
    member_id   INTEGER NOT NULL,
    activity_id INTEGER NOT NULL,
    search_id   INTEGER NOT NULL,
    query       TEXT NOT NULL,
    PRIMARY KEY (member_id, activity_id)
) WITHOUT ROWID;
