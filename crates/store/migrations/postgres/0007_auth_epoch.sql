-- A member's credentials epoch: every change that may take away what a
-- member's open connections were allowed (a logout, a password change, a
-- revoked API token, a new role, deactivation) moves it, and a live stream
-- that finds it moved closes, so the client reconnects and is asked again.
ALTER TABLE members ADD COLUMN auth_epoch BIGINT NOT NULL DEFAULT 0;
