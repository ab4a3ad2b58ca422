//! Reading a stream (home, everything, a space, a topic, a profile, an
//! item), and where each stream stands now.

use domain::{ItemId, MemberId, SpaceId};
use std::collections::HashSet;

use crate::activities::{
    ACTIVITY_JOINS, ActivityRow, BRIEF_JOINS, BriefCols, PageCols, activity, brief_activity,
    page_cols_for, page_rows, viewer_reads_after,
};
use crate::fanout::logs_deliveries;
use crate::rows::{Params, Tuple, columns, json_rows};
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
    Space(SpaceId),
    Topic(String),
    Profile(MemberId),
    Item(ItemId),
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

columns! {
    /// What a home page reads after each entry: the delivery position,
    /// and the viewer's mutes ("type:target" keys, tab-separated; `mutes`
    /// is their subquery, or NULL where they are read on their own).
    struct HomeCols(mutes: &str) {
        seq: "ib.seq",
        mutes: (mutes),
    }
}

/// The viewer's mutes in the page statement (see [`HomeCols`]): an
/// uncorrelated subquery, evaluated once.
const MUTES_INLINE: &str = "(SELECT string_agg(vf.target_type || ':' || vf.target, '\t') \
    FROM follows vf WHERE vf.member_id = $1 AND vf.level = 'muted')";

/// Reads up to `limit` entries of a stream, newest first, before `before`
/// (or, with `after`, oldest first after it, for live resumption), and,
/// when `mutes` is asked for, what the viewer muted ("type:target" keys;
/// only the home stream reads them, and only when there are entries). The
/// caller filters with the visibility rule and the mutes. `brief` rows
/// hold only what that and the order need (see [`BriefCols`]).
pub async fn read_stream(
    c: &mut Conn,
    viewer: MemberId,
    stream: &Stream,
    (before, after): (Option<Position>, Option<Position>),
    limit: i64,
    (mutes, brief): (bool, bool),
) -> Result<(Vec<ActivityRow>, HashSet<String>), Error> {
    let order = if after.is_some() { "ASC" } else { "DESC" };
    let (b0, b1) = before.unwrap_or((i64::MAX, i64::MAX));
    let (a0, a1) = after.unwrap_or((0, 0));
    // Home on SQLite: the viewer's deliveries not yet folded into `inbox`
    // come from memory, taken before the statement reads `inbox`.
    let recent = match stream {
        Stream::Home if logs_deliveries(c.kind()) => c.recent_window(
            viewer.get(),
            ((a0, a1), (b0, b1)),
            limit.max(0) as usize,
            after.is_none(),
        ),
        _ => Vec::new(),
    };
    // `$1` is the viewer: the item columns name it.
    let mut p = Params::new();
    p.bind(viewer);
    let home = matches!(stream, Stream::Home);
    let limit_p = p.bind(limit);
    let (from, filter, ordering) = match stream {
        Stream::Home => {
            let (b0_p, b1_p) = (p.bind(b0), p.bind(b1));
            let (a0_p, a1_p) = (p.bind(a0), p.bind(a1));
            // Strictly between the two positions (`ib` the inbox's alias).
            let window = |ib: &str| {
                format!(
                    "({ib}seq < {b0_p} OR ({ib}seq = {b0_p} AND {ib}activity_id < {b1_p}))
                     AND ({ib}seq > {a0_p} OR ({ib}seq = {a0_p} AND {ib}activity_id > {a1_p}))"
                )
            };
            let ordering = format!("ib.seq {order}, ib.activity_id {order}");
            if recent.is_empty() {
                (
                    "inbox ib JOIN activities a ON a.id = ib.activity_id".to_owned(),
                    format!("ib.member_id = $1 AND {}", window("ib.")),
                    ordering,
                )
            } else {
                let json = p.bind(json_rows(&recent)?);
                (
                    format!(
                        "(SELECT seq, activity_id FROM inbox WHERE member_id = $1 AND {}
                          UNION
                          SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each({json})
                          ORDER BY 1 {order}, 2 {order} LIMIT {limit_p}) ib
                        JOIN activities a ON a.id = ib.activity_id",
                        window("")
                    ),
                    "1 = 1".to_owned(),
                    ordering,
                )
            }
        }
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
                Stream::Space(id) => format!("a.space_id = {}", p.bind(*id)),
                Stream::Topic(t) => format!("tp.topic = {} AND a.verb = 'post'", p.bind(t.as_str())),
                Stream::Profile(id) => {
                    format!("a.actor_id = {} AND a.verb IN ('post', 'comment')", p.bind(*id))
                }
                Stream::Item(id) => format!("a.item_id = {}", p.bind(*id)),
                Stream::Home => unreachable!(),
            };
            let from = match other {
                Stream::Topic(_) => "item_topics tp JOIN activities a ON a.item_id = tp.item_id",
                _ => "activities a",
            };
            (
                from.to_owned(),
                format!(
                    "{extra} AND a.id < {} AND a.id > {}",
                    p.bind(b0),
                    p.bind(a0)
                ),
                format!("a.id {order}"),
            )
        }
    };
    // Home also reads what the viewer muted: on PostgreSQL in the same
    // statement (an uncorrelated subquery, evaluated once), saving a round
    // trip; on SQLite in a statement of its own, which costs less there.
    let read_after = viewer_reads_after(c.kind());
    let (cols, joins, width) = if brief {
        (BriefCols::sql(), BRIEF_JOINS, BriefCols::WIDTH)
    } else {
        (page_cols_for(read_after), ACTIVITY_JOINS, PageCols::WIDTH)
    };
    let mutes = mutes && home;
    let tail = HomeCols::at(width);
    let home_cols = match (home, mutes && !read_after) {
        (false, _) => String::new(),
        (true, false) => format!(", {}", HomeCols::sql("NULL")),
        (true, true) => format!(", {}", HomeCols::sql(MUTES_INLINE)),
    };
    let sql = format!(
        "SELECT {cols}{home_cols}
         FROM {from}
         {joins}
         WHERE {filter}
         ORDER BY {ordering} LIMIT {limit_p}"
    );
    let rows = c.query(&sql, p.values()).await?;
    let muted = match rows.first() {
        Some(_) if mutes && read_after => c
            .query(
                "SELECT target_type, target FROM follows WHERE member_id = $1 AND level = 'muted'",
                params![viewer],
            )
            .await?
            .into_iter()
            .map(|r| {
                let (kind, target): (String, String) = Tuple::from_row(r)?;
                Ok(format!("{kind}:{target}"))
            })
            .collect::<Result<_, Error>>()?,
        Some(r) if mutes => r
            .opt_text(tail.mutes)?
            .map(|m| m.split('\t').map(str::to_owned).collect())
            .unwrap_or_default(),
        _ => HashSet::new(),
    };
    let seq_col = home.then_some(tail.seq);
    // Brief rows leave the viewer's reactions to a statement after.
    let rows = if brief {
        page_rows(c, viewer, rows, (brief_activity, seq_col), true).await?
    } else {
        page_rows(c, viewer, rows, (activity, seq_col), read_after).await?
    };
    Ok((rows, muted))
}
