//! Stream entries rendered once, kept, and copied into the pages that show
//! them again (SQLite only).
//!
//! A home page is mostly entries other people's pages showed a moment
//! before: people follow the same big spaces and the same busy people.
//! Rendering an entry afresh for every page (reading its actor, author,
//! comment, title and HTML, then writing them out as JSON) was most of a
//! page's cost. So a page reads *brief* rows instead (what decides whether
//! and where an entry shows: `store::streams::read_stream`), applies the
//! visibility rule and the mutes to them as before, and takes each entry's
//! JSON from here. Only entries with no current rendering are read whole
//! and rendered, in one statement for the page.
//!
//! What one viewer sees differently from another is never kept: whether
//! they may see the entry at all is decided on the brief row, every time,
//! and the item's reactions, which mark the viewer's own, are written per
//! page into the gap a rendering leaves for them, with the item's comment
//! count (every comment changes it: `Tx::execute_counts`).
//!
//! A rendering is current while no row it shows has changed since it was
//! rendered ([`store::db::stamps`]), its space still has the name and
//! visibility it showed, and the activity is the same one (`published`).
//! On PostgreSQL other processes may write too, and there are no stamps:
//! pages are rendered whole as before.

use domain::{CommentId, ItemId, MemberId};
use std::sync::Arc;

use domain::social::SpaceVisibility;
use quick_cache::sync::Cache;
use store::activities::{self, ActivityRow};
use store::db::stamps::{Stamps, Table};

use crate::error::AppResult;
use crate::service::reactions::{Reactions, reactions_of};
use crate::views::social::{ActivityView, reactions_view};

/// Renderings by activity id, weighed by their bytes.
pub struct StreamCache {
    entries: Cache<i64, Arc<Entry>, ByBytes>,
}

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<i64, Arc<Entry>> for ByBytes {
    fn weight(&self, _: &i64, e: &Arc<Entry>) -> u64 {
        (e.head.len() + e.tail.len() + std::mem::size_of::<Entry>()) as u64
    }
}

/// One activity's JSON, and what tells whether it is still current.
struct Entry {
    /// [`Stamps::now`] before the statement it was rendered from.
    stamp: u64,
    published: i64,
    actor: MemberId,
    item: Option<ItemShown>,
    comment: Option<CommentId>,
    /// The JSON up to the item's reactions (`…"reactions":`), or all of it
    /// when there is no item.
    head: Box<[u8]>,
    /// The JSON after the item's reactions and comment count.
    tail: Box<[u8]>,
}

struct ItemShown {
    id: ItemId,
    author: MemberId,
    /// A direct item's recipients, whose names it shows.
    recipients: Box<[MemberId]>,
    space: Option<(String, String, Option<SpaceVisibility>)>,
}

/// Where a rendering leaves a gap for what each page writes afresh: the
/// item's reactions and, next in `ItemView`, its comment count.
const GAP: &[u8] = b"\"reactions\":[],\"comment_count\":";

impl Entry {
    fn render(row: ActivityRow, stamp: u64) -> Option<Entry> {
        let item = row.item.as_ref().map(|i| ItemShown {
            id: i.id,
            author: i.author_id,
            recipients: i.recipients.iter().map(|p| p.id).collect(),
            space: i.space_slug.clone().map(|slug| {
                (
                    slug,
                    i.space_name.clone().unwrap_or_default(),
                    i.space_visibility,
                )
            }),
        });
        let comment = (row.object_type == "comment").then_some(CommentId(row.object_id));
        let (published, actor) = (row.published, row.actor.id);
        let json = serde_json::to_vec(&ActivityView::new(row, &[])).ok()?;
        let (head, tail) = if item.is_some() {
            // A key in quotes followed by a colon cannot occur inside a
            // JSON string (its quotes are escaped), so the first match is
            // the item's own field.
            let at = json.windows(GAP.len()).position(|w| w == GAP)?;
            let head = at + b"\"reactions\":".len();
            let count = at + GAP.len();
            let tail = count
                + json[count..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
            (json[..head].into(), json[tail..].into())
        } else {
            (json.into_boxed_slice(), Box::default())
        };
        Some(Entry {
            stamp,
            published,
            actor,
            item,
            comment,
            head,
            tail,
        })
    }

    /// Whether it still shows what the brief row `r` stands for.
    fn current(&self, r: &ActivityRow, stamps: &Stamps) -> bool {
        let unchanged = |t, id: i64| stamps.unchanged(t, id, self.stamp);
        let same_item = match (&self.item, &r.item) {
            (None, None) => true,
            (Some(mine), Some(now)) => {
                mine.id == now.id
                    && mine.author == now.author_id
                    && match (&mine.space, &now.space_slug) {
                        (None, None) => true,
                        (Some((slug, name, vis)), Some(now_slug)) => {
                            slug == now_slug
                                && Some(name) == now.space_name.as_ref()
                                && *vis == now.space_visibility
                        }
                        _ => false,
                    }
                    && unchanged(Table::Items, mine.id.get())
                    && unchanged(Table::Members, mine.author.get())
                    && mine
                        .recipients
                        .iter()
                        .all(|&m| unchanged(Table::Members, m.get()))
            }
            _ => false,
        };
        same_item
            && self.published == r.published
            && self.actor == r.actor.id
            && unchanged(Table::Activities, r.id)
            && unchanged(Table::Members, self.actor.get())
            && self
                .comment
                .is_none_or(|c| unchanged(Table::Comments, c.get()))
    }
}

impl StreamCache {
    /// A cache holding up to `mib` MiB of renderings.
    pub fn new(mib: usize) -> StreamCache {
        let bytes = (mib as u64) << 20;
        StreamCache {
            entries: Cache::with_weighter((bytes / 2048).max(16) as usize, bytes, ByBytes),
        }
    }

    /// A page's JSON (`Page<ActivityView>`) from the brief rows `rows`,
    /// which the caller read after taking `stamp` and has filtered with
    /// the visibility rule, and the cursor `next`.
    pub async fn page(
        &self,
        db: &store::Db,
        stamps: &Stamps,
        stamp: u64,
        rows: Vec<ActivityRow>,
        next: Option<String>,
    ) -> AppResult<Vec<u8>> {
        let mut found: Vec<Option<Arc<Entry>>> = rows
            .iter()
            .map(|r| self.entries.get(&r.id).filter(|e| e.current(r, stamps)))
            .collect();
        let missing: Vec<i64> = rows
            .iter()
            .zip(&found)
            .filter(|(_, e)| e.is_none())
            .map(|(r, _)| r.id)
            .collect();
        let hits = (rows.len() - missing.len()) as u64;
        metrics::counter!("chorus_stream_entries_total", "rendering" => "kept").increment(hits);
        metrics::counter!("chorus_stream_entries_total", "rendering" => "new")
            .increment(missing.len() as u64);
        if !missing.is_empty() {
            let whole = {
                let mut c = db.read().await?;
                let mut whole = activities::activities_by_ids(&mut c, None, &missing).await?;
                activities::add_topics_and_recipients(&mut c, &mut whole).await?;
                whole
            };
            for w in whole {
                let id = w.id;
                let Some(e) = Entry::render(w, stamp).map(Arc::new) else {
                    continue;
                };
                self.entries.insert(id, e.clone());
                for (r, slot) in rows.iter().zip(found.iter_mut()) {
                    if r.id == id && slot.is_none() {
                        *slot = Some(e.clone());
                    }
                }
            }
        }
        let reactions = reactions_of(&rows)?;
        let mut out = Vec::with_capacity(32 * 1024);
        write_page(&mut out, &rows, &found, &reactions, &next)
            .map_err(|e| anyhow::anyhow!("could not write a stream page: {e}"))?;
        Ok(out)
    }
}

/// Writes `Page<ActivityView>` from the renderings of `rows`, with each
/// item's reactions as the page's viewer sees them and its comment count,
/// from the row. An activity gone since its row was read has no
/// rendering, and is left out.
fn write_page(
    out: &mut Vec<u8>,
    rows: &[ActivityRow],
    renderings: &[Option<Arc<Entry>>],
    reactions: &Reactions,
    next: &Option<String>,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"items\":[");
    let mut first = true;
    for (r, e) in rows.iter().zip(renderings) {
        let Some(e) = e else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&e.head);
        if let (Some(shown), Some(item)) = (&e.item, &r.item) {
            serde_json::to_writer(
                &mut *out,
                &reactions_view(reactions, shown.id, CommentId(0)),
            )?;
            out.extend_from_slice(b",\"comment_count\":");
            serde_json::to_writer(&mut *out, &item.comment_count)?;
            out.extend_from_slice(&e.tail);
        }
    }
    out.extend_from_slice(b"],\"next\":");
    serde_json::to_writer(&mut *out, next)?;
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::social::SpaceVisibility;
    use store::activities::ActivityRow;
    use store::items::ItemRow;
    use store::rows::Person;

    use super::{Entry, write_page};
    use crate::views::Page;
    use crate::views::social::ActivityView;

    fn person(id: i64, handle: &str) -> Person {
        Person {
            id: domain::MemberId(id),
            handle: handle.into(),
            display_name: format!("{handle} \"the\" <b>name</b>"),
            avatar_version: id % 2,
            extra: String::new(),
        }
    }

    fn item(id: i64, summary: &str, mine: &[&str]) -> ItemRow {
        ItemRow {
            id: domain::ItemId(id),
            kind: domain::kinds::ItemKind::Post,
            author_id: domain::MemberId(7),
            author_handle: "ana".into(),
            author_name: "Ana".into(),
            author_avatar: 2,
            audience: domain::kinds::AudienceKind::Space,
            space_id: Some(domain::SpaceId(3)),
            space_slug: Some("field-notes".into()),
            space_name: Some("Field \"notes\"".into()),
            space_visibility: Some(SpaceVisibility::Open),
            title: "\"reactions\":[] in a title".into(),
            body_html: "<p>\"reactions\":[]</p>".into(),
            comment_count: 4,
            created_at: 1_700_000_000_000_000,
            edited_at: Some(1_700_000_100_000_000),
            reaction_summary: summary.into(),
            viewer_reactions: mine.iter().map(|s| s.to_string()).collect(),
            topics: vec!["launch".into(), "q3".into()],
            recipients: vec![person(9, "cy")],
            ..ItemRow::default()
        }
    }

    /// A page put together from renderings is byte for byte the page
    /// serde writes from the rows.
    #[test]
    fn renderings_make_the_same_page() {
        let rows = vec![
            ActivityRow {
                id: 30,
                actor: person(7, "ana"),
                verb: domain::kinds::Verb::Post,
                object_type: "item".into(),
                object_id: 11,
                published: 1_700_000_000_000_000,
                item: Some(item(11, "🎉\t2\n👍\t1", &["👍"])),
                ..ActivityRow::default()
            },
            ActivityRow {
                id: 29,
                actor: person(8, "bo"),
                verb: domain::kinds::Verb::Comment,
                object_type: "comment".into(),
                object_id: 5,
                target_type: Some("item".into()),
                target_id: Some(12),
                published: 1_699_000_000_000_000,
                comment_html: Some("<p>yes</p>".into()),
                item: Some(item(12, "", &[])),
                ..ActivityRow::default()
            },
            ActivityRow {
                id: 28,
                actor: person(9, "cy"),
                verb: domain::kinds::Verb::Join,
                object_type: "space".into(),
                object_id: 3,
                published: 1_698_000_000_000_000,
                ..ActivityRow::default()
            },
        ];
        let reactions = crate::service::reactions::reactions_of(&rows).unwrap();
        for next in [Some("MzAtMA".to_owned()), None] {
            let want = serde_json::to_vec(&Page {
                items: rows
                    .iter()
                    .map(|r| ActivityView::new(r.clone(), &reactions))
                    .collect(),
                next: next.clone(),
            })
            .unwrap();
            let entries: Vec<Option<Arc<Entry>>> = rows
                .iter()
                .map(|r| Some(Arc::new(Entry::render(r.clone(), 1).unwrap())))
                .collect();
            let mut got = Vec::new();
            write_page(&mut got, &rows, &entries, &reactions, &next).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
