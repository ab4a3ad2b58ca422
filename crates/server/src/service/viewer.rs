//! Who is asking, and the one visibility rule as the services ask it.
//!
//! A [`Viewer`] is the member behind a request and how they proved it (for
//! the command line, a stand-in: [`act_as`], [`system_actor`]). The rule is
//! `domain::social::can_see`; the services ask it through the functions
//! here, kept together so that every read path asks it the same way:
//! [`visible`] for an item, [`visible_activity`] for a stream entry,
//! fragment or notification, [`visible_own`], [`visible_space`] and
//! [`visible_person`] for what search finds besides items, and [`members_who_can_see`] for whom a write
//! may tell (the calendar feed asks it for its owner, who is no viewer).
//! Something the viewer may not see is "not found".

use domain::{Handle, MemberId, Role, social};
use store::{Conn, audience, profiles};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::ItemRow;
use crate::service::profiles::{Member, member};
use crate::service::streams::ActivityRow;

/// Who is making a request, and how they proved it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub member: Member,
    pub auth: Auth,
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// A browser session; unsafe requests must carry `csrf_token`.
    Session {
        token_hash: String,
        csrf_token: String,
    },
    /// A personal API token sent as `Authorization: Bearer`.
    Token { id: i64 },
    /// A mail from the address of the member's account (the SMTP
    /// listener, `service::mail_in`).
    Mail,
}

impl Viewer {
    pub fn id(&self) -> MemberId {
        self.member.id
    }
    pub fn role(&self) -> Role {
        self.member.role
    }
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.auth {
            Auth::Session { csrf_token, .. } => Some(csrf_token),
            Auth::Token { .. } | Auth::Mail => None,
        }
    }
}

/// The visibility rule, applied to one item for one viewer.
pub fn visible(viewer: &Viewer, item: &ItemRow) -> bool {
    social::can_see(&item.access(viewer.id(), viewer.role(), viewer.member.is_active()))
}

/// The visibility rule, applied to one activity (with or without an item)
/// for one viewer: every stream entry, fragment and notification asks it.
pub fn visible_activity(viewer: &Viewer, a: &ActivityRow) -> bool {
    // On a space without an item, the people the activity names (who
    // asked to join, who was added) see it only while they may know the
    // space: removed from a secret space, "added you to it" goes too.
    if a.item.is_none()
        && let Some(v) = a.space_visibility
        && !social::can_see_space(v, a.viewer_in_space, viewer.role())
    {
        return false;
    }
    social::can_see(&a.access(viewer.id(), viewer.role(), viewer.member.is_active()))
}

/// The visibility rule for something only its owner sees (a to-do): an
/// audience of no one but its author.
pub fn visible_own(viewer: &Viewer, owner: MemberId) -> bool {
    social::can_see(&social::Access {
        audience: social::Audience::Direct,
        viewer_is_author: owner == viewer.id(),
        viewer_in_space: false,
        viewer_is_recipient: false,
        viewer_role: viewer.role(),
        viewer_active: viewer.member.is_active(),
    })
}

/// May the viewer know this space exists (find it, see its name)?
pub fn visible_space(viewer: &Viewer, visibility: social::SpaceVisibility, in_space: bool) -> bool {
    viewer.member.is_active() && social::can_see_space(visibility, in_space, viewer.role())
}

/// May the viewer find this person?
pub fn visible_person(
    viewer: &Viewer,
    person: MemberId,
    shares_a_space: bool,
    active: bool,
) -> bool {
    viewer.member.is_active()
        && social::can_see_person(viewer.role(), person == viewer.id(), shares_a_space, active)
}

/// Can `member` see `item`? For deciding whom to notify.
pub(crate) async fn member_can_see(
    c: &mut Conn,
    member: MemberId,
    item: &ItemRow,
) -> AppResult<bool> {
    Ok(members_who_can_see(c, &[member], item)
        .await?
        .contains(&member))
}

/// Of these members, those the visibility rule lets see `item`: their
/// facts in one query, the rule applied to each.
pub(crate) async fn members_who_can_see(
    c: &mut Conn,
    members: &[MemberId],
    item: &ItemRow,
) -> AppResult<Vec<MemberId>> {
    let facts = audience::member_facts_many(c, members, item.space_id, item.id).await?;
    Ok(facts
        .into_iter()
        .filter(|(id, role, active, in_space, rcpt)| {
            social::can_see(&social::Access {
                audience: item.audience(),
                viewer_is_author: item.author_id == *id,
                viewer_in_space: *in_space,
                viewer_is_recipient: *rcpt,
                viewer_role: *role,
                viewer_active: *active,
            })
        })
        .map(|f| f.0)
        .collect())
}

/// A stand-in viewer with the given member's rights, for the command line.
pub async fn act_as(ctx: &Ctx, handle: &Handle) -> AppResult<Viewer> {
    let m = member(ctx, handle).await?;
    Ok(Viewer {
        member: m,
        auth: Auth::Token { id: 0 },
    })
}

/// The owner the command line acts as: whoever can run it can read the
/// database anyway.
pub async fn system_actor(ctx: &Ctx) -> AppResult<Viewer> {
    let mut c = ctx.db.read().await?;
    let owner = profiles::list_members(&mut c, None, 1000, true)
        .await?
        .into_iter()
        .find(|m| m.role == Role::Owner && m.is_active());
    match owner {
        Some(m) => Ok(Viewer {
            member: m,
            auth: Auth::Token { id: 0 },
        }),
        None => Err(AppError::Unavailable(
            "Chorus has no owner yet. Run `chorus serve` and follow the setup link, or create one \
             with `chorus admin create-user --role owner`."
                .into(),
        )),
    }
}
