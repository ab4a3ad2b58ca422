-- Accounts: members, sessions, invitations, API tokens, settings.
-- Times are microseconds since the Unix epoch; flags are 0/1 integers.

CREATE TABLE members (
    id             INTEGER PRIMARY KEY,
    handle         TEXT NOT NULL,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    team           TEXT NOT NULL DEFAULT '',
    about          TEXT NOT NULL DEFAULT '',
    about_html     TEXT NOT NULL DEFAULT '',
    time_zone      TEXT NOT NULL DEFAULT 'UTC',
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    password_hash  TEXT NOT NULL,
    avatar_version INTEGER NOT NULL DEFAULT 0,
    deactivated_at INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX members_handle_key ON members (handle);
CREATE UNIQUE INDEX members_email_key ON members (email);

CREATE TABLE avatars (
    member_id    INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_member ON api_tokens (member_id, id);

CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member', 'guest')),
    inviter_id  INTEGER NOT NULL REFERENCES members (id),
    message     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by INTEGER REFERENCES members (id),
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
CREATE INDEX invitations_inviter ON invitations (inviter_id, id);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    member_id INTEGER,
    ip        TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX login_failures_member ON login_failures (member_id, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
