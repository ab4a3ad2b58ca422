//! JSON shapes of what the services return, as the API sends them. Ids
//! are strings, times RFC 3339 in UTC.

pub mod social;

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::invitations::Invitation;
use crate::service::org::OrgSettings;
use crate::service::profiles::Member;
use crate::service::signup::DOMAIN_SIGNUP_OFF;
use crate::service::tokens::ApiToken;
use crate::service::viewer::Viewer;

pub fn time(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn opt_time(micros: Option<i64>) -> Option<String> {
    micros.map(time)
}

/// A page of a list; pass `next` back as `before` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub handle: String,
    pub display_name: String,
    /// Shown to members, not to guests; always to the member themselves.
    pub email: Option<String>,
    pub title: String,
    pub team: String,
    /// Markdown as written.
    pub about: String,
    /// `about` rendered to sanitized HTML.
    pub about_html: String,
    pub time_zone: String,
    #[schema(value_type = String, example = "member")]
    pub role: domain::Role,
    pub avatar_url: Option<String>,
    pub deactivated: bool,
    pub created_at: String,
}

impl MemberView {
    pub fn new(m: &Member, viewer: Option<&Viewer>) -> MemberView {
        let show_email = viewer.is_some_and(|v| v.id() == m.id || v.role() != domain::Role::Guest);
        MemberView {
            id: m.id.to_string(),
            handle: m.handle.clone(),
            display_name: m.display_name.clone(),
            email: show_email.then(|| m.email.clone()),
            title: m.title.clone(),
            team: m.team.clone(),
            about: m.about.clone(),
            about_html: m.about_html.clone(),
            time_zone: m.time_zone.clone(),
            role: m.role,
            avatar_url: avatar_url(m),
            deactivated: m.deactivated_at.is_some(),
            created_at: time(m.created_at),
        }
    }
}

impl MemberView {
    /// The member's own view of themselves (in the answers that log them
    /// in), with their email.
    pub fn own(m: &Member) -> MemberView {
        let mut v = MemberView::new(m, None);
        v.email = Some(m.email.clone());
        v
    }
}

pub fn avatar_url(m: &Member) -> Option<String> {
    (m.avatar_version > 0)
        .then(|| format!("/api/v1/members/{}/avatar?v={}", m.handle, m.avatar_version))
}

/// The answer to a login or sign-up: who you are, and the CSRF token that
/// cookie-authenticated unsafe requests send as `X-CSRF-Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub member: MemberView,
    pub csrf_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The first characters, to recognise the token by.
    pub prefix: String,
    pub created_at: String,
    /// When the token last authenticated a request, to within ten
    /// minutes; recorded in the background, about a minute later. Null
    /// when it never has.
    pub last_used_at: Option<String>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        TokenView {
            id: t.id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: time(t.created_at),
            last_used_at: opt_time(t.last_used_at),
        }
    }
}

/// A search the member follows.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchView {
    pub id: String,
    /// The query as Chorus reads it (canonical: operators normalised).
    pub query: String,
    /// `watching` (new matches in home and as notifications), `following`
    /// (in home) or `muted` (kept, delivering nothing).
    pub level: String,
    pub created_at: String,
    /// The results page of the query.
    pub url: String,
}

impl From<&crate::service::searches::SavedSearch> for SavedSearchView {
    fn from(s: &crate::service::searches::SavedSearch) -> Self {
        SavedSearchView {
            id: s.id.to_string(),
            query: s.query.clone(),
            level: s.level.clone(),
            created_at: time(s.created_at),
            url: search_url(&s.query),
        }
    }
}

/// The results page of a query: `/search?q=…`.
pub fn search_url(query: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!("/search?q={q}")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenView {
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret, shown only now. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    #[schema(value_type = String, example = "member")]
    pub role: domain::Role,
    pub inviter: String,
    pub message: String,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    /// The one-time link; only in the answer that created the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl InvitationView {
    pub fn new(i: &Invitation, url: Option<String>) -> Self {
        let status = if i.accepted_at.is_some() {
            "accepted"
        } else if i.revoked_at.is_some() {
            "revoked"
        } else if i.expires_at <= store::now_micros() {
            "expired"
        } else {
            "pending"
        };
        InvitationView {
            id: i.id.to_string(),
            email: i.email.clone(),
            role: i.role,
            inviter: i.inviter_handle.clone(),
            message: i.message.clone(),
            status: status.into(),
            created_at: time(i.created_at),
            expires_at: time(i.expires_at),
            url,
        }
    }
}

/// A background job, as owners and admins see it (its payload left out).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// What the job does, e.g. `fanout` or `reminders`.
    pub kind: String,
    /// `queued`, `running` or `dead`.
    pub state: String,
    /// Attempts made since it was queued (a running one's included).
    pub attempts: i64,
    /// Attempts before it is dead.
    pub max_attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it is (or was) due.
    pub run_at: String,
    /// A running job's lease: past it, another node may run the job.
    pub lease_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl JobView {
    pub fn new(j: &crate::service::jobs::Job) -> Self {
        JobView {
            id: j.id.to_string(),
            kind: j.kind.clone(),
            state: j.state.as_str().into(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error.clone(),
            run_at: time(j.run_at),
            lease_until: opt_time(j.lease_until),
            created_at: time(j.created_at),
            updated_at: time(j.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgSettingsView {
    pub org_name: String,
    /// `anyone` or `admins_only`.
    pub invite_policy: String,
    /// Addresses at these domains may sign up without an invitation, once
    /// `signup_domains_in_effect`.
    pub signup_domains: Vec<String>,
    /// False while Chorus cannot confirm a sign-up's address by mail (no
    /// relay is set): then nobody signs up by domain, and the domains are
    /// only kept.
    pub signup_domains_in_effect: bool,
    /// Why sign-up by domain is not in effect, when it is not.
    pub signup_domains_note: Option<String>,
}

impl From<&OrgSettings> for OrgSettingsView {
    fn from(o: &OrgSettings) -> Self {
        OrgSettingsView {
            org_name: o.org_name.clone(),
            invite_policy: o.invite_policy.as_str().into(),
            signup_domains: o.signup_domains.as_slice().to_vec(),
            signup_domains_in_effect: o.signup_open(),
            signup_domains_note: (!o.signup_open()).then(|| DOMAIN_SIGNUP_OFF.into()),
        }
    }
}
