-- The social core: spaces, items, comments, reactions, follows, the
-- activity log (the stream), home inboxes, notifications, seen and
-- acknowledgements.

CREATE TABLE spaces (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    visibility   TEXT NOT NULL CHECK (visibility IN ('open', 'closed', 'secret')),
    created_by   INTEGER NOT NULL REFERENCES members (id),
    member_count INTEGER NOT NULL DEFAULT 0,
    archived_at  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX spaces_slug_key ON spaces (slug);

CREATE TABLE space_members (
    space_id  INTEGER NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (space_id, member_id)
) WITHOUT ROWID;
CREATE INDEX space_members_member ON space_members (member_id, space_id);

CREATE TABLE space_requests (
    space_id   INTEGER NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    message    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (space_id, member_id)
);

CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL DEFAULT 'post',
    author_id     INTEGER NOT NULL REFERENCES members (id),
    audience      TEXT NOT NULL CHECK (audience IN ('space', 'profile', 'direct')),
    space_id      INTEGER REFERENCES spaces (id),
    title         TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL,
    body_html     TEXT NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}',
    ack_requested INTEGER NOT NULL DEFAULT 0,
    comment_count INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted_at    INTEGER
);
CREATE INDEX items_space ON items (space_id, id);
CREATE INDEX items_author ON items (author_id, id);

CREATE TABLE item_recipients (
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id),
    PRIMARY KEY (item_id, member_id)
) WITHOUT ROWID;
CREATE INDEX item_recipients_member ON item_recipients (member_id, item_id);

CREATE TABLE item_revisions (
    id        INTEGER PRIMARY KEY,
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    edited_by INTEGER NOT NULL REFERENCES members (id),
    edited_at INTEGER NOT NULL
);
CREATE INDEX item_revisions_item ON item_revisions (item_id, id);

CREATE TABLE item_topics (
    topic   TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (topic, item_id)
) WITHOUT ROWID;
CREATE INDEX item_topics_item ON item_topics (item_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES members (id),
    body       TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted_at INTEGER
);
CREATE INDEX comments_item ON comments (item_id, id);

-- comment_id 0 is a reaction on the item itself.
CREATE TABLE reactions (
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    comment_id INTEGER NOT NULL DEFAULT 0,
    member_id  INTEGER NOT NULL REFERENCES members (id),
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, comment_id, member_id, emoji)
) WITHOUT ROWID;

-- target is a member/space/item id in decimal, or a topic name.
CREATE TABLE follows (
    member_id   INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    target_type TEXT NOT NULL CHECK (target_type IN ('member', 'space', 'topic', 'item')),
    target      TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('watching', 'following', 'muted')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (member_id, target_type, target)
) WITHOUT ROWID;
CREATE INDEX follows_target ON follows (target_type, target, member_id);

-- The stream: every visible change appends one row in the same transaction;
-- id is the stream position, rising in commit order.
CREATE TABLE activities (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER NOT NULL REFERENCES members (id),
    verb        TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   INTEGER NOT NULL,
    target_type TEXT,
    target_id   INTEGER,
    item_id     INTEGER,
    space_id    INTEGER,
    published   INTEGER NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX activities_item ON activities (item_id, id);
CREATE INDEX activities_space ON activities (space_id, id);
CREATE INDEX activities_actor ON activities (actor_id, id);

-- Home streams, fanned out on write. `seq` is the delivery position: every
-- transaction that delivers takes the next value of the `delivery` counter,
-- so live home streams resume "after (seq, activity)" in commit order even
-- when a big fan-out delivers an older activity after newer ones. One
-- B-tree, in reading order: a delivery touches one page per member, and a
-- home page is one range scan. A member reached through two targets of one
-- big fan-out may get an entry twice; readers drop the repeat.
CREATE TABLE inbox (
    member_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    activity_id INTEGER NOT NULL,
    PRIMARY KEY (member_id, seq, activity_id)
) WITHOUT ROWID;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('delivery', 0);

-- Fan-outs too big for the posting request, done in batches by a
-- background worker; progress is saved with each batch.
CREATE TABLE fanout_jobs (
    activity_id  INTEGER PRIMARY KEY REFERENCES activities (id),
    item_id      INTEGER NOT NULL,
    targets      TEXT NOT NULL,
    next_target  INTEGER NOT NULL DEFAULT 0,
    after_member INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    activity_id INTEGER NOT NULL REFERENCES activities (id),
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX notifications_member ON notifications (member_id, id);
CREATE INDEX notifications_unread ON notifications (member_id, read_at);

CREATE TABLE item_seen (
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id),
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (item_id, member_id)
) WITHOUT ROWID;

CREATE TABLE item_acks (
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id),
    acked_at  INTEGER NOT NULL,
    PRIMARY KEY (item_id, member_id)
) WITHOUT ROWID;
