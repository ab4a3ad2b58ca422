//! Follows: following, watching or muting a member, space, topic or item,
//! and what a member follows and who follows them, as the viewer may see it.

use domain::kinds::{NotificationReason, ObjectType, Verb};
use domain::social::{self, FollowLevel, TargetType};
use domain::{Handle, ItemId, MemberId, SpaceId};
use store::activities::{self, NewActivity};
use store::follows as q;
use store::{Conn, items, notifications, profiles, spaces};

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::items::{load_item, not_found_item};
use crate::service::profiles::{Person, handle_named, member_named};
use crate::service::spaces::{load_space, space_visible};
use crate::service::viewer::{Viewer, visible};

/// Resolves a follow target to its stored key, checking it exists and the
/// viewer may see it.
async fn follow_key(
    c: &mut Conn,
    viewer: &Viewer,
    ttype: TargetType,
    target: &str,
) -> AppResult<(String, Option<MemberId>)> {
    match ttype {
        TargetType::Member => {
            let m = member_named(c, &handle_named(target.trim_start_matches('@'))?).await?;
            if m.id == viewer.id() {
                return Err(AppError::invalid("target", "You cannot follow yourself."));
            }
            Ok((m.id.to_string(), Some(m.id)))
        }
        TargetType::Space => {
            let s = load_space(c, viewer, target).await?;
            Ok((s.id.to_string(), None))
        }
        TargetType::Topic => Ok((social::parse_topic(target)?, None)),
        TargetType::Item => {
            let id: ItemId = target.parse().map_err(|_| not_found_item(ItemId(0)))?;
            load_item(c, viewer, id).await?;
            Ok((id.to_string(), None))
        }
    }
}

pub async fn follow(
    ctx: &Ctx,
    viewer: &Viewer,
    target_type: &str,
    target: &str,
    level: &str,
) -> AppResult<()> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let ttype = checks.check(TargetType::parse(target_type));
    let level = checks.check(FollowLevel::parse(level));
    checks.finish()?;
    let (ttype, level) = (ttype.expect("checked"), level.expect("checked"));
    let now = ctx.now();
    let mut tx = db.write().await?;
    let (key, followed_member) = follow_key(&mut tx, viewer, ttype, target).await?;
    let new = q::put_follow(
        &mut tx,
        viewer.id(),
        ttype.as_str(),
        &key,
        level.as_str(),
        now,
    )
    .await?;
    if let (true, Some(m), false) = (new, followed_member, level == FollowLevel::Muted) {
        let a = activities::append_activity(
            &mut tx,
            &NewActivity {
                actor_id: viewer.id(),
                verb: Verb::Follow,
                object_type: ObjectType::Member,
                object_id: m.get(),
                target_type: None,
                target_id: None,
                item_id: None,
                space_id: None,
            },
            now,
        )
        .await?;
        notifications::notify(&mut tx, m, a, NotificationReason::Follower, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn unfollow(
    ctx: &Ctx,
    viewer: &Viewer,
    target_type: &str,
    target: &str,
) -> AppResult<()> {
    let db = &ctx.db;
    let ttype = TargetType::parse(target_type)?;
    let mut tx = db.write().await?;
    let (key, _) = follow_key(&mut tx, viewer, ttype, target).await?;
    if !q::delete_follow(&mut tx, viewer.id(), ttype.as_str(), &key).await? {
        return Err(AppError::NotFound("You do not follow that.".into()));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn member_followers(
    ctx: &Ctx,
    handle: &Handle,
    after: &str,
    limit: i64,
) -> AppResult<Vec<Person>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = member_named(&mut c, handle).await?;
    Ok(q::followers(&mut c, "member", &m.id.to_string(), after, limit).await?)
}

/// What a member follows: (type, target as a person would name it, a
/// display name, level). Spaces the viewer may not see are left out.
pub async fn member_following(
    ctx: &Ctx,
    viewer: &Viewer,
    handle: &Handle,
) -> AppResult<Vec<(String, String, String, String)>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = member_named(&mut c, handle).await?;
    let rows = q::following(&mut c, m.id, 500).await?;
    describe_follows(&mut c, viewer, m.id, rows).await
}

/// A page of what a member follows, as [`member_following`] shows it, and
/// the cursor of the next page (`(created_at, "type:target")`), if any.
pub async fn member_following_page(
    ctx: &Ctx,
    viewer: &Viewer,
    handle: &Handle,
    before: Option<(i64, String)>,
    limit: i64,
) -> AppResult<FollowingPage> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = member_named(&mut c, handle).await?;
    let before = before.as_ref().map(|(at, key)| (*at, key.as_str()));
    let mut rows = q::following_page(&mut c, m.id, before, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|(at, t, target, _)| (*at, format!("{t}:{target}")))
    } else {
        None
    };
    let rows = rows
        .into_iter()
        .map(|(_, t, target, level)| (t, target, level))
        .collect();
    Ok((describe_follows(&mut c, viewer, m.id, rows).await?, next))
}

/// What a member follows, and where the next page starts.
pub type FollowingPage = (Vec<(String, String, String, String)>, Option<(i64, String)>);

/// `(target_type, target, name, level)` for each follow the viewer may
/// see: a member's mutes are theirs alone, and spaces and items pass the
/// visibility rule.
async fn describe_follows(
    c: &mut Conn,
    viewer: &Viewer,
    member: MemberId,
    rows: Vec<(String, String, String)>,
) -> AppResult<Vec<(String, String, String, String)>> {
    let mut out = Vec::new();
    for (t, target, level) in rows {
        if level == "muted" && member != viewer.id() {
            continue;
        }
        let id: i64 = target.parse().unwrap_or(0);
        let (member_id, space_id, item_id) = (MemberId(id), SpaceId(id), ItemId(id));
        match t.as_str() {
            "member" => {
                if let Some(p) = profiles::member_by_id(c, member_id).await? {
                    out.push((t, p.handle, p.display_name, level));
                }
            }
            "space" => {
                if let Some(s) = spaces::space_by_id(c, viewer.id(), space_id).await?
                    && space_visible(viewer, &s)
                {
                    out.push((t, s.slug, s.name, level));
                }
            }
            "topic" => out.push((t, target.clone(), format!("#{target}"), level)),
            _ => {
                if let Some(i) = items::item_by_id(c, viewer.id(), item_id).await?
                    && visible(viewer, &i)
                {
                    let name = if i.title.is_empty() {
                        format!("Item {id}")
                    } else {
                        i.title.clone()
                    };
                    out.push((t, target.clone(), name, level));
                }
            }
        }
    }
    Ok(out)
}
