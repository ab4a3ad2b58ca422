//! JSON shapes of the social core: spaces, items, comments, activities,
//! notifications and audiences.

use domain::{CommentId, ItemId};
use serde::Serialize;
use utoipa::ToSchema;

use super::{opt_time, time};
use crate::service::audience::AudienceSummary;
use crate::service::comments::CommentRow;
use crate::service::items::{ItemDetail, ItemRow};
use crate::service::notifications::NotificationRow;
use crate::service::profiles::Person;
use crate::service::reactions::ReactionCount;
use crate::service::spaces::Space;
use crate::service::streams::ActivityRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub handle: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// A role or level, in lists that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl From<Person> for PersonView {
    fn from(p: Person) -> Self {
        PersonView {
            id: p.id.to_string(),
            avatar_url: avatar(&p.handle, p.avatar_version),
            handle: p.handle,
            display_name: p.display_name,
            role: (!p.extra.is_empty()).then_some(p.extra),
        }
    }
}

impl From<&Person> for PersonView {
    fn from(p: &Person) -> Self {
        PersonView::from(p.clone())
    }
}

fn avatar(handle: &str, version: i64) -> Option<String> {
    (version > 0).then(|| format!("/api/v1/members/{handle}/avatar?v={version}"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpaceView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// `open`, `closed` or `secret`.
    pub visibility: String,
    pub member_count: i64,
    pub archived: bool,
    /// The viewer's place: `admin`, `member`, `requested` or null.
    pub membership: Option<String>,
    /// The space's mail address (mail to it will post there).
    pub address: String,
    pub created_at: String,
}

impl SpaceView {
    pub fn new(s: &Space, mail_domain: &str) -> Self {
        SpaceView {
            id: s.id.to_string(),
            slug: s.slug.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            visibility: s.visibility.as_str().into(),
            member_count: s.member_count,
            archived: s.archived_at.is_some(),
            membership: s
                .viewer_role
                .map(|r| r.to_string())
                .or_else(|| s.viewer_requested.then(|| "requested".to_owned())),
            address: format!("{}@{mail_domain}", s.slug),
            created_at: time(s.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpaceRef {
    pub slug: String,
    pub name: String,
    pub visibility: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionView {
    pub emoji: String,
    pub count: i64,
    /// The viewer reacted with this emoji.
    pub me: bool,
}

/// The reactions on an item (`comment` 0) or one of its comments.
pub fn reactions_view(
    all: &[ReactionCount],
    item: ItemId,
    comment: CommentId,
) -> Vec<ReactionView> {
    crate::service::reactions::reactions_on(all, item, comment)
        .map(|(emoji, count, me)| ReactionView {
            emoji: emoji.to_owned(),
            count,
            me,
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceView {
    /// `space`, `profile` or `direct`.
    pub kind: String,
    /// Exactly how many people can see it.
    pub count: i64,
    /// Who, in words: "everyone at Acme (1,204)", "12 members of Design review", "Ana and you".
    pub label: String,
    /// For direct audiences, the people.
    pub people: Vec<PersonView>,
}

impl From<&AudienceSummary> for AudienceView {
    fn from(a: &AudienceSummary) -> Self {
        AudienceView {
            kind: a.kind.into(),
            count: a.count,
            label: a.label.clone(),
            people: a.people.iter().map(PersonView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub id: String,
    /// `post` now; later `question`, `idea`, `poll`, `praise`, `request`, `offer`, `todo`, `record`.
    pub kind: String,
    pub author: PersonView,
    /// `space`, `profile` or `direct`.
    pub audience: String,
    pub space: Option<SpaceRef>,
    pub recipients: Vec<PersonView>,
    pub title: String,
    /// Markdown as written (empty when deleted); only on single-item
    /// answers, streams carry the HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Sanitized HTML with @mentions and #topics linked.
    pub body_html: String,
    pub topics: Vec<String>,
    pub reactions: Vec<ReactionView>,
    pub comment_count: i64,
    pub ack_requested: bool,
    pub deleted: bool,
    pub created_at: String,
    pub edited_at: Option<String>,
    /// Who can see it (on single-item answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_to: Option<AudienceView>,
    /// The viewer's follow level on this item, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<String>,
}

impl ItemView {
    /// An item's view; it takes the row, whose text moves into the view.
    pub fn new(i: ItemRow, reactions: &[ReactionCount]) -> Self {
        ItemView {
            id: i.id.to_string(),
            kind: i.kind.to_string(),
            author: PersonView {
                id: i.author_id.to_string(),
                avatar_url: avatar(&i.author_handle, i.author_avatar),
                handle: i.author_handle,
                display_name: i.author_name,
                role: None,
            },
            audience: i.audience.to_string(),
            space: match (i.space_slug, i.space_name, i.space_visibility) {
                (Some(slug), Some(name), Some(v)) => Some(SpaceRef {
                    slug,
                    name,
                    visibility: v.as_str().into(),
                }),
                _ => None,
            },
            recipients: i.recipients.into_iter().map(PersonView::from).collect(),
            title: i.title,
            body: None,
            body_html: i.body_html,
            topics: i.topics,
            reactions: reactions_view(reactions, i.id, CommentId(0)),
            comment_count: i.comment_count,
            ack_requested: i.ack_requested,
            deleted: i.deleted_at.is_some(),
            created_at: time(i.created_at),
            edited_at: opt_time(i.edited_at),
            visible_to: None,
            following: None,
        }
    }

    pub fn detail(d: &ItemDetail, audience: &AudienceSummary) -> Self {
        let mut v = ItemView::new(d.item.clone(), &d.reactions);
        v.body = Some(d.item.body.clone());
        v.topics = d.topics.clone();
        v.recipients = d.recipients.iter().map(PersonView::from).collect();
        v.visible_to = Some(AudienceView::from(audience));
        v.following = d.follow_level.clone();
        v
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub item_id: String,
    pub author: PersonView,
    pub body: String,
    pub body_html: String,
    pub reactions: Vec<ReactionView>,
    pub created_at: String,
}

impl CommentView {
    pub fn new(c: &CommentRow, reactions: &[ReactionCount]) -> Self {
        CommentView {
            id: c.id.to_string(),
            item_id: c.item_id.to_string(),
            author: PersonView::from(&c.author),
            body: c.body.clone(),
            body_html: c.body_html.clone(),
            reactions: reactions_view(reactions, c.item_id, c.id),
            created_at: time(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectRef {
    /// `item`, `comment`, `space` or `member`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// The comment's HTML, for comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
}

/// An activity: who did what to what, where, when (ActivityStreams shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// The stream position; also the SSE event id.
    pub id: String,
    pub actor: PersonView,
    /// `post`, `comment`, `react`, `update`, `delete`, `join`, `request`, `follow`, `create`.
    pub verb: String,
    pub object: ObjectRef,
    pub target: Option<ObjectRef>,
    /// The item the activity concerns, if any.
    pub item: Option<ItemView>,
    pub published: String,
}

impl ActivityView {
    /// An activity's view; it takes the row, whose text moves into the view.
    pub fn new(a: ActivityRow, reactions: &[ReactionCount]) -> Self {
        ActivityView {
            id: a.id.to_string(),
            actor: PersonView::from(a.actor),
            verb: a.verb.to_string(),
            object: ObjectRef {
                kind: a.object_type,
                id: a.object_id.to_string(),
                body_html: a.comment_html,
            },
            target: match (a.target_type, a.target_id) {
                (Some(kind), Some(id)) => Some(ObjectRef {
                    kind,
                    id: id.to_string(),
                    body_html: None,
                }),
                _ => None,
            },
            item: a.item.map(|i| ItemView::new(i, reactions)),
            published: time(a.published),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// `mention`, `reply`, `reaction`, `follower`, `added_to_space`, `join_request`, `watching`, `direct`.
    pub reason: String,
    pub read: bool,
    pub created_at: String,
    pub activity: ActivityView,
}

impl NotificationView {
    pub fn new(n: &NotificationRow, a: ActivityRow) -> Self {
        NotificationView {
            id: n.id.to_string(),
            reason: n.reason.to_string(),
            read: n.read_at.is_some(),
            created_at: time(n.created_at),
            activity: ActivityView::new(a, &[]),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    pub next: Option<String>,
    pub unread: i64,
}
