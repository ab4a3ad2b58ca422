-- Addresses (`store::addresses`). A member's address is verified when its
-- owner showed they read mail to it (a mailed link), or an admin typed it.
-- Addresses from before this step were set by admins, at first-run setup or
-- by accepting an invitation, so they count as verified.
ALTER TABLE members ADD COLUMN email_verified_at BIGINT;
UPDATE members SET email_verified_at = created_at;

-- An invitation's mailed link: its hash is written when the mail job sends
-- (the job's payload holds only the invitation's id), beside the hash of
-- the link the inviter sees. Accepting through the mailed link verifies
-- the address.
ALTER TABLE invitations ADD COLUMN mail_token_hash TEXT;
CREATE UNIQUE INDEX invitations_mail_token_key ON invitations (mail_token_hash);

-- One-time links mailed to an address: 'verify' (a member's new address,
-- 24 hours), 'reset' (a password reset, 1 hour) and 'signup' (sign-up by
-- allowed domain, 24 hours). The token is minted when the mail is sent and
-- only its hash kept; a link works once (used_at).
CREATE TABLE mail_links (
    id         INTEGER PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset', 'signup')),
    member_id  INTEGER REFERENCES members (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    token_hash TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE UNIQUE INDEX mail_links_token_key ON mail_links (token_hash);
CREATE INDEX mail_links_email ON mail_links (email, created_at);
CREATE INDEX mail_links_member ON mail_links (member_id, created_at);
