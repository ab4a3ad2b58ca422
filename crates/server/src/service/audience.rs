//! Audiences: whom a post reaches (a space, the org, named people), as
//! shown before posting and on an item; the sizes of large groups come from
//! a cache.

use domain::Handle;
use domain::social::SpaceVisibility;
use store::audience as q;
use store::{Conn, items};

use crate::caches::{Count, Kept};
use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::ItemRow;
use crate::service::org::org_settings;
use crate::service::profiles::Person;
use crate::service::spaces::load_space;
use crate::service::viewer::Viewer;

#[derive(Debug, Clone)]
pub struct AudienceSummary {
    pub kind: &'static str,
    pub count: i64,
    /// "everyone at Acme", "12 members of Design review", "Ana and Bo".
    pub label: String,
    pub people: Vec<Person>,
}

pub async fn audience_for_space(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let (s, count) = {
        let mut c = db.read().await?;
        let s = load_space(&mut c, viewer, slug).await?;
        let count = match s.visibility {
            // Everyone in the org but guests, and the guests who belong.
            SpaceVisibility::Open => {
                audience_count(ctx, &mut c, Count::Org).await?
                    + q::space_guest_count(&mut c, s.id).await?
            }
            _ => audience_count(ctx, &mut c, Count::Members(s.id)).await?,
        };
        (s, count)
    };
    // The connection goes back first: waiting for a second one while
    // holding it deadlocks once every connection of the pool is held so.
    let org = org_settings(ctx).await?.org_name;
    let label = match s.visibility {
        SpaceVisibility::Open => format!("everyone at {org} ({count}), in {}", s.name),
        _ => format!(
            "{count} {} of {}",
            plural(count, "member", "members"),
            s.name
        ),
    };
    Ok(AudienceSummary {
        kind: "space",
        count,
        label,
        people: Vec::new(),
    })
}

pub async fn audience_for_profile(ctx: &Ctx) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let count = {
        let mut c = db.read().await?;
        audience_count(ctx, &mut c, Count::Org).await?
    };
    let org = org_settings(ctx).await?.org_name;
    Ok(AudienceSummary {
        kind: "profile",
        count,
        label: format!("everyone at {org} ({count})"),
        people: Vec::new(),
    })
}

/// Whom a direct post names, read at the edge: each once, in the order
/// named (in any case, with or without `@`). Text that cannot be a handle
/// names nobody; it is kept as typed, to be refused in the same message as
/// the unknown handles.
#[derive(Debug, Clone, Default)]
pub struct DirectTo(Vec<Result<Handle, String>>);

impl DirectTo {
    pub fn parse<'a>(to: impl IntoIterator<Item = &'a str>) -> Self {
        let mut named = Vec::new();
        for typed in to {
            let bare = typed.trim().trim_start_matches('@');
            let h = Handle::parse(bare).map_err(|_| bare.to_lowercase());
            if !h.as_ref().is_err_and(String::is_empty) && !named.contains(&h) {
                named.push(h);
            }
        }
        Self(named)
    }

    pub fn handles(handles: Vec<Handle>) -> Self {
        Self(handles.into_iter().map(Ok).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whom a direct post to `to` reaches besides its author, in the order
/// named, the author left out. An unknown or deactivated handle, or naming
/// nobody but oneself, is refused. The post and its audience preview both
/// ask this, so the preview says exactly what posting does.
pub(crate) async fn direct_recipients(
    c: &mut Conn,
    viewer: &Viewer,
    to: &DirectTo,
) -> AppResult<Vec<Person>> {
    let handles: Vec<String> =
        to.0.iter()
            .flatten()
            .map(|h| h.as_str().to_owned())
            .collect();
    let found = q::members_by_handles(c, &handles).await?;
    let missing: Vec<String> =
        to.0.iter()
            .filter_map(|h| match h {
                Ok(h) => (!found.iter().any(|f| f.1 == h.as_str() && f.4)).then(|| h.as_str()),
                Err(typed) => Some(typed.as_str()),
            })
            .map(|h| format!("@{h}"))
            .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(
            "to",
            format!(
                "There is no active member {}. Check the handles.",
                missing.join(", ")
            ),
        ));
    }
    let people: Vec<Person> = found
        .into_iter()
        .filter(|f| f.0 != viewer.id())
        .map(|f| Person {
            id: f.0,
            handle: f.1,
            display_name: f.2,
            avatar_version: 0,
            extra: String::new(),
        })
        .collect();
    if people.is_empty() {
        return Err(AppError::invalid("to", "Name at least one other person."));
    }
    Ok(people)
}

/// Who will see a direct post to `handles`; refused exactly as the post
/// would be.
pub async fn audience_for_direct(
    ctx: &Ctx,
    viewer: &Viewer,
    handles: &DirectTo,
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let others = direct_recipients(&mut c, viewer, handles).await?;
    Ok(direct_summary(viewer, others))
}

/// A direct audience: the viewer and `others` (who do not include them).
fn direct_summary(viewer: &Viewer, others: Vec<Person>) -> AudienceSummary {
    let names: Vec<String> = others.iter().map(|p| first_name(&p.display_name)).collect();
    let label = match names.len() {
        0 => "only you".to_owned(),
        1 => format!("{} and you", names[0]),
        n => format!(
            "{} and {} ({} people with you)",
            names[..n - 1].join(", "),
            names[n - 1],
            n + 1
        ),
    };
    let mut people = others;
    people.push(Person::from(&viewer.member));
    AudienceSummary {
        kind: "direct",
        count: people.len() as i64,
        label,
        people,
    }
}

/// The size of an audience, from the cache when the group is large
/// ([`crate::caches::AudienceCounts`]). An expired size is answered while a
/// background task counts again, so no request waits for a large count
/// after the first (and the server counts the org once as it starts:
/// [`warm_counts`]).
async fn audience_count(ctx: &Ctx, c: &mut Conn, what: Count) -> AppResult<i64> {
    match ctx.caches.counts.get(what) {
        Some(Kept::Fresh(n)) => Ok(n),
        Some(Kept::Stale(n)) => {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                if let Ok(mut c) = ctx.db.read().await
                    && let Ok(n) = count(&mut c, what).await
                {
                    ctx.caches.counts.remember(what, n);
                }
            });
            Ok(n)
        }
        None => Ok(ctx.caches.counts.remember(what, count(c, what).await?)),
    }
}

async fn count(c: &mut Conn, what: Count) -> Result<i64, store::Error> {
    match what {
        Count::Org => q::org_audience_count(c).await,
        Count::Members(id) => q::space_member_count(c, id).await,
    }
}

/// Counts the org once as the server starts, so the first post on a
/// profile or in an open space does not wait for it.
pub async fn warm_counts(ctx: Ctx) {
    if let Ok(mut c) = ctx.db.read().await {
        let _ = audience_count(&ctx, &mut c, Count::Org).await;
    }
}

fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_owned()
}

fn plural<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The audience of an existing item, as shown on it.
pub async fn audience_of_item(
    ctx: &Ctx,
    viewer: &Viewer,
    item: &ItemRow,
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    match (item.audience.as_str(), &item.space_slug) {
        ("space", Some(slug)) => audience_for_space(ctx, viewer, slug).await,
        ("profile", _) => audience_for_profile(ctx).await,
        _ => {
            // Its author and recipients who are still active: those the
            // rule lets see it.
            let mut c = db.read().await?;
            let people = items::item_recipients(&mut c, item.id).await?;
            let mut handles: Vec<String> = people.into_iter().map(|p| p.handle).collect();
            handles.push(item.author_handle.clone());
            let found = q::members_by_handles(&mut c, &handles).await?;
            let mut others: Vec<Person> = Vec::new();
            for f in found {
                if f.4 && f.0 != viewer.id() && !others.iter().any(|p| p.id == f.0) {
                    others.push(Person {
                        id: f.0,
                        handle: f.1,
                        display_name: f.2,
                        avatar_version: 0,
                        extra: String::new(),
                    });
                }
            }
            Ok(direct_summary(viewer, others))
        }
    }
}
