-- List mode (`store::lists`): a member who chose to get every new item
-- and comment of a space by mail, as a mailing list sends them. The
-- `list_mail` job walks a space's rows in member order; whether each may
-- still see the space is asked when the mail goes.
CREATE TABLE list_mode (
    space_id   BIGINT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    member_id  BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (space_id, member_id)
);
CREATE INDEX list_mode_member ON list_mode (member_id);
