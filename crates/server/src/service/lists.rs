//! List mode: a member who may read a space's content chooses to get every
//! new item and comment there by mail, as a mailing list sends them.
//!
//! A post or comment enqueues one `list_mail` job (`store::lists`); the
//! job (`mail::list`) asks [`list_mail`] for the mail once (one body for
//! everyone) and [`recipients`] for each batch of members in list mode:
//! the visibility rule, the pause, bounces and deactivation are asked
//! then, so a member who left a closed space gets nothing more from it.
//! The headers a mail client needs to treat it as a list (List-Id,
//! List-Post, List-Archive, one-click List-Unsubscribe) are per space; the
//! reply address and the unsubscribe link are per recipient.

use domain::kinds::ItemKind;
use domain::mail::{
    BOUNCES_STOP, BounceAddress, BounceFor, ReplyAddress, Thread, Unsubscribe, message_id,
};
use domain::{CommentId, ItemId, MemberId, SpaceId};
use store::lists::ListMember;

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::ItemRow;
use crate::service::mail::{item_label, key, md_text, subject_line};
use crate::service::spaces::{load_space, space_content_visible};
use crate::service::viewer::{Viewer, members_who_can_see};

/// The kind of job that mails one item or comment to a space's list, and
/// its payload (`store::lists`).
pub const LIST_MAIL_JOB: &str = store::lists::LIST_MAIL;
pub use store::lists::ListMailJob;

/// Members looked at per batch by the `list_mail` job.
pub const BATCH: i64 = 250;

/// The next batch of members in list mode in `space` after member `after`.
pub async fn next_batch(ctx: &Ctx, space: SpaceId, after: i64) -> AppResult<Vec<ListMember>> {
    let mut c = ctx.db.read().await?;
    Ok(store::lists::members_after(&mut c, space, after, BATCH).await?)
}

/// Records, in the batch's transaction `tx`, what the relay said of a
/// batch: a `mail` job of their own for each recipient it turned away for
/// now, a bounce for each it refused for good (address, error).
pub async fn settle_batch(
    ctx: &Ctx,
    tx: &mut store::Tx,
    job: &ListMailJob,
    later: &[MemberId],
    bounced: &[(String, String)],
) -> AppResult<()> {
    let now = ctx.now();
    for member in later {
        let retry = crate::service::mail::MailJob::List {
            member: *member,
            space: job.space,
            item: job.item,
            comment: job.comment,
        };
        store::mail::enqueue(tx, &retry, now).await?;
    }
    for (address, error) in bounced {
        let n = store::mail::record_bounce(tx, address, error, now).await?;
        tracing::warn!(to = %address, bounces = n, %error, "the relay refused a list mail for good");
    }
    Ok(())
}

/// What an unsubscribe token for list mode in space `space` says.
pub fn unsubscribe_what(space: SpaceId) -> String {
    format!("list:{space}")
}

/// The space a `list:<id>` unsubscribe word names.
pub fn unsubscribe_space(what: &str) -> Option<SpaceId> {
    let n = what.strip_prefix("list:")?;
    if n.is_empty() || n.len() > 18 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|n| *n > 0).map(SpaceId)
}

/// Whether the viewer has list mode on in the space `slug`.
pub async fn list_mode(ctx: &Ctx, viewer: &Viewer, slug: &str) -> AppResult<bool> {
    let mut c = ctx.db.read().await?;
    let s = load_space(&mut c, viewer, slug).await?;
    Ok(store::lists::is_on(&mut c, viewer.id(), s.id).await?)
}

/// Turns list mode on or off for the viewer in the space `slug`. Only
/// someone who may read the space's content may turn it on; anyone may
/// turn it off.
pub async fn set_list_mode(ctx: &Ctx, viewer: &Viewer, slug: &str, on: bool) -> AppResult<bool> {
    let mut tx = ctx.db.write().await?;
    let s = load_space(&mut tx, viewer, slug).await?;
    if on && !space_content_visible(viewer, &s) {
        return Err(AppError::Forbidden(format!(
            "Only members of {} read what is posted there, so only they get it by mail. Ask to \
             join it first.",
            s.name
        )));
    }
    store::lists::set(&mut tx, viewer.id(), s.id, on, ctx.now()).await?;
    tx.commit().await?;
    Ok(on)
}

/// A space the viewer has list mode on in, as settings list them.
#[derive(Debug, Clone)]
pub struct ListSpace {
    pub slug: String,
    pub name: String,
}

/// The spaces the viewer has list mode on in (those they may still read).
pub async fn list_spaces(ctx: &Ctx, viewer: &Viewer) -> AppResult<Vec<ListSpace>> {
    let mut c = ctx.db.read().await?;
    let mut out = Vec::new();
    for (id, slug, name) in store::lists::spaces_of(&mut c, viewer.id()).await? {
        let Some(s) = store::spaces::space_by_id(&mut c, viewer.id(), id).await? else {
            continue;
        };
        if space_content_visible(viewer, &s) {
            out.push(ListSpace { slug, name });
        }
    }
    Ok(out)
}

/// Turns list mode off for the member a one-click link was made for;
/// returns the space's name. No session: the signed token says who.
pub(crate) async fn unsubscribe(ctx: &Ctx, member: MemberId, space: SpaceId) -> AppResult<String> {
    let mut tx = ctx.db.write().await?;
    let name = store::spaces::space_names(&mut tx, &[space])
        .await?
        .into_iter()
        .next()
        .map(|(_, _, name)| name)
        .unwrap_or_else(|| "a space that no longer exists".into());
    store::lists::set(&mut tx, member, space, false, ctx.now()).await?;
    tx.commit().await?;
    Ok(name)
}

/// The name of the space a list unsubscribe link is about.
pub(crate) async fn space_label(ctx: &Ctx, space: SpaceId) -> AppResult<String> {
    let mut c = ctx.db.read().await?;
    Ok(store::spaces::space_names(&mut c, &[space])
        .await?
        .into_iter()
        .next()
        .map(|(_, _, name)| name)
        .unwrap_or_else(|| "a space that no longer exists".into()))
}

/// One item's or comment's list mail, the same for every recipient: its
/// body rendered once, its threading and list headers.
#[derive(Debug, Clone)]
pub struct ListMail {
    pub space: SpaceId,
    pub item: ItemRow,
    /// The author of the item or comment (gets no copy of their own).
    pub author: MemberId,
    /// Shown before the `mail_from` address: `Ana Lima (Chorus)`.
    pub from_name: String,
    pub subject: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The item's Message-ID, on a comment's mail.
    pub in_reply_to: Option<String>,
    pub text: String,
    pub html: String,
    /// `Launch <launch.lists.example.com>` (RFC 2919).
    pub list_id: String,
    /// `slug@mail_domain`, when the space takes posts (not archived).
    pub list_post: Option<String>,
    pub list_archive: String,
}

/// The list mail of an item or comment in `space`; None when it is gone
/// (deleted, or moved out of the space).
pub async fn list_mail(
    ctx: &Ctx,
    space: SpaceId,
    item: ItemId,
    comment: Option<CommentId>,
) -> AppResult<Option<ListMail>> {
    let mut c = ctx.db.read().await?;
    let Some(it) = store::items::item_by_id(&mut c, MemberId(0), item).await? else {
        return Ok(None);
    };
    if it.deleted_at.is_some() || it.space_id != Some(space) {
        return Ok(None);
    }
    let Some(s) = store::spaces::space_by_id(&mut c, MemberId(0), space).await? else {
        return Ok(None);
    };
    let base = &ctx.base_url;
    let domain = ctx.settings.mail_domain();
    let label = item_label(&it);
    let item_mid = message_id(Thread::Item(item.get()), &domain);
    // A request or offer is answered on its own page.
    let (item_link, kind_line) = match it.kind {
        ItemKind::Request => (
            format!("{base}/requests/{item}"),
            Some("A request: its page shows who is asked and what they may answer."),
        ),
        ItemKind::Offer => (
            format!("{base}/requests/{item}"),
            Some("An offer: its page shows to whom and what they may answer."),
        ),
        _ => (format!("{base}/items/{item}"), None),
    };
    let (author, author_name, body, mid, in_reply_to, subject, link) = match comment {
        None => (
            it.author_id,
            it.author_name.clone(),
            it.body.clone(),
            item_mid,
            None,
            label,
            item_link.clone(),
        ),
        Some(cid) => {
            let Some((on, author, name, body)) =
                store::lists::comment_for_mail(&mut c, cid).await?
            else {
                return Ok(None);
            };
            if on != item {
                return Ok(None);
            }
            (
                author,
                name,
                body,
                message_id(Thread::Comment(cid.get()), &domain),
                Some(item_mid),
                format!("Re: {label}"),
                format!("{item_link}#comment-{cid}"),
            )
        }
    };
    let archive = format!("{base}/spaces/{}", s.slug);
    let mut lines = Vec::new();
    if comment.is_none() && !it.title.is_empty() {
        lines.push(format!("**{}**", md_text(&it.title)));
    }
    if let (None, Some(k)) = (comment, kind_line) {
        lines.push(format!("_{k}_"));
    }
    if !body.trim().is_empty() {
        lines.push(body);
    }
    lines.push(format!(
        "---\n\n[Open it in Chorus]({link}) · You get every post and comment in [{}]({archive}) by \
         mail (list mode). Reply to this mail to comment. To stop, turn list mode off on the \
         space's page or use your mail program's unsubscribe.",
        md_text(&s.name)
    ));
    let markdown = lines.join("\n\n");
    let text = domain::markdown::plain_text(&markdown);
    let subject = subject_line(&subject);
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body>\n{}</body></html>\n",
        html_escape(&subject),
        domain::markdown::render(&markdown)
    );
    // List-Id's phrase is the space's name, quoted when it needs it.
    let name: String = s.name.chars().filter(|c| !c.is_control()).collect();
    let phrase = if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        name
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    };
    Ok(Some(ListMail {
        space,
        author,
        from_name: format!("{author_name} (Chorus)"),
        subject,
        message_id: mid,
        in_reply_to,
        text,
        html,
        list_id: format!("{phrase} <{}.{domain}>", s.slug),
        // Whoever may see a space's items may post there (an open space:
        // every member who is not a guest, or who belongs; closed and
        // secret: who belongs), so List-Post goes to every recipient
        // while the space takes posts.
        list_post: s
            .archived_at
            .is_none()
            .then(|| format!("{}@{domain}", s.slug)),
        list_archive: archive,
        item: it,
    }))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One recipient of a list mail, with their own headers.
#[derive(Debug, Clone)]
pub struct ListRecipient {
    pub member: MemberId,
    pub email: String,
    pub name: String,
    pub reply_to: String,
    pub unsubscribe: String,
    /// The envelope sender: a signed bounce address (VERP) naming this
    /// recipient's address, so a bounce counts against it.
    pub bounce: String,
}

/// Of a batch of members in list mode, those the mail goes to: active,
/// not paused, not bouncing, not the author, and allowed by the
/// visibility rule to see the item now.
pub async fn recipients(
    ctx: &Ctx,
    mail: &ListMail,
    batch: &[ListMember],
) -> AppResult<Vec<ListRecipient>> {
    let candidates: Vec<&ListMember> = batch
        .iter()
        .filter(|m| m.active && !m.paused && m.bounces < BOUNCES_STOP && m.id != mail.author)
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<MemberId> = candidates.iter().map(|m| m.id).collect();
    let may_see: std::collections::HashSet<MemberId> = {
        let mut c = ctx.db.read().await?;
        members_who_can_see(&mut c, &ids, &mail.item)
            .await?
            .into_iter()
            .collect()
    };
    let key = key(ctx).await?;
    let domain = ctx.settings.mail_domain();
    let base = &ctx.base_url;
    Ok(candidates
        .into_iter()
        .filter(|m| may_see.contains(&m.id))
        .map(|m| {
            let reply_to = ReplyAddress {
                member: m.id.get(),
                item: mail.item.id.get(),
                epoch: m.reply_epoch,
            }
            .address(&key, &domain);
            let token = Unsubscribe {
                member: m.id.get(),
                what: unsubscribe_what(mail.space),
            }
            .token(&key);
            let bounce =
                BounceAddress::address(&key, BounceFor::Member(m.id.get()), &m.email, &domain);
            ListRecipient {
                member: m.id,
                bounce,
                email: m.email.clone(),
                name: m.display_name.clone(),
                reply_to,
                unsubscribe: format!("{base}/mail/unsubscribe/{token}"),
            }
        })
        .collect())
}

/// One member of a list mail again (a retry of a mail the relay did not
/// take at first), when they are still to get it.
pub async fn recipient(
    ctx: &Ctx,
    mail: &ListMail,
    member: MemberId,
) -> AppResult<Option<ListRecipient>> {
    let batch = {
        let mut c = ctx.db.read().await?;
        store::lists::members_after(&mut c, mail.space, member.get() - 1, 1).await?
    };
    let batch: Vec<ListMember> = batch.into_iter().filter(|m| m.id == member).collect();
    Ok(recipients(ctx, mail, &batch).await?.into_iter().next())
}
