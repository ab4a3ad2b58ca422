-- Conversations for action (requests and offers), to-dos, and the secret
-- calendar feed address of each member.

-- A request or an offer is an item (kind 'request' or 'offer') plus this
-- row. `turn` is who must act next ('requester' | 'performer', NULL when
-- closed). `version` rises with every act: an act names the version it
-- saw, so of two concurrent acts one wins and the other is a conflict.
CREATE TABLE requests (
    item_id             INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    requester_id        INTEGER NOT NULL REFERENCES members (id),
    performer_id        INTEGER NOT NULL REFERENCES members (id),
    state               TEXT NOT NULL,
    turn                TEXT,
    title               TEXT NOT NULL,
    conditions          TEXT NOT NULL DEFAULT '',
    conditions_html     TEXT NOT NULL DEFAULT '',
    due_at              INTEGER,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    closed_at           INTEGER,
    reminded_at         INTEGER,
    overdue_notified_at INTEGER
);
CREATE INDEX requests_requester ON requests (requester_id, item_id);
CREATE INDEX requests_performer ON requests (performer_id, item_id);
CREATE INDEX requests_due ON requests (state, due_at);

CREATE TABLE request_acts (
    id           INTEGER PRIMARY KEY,
    item_id      INTEGER NOT NULL REFERENCES requests (item_id) ON DELETE CASCADE,
    actor_id     INTEGER NOT NULL REFERENCES members (id),
    act          TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    message_html TEXT NOT NULL DEFAULT '',
    title        TEXT,
    conditions   TEXT,
    due_at       INTEGER,
    activity_id  INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX request_acts_item ON request_acts (item_id, id);

-- Private by default; a shared to-do has an item (kind 'todo') so that
-- checking it off is an activity its audience sees.
CREATE TABLE todos (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    notes        TEXT NOT NULL DEFAULT '',
    due_at       INTEGER,
    space_id     INTEGER REFERENCES spaces (id),
    shared       INTEGER NOT NULL DEFAULT 0,
    item_id      INTEGER REFERENCES items (id),
    completed_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    reminded_at  INTEGER
);
CREATE INDEX todos_owner ON todos (owner_id, id);

CREATE TABLE calendar_feeds (
    member_id  INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX calendar_feeds_token ON calendar_feeds (token_hash);
