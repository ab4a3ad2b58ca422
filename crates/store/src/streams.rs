//! Reading a stream (home, everything, a space, a topic, a profile, an
//! item), and where each stream stands now.

use std::collections::HashSet;

use crate::activities::{
    ACTIVITY_COLS, ACTIVITY_JOINS, ActivityRow, BRIEF_COLS, BRIEF_JOINS, BRIEF_NCOLS, activity,
    brief_activity, item_cols_for_page, page_rows, viewer_reads_after,
};
use crate::fanout::logs_deliveries;
use crate::items::ITEM_NCOLS;
use crate::rows::json_rows;
use crate::{Conn, Error, params};

/// Which stream to read.
#[derive(Debug, Clone)]
pub enum Stream {
    /// Deliveries to the viewer's inbox, in delivery order.
    Home,
    /// New items the viewer may see.
    Everything {
        guest: bool,
    },
    Space(i64),
    Topic(String),
    Profile(i64),
    Item(i64),
}

/// A position in a stream: `(seq, activity)` for home, `(activity, 0)`
/// elsewhere.
pub type Position = (i64, i64);

/// The newest stream position.
pub async fn stream_position(c: &mut Conn) -> Result<i64, Error> {
    c.query_one("SELECT COALESCE(MAX(id), 0) FROM activities", params![])
        .await?
        .i64(0)
}

/// The newest delivery position.
pub async fn delivery_position(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT value FROM counters WHERE name = 'delivery'",
        params![],
    )
    .await?
    .i64(0)
}

/// Reads up to `limit` entries of a stream, newest first, before `before`
/// (or, with `after`, oldest first after it, for live resumption), and,
/// when `mutes` is asked for, what the viewer muted ("type:target" keys;
/// only the home stream reads them, and only when there are entries). The
/// caller filters with the visibility rule and the mutes. `brief` rows
/// hold only what that and the order need (see [`BRIEF_COLS`]).
pub async fn read_stream(
    c: &mut Conn,
    viewer: i64,
    stream: &Stream,
    (before, after): (Option<Position>, Option<Position>),
    limit: i64,
    (mutes, brief): (bool, bool),
) -> Result<(Vec<ActivityRow>, HashSet<String>), Error> {
    let ncols = if brief {
        BRIEF_NCOLS
    } else {
        crate::activities::ACTIVITY_NCOLS + ITEM_NCOLS
    };
    let order = if after.is_some() { "ASC" } else { "DESC" };
    let (b0, b1) = before.unwrap_or((i64::MAX, i64::MAX));
    let (a0, a1) = after.unwrap_or((0, 0));
    // Home on SQLite: the viewer's deliveries not yet folded into `inbox`
    // come from memory, taken before the statement reads `inbox`.
    let recent = match stream {
        Stream::Home if logs_deliveries(c.kind()) => c.recent_window(
            viewer,
            ((a0, a1), (b0, b1)),
            limit.max(0) as usize,
            after.is_none(),
        ),
        _ => Vec::new(),
    };
    let (from, filter, ordering, seq_col): (String, String, String, Option<usize>) = match stream {
        Stream::Home if !recent.is_empty() => (
            format!(
                "(SELECT seq, activity_id FROM inbox
                  WHERE member_id = $1 AND (seq < $2 OR (seq = $2 AND activity_id < $3))
                    AND (seq > $4 OR (seq = $4 AND activity_id > $5))
                  UNION
                  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($9)
                  ORDER BY 1 {order}, 2 {order} LIMIT $6) ib
                JOIN activities a ON a.id = ib.activity_id"
            ),
            "1 = 1".into(),
            format!("ib.seq {order}, ib.activity_id {order}"),
            Some(ncols),
        ),
        Stream::Home => (
            "inbox ib JOIN activities a ON a.id = ib.activity_id".into(),
            "ib.member_id = $1 AND (ib.seq < $2 OR (ib.seq = $2 AND ib.activity_id < $3))
               AND (ib.seq > $4 OR (ib.seq = $4 AND ib.activity_id > $5))"
                .into(),
            format!("ib.seq {order}, ib.activity_id {order}"),
            Some(ncols),
        ),
        other => {
            let extra = match other {
                Stream::Everything { guest } => format!(
                    "a.verb = 'post' AND (i.author_id = $1
                       OR (i.audience = 'profile' AND {g} = 0)
                       OR (i.audience = 'space' AND ((sp.visibility = 'open' AND {g} = 0)
                            OR EXISTS (SELECT 1 FROM space_members x WHERE x.space_id = i.space_id AND x.member_id = $1)))
                       OR (i.audience = 'direct' AND EXISTS (SELECT 1 FROM item_recipients y WHERE y.item_id = i.id AND y.member_id = $1)))",
                    g = i64::from(*guest)
                ),
                Stream::Space(_) => "a.space_id = $8".into(),
                Stream::Topic(_) => "tp.topic = $7 AND a.verb = 'post'".into(),
                Stream::Profile(_) => "a.actor_id = $8 AND a.verb IN ('post', 'comment')".into(),
                Stream::Item(_) => "a.item_id = $8".into(),
                Stream::Home => unreachable!(),
            };
            let from = match other {
                Stream::Topic(_) => "item_topics tp JOIN activities a ON a.item_id = tp.item_id",
                _ => "activities a",
            };
            (
                from.to_owned(),
                format!("{extra} AND a.id < $2 AND a.id > $4 AND $3 = $3 AND $5 = $5"),
                format!("a.id {order}"),
                None,
            )
        }
    };
    let topic = match stream {
        Stream::Topic(t) => t.clone(),
        _ => String::new(),
    };
    // Home also reads what the viewer muted: on PostgreSQL in the same
    // statement (an uncorrelated subquery, evaluated once), saving a round
    // trip; on SQLite in a statement of its own, which costs less there.
    let read_after = viewer_reads_after(c.kind());
    let (cols, joins) = if brief {
        (BRIEF_COLS.to_owned(), BRIEF_JOINS)
    } else {
        (
            format!("{ACTIVITY_COLS}, {}", item_cols_for_page(read_after)),
            ACTIVITY_JOINS,
        )
    };
    let mutes = mutes && seq_col.is_some();
    let seq_select = match (seq_col, mutes && !read_after) {
        (None, _) => "",
        (Some(_), false) => ", ib.seq, NULL",
        (Some(_), true) => {
            ", ib.seq, (SELECT string_agg(vf.target_type || ':' || vf.target, '\t') FROM follows vf
             WHERE vf.member_id = $1 AND vf.level = 'muted')"
        }
    };
    let sql = format!(
        "SELECT {cols}{seq_select}
         FROM {from}
         {joins}
         WHERE {filter} AND $7 = $7 AND $8 = $8
         ORDER BY {ordering} LIMIT $6"
    );
    let subject = match stream {
        Stream::Space(id) | Stream::Profile(id) | Stream::Item(id) => *id,
        _ => 0,
    };
    let mut args = params![viewer, b0, b1, a0, a1, limit, topic, subject].to_vec();
    if !recent.is_empty() {
        args.push(json_rows(&recent)?.into());
    }
    let rows = c.query(&sql, &args).await?;
    let muted = match (seq_col, rows.first()) {
        (Some(_), Some(_)) if mutes && read_after => c
            .query(
                "SELECT target_type, target FROM follows WHERE member_id = $1 AND level = 'muted'",
                params![viewer],
            )
            .await?
            .iter()
            .map(|r| Ok(format!("{}:{}", r.text(0)?, r.text(1)?)))
            .collect::<Result<_, Error>>()?,
        (Some(at), Some(r)) if mutes => r
            .opt_text(at + 1)?
            .map(|m| m.split('\t').map(str::to_owned).collect())
            .unwrap_or_default(),
        _ => HashSet::new(),
    };
    // Brief rows leave the viewer's reactions to a statement after.
    let rows = if brief {
        page_rows(c, viewer, rows, (brief_activity, seq_col), true).await?
    } else {
        page_rows(c, viewer, rows, (activity, seq_col), read_after).await?
    };
    Ok((rows, muted))
}
