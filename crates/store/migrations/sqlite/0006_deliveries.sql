-- The delivery log: one row per delivering transaction (its position in
-- `counters.delivery`, the activity, and the members reached, ids
-- separated by commas). New rows go at the end of the table, a few hundred
-- bytes for a comment, where writing each member's `inbox` entry would
-- dirty one leaf per member. The server keeps the log indexed by member in
-- memory and folds it into `inbox` in member order now and then.
CREATE TABLE deliveries (
    seq         INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL,
    members     TEXT NOT NULL
);
