//! People and spaces to suggest to a member.

use crate::rows::{Person, PersonCols, people};
use crate::spaces::{Space, SpaceCols, spaces};
use crate::{Conn, Error, params};
use domain::MemberId;

/// People who share spaces with a member and whom they do not follow yet,
/// most shared spaces first.
pub async fn suggested_people(
    c: &mut Conn,
    member: MemberId,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM space_members mine
         JOIN space_members theirs ON theirs.space_id = mine.space_id AND theirs.member_id <> mine.member_id
         JOIN members m ON m.id = theirs.member_id
         WHERE mine.member_id = $1 AND m.deactivated_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.member_id = $1 AND f.target_type = 'member'
                           AND f.target = CAST(m.id AS TEXT))
         GROUP BY m.id, m.handle, m.display_name, m.avatar_version
         ORDER BY COUNT(*) DESC, m.handle LIMIT $2",
        PersonCols::sql()
    );
    people(c.query(&sql, params![member, limit]).await?)
}

/// Open spaces the member is not in, busiest over the last `since` first.
pub async fn suggested_spaces(
    c: &mut Conn,
    member: MemberId,
    since: i64,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let sql = format!(
        "SELECT {} FROM spaces s
         WHERE s.visibility = 'open' AND s.archived_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)
         ORDER BY (SELECT COUNT(*) FROM activities a WHERE a.space_id = s.id AND a.published > $2) DESC,
                  s.member_count DESC, s.slug
         LIMIT $3",
        SpaceCols::sql()
    );
    spaces(c.query(&sql, params![member, since, limit]).await?)
}
