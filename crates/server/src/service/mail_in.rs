//! Mail in: who may mail Chorus, where a mail goes, and what it becomes.
//!
//! A mail to a space's address (`launch@<mail domain>`) is a post in that
//! space by the member whose account address sent it; a mail to a signed
//! reply address, or one whose `In-Reply-To`/`References` name a Chorus
//! message, is a comment on that item. Both go through `service::items`
//! and `service::comments`, so the visibility rule, fan-out, live events
//! and notifications are the page's. The SMTP listener (`crate::mail`)
//! asks [`sender`] at `RCPT`, [`recipient`] for each address, and
//! [`deliver`] once the message is in; each answer is an `AppError` that
//! the listener turns into an SMTP reply.
//!
//! Only a member's verified address posts (`store::addresses`): one an
//! admin typed, or one whose owner opened a link mailed to it.

use domain::Email;
use domain::ids::{CommentId, ItemId, MemberId};
use domain::mail::{ReplyAddress, Thread, parse_message_id};
use domain::mail_in::{strip_signature, trim_reply};
use store::{comments, profiles};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::{ItemInput, MAX_BODY_CHARS, load_item, may_post_in};
use crate::service::spaces::load_space;
use crate::service::viewer::{Auth, Viewer};
use crate::service::{comments as comment_service, items, mail};

/// The member a mail comes from: the one whose account has the envelope
/// sender's address, while active.
pub async fn sender(ctx: &Ctx, address: &str) -> AppResult<Viewer> {
    let unknown = || {
        AppError::Unauthorized(format!(
            "No member of Chorus has the address {address}: Chorus takes mail only from the \
             address of a member's account."
        ))
    };
    let email = Email::parse(address).map_err(|_| unknown())?;
    let mut c = ctx.db.read().await?;
    let m = profiles::member_by_email(&mut c, email.as_str())
        .await?
        .ok_or_else(unknown)?;
    if !m.is_active() {
        return Err(AppError::Forbidden(format!(
            "The account with the address {address} is deactivated: it posts nothing."
        )));
    }
    if m.email_verified_at.is_none() {
        return Err(AppError::Forbidden(format!(
            "The address {address} is not confirmed yet: open the link in the mail Chorus sent \
             to it (or ask for a new one in your settings), then send this again."
        )));
    }
    Ok(Viewer {
        member: m,
        auth: Auth::Mail,
    })
}

/// Where a mail to one address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A space's address: a new item (or a comment, when the mail answers
    /// a Chorus message the sender can see).
    Space { slug: String },
    /// A reply address: a comment on this item.
    Item { id: ItemId },
}

/// Where a mail from `viewer` to `address` goes, when they may send it
/// there; refused with the reason otherwise. Whatever the sender may not
/// know exists is "no such address", as the pages answer 404.
pub async fn recipient(ctx: &Ctx, viewer: &Viewer, address: &str) -> AppResult<Destination> {
    let domain = ctx.settings.mail_domain();
    let Some((local, host)) = address.trim().rsplit_once('@') else {
        return Err(AppError::BadRequest(format!(
            "{address} is not a mail address; write to a space as <space>@{domain}."
        )));
    };
    if !host.eq_ignore_ascii_case(&domain) {
        return Err(AppError::Forbidden(format!(
            "Chorus takes mail only for @{domain} and relays nothing; {address} is elsewhere."
        )));
    }
    let local = local.to_ascii_lowercase();
    let no_such = || {
        AppError::NotFound(format!(
            "There is no space or reply address {local}@{domain} that you can write to."
        ))
    };
    if local.starts_with("reply+") {
        let key = mail::key(ctx).await?;
        let reply = ReplyAddress::parse(&key, &local).ok_or_else(|| {
            AppError::NotFound(format!(
                "{local}@{domain} is not a reply address Chorus made, or it was changed: reply \
                 to the mail Chorus sent you."
            ))
        })?;
        if MemberId(reply.member) != viewer.id() {
            return Err(AppError::Forbidden(
                "This reply address was made for another member: reply from the address that \
                 received the mail, or comment in the page."
                    .into(),
            ));
        }
        let mut c = ctx.db.read().await?;
        // A higher epoch on the member revokes every address made before.
        if reply.epoch != store::mail::reply_epoch(&mut c, viewer.id()).await? {
            return Err(AppError::Forbidden(
                "This reply address was revoked (you stopped your old reply addresses working): \
                 reply to a newer mail, or comment in the page."
                    .into(),
            ));
        }
        let item = load_item(&mut c, viewer, ItemId(reply.item)).await?;
        if item.deleted_at.is_some() {
            return Err(AppError::Gone {
                slug: "item-deleted",
                detail: "The item this reply answers was deleted; it takes no new comments.".into(),
            });
        }
        return Ok(Destination::Item {
            id: ItemId(reply.item),
        });
    }
    let mut c = ctx.db.read().await?;
    let space = load_space(&mut c, viewer, &local)
        .await
        .map_err(|_| no_such())?;
    may_post_in(viewer, &space).map_err(|e| match e {
        AppError::Forbidden(_) => AppError::Forbidden(format!(
            "Only members of {} post in it. Ask to join it at {}/spaces/{}.",
            space.name, ctx.base_url, space.slug
        )),
        other => other,
    })?;
    Ok(Destination::Space { slug: space.slug })
}

/// Whether `address` is one of Chorus's bounce addresses
/// (`bounce+…@<mail domain>`), which take delivery reports from anyone.
pub fn is_bounce_address(ctx: &Ctx, address: &str) -> bool {
    address
        .trim()
        .rsplit_once('@')
        .is_some_and(|(local, host)| {
            host.eq_ignore_ascii_case(&ctx.settings.mail_domain())
                && local.to_ascii_lowercase().starts_with("bounce+")
        })
}

/// Reads a delivery report sent to a bounce address: a permanent failure
/// counts a bounce of the address the signed bounce address names (three
/// stop mail to it). A forged or stale bounce address, or a report that
/// is no failure, counts nothing; every report is accepted and dropped,
/// so a forger learns nothing and nobody gets mail back. Returns the
/// address counted against, if any.
pub async fn bounce(ctx: &Ctx, address: &str, status: Option<&str>) -> AppResult<Option<String>> {
    use domain::mail::{BounceAddress, BounceFor};
    use domain::mail_in::{Delivery, delivery_status};
    let Some(local) = address.trim().rsplit_once('@').map(|(l, _)| l) else {
        return Ok(None);
    };
    let Some(b) = BounceAddress::parse(local) else {
        return Ok(None);
    };
    let Delivery::Failed(why) = status.map_or(Delivery::NotFailed, delivery_status) else {
        return Ok(None);
    };
    let recipient = {
        let mut c = ctx.db.read().await?;
        match b.about {
            BounceFor::Member(id) => profiles::member_by_id(&mut c, MemberId(id))
                .await?
                .map(|m| m.email),
            BounceFor::Invitation(id) => store::invitations::invitation_by_id(&mut c, id)
                .await?
                .map(|i| i.email),
            BounceFor::Link(id) => store::addresses::link_by_id(&mut c, id)
                .await?
                .map(|l| l.email),
        }
    };
    let key = mail::key(ctx).await?;
    let Some(recipient) = recipient.filter(|r| b.holds(&key, r)) else {
        return Ok(None);
    };
    mail::bounced(ctx, &recipient, &format!("bounce report: {why}")).await?;
    Ok(Some(recipient))
}

/// A message as read off the wire (`crate::mail::message`).
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    pub subject: String,
    /// The text part, or the HTML part read as text.
    pub text: String,
    /// The names of the attachments, which are not kept.
    pub attachments: Vec<String>,
    /// The Message-IDs of `In-Reply-To`, then `References` newest first.
    pub answers: Vec<String>,
}

/// What a delivered mail became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Item(ItemId),
    Comment { item: ItemId, comment: CommentId },
}

/// Posts `mail` from `viewer` to `to`.
pub async fn deliver(
    ctx: &Ctx,
    viewer: &Viewer,
    to: &Destination,
    mail: &Inbound,
) -> AppResult<Delivered> {
    let item = match to {
        Destination::Item { id } => Some(*id),
        Destination::Space { .. } => answered_item(ctx, viewer, &mail.answers).await?,
    };
    if let Some(item) = item {
        let body = with_attachments(trim_reply(&mail.text), &mail.attachments)?;
        let c = comment_service::add_comment(ctx, viewer, item, &body).await?;
        return Ok(Delivered::Comment {
            item,
            comment: c.id,
        });
    }
    let Destination::Space { slug } = to else {
        unreachable!("an item destination is a comment")
    };
    let body = with_attachments(strip_signature(&mail.text), &mail.attachments)?;
    let id = items::create_item(
        ctx,
        viewer,
        &ItemInput {
            space: Some(slug.clone()),
            title: Some(title(&mail.subject)),
            body,
            ..Default::default()
        },
    )
    .await?;
    Ok(Delivered::Item(id))
}

/// The item the first Chorus Message-ID among `answers` names, when the
/// viewer can see it and it takes comments; a reply to anything else
/// starts a new post.
async fn answered_item(
    ctx: &Ctx,
    viewer: &Viewer,
    answers: &[String],
) -> AppResult<Option<ItemId>> {
    let domain = ctx.settings.mail_domain();
    let mut c = ctx.db.read().await?;
    for id in answers {
        let item = match parse_message_id(id, &domain) {
            Some(Thread::Item(i)) => ItemId(i),
            Some(Thread::Comment(cid)) => {
                match comments::comment_item(&mut c, CommentId(cid)).await? {
                    Some(i) => i,
                    None => continue,
                }
            }
            None => continue,
        };
        return Ok(match load_item(&mut c, viewer, item).await {
            Ok(row) if row.deleted_at.is_none() => Some(item),
            Ok(_) | Err(AppError::NotFound(_)) => None,
            Err(e) => return Err(e),
        });
    }
    Ok(None)
}

/// The text, with the note that attachments were not kept; refused when
/// nothing is left to post.
pub(crate) fn with_attachments(text: String, attachments: &[String]) -> AppResult<String> {
    if text.trim().is_empty() {
        let kept = if attachments.is_empty() {
            ""
        } else {
            " (attachments are not kept)"
        };
        return Err(AppError::invalid(
            "body",
            format!(
                "The mail has no text Chorus can post{kept}: write in its body, above any quoted \
                 text or signature."
            ),
        ));
    }
    if attachments.is_empty() {
        return Ok(text);
    }
    let names: Vec<String> = attachments
        .iter()
        .map(|n| n.replace(['\r', '\n'], " "))
        .collect();
    let note = format!("\n\n(attachments not kept: {})", names.join(", "));
    // The note may not push a text that fits over the limit.
    if text.chars().count() + note.chars().count() > MAX_BODY_CHARS {
        return Ok(text);
    }
    Ok(text + &note)
}

/// A subject as an item's title: "Re:"/"Fwd:" prefixes dropped, control
/// characters made spaces, at most 200 characters.
pub(crate) fn title(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let Some(rest) = ["re:", "fwd:", "fw:", "aw:", "tr:"]
            .iter()
            .find_map(|p| lower.starts_with(p).then(|| &s[p.len()..]))
        else {
            break;
        };
        s = rest.trim_start();
    }
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_become_titles() {
        assert_eq!(title("  Re: RE: Fwd: Launch plan "), "Launch plan");
        assert_eq!(title("a\tb\u{0}c"), "a b c");
        assert_eq!(title(&"x".repeat(300)).len(), 200);
        assert_eq!(title(""), "");
    }

    #[test]
    fn attachments_are_listed_not_kept() {
        assert_eq!(
            with_attachments("Hi".into(), &["plan.pdf".into(), "a\nb.png".into()]).unwrap(),
            "Hi\n\n(attachments not kept: plan.pdf, a b.png)"
        );
        assert!(with_attachments("  ".into(), &["plan.pdf".into()]).is_err());
    }
}
