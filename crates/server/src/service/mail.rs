//! Mail: what Chorus mails people and when. The server's mail key, which
//! signs reply addresses and one-click unsubscribe links
//! (`domain::mail`); the mail a `mail` job sends (rendered when it runs,
//! after the member's choices and the visibility rule are asked again);
//! bounces; one-click unsubscribe; each member's choices per kind.

use domain::kinds::{ItemKind, NotificationReason, Verb};
use domain::mail::{
    BOUNCES_STOP, Choice, MailKey, ReplyAddress, Thread, Unsubscribe, message_id as message_id_of,
};
use domain::{MemberId, SpaceId, ValidationError};
use rand::RngCore;

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::items::ItemRow;
use crate::service::viewer::{Auth, Viewer, visible_activity};

/// The `settings` key the mail key is kept under, in hex.
const KEY_SETTING: &str = "mail_key";

/// The server's mail key: made at first use and kept in the database, so
/// every node signs and checks with the same one.
pub async fn key(ctx: &Ctx) -> AppResult<MailKey> {
    ctx.caches
        .mail_key
        .get_or_try_init(|| async {
            let mut fresh = [0u8; 32];
            rand::rng().fill_bytes(&mut fresh);
            let mut tx = ctx.db.write().await?;
            let kept =
                store::org::setting_or_insert(&mut tx, KEY_SETTING, &hex::encode(fresh)).await?;
            tx.commit().await?;
            let bytes: [u8; 32] = hex::decode(&kept)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("the stored mail key is not 32 bytes of hex"))?;
            Ok(MailKey::new(bytes))
        })
        .await
        .cloned()
}

/// The kind of job that sends one mail.
pub const MAIL_JOB: &str = store::mail::MAIL;

/// What a `mail` job carries: enough to render its mail when it runs, so
/// that the visibility rule, the member's choices and the item's text are
/// read at send time. No payload holds a usable link: an invitation's or
/// a mailed link's token is minted when the job sends, and only its hash
/// kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mail", rename_all = "snake_case", deny_unknown_fields)]
pub enum MailJob {
    Notification {
        member: MemberId,
        activity: i64,
        reason: String,
    },
    Invitation {
        invitation: i64,
    },
    /// A one-time link (`store::addresses`): a new address to confirm, a
    /// password reset.
    Link {
        link: i64,
    },
    /// A list mail the relay did not take at first (`mail::list`).
    List {
        member: MemberId,
        space: SpaceId,
        item: domain::ItemId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<domain::CommentId>,
    },
    /// A member's daily digest for their local `day`, telling what came
    /// in `[since, until)` (`service::digest`).
    Digest {
        member: MemberId,
        day: String,
        since: i64,
        until: i64,
    },
}

/// A mail ready to send: its headers' facts, and its body as markdown,
/// which becomes both the plain text and the HTML part.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub markdown: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The item's `Message-ID`, for `In-Reply-To` and `References`.
    pub in_reply_to: Option<String>,
    /// A signed reply address, for mail about an item.
    pub reply_to: Option<String>,
    /// The one-click unsubscribe link (RFC 8058).
    pub unsubscribe: Option<String>,
    /// A notification, not a person writing (`Auto-Submitted`).
    pub auto: bool,
    /// What the envelope sender (a signed bounce address) names, so a
    /// bounce counts against the address the mail went to.
    pub bounce: Option<domain::mail::BounceFor>,
}

/// Whether Chorus sends mail: a relay is set.
pub fn enabled(ctx: &Ctx) -> bool {
    enabled_in(&ctx.settings)
}

pub fn enabled_in(settings: &crate::config::Settings) -> bool {
    settings
        .mail_relay
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty())
}

/// Markdown punctuation in text people chose (names, titles), escaped so
/// it reads as they typed it.
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(if c == '\n' || c == '\r' { ' ' } else { c });
    }
    out
}

/// A subject line: one line, at most 120 characters.
pub(crate) fn subject_line(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(119).collect::<String>())
    } else {
        one
    }
}

/// An item's name in a sentence: its title, or the start of its text.
pub(crate) fn item_label(item: &ItemRow) -> String {
    if !item.title.is_empty() {
        return item.title.clone();
    }
    let text = domain::markdown::plain_text(&item.body);
    let line = subject_line(&text);
    if line.is_empty() {
        format!("item {}", item.id)
    } else if line.chars().count() > 60 {
        format!("{}…", line.chars().take(59).collect::<String>())
    } else {
        line
    }
}

/// Quotes markdown as a block quote.
fn quoted(markdown: &str) -> String {
    markdown
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The mail telling `member` of a notification, when it is still to be
/// sent: None when the member may no longer see what it is about, chose
/// otherwise or paused mail since, their address bounces, or the
/// notification is gone.
pub async fn notification_mail(
    ctx: &Ctx,
    member: MemberId,
    activity: i64,
    reason: &str,
) -> AppResult<Option<Outgoing>> {
    let Some(kind) = NotificationReason::parse(reason) else {
        return Ok(None);
    };
    let mut c = ctx.db.read().await?;
    let Some(m) = store::profiles::member_by_id(&mut c, member).await? else {
        return Ok(None);
    };
    let Some(facts) = store::mail::mail_facts(&mut c, member, kind).await? else {
        return Ok(None);
    };
    if !m.is_active()
        || facts.paused
        || facts.choice != Choice::Now
        || facts.bounces >= BOUNCES_STOP
    {
        return Ok(None);
    }
    let viewer = Viewer {
        member: m.clone(),
        auth: Auth::Token { id: 0 },
    };
    let Some(a) = store::activities::activities_by_ids(&mut c, Some(member), &[activity])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    // The rule the page asks, asked again now: someone removed from a
    // closed space since gets nothing more from it.
    if !visible_activity(&viewer, &a) {
        return Ok(None);
    }
    // A member in list mode in the item's space gets the post or comment
    // itself by list mail (the same Message-ID): not twice.
    if matches!(a.verb, Verb::Post | Verb::Comment)
        && let Some(space) = a.item.as_ref().and_then(|i| i.space_id)
        && store::lists::is_on(&mut c, member, space).await?
    {
        return Ok(None);
    }
    let base = &ctx.base_url;
    let domain = ctx.settings.mail_domain();
    let key = key(ctx).await?;
    let actor = md_text(&a.actor.display_name);
    let mut lines = Vec::new();
    let mut thread = None;
    let mut subject;
    let mut message_id = format!("chorus.note.{activity}.{member}@{domain}");
    if let Some(item) = &a.item {
        let label = item_label(item);
        let link = match item.kind {
            ItemKind::Request | ItemKind::Offer => format!("{base}/requests/{}", item.id),
            _ => format!("{base}/items/{}", item.id),
        };
        let title = format!("[{}]({link})", md_text(&label));
        let sentence = match kind {
            NotificationReason::Request => format!(
                "**{actor}** {} {title}.",
                crate::service::notifications::request_sentence(a.verb.as_str())
                    .trim_end_matches(':')
            ),
            NotificationReason::DueSoon => format!("Due within 24 hours: {title}."),
            NotificationReason::Overdue => format!("Overdue: {title}."),
            NotificationReason::Mention => format!("**{actor}** mentioned you in {title}."),
            NotificationReason::Reply => format!("**{actor}** replied to {title}."),
            NotificationReason::Watching => format!("**{actor}** commented on {title}."),
            NotificationReason::Reaction => format!("**{actor}** reacted to {title}."),
            NotificationReason::Direct => format!("**{actor}** wrote to you: {title}."),
            NotificationReason::SearchMatch => {
                match store::searches::reasons(&mut c, member, &[activity])
                    .await?
                    .pop()
                {
                    Some((_, _, q)) => format!(
                        "**{actor}** wrote {title}, which matches your search “{}”.",
                        md_text(&q)
                    ),
                    None => format!("**{actor}** wrote {title}, which matches a search you watch."),
                }
            }
            other => format!("**{actor}**: {} {title}.", other.as_str().replace('_', " ")),
        };
        lines.push(sentence);
        if item.ack_requested && item.author_id != member && a.verb == Verb::Post {
            lines.push(format!(
                "{} asks you to acknowledge it: [open it to acknowledge]({link}).",
                md_text(&item.author_name)
            ));
        }
        let item_id = message_id_of(Thread::Item(item.id.get()), &domain);
        match (a.verb, &a.comment_body) {
            (Verb::Comment, Some(body)) => {
                lines.push(quoted(body));
                message_id = message_id_of(Thread::Comment(a.object_id), &domain);
                thread = Some(item_id);
                subject = format!("Re: {label}");
            }
            (Verb::Post, _) => {
                if !item.body.trim().is_empty() {
                    lines.push(quoted(&item.body));
                }
                message_id = item_id;
                subject = label.clone();
            }
            _ => {
                thread = Some(item_id);
                subject = format!("Re: {label}");
            }
        }
        lines.push(format!("[Open it in Chorus]({link})"));
    } else {
        let (sentence, s) = match kind {
            NotificationReason::Follower => (
                format!(
                    "**{actor}** started following you: [see their profile]({base}/members/{}).",
                    a.actor.handle
                ),
                format!("{} started following you", a.actor.display_name),
            ),
            NotificationReason::AddedToSpace => {
                let Some((_, slug, name)) = space_name(&mut c, a.target_id).await? else {
                    return Ok(None);
                };
                (
                    format!(
                        "**{actor}** added you to [{}]({base}/spaces/{slug}).",
                        md_text(&name)
                    ),
                    format!("{} added you to {name}", a.actor.display_name),
                )
            }
            NotificationReason::JoinRequest => {
                let Some((_, slug, name)) = space_name(&mut c, Some(a.object_id)).await? else {
                    return Ok(None);
                };
                (
                    format!(
                        "**{actor}** asks to join [{}]({base}/spaces/{slug}/settings).",
                        md_text(&name)
                    ),
                    format!("{} asks to join {name}", a.actor.display_name),
                )
            }
            other => (
                format!("**{actor}**: {}.", other.as_str().replace('_', " ")),
                format!(
                    "{}: {}",
                    a.actor.display_name,
                    other.as_str().replace('_', " ")
                ),
            ),
        };
        lines.push(sentence);
        subject = s;
    }
    let unsubscribe = Unsubscribe {
        member: member.get(),
        what: format!("kind:{}", kind.as_str()),
    };
    let unsubscribe = format!("{base}/mail/unsubscribe/{}", unsubscribe.token(&key));
    lines.push(format!(
        "---\n\nYou get this mail because you chose mail at once for {}. \
         [Stop these mails]({unsubscribe}) · [Choose what Chorus mails you]({base}/settings#notifications)",
        kind_label(kind)
    ));
    let reply_to = a.item.as_ref().map(|i| {
        ReplyAddress {
            member: member.get(),
            item: i.id.get(),
            epoch: facts.reply_epoch,
        }
        .address(&key, &domain)
    });
    subject = subject_line(&subject);
    Ok(Some(Outgoing {
        to: m.email.clone(),
        to_name: m.display_name.clone(),
        subject,
        markdown: lines.join("\n\n"),
        message_id,
        in_reply_to: thread,
        reply_to,
        unsubscribe: Some(unsubscribe),
        auto: true,
        bounce: Some(domain::mail::BounceFor::Member(member.get())),
    }))
}

/// A space's id, slug and name (an activity names its space by number).
async fn space_name(
    c: &mut store::Conn,
    id: Option<i64>,
) -> AppResult<Option<(SpaceId, String, String)>> {
    let Some(id) = id else { return Ok(None) };
    Ok(store::spaces::space_names(c, &[SpaceId(id)])
        .await?
        .into_iter()
        .next())
}

/// How the settings page and the mails name a kind of notification.
pub fn kind_label(kind: NotificationReason) -> &'static str {
    match kind {
        NotificationReason::Mention => "mentions",
        NotificationReason::Direct => "posts addressed to you",
        NotificationReason::Reply => "replies to your posts",
        NotificationReason::Watching => "comments on what you watch",
        NotificationReason::Reaction => "reactions",
        NotificationReason::Follower => "new followers",
        NotificationReason::AddedToSpace => "being added to a space",
        NotificationReason::JoinRequest => "requests to join your spaces",
        NotificationReason::Request => "requests and offers",
        NotificationReason::DueSoon => "reminders of what is due soon",
        NotificationReason::Overdue => "notices of what is overdue",
        NotificationReason::SearchMatch => "new matches of searches you watch",
    }
}

/// The invitation mail, while the invitation is open. Its link is minted
/// now and its hash kept on the invitation (beside the link the inviter
/// sees), so the job's payload holds no usable link; accepting through it
/// verifies the address.
pub async fn invitation_mail(ctx: &Ctx, invitation: i64) -> AppResult<Option<Outgoing>> {
    let token = crate::crypto::new_token();
    let inv = {
        let mut tx = ctx.db.write().await?;
        let Some(inv) = store::invitations::invitation_by_id(&mut tx, invitation).await? else {
            return Ok(None);
        };
        if inv.accepted_at.is_some() || inv.revoked_at.is_some() || inv.expires_at <= ctx.now() {
            return Ok(None);
        }
        let hash = crate::crypto::token_hash(&token);
        if !store::invitations::set_mail_token(&mut tx, invitation, &hash).await? {
            return Ok(None);
        }
        tx.commit().await?;
        inv
    };
    let link = crate::service::invitations::invitation_url(ctx, &token);
    let org = crate::service::org::org_settings(ctx).await?;
    let inviter = md_text(&inv.inviter_name);
    let mut lines = vec![format!(
        "**{inviter}** invites you to join {} on Chorus: [accept the invitation]({link}).",
        md_text(&org.org_name)
    )];
    if !inv.message.trim().is_empty() {
        lines.push(quoted(&inv.message));
    }
    lines.push(format!(
        "The link works once, until {}. If you did not expect this, ignore this mail.",
        jiff::Timestamp::from_microsecond(inv.expires_at)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    ));
    Ok(Some(Outgoing {
        to: inv.email.clone(),
        to_name: String::new(),
        subject: subject_line(&format!(
            "{} invites you to {} on Chorus",
            inv.inviter_name, org.org_name
        )),
        markdown: lines.join("\n\n"),
        // The same on every attempt; a resend (a new expiry) is a new mail.
        message_id: format!(
            "chorus.invitation.{}.{}@{}",
            inv.id,
            inv.expires_at,
            ctx.settings.mail_domain()
        ),
        in_reply_to: None,
        reply_to: None,
        unsubscribe: None,
        auto: false,
        bounce: Some(domain::mail::BounceFor::Invitation(inv.id)),
    }))
}

/// Counts a permanent failure of `address`; from the third on, no more
/// mail goes to it.
pub async fn bounced(ctx: &Ctx, address: &str, error: &str) -> AppResult<i64> {
    let mut tx = ctx.db.write().await?;
    let n = store::mail::record_bounce(&mut tx, address, error, ctx.now()).await?;
    tx.commit().await?;
    if n == BOUNCES_STOP {
        tracing::warn!(%address, %error, "mail to this address bounced {n} times; no more goes to it");
    }
    Ok(n)
}

/// What an unsubscribe link turns off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Mail at once of one kind (it moves to the page only).
    Kind(NotificationReason),
    /// The daily digest (its kinds move to the page only).
    Digest,
    /// List mode in the space of this name.
    List(String),
}

impl Unsubscribed {
    /// What Chorus mails, in a sentence: "Chorus mails you …".
    pub fn label(&self) -> String {
        match self {
            Unsubscribed::Kind(k) => format!("about {}", kind_label(*k)),
            Unsubscribed::Digest => "the daily digest".to_owned(),
            Unsubscribed::List(space) => {
                format!("every post and comment in {space} (list mode)")
            }
        }
    }

    /// Where what it turns off can still be read.
    pub fn stays(&self) -> &'static str {
        match self {
            Unsubscribed::List(_) => "the posts stay on the space's page",
            _ => "your notifications stay on your notifications page",
        }
    }
}

/// What an unsubscribe link turns off, when its signature holds.
pub async fn open_unsubscribe(ctx: &Ctx, token: &str) -> AppResult<Unsubscribed> {
    let key = key(ctx).await?;
    let u = Unsubscribe::parse(&key, token).ok_or_else(not_ours)?;
    if let Some(space) = crate::service::lists::unsubscribe_space(&u.what) {
        let name = crate::service::lists::space_label(ctx, space).await?;
        return Ok(Unsubscribed::List(name));
    }
    unsubscribed(&u).ok_or_else(not_ours)
}

fn unsubscribed(u: &Unsubscribe) -> Option<Unsubscribed> {
    if u.what == crate::service::digest::UNSUBSCRIBE_WHAT {
        return Some(Unsubscribed::Digest);
    }
    u.kind().map(Unsubscribed::Kind)
}

/// Turns off the mail an unsubscribe link is about (RFC 8058 one-click:
/// no session; the signed token says who and what): one kind of
/// notification, the digest, or list mode in one space.
pub async fn unsubscribe(ctx: &Ctx, token: &str) -> AppResult<Unsubscribed> {
    let key = key(ctx).await?;
    let u = Unsubscribe::parse(&key, token).ok_or_else(not_ours)?;
    let member = MemberId(u.member);
    let foreign = |e: store::Error| match e {
        store::Error::ForeignKey(_) => not_ours(),
        e => e.into(),
    };
    if let Some(space) = crate::service::lists::unsubscribe_space(&u.what) {
        let name = crate::service::lists::unsubscribe(ctx, member, space).await?;
        return Ok(Unsubscribed::List(name));
    }
    let what = unsubscribed(&u).ok_or_else(not_ours)?;
    let kind = match what {
        Unsubscribed::Kind(k) => k,
        Unsubscribed::Digest => {
            crate::service::digest::stop(ctx, member).await?;
            return Ok(what);
        }
        Unsubscribed::List(_) => return Ok(what),
    };
    let mut tx = ctx.db.write().await?;
    store::mail::set_choice(&mut tx, member, kind, Choice::Page)
        .await
        .map_err(foreign)?;
    tx.commit().await?;
    Ok(what)
}

fn not_ours() -> AppError {
    AppError::NotFound(
        "This unsubscribe link is not one Chorus made, or it was cut short. Open the whole link \
         from the mail, or choose what Chorus mails you in your settings."
            .into(),
    )
}

/// A member's mail choices as the settings page shows them.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub mail_on: bool,
    pub choices: Vec<(NotificationReason, Choice)>,
    pub paused: bool,
    /// Their address, when mail to it bounces and no longer goes.
    pub bouncing: Option<String>,
    /// The hour (0-23) their daily digest comes, in `digest_zone`.
    pub digest_hour: i64,
    /// Their time zone, or UTC when theirs is empty or unknown.
    pub digest_zone: String,
    /// Whether `digest_zone` is theirs (not UTC for want of one).
    pub own_zone: bool,
}

pub async fn mail_settings(ctx: &Ctx, viewer: &Viewer) -> AppResult<MailSettings> {
    let mut c = ctx.db.read().await?;
    let (choices, paused) = store::mail::choices(&mut c, viewer.id()).await?;
    let (bounces, _) = store::mail::bounces(&mut c, &viewer.member.email).await?;
    let (_, own_zone) = crate::service::digest::zone_of(&viewer.member.time_zone);
    Ok(MailSettings {
        mail_on: enabled(ctx),
        choices,
        paused,
        bouncing: (bounces >= BOUNCES_STOP).then(|| viewer.member.email.clone()),
        digest_hour: store::digest::digest_hour(&mut c, viewer.id()).await?,
        digest_zone: if own_zone {
            viewer.member.time_zone.trim().to_owned()
        } else {
            "UTC".to_owned()
        },
        own_zone,
    })
}

/// Mail choices, checked where they were typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoicesInput {
    pub choices: Vec<(NotificationReason, Choice)>,
    /// None keeps the pause as it is.
    pub paused: Option<bool>,
    /// The daily digest's hour (0-23); None keeps it.
    pub digest_hour: Option<i64>,
}

impl ChoicesInput {
    /// Reads (kind, choice) pairs by their stored words, every one at
    /// fault named at once.
    pub fn parse(
        choices: &[(String, String)],
        paused: Option<bool>,
        digest_hour: Option<i64>,
    ) -> AppResult<ChoicesInput> {
        let mut checks = Checks::default();
        let digest_hour =
            digest_hour.and_then(|h| checks.check(crate::service::digest::parse_hour(h)));
        let mut parsed = Vec::new();
        for (k, c) in choices {
            match (NotificationReason::parse(k), Choice::parse(c)) {
                (Some(k), Some(c)) => parsed.push((k, c)),
                (None, _) => {
                    checks.check::<()>(Err(ValidationError::new(
                        "kind",
                        format!(
                            "There is no kind of notification {k:?}; the kinds are {}.",
                            NotificationReason::ALL
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )));
                }
                (_, None) => {
                    checks.check::<()>(Err(ValidationError::new(
                        "choice",
                        format!("Choose page, now or digest for {k}, not {c:?}."),
                    )));
                }
            }
        }
        checks.finish()?;
        Ok(ChoicesInput {
            choices: parsed,
            paused,
            digest_hour,
        })
    }
}

/// Saves a member's choices; a kind left out keeps its choice.
pub async fn save_mail_settings(ctx: &Ctx, viewer: &Viewer, input: &ChoicesInput) -> AppResult<()> {
    let mut tx = ctx.db.write().await?;
    for (k, c) in &input.choices {
        store::mail::set_choice(&mut tx, viewer.id(), *k, *c).await?;
    }
    if let Some(p) = input.paused {
        store::mail::set_paused(&mut tx, viewer.id(), p).await?;
    }
    if let Some(h) = input.digest_hour {
        store::digest::set_digest_hour(&mut tx, viewer.id(), h).await?;
    }
    tx.commit().await?;
    Ok(())
}
