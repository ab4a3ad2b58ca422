//! The generator: members, spaces, follows with a realistic skew, items,
//! comments, reactions, topics, mentions and home inboxes, written
//! straight into an empty database with multi-row inserts.

// Members, spaces and items are numbered from 1 and several arrays are
// indexed by those numbers at once; range loops say that most plainly.
#![allow(clippy::needless_range_loop)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::time::Instant;

use super::{MARKS, Shape, api_token, token_members};
use crate::{Db, Kind, Tx, Value, params};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Samples ranks 0..n with probability ∝ 1/(rank+1)^s.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for r in 0..n {
            total += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

const FIRST: &[&str] = &[
    "Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena",
    "Malik", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tova", "Uma", "Vik", "Wen", "Xia",
    "Yara", "Zeno",
];
const LAST: &[&str] = &[
    "Lima", "Berg", "Okafor", "Novak", "Silva", "Tanaka", "Moreau", "Khan", "Rossi", "Meyer",
    "Haddad", "Kowalski", "Nguyen", "Garcia", "Olsen", "Sato", "Fischer", "Dubois", "Ivanova",
];
const WORDS: &[&str] = &[
    "launch",
    "plan",
    "review",
    "budget",
    "customer",
    "release",
    "roadmap",
    "design",
    "hiring",
    "security",
    "incident",
    "metrics",
    "onboarding",
    "offsite",
    "demo",
    "migration",
    "pricing",
    "support",
    "sales",
    "legal",
    "audit",
    "quarter",
    "feedback",
    "retro",
    "kickoff",
    "deadline",
];
const EMOJI: &[&str] = &["👍", "🎉", "❤️", "😄", "🙏", "👀", "🚀", "💡"];

fn topic_name(t: usize) -> String {
    let w = WORDS[t % WORDS.len()];
    if t < WORDS.len() {
        w.to_owned()
    } else {
        format!("{w}{}", t / WORDS.len())
    }
}

/// Inserts rows in multi-row statements, committing every so often so the
/// WAL (or PostgreSQL's transaction) stays small.
struct Loader<'a> {
    db: &'a Db,
    tx: Option<Tx>,
    rows_in_tx: usize,
    pub total: u64,
}

impl<'a> Loader<'a> {
    fn new(db: &'a Db) -> Self {
        Loader {
            db,
            tx: None,
            rows_in_tx: 0,
            total: 0,
        }
    }

    async fn insert(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: &[Vec<Value>],
    ) -> anyhow::Result<()> {
        let per = (60_000 / cols.len()).min(500);
        for chunk in rows.chunks(per) {
            if self.tx.is_none() {
                self.tx = Some(self.db.write().await?);
            }
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            let mut n = 1;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..cols.len() {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${n}"));
                    n += 1;
                }
                sql.push(')');
            }
            let params: Vec<Value> = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
            self.tx
                .as_mut()
                .expect("open")
                .execute(&sql, &params)
                .await?;
            self.rows_in_tx += chunk.len();
            self.total += chunk.len() as u64;
            if self.rows_in_tx >= 200_000 {
                self.commit().await?;
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        self.rows_in_tx = 0;
        Ok(())
    }
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

/// Writes the data set into `db`, which must be freshly migrated and empty.
pub async fn generate(db: &Db, shape: &Shape, log: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
    let started = Instant::now();
    {
        let mut c = db.read().await?;
        let n = c
            .query_one("SELECT COUNT(*) FROM members", params![])
            .await?
            .i64(0)?;
        anyhow::ensure!(
            n == 0,
            "the database already has {n} members; generate into an empty one"
        );
    }
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let m = shape.members.max(2) as usize;
    let s = shape.spaces.max(2) as usize;
    let now = crate::now_micros();
    let span = i64::from(shape.days.max(1)) * 86_400_000_000;
    let start = now - span;
    let mut load = Loader::new(db);

    // Members: one password for all ("bench password 1"), so a person can
    // log in and look around the data set.
    let hash = tokio::task::spawn_blocking(|| domain::secrets::hash_password("bench password 1"))
        .await??;
    let mut rows = Vec::with_capacity(m);
    for id in 1..=m as i64 {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let role = match id {
            1 => "owner",
            2..=5 => "admin",
            _ => "member",
        };
        rows.push(vec![
            v(id),
            v(format!("u{id}")),
            v(format!("u{id}@bench.test")),
            v(format!("{first} {last}")),
            v(WORDS[id as usize % WORDS.len()]),
            v(role),
            v(hash.as_str()),
            v(start),
            v(start),
            v(start),
        ]);
    }
    load.insert(
        "members",
        &[
            "id",
            "handle",
            "email",
            "display_name",
            "team",
            "role",
            "password_hash",
            "created_at",
            "updated_at",
            // Confirmed addresses: mail from them posts (M8).
            "email_verified_at",
        ],
        &rows,
    )
    .await?;
    // Tokens go to members spread over the id range: low ids are the most
    // followed people, so taking the first ones would skew every write.
    let mut rows = Vec::new();
    for id in token_members(shape) {
        let token = api_token(id);
        rows.push(vec![
            v(id),
            v(id),
            v("bench"),
            v(domain::secrets::token_hash(&token)),
            v("bench-"),
            v(start),
        ]);
    }
    load.insert(
        "api_tokens",
        &[
            "id",
            "member_id",
            "name",
            "token_hash",
            "prefix",
            "created_at",
        ],
        &rows,
    )
    .await?;
    load.commit().await?;
    log(&format!("members: {m} ({:.1?})", started.elapsed()));

    // Spaces and memberships. Space 1 is everyone, space 2 the big one;
    // the rest draw members by popularity.
    let space_zipf = Zipf::new(s - 2, shape.skew);
    let mut member_spaces: Vec<Vec<u32>> = vec![Vec::new(); m + 1];
    let mut space_members: Vec<Vec<u32>> = vec![Vec::new(); s + 1];
    let big = (shape.big_space as usize).min(m);
    for id in 1..=m {
        member_spaces[id].push(1);
        // Spread the big space over the id range.
        if (id * 7919) % m < big {
            member_spaces[id].push(2);
        }
        let mut seen: HashSet<u32> = HashSet::new();
        for _ in 0..shape.space_follows {
            let sp = space_zipf.sample(&mut rng) as u32 + 3;
            if seen.insert(sp) {
                member_spaces[id].push(sp);
            }
        }
        for sp in &member_spaces[id] {
            space_members[*sp as usize].push(id as u32);
        }
    }
    let mut visibility = vec!["open"; s + 1];
    let mut rows = Vec::with_capacity(s);
    for sp in 1..=s {
        let vis = match sp {
            1 | 2 => "open",
            _ => match rng.random_range(0..10) {
                0..=6 => "open",
                7 | 8 => "closed",
                _ => "secret",
            },
        };
        visibility[sp] = vis;
        let name = match sp {
            1 => "All hands".to_owned(),
            2 => "Engineering".to_owned(),
            _ => format!("{} {sp}", capitalise(WORDS[sp % WORDS.len()])),
        };
        let creator = space_members[sp].first().copied().unwrap_or(1);
        rows.push(vec![
            v(sp as i64),
            v(format!("space-{sp}")),
            v(name),
            v(vis),
            v(i64::from(creator)),
            v(space_members[sp].len() as i64),
            v(start),
            v(start),
        ]);
    }
    load.insert(
        "spaces",
        &[
            "id",
            "slug",
            "name",
            "visibility",
            "created_by",
            "member_count",
            "created_at",
            "updated_at",
        ],
        &rows,
    )
    .await?;
    let mut rows = Vec::new();
    for sp in 1..=s {
        for (i, mem) in space_members[sp].iter().enumerate() {
            rows.push(vec![
                v(sp as i64),
                v(i64::from(*mem)),
                v(if i == 0 { "admin" } else { "member" }),
                v(start),
            ]);
        }
        if rows.len() > 100_000 {
            load.insert(
                "space_members",
                &["space_id", "member_id", "role", "joined_at"],
                &rows,
            )
            .await?;
            rows.clear();
        }
    }
    load.insert(
        "space_members",
        &["space_id", "member_id", "role", "joined_at"],
        &rows,
    )
    .await?;
    load.commit().await?;
    log(&format!(
        "spaces: {s}, memberships: {} ({:.1?})",
        member_spaces.iter().map(Vec::len).sum::<usize>(),
        started.elapsed()
    ));

    // Follows: spaces joined, people by popularity, topics.
    let people_zipf = Zipf::new(m, shape.skew);
    let topic_zipf = Zipf::new(shape.topics.max(1) as usize, shape.skew);
    let people_per = shape
        .follows
        .saturating_sub(shape.space_follows + 2 + shape.topic_follows)
        as usize;
    let mut member_people: Vec<Vec<u32>> = vec![Vec::new(); m + 1];
    let mut member_topics: Vec<Vec<u32>> = vec![Vec::new(); m + 1];
    let mut rows = Vec::new();
    let mut follow_count = 0u64;
    for id in 1..=m {
        for sp in &member_spaces[id] {
            rows.push(vec![
                v(id as i64),
                v("space"),
                v(sp.to_string()),
                v("following"),
                v(start),
            ]);
        }
        let mut seen: HashSet<u32> = HashSet::new();
        for _ in 0..people_per {
            let p = people_zipf.sample(&mut rng) as u32 + 1;
            if p as usize != id && seen.insert(p) {
                member_people[id].push(p);
                rows.push(vec![
                    v(id as i64),
                    v("member"),
                    v(p.to_string()),
                    v("following"),
                    v(start),
                ]);
            }
        }
        let mut seen: HashSet<u32> = HashSet::new();
        for _ in 0..shape.topic_follows {
            let t = topic_zipf.sample(&mut rng) as u32;
            if seen.insert(t) {
                member_topics[id].push(t);
                rows.push(vec![
                    v(id as i64),
                    v("topic"),
                    v(topic_name(t as usize)),
                    v("following"),
                    v(start),
                ]);
            }
        }
        if rows.len() > 100_000 {
            follow_count += rows.len() as u64;
            load.insert(
                "follows",
                &["member_id", "target_type", "target", "level", "created_at"],
                &rows,
            )
            .await?;
            rows.clear();
        }
    }
    follow_count += rows.len() as u64;
    load.insert(
        "follows",
        &["member_id", "target_type", "target", "level", "created_at"],
        &rows,
    )
    .await?;
    load.commit().await?;
    log(&format!(
        "follows: {follow_count} ({:.1?})",
        started.elapsed()
    ));

    // Items, comments and reactions, interleaved in time as activities.
    let author_zipf = Zipf::new(m, shape.skew * 0.8);
    let recency = Zipf::new(2_000, 1.1);
    let n_items = shape.items as usize;
    let per_item_c = f64::from(shape.comments) / n_items.max(1) as f64;
    let per_item_r = f64::from(shape.reactions) / n_items.max(1) as f64;
    let mut item_rows = Vec::new();
    let mut topic_rows = Vec::new();
    let mut rcpt_rows = Vec::new();
    let mut comment_rows = Vec::new();
    let mut reaction_rows = Vec::new();
    let mut activity_rows = Vec::new();
    let mut comment_counts = vec![0i64; n_items + 1];
    // Home sources: post activities per space, per author (public posts),
    // per topic.
    let mut by_space: Vec<Vec<u32>> = vec![Vec::new(); s + 1];
    let mut by_author: Vec<Vec<u32>> = vec![Vec::new(); m + 1];
    let mut by_topic: Vec<Vec<u32>> = vec![Vec::new(); shape.topics.max(1) as usize];
    let mut item_space: Vec<u32> = vec![0; n_items + 1];
    let mut activity_id: i64 = 0;
    let mut comment_id: i64 = 0;
    let mut reaction_set: HashSet<(u32, u32, u8)> = HashSet::new();
    for i in 1..=n_items {
        let t = start + (span as f64 * i as f64 / n_items as f64) as i64;
        let author = author_zipf.sample(&mut rng) + 1;
        let kind = rng.random_range(0..100);
        let (audience, space) = if kind < 65 {
            let ms = &member_spaces[author];
            ("space", ms[rng.random_range(0..ms.len())])
        } else if kind < 95 {
            ("profile", 0)
        } else {
            ("direct", 0)
        };
        item_space[i] = space;
        let w1 = WORDS[rng.random_range(0..WORDS.len())];
        let w2 = WORDS[rng.random_range(0..WORDS.len())];
        let mut body = format!("Update on the {w1} {w2}: progress is good, next steps below.");
        let mut html = format!("<p>Update on the {w1} {w2}: progress is good, next steps below.");
        if let Some(p) = member_people[author]
            .first()
            .filter(|_| rng.random_range(0..4) == 0)
        {
            body.push_str(&format!(" cc @u{p}"));
            html.push_str(&format!(
                " cc <a href=\"/members/u{p}\" rel=\"noopener noreferrer nofollow\">@u{p}</a>"
            ));
        }
        let topic = (rng.random_range(0..10) < 4).then(|| topic_zipf.sample(&mut rng));
        if let Some(tp) = topic {
            let name = topic_name(tp);
            body.push_str(&format!(" #{name}"));
            html.push_str(&format!(
                " <a href=\"/topics/{name}\" rel=\"noopener noreferrer nofollow\">#{name}</a>"
            ));
            topic_rows.push(vec![v(name), v(i as i64)]);
        }
        html.push_str("</p>\n");
        item_rows.push(vec![
            v(i as i64),
            v(i64::try_from(author)?),
            v(audience),
            if space > 0 {
                v(i64::from(space))
            } else {
                Value::Null
            },
            v(body),
            v(html),
            v(t),
            v(t),
        ]);
        if audience == "direct" {
            let mut seen = HashSet::new();
            for _ in 0..rng.random_range(1..=3) {
                let r = rng.random_range(1..=m);
                if r != author && seen.insert(r) {
                    rcpt_rows.push(vec![v(i as i64), v(r as i64)]);
                }
            }
        }
        activity_id += 1;
        activity_rows.push(vec![
            v(activity_id),
            v(author as i64),
            v("post"),
            v("item"),
            v(i as i64),
            if space > 0 { v("space") } else { Value::Null },
            if space > 0 {
                v(i64::from(space))
            } else {
                Value::Null
            },
            v(i as i64),
            if space > 0 {
                v(i64::from(space))
            } else {
                Value::Null
            },
            v(t),
        ]);
        let aid = activity_id as u32;
        let public =
            audience == "profile" || (audience == "space" && visibility[space as usize] == "open");
        if space > 0 {
            by_space[space as usize].push(aid);
        }
        if public {
            by_author[author].push(aid);
            if let Some(tp) = topic {
                by_topic[tp].push(aid);
            }
        }
        // Comments and reactions on recent items.
        let nc =
            per_item_c.floor() as usize + usize::from(rng.random::<f64>() < per_item_c.fract());
        for _ in 0..nc {
            let target = i.saturating_sub(recency.sample(&mut rng)).max(1);
            let who = author_zipf.sample(&mut rng) + 1;
            comment_id += 1;
            activity_id += 1;
            comment_counts[target] += 1;
            let w = WORDS[rng.random_range(0..WORDS.len())];
            comment_rows.push(vec![
                v(comment_id),
                v(target as i64),
                v(who as i64),
                v(format!("Thanks, looks good for the {w}.")),
                v(format!("<p>Thanks, looks good for the {w}.</p>\n")),
                v(t),
            ]);
            let sp = item_space[target];
            activity_rows.push(vec![
                v(activity_id),
                v(who as i64),
                v("comment"),
                v("comment"),
                v(comment_id),
                v("item"),
                v(target as i64),
                v(target as i64),
                if sp > 0 {
                    v(i64::from(sp))
                } else {
                    Value::Null
                },
                v(t),
            ]);
        }
        let nr =
            per_item_r.floor() as usize + usize::from(rng.random::<f64>() < per_item_r.fract());
        for _ in 0..nr {
            let target = i.saturating_sub(recency.sample(&mut rng)).max(1);
            let who = rng.random_range(1..=m);
            let e = rng.random_range(0..EMOJI.len()) as u8;
            if !reaction_set.insert((target as u32, who as u32, e)) {
                continue;
            }
            activity_id += 1;
            reaction_rows.push(vec![
                v(target as i64),
                v(0i64),
                v(who as i64),
                v(EMOJI[e as usize]),
                v(t),
            ]);
            let sp = item_space[target];
            activity_rows.push(vec![
                v(activity_id),
                v(who as i64),
                v("react"),
                v("item"),
                v(target as i64),
                Value::Null,
                Value::Null,
                v(target as i64),
                if sp > 0 {
                    v(i64::from(sp))
                } else {
                    Value::Null
                },
                v(t),
            ]);
        }
        if item_rows.len() >= 50_000 || i == n_items {
            load.insert(
                "items",
                &[
                    "id",
                    "author_id",
                    "audience",
                    "space_id",
                    "body",
                    "body_html",
                    "created_at",
                    "updated_at",
                ],
                &item_rows,
            )
            .await?;
            load.insert("item_topics", &["topic", "item_id"], &topic_rows)
                .await?;
            load.insert("item_recipients", &["item_id", "member_id"], &rcpt_rows)
                .await?;
            load.insert(
                "comments",
                &[
                    "id",
                    "item_id",
                    "author_id",
                    "body",
                    "body_html",
                    "created_at",
                ],
                &comment_rows,
            )
            .await?;
            load.insert(
                "reactions",
                &["item_id", "comment_id", "member_id", "emoji", "created_at"],
                &reaction_rows,
            )
            .await?;
            load.insert(
                "activities",
                &[
                    "id",
                    "actor_id",
                    "verb",
                    "object_type",
                    "object_id",
                    "target_type",
                    "target_id",
                    "item_id",
                    "space_id",
                    "published",
                ],
                &activity_rows,
            )
            .await?;
            item_rows.clear();
            topic_rows.clear();
            rcpt_rows.clear();
            comment_rows.clear();
            reaction_rows.clear();
            activity_rows.clear();
        }
    }
    load.commit().await?;
    // Comment counts, item by item in batches.
    {
        let mut tx = db.write().await?;
        for (i, n) in comment_counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            tx.execute(
                "UPDATE items SET comment_count = $2 WHERE id = $1",
                params![i as i64, *n],
            )
            .await?;
            if i % 100_000 == 0 {
                tx.commit().await?;
                tx = db.write().await?;
            }
        }
        tx.commit().await?;
    }
    {
        let mut tx = db.write().await?;
        crate::reactions::summarise_all_reactions(&mut tx).await?;
        tx.commit().await?;
    }
    log(&format!(
        "items: {n_items}, comments: {comment_id}, reactions: {}, activities: {activity_id} ({:.1?})",
        reaction_set.len(),
        started.elapsed()
    ));

    // Home inboxes: each member's newest `inbox_cap` posts from what they
    // follow, by a k-way merge of the (ascending) source lists.
    let cap = shape.inbox_cap as usize;
    let mut rows = Vec::new();
    let mut inbox_total = 0u64;
    for id in 1..=m {
        let mut heap: BinaryHeap<(u32, usize, usize)> = BinaryHeap::new();
        let mut sources: Vec<&Vec<u32>> = Vec::new();
        for sp in &member_spaces[id] {
            sources.push(&by_space[*sp as usize]);
        }
        for p in &member_people[id] {
            sources.push(&by_author[*p as usize]);
        }
        for t in &member_topics[id] {
            sources.push(&by_topic[*t as usize]);
        }
        for (si, src) in sources.iter().enumerate() {
            if let Some(last) = src.last() {
                heap.push((*last, si, src.len() - 1));
            }
        }
        let mut taken: Vec<u32> = Vec::with_capacity(cap);
        while let Some((aid, si, pos)) = heap.pop() {
            if taken.last() != Some(&aid) {
                taken.push(aid);
                if taken.len() >= cap {
                    break;
                }
            }
            if pos > 0 {
                heap.push((sources[si][pos - 1], si, pos - 1));
            }
        }
        taken.sort_unstable_by_key(|a| Reverse(*a));
        for aid in taken.iter().rev() {
            rows.push(vec![v(id as i64), v(i64::from(*aid)), v(1i64)]);
        }
        if rows.len() >= 100_000 {
            inbox_total += rows.len() as u64;
            load.insert("inbox", &["member_id", "activity_id", "seq"], &rows)
                .await?;
            rows.clear();
        }
    }
    inbox_total += rows.len() as u64;
    load.insert("inbox", &["member_id", "activity_id", "seq"], &rows)
        .await?;
    load.commit().await?;
    // Generated inboxes are one delivery, ordered by activity within it.
    {
        let mut tx = db.write().await?;
        tx.execute(
            "UPDATE counters SET value = 1 WHERE name = 'delivery'",
            params![],
        )
        .await?;
        tx.commit().await?;
    }
    log(&format!(
        "inboxes: {inbox_total} rows ({:.1?})",
        started.elapsed()
    ));

    if db.kind() == Kind::Postgres {
        let mut tx = db.write().await?;
        for table in [
            "members",
            "api_tokens",
            "spaces",
            "items",
            "comments",
            "activities",
        ] {
            tx.execute(
                &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"),
                params![],
            )
            .await?;
        }
        tx.commit().await?;
        let mut c = db.read().await?;
        c.batch("ANALYZE").await?;
    } else {
        let mut tx = db.write().await?;
        tx.batch("ANALYZE").await?;
        tx.commit().await?;
    }
    record_marks(db).await?;
    log(&format!(
        "done: {} rows in {:.1?}",
        load.total,
        started.elapsed()
    ));
    Ok(())
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Where the generated data ends: the highest ids (and the delivery
/// position and time) right after generation, kept in the `bench_marks`
/// setting so [`super::reset`] can remove what a benchmark run wrote.
async fn record_marks(db: &Db) -> anyhow::Result<()> {
    let mut tx = db.write().await?;
    let r = tx
        .query_one(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM activities), (SELECT COALESCE(MAX(id), 0) FROM items),
                    (SELECT COALESCE(MAX(id), 0) FROM comments), (SELECT COALESCE(MAX(id), 0) FROM notifications),
                    (SELECT value FROM counters WHERE name = 'delivery')",
            params![],
        )
        .await?;
    let (activities, items, comments, notifications, delivery): (i64, i64, i64, i64, i64) =
        crate::rows::Tuple::from_row(r)?;
    let marks = format!(
        "{activities} {items} {comments} {notifications} {delivery} {}",
        crate::now_micros()
    );
    crate::org::put_setting(&mut tx, MARKS, &marks).await?;
    tx.commit().await?;
    Ok(())
}
