//! What templates show: rows from the services turned into small display
//! structs (names, avatars, relative times, places), so templates only
//! read fields.

use crate::service::comments::CommentRow;
use crate::service::items::ItemRow;
use crate::service::pages::{Reactions, Shell};
use crate::service::profiles::Member;
use crate::service::profiles::Person;
use crate::service::spaces::Space;
use crate::service::streams::ActivityRow;
use crate::service::viewer::Viewer;
use domain::{CommentId, ItemId};

/// The reactions offered in the picker.
pub const EMOJI: [&str; 6] = ["👍", "🎉", "❤️", "😄", "🤔", "👀"];

/// The header every logged-in page shows.
pub struct ShellV {
    pub org_name: String,
    pub me: PersonV,
    pub is_admin: bool,
    pub csrf: String,
    pub unread: i64,
    /// Requests waiting on the viewer (My work).
    pub work: i64,
    /// The section the page belongs to, for the navigation.
    pub nav: &'static str,
    /// This page's path, where forms come back to.
    pub path: String,
    pub emoji: [&'static str; 6],
    /// What the header's search box holds (the search on its results page).
    pub search: String,
}

impl ShellV {
    pub fn new(s: Shell, v: &Viewer, nav: &'static str, path: String) -> ShellV {
        ShellV {
            org_name: s.org_name,
            me: PersonV::member(&v.member),
            is_admin: v.role().is_admin(),
            csrf: v.csrf_token().unwrap_or_default().to_owned(),
            unread: s.unread,
            work: s.work,
            nav,
            path,
            emoji: EMOJI,
            search: String::new(),
        }
    }
}

/// An avatar: the uploaded image, or initials on a colour of their own.
pub struct Av {
    pub url: Option<String>,
    pub initials: String,
    pub hue: u32,
}

impl Av {
    pub fn new(handle: &str, name: &str, version: i64) -> Av {
        let initials: String = name
            .split_whitespace()
            .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
            .take(2)
            .flat_map(char::to_uppercase)
            .collect();
        let hue = handle
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 8;
        Av {
            url: (version > 0).then(|| format!("/api/v1/members/{handle}/avatar?v={version}")),
            initials: if initials.is_empty() {
                "?".into()
            } else {
                initials
            },
            hue,
        }
    }
}

pub struct PersonV {
    pub handle: String,
    pub name: String,
    pub av: Av,
    /// A role or level, in lists that have one.
    pub extra: String,
}

impl PersonV {
    pub fn person(p: &Person) -> PersonV {
        PersonV {
            handle: p.handle.clone(),
            name: p.display_name.clone(),
            av: Av::new(&p.handle, &p.display_name, p.avatar_version),
            extra: p.extra.clone(),
        }
    }

    pub fn member(m: &Member) -> PersonV {
        PersonV {
            handle: m.handle.clone(),
            name: m.display_name.clone(),
            av: Av::new(&m.handle, &m.display_name, m.avatar_version),
            extra: String::new(),
        }
    }
}

/// A time as "5 min ago" with the exact time for a tooltip.
pub struct Ago {
    pub text: String,
    pub iso: String,
    pub full: String,
}

impl Ago {
    pub fn new(micros: i64) -> Ago {
        let now = jiff::Timestamp::now().as_microsecond();
        let secs = (now - micros).max(0) / 1_000_000;
        let ts = jiff::Timestamp::from_microsecond(micros).unwrap_or_default();
        let dt = ts.to_zoned(jiff::tz::TimeZone::UTC);
        let text = match secs {
            0..60 => "just now".to_owned(),
            60..3600 => format!("{} min ago", secs / 60),
            3600..86_400 => format!("{} h ago", secs / 3600),
            86_400..604_800 => format!("{} d ago", secs / 86_400),
            _ => dt.strftime("%-d %b %Y").to_string(),
        };
        Ago {
            text,
            iso: ts.to_string(),
            full: dt.strftime("%-d %B %Y, %H:%M UTC").to_string(),
        }
    }
}

pub struct ReactionV {
    pub emoji: String,
    pub count: i64,
    pub me: bool,
}

fn reactions_for(all: &Reactions, item: ItemId, comment: CommentId) -> Vec<ReactionV> {
    crate::service::reactions::reactions_on(all, item, comment)
        .map(|(emoji, count, me)| ReactionV {
            emoji: emoji.to_owned(),
            count,
            me,
        })
        .collect()
}

pub struct ItemV {
    pub id: ItemId,
    pub title: String,
    /// The Markdown source, where the row has it (not in stream pages).
    pub body: String,
    pub body_html: String,
    pub deleted: bool,
    pub edited: bool,
    pub author: PersonV,
    /// From a mail archive's sender who is no member.
    pub imported: bool,
    /// `space`, `profile` or `direct`.
    pub place: String,
    pub space_slug: String,
    pub space_name: String,
    /// `open`, `closed`, `secret` for space items.
    pub space_vis: String,
    pub ago: Ago,
    pub comment_count: i64,
    pub reactions: Vec<ReactionV>,
    pub ack_requested: bool,
}

impl ItemV {
    pub fn new(i: &ItemRow, reactions: &Reactions) -> ItemV {
        ItemV {
            id: i.id,
            title: i.title.clone(),
            body: if i.deleted_at.is_some() {
                String::new()
            } else {
                i.body.clone()
            },
            body_html: if i.deleted_at.is_some() {
                String::new()
            } else {
                i.body_html.clone()
            },
            deleted: i.deleted_at.is_some(),
            edited: i.edited_at.is_some(),
            author: PersonV {
                handle: i.author_handle.clone(),
                name: i.author_name.clone(),
                av: Av::new(&i.author_handle, &i.author_name, i.author_avatar),
                extra: String::new(),
            },
            imported: i.imported,
            place: i.audience.to_string(),
            space_slug: i.space_slug.clone().unwrap_or_default(),
            space_name: i.space_name.clone().unwrap_or_default(),
            space_vis: i
                .space_visibility
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default(),
            ago: Ago::new(i.created_at),
            comment_count: i.comment_count,
            reactions: reactions_for(reactions, i.id, CommentId(0)),
            ack_requested: i.ack_requested,
        }
    }

    /// A short name for the item in "commented on …" lines: its title, or
    /// the start of its text where the row has its Markdown source.
    pub fn label(&self) -> String {
        if !self.title.is_empty() {
            return self.title.clone();
        }
        let out = excerpt(&self.body, 60);
        if out.is_empty() {
            format!("item {}", self.id)
        } else {
            out
        }
    }
}

/// The start of Markdown's plain text on one line, up to `max` characters
/// and an ellipsis (escaped again on output).
pub fn excerpt(markdown: &str, max: usize) -> String {
    let text = domain::markdown::plain_text(markdown)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}

/// One entry of a stream.
pub struct EntryV {
    pub id: i64,
    /// `post`, `comment`, or `note` (a one-line activity).
    pub kind: &'static str,
    pub actor: PersonV,
    /// For notes: what happened, after the actor's name.
    pub line: String,
    pub comment_html: String,
    pub item: Option<ItemV>,
    pub ago: Ago,
    /// Why it is in home when a followed search brought it: the query and
    /// its results page.
    pub search: Option<(String, String)>,
}

impl EntryV {
    /// None for activities a stream does not show (reactions, edits…).
    pub fn new(a: &ActivityRow, reactions: &Reactions) -> Option<EntryV> {
        let item = a.item.as_ref().map(|i| ItemV::new(i, reactions));
        let (kind, line) = match (a.verb.as_str(), &item) {
            ("post", Some(_)) => ("post", String::new()),
            ("comment", Some(_)) => ("comment", "commented".into()),
            ("create", None) if a.object_type == "space" => ("note", "created the space".into()),
            ("join", None) if a.actor.id.get() == a.object_id => {
                ("note", "joined the space".into())
            }
            ("join", None) => ("note", "added a member to the space".into()),
            ("request", None) => ("note", "asked to join the space".into()),
            ("request" | "offer", Some(_)) => ("post", String::new()),
            ("completed", Some(i)) => ("note", format!("completed: {}", i.label())),
            ("ask_progress", Some(i)) => ("note", format!("asked how it goes: {}", i.label())),
            (verb, Some(i)) => match domain::cfa::Act::parse(verb) {
                Ok(act) => ("note", format!("{} “{}”", act.past(), i.label())),
                Err(_) => return None,
            },
            _ => return None,
        };
        Some(EntryV {
            id: a.id,
            kind,
            actor: PersonV::person(&a.actor),
            line,
            comment_html: a.comment_html.clone().unwrap_or_default(),
            item,
            ago: Ago::new(a.published),
            search: None,
        })
    }

    pub fn all(rows: &[ActivityRow], reactions: &Reactions) -> Vec<EntryV> {
        rows.iter()
            .filter_map(|r| EntryV::new(r, reactions))
            .collect()
    }

    /// [`EntryV::all`] for home, naming the followed search that brought
    /// an entry.
    pub fn home(e: &crate::service::pages::Entries) -> Vec<EntryV> {
        let mut out = EntryV::all(&e.rows, &e.reactions);
        for entry in &mut out {
            entry.search = e
                .reasons
                .get(&entry.id)
                .map(|(_, q)| (q.clone(), crate::views::search_url(q)));
        }
        out
    }
}

pub struct CommentV {
    pub id: CommentId,
    pub item_id: ItemId,
    pub author: PersonV,
    /// From a mail archive's sender who is no member.
    pub imported: bool,
    pub body_html: String,
    pub deleted: bool,
    pub ago: Ago,
    pub reactions: Vec<ReactionV>,
}

impl CommentV {
    pub fn new(c: &CommentRow, reactions: &Reactions) -> CommentV {
        CommentV {
            id: c.id,
            item_id: c.item_id,
            author: PersonV::person(&c.author),
            imported: c.imported,
            body_html: if c.deleted_at.is_some() {
                String::new()
            } else {
                c.body_html.clone()
            },
            deleted: c.deleted_at.is_some(),
            ago: Ago::new(c.created_at),
            reactions: reactions_for(reactions, c.item_id, c.id),
        }
    }
}

pub struct SpaceV {
    pub slug: String,
    pub name: String,
    pub description_html: String,
    pub visibility: String,
    pub member_count: i64,
    pub archived: bool,
    /// `admin`, `member`, `requested` or empty.
    pub membership: String,
}

impl SpaceV {
    pub fn new(s: &Space) -> SpaceV {
        SpaceV {
            slug: s.slug.clone(),
            name: s.name.clone(),
            description_html: domain::markdown::render(&s.description),
            visibility: s.visibility.as_str().to_owned(),
            member_count: s.member_count,
            archived: s.archived_at.is_some(),
            membership: s.viewer_role.map(|r| r.to_string()).unwrap_or_else(|| {
                if s.viewer_requested {
                    "requested".into()
                } else {
                    String::new()
                }
            }),
        }
    }
}

/// A follow control: what it follows and the viewer's level now.
pub struct FollowV {
    pub target_type: &'static str,
    pub target: String,
    /// `watching`, `following`, `muted` or empty.
    pub level: String,
}

impl FollowV {
    pub fn new(target_type: &'static str, target: &str, level: Option<&str>) -> FollowV {
        FollowV {
            target_type,
            target: target.to_owned(),
            level: level.unwrap_or_default().to_owned(),
        }
    }
}
