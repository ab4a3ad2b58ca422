-- Mail out (`store::mail`). A member's reply epoch is signed into every
-- reply address made for them; bumping it revokes them all. A member may
-- pause all mail at once.
ALTER TABLE members ADD COLUMN reply_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN mail_paused BIGINT NOT NULL DEFAULT 0;

-- What a member chose for one kind of notification: 'page' (in the page
-- only), 'now' (mail at once) or 'digest' (the daily digest). A kind
-- without a row takes its default (`domain::mail::default_choice`).
CREATE TABLE mail_choices (
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    choice    TEXT NOT NULL CHECK (choice IN ('page', 'now', 'digest')),
    PRIMARY KEY (member_id, kind)
);

-- Permanent failures (5xx) per recipient address, lower-cased; at
-- `domain::mail::BOUNCES_STOP` no more mail goes to it.
CREATE TABLE mail_bounces (
    address    TEXT PRIMARY KEY,
    bounces    BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
