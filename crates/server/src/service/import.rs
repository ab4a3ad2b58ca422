//! `chorus import mbox`: a mail archive brought into a space as history.
//!
//! Two passes over the file. The first reads each message's headers and
//! notes its place; threads are then rebuilt from Message-ID, In-Reply-To
//! and References (the nearest named message found in the file or imported
//! before), and by subject (Re:/Fwd:/AW:/[list] prefixes dropped) for a
//! reply whose headers name nothing known. The second reads the messages
//! again in date order and writes them, 500 to a transaction: a thread's
//! first message becomes an item (subject → title, text → body, the
//! signature cut), every other a comment on it (quoted text and signature
//! cut as for mail in; the whole text when nothing else is left); a reply
//! dated before its thread's first message waits for it.
//!
//! An author is the member with the sender's address; any other sender is
//! shown by name and address on an item or comment written by the space's
//! creator, and is not made an account. Dates are the Date header's, else
//! the mbox "From " line's, else now. Nothing is fanned out to homes,
//! followed, notified, mailed or announced live (`store::import`). A
//! message imported before (by Message-ID, or the hash of the message
//! when it has none) is skipped, so importing a file again adds nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use domain::{ItemId, MemberId};
use sha2::{Digest, Sha256};
use store::import as q;

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::mail::mbox;
use crate::mail::message::{self, Unreadable};
use crate::service::items::MAX_BODY_CHARS;
use crate::service::mail_in::{title, with_attachments};

/// Messages written in one transaction.
const BATCH: usize = 500;
/// Message-IDs shown per skip reason.
const EXAMPLES: usize = 5;

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Messages in the file.
    pub read: u64,
    /// Threads: items written.
    pub items: u64,
    pub comments: u64,
    /// Distinct sender addresses that are members' / that are not.
    pub matched_authors: u64,
    pub unknown_authors: u64,
    /// Per reason: how many messages, and the first few Message-IDs (or
    /// "message N" for one without).
    pub skipped: BTreeMap<&'static str, (u64, Vec<String>)>,
}

impl Summary {
    fn skip(&mut self, reason: &'static str, which: String) {
        let e = self.skipped.entry(reason).or_default();
        e.0 += 1;
        if e.1.len() < EXAMPLES {
            e.1.push(which);
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|s| s.0).sum()
    }
}

/// Where an import is, for a progress bar.
pub trait Progress {
    /// First pass: `done` of `total` bytes read.
    fn scanned(&self, done: u64, total: u64);
    /// Second pass: `total` messages to write; then `wrote` one more.
    fn writing(&self, total: u64);
    fn wrote(&self);
}

/// A message as the first pass saw it.
struct Entry {
    span: mbox::Span,
    /// Its number in the file, from 1.
    number: u64,
    key: String,
    message_id: Option<String>,
    /// In-Reply-To, then References newest first.
    answers: Vec<String>,
    subject: String,
    /// The subject had a reply or forward prefix.
    reply_subject: bool,
    at: i64,
}

impl Entry {
    fn name(&self) -> String {
        match &self.message_id {
            Some(id) => format!("<{id}>"),
            None => format!("message {}", self.number),
        }
    }
}

/// Where a message goes: a thread started in the file, or an item
/// imported before.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Thread {
    Entry(usize),
    Item(ItemId),
}

/// Imports the mbox at `path` into the space `slug`.
pub async fn import_mbox(
    ctx: &Ctx,
    path: &Path,
    slug: &str,
    progress: &dyn Progress,
) -> AppResult<Summary> {
    let mut c = ctx.db.read().await?;
    let Some(space) = q::target(&mut c, slug).await? else {
        return Err(AppError::NotFound(format!(
            "There is no space \"{slug}\". Create it first (in the page: Spaces → New space), \
             then import into its slug."
        )));
    };
    if space.archived {
        return Err(AppError::Conflict {
            detail: format!(
                "The space \"{slug}\" is archived: it is read-only. Unarchive it to import."
            ),
            field: Some("space"),
        });
    }
    let members: HashMap<String, MemberId> =
        q::member_addresses(&mut c).await?.into_iter().collect();
    let before: HashMap<String, ItemId> =
        q::imported(&mut c, space.id).await?.into_iter().collect();
    drop(c);

    let cannot_read = |e: std::io::Error| {
        AppError::invalid("file", format!("Cannot read {}: {e}.", path.display()))
    };
    let now = ctx.now();
    let mut summary = Summary::default();
    // First pass: headers and places.
    let (mut reader, size) = mbox::open(path).map_err(cannot_read)?;
    let mut entries: Vec<Entry> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    while let Some((span, raw)) = reader.next_message().map_err(cannot_read)? {
        summary.read += 1;
        let number = summary.read;
        if summary.read.is_multiple_of(1000) {
            progress.scanned(reader.position(), size);
        }
        let unnamed = || format!("message {number}");
        if raw.contains(&0) {
            summary.skip("contains NUL bytes", unnamed());
            continue;
        }
        let a = match message::archived(&raw, true) {
            Ok(a) => a,
            Err(Unreadable::Empty) => {
                summary.skip("empty message", unnamed());
                continue;
            }
            Err(Unreadable::NotMail) => {
                summary.skip("not a mail message (no headers)", unnamed());
                continue;
            }
        };
        let key = match &a.message_id {
            Some(id) => id.clone(),
            None => format!("sha256:{}", hex::encode(Sha256::digest(&raw))),
        };
        let (subject, reply_subject) = normalise_subject(&a.inbound.subject);
        let entry = Entry {
            span,
            number,
            message_id: a.message_id,
            answers: a.inbound.answers,
            subject,
            reply_subject,
            at: a
                .date
                .filter(|d| plausible(*d, now))
                .or(span.from_line_date.filter(|d| plausible(*d, now)))
                .unwrap_or(now),
            key,
        };
        if before.contains_key(&entry.key) {
            summary.skip("imported before", entry.name());
            continue;
        }
        if !seen.insert(entry.key.clone()) {
            summary.skip("the same Message-ID again in the file", entry.name());
            continue;
        }
        entries.push(entry);
    }
    progress.scanned(size, size);
    drop(seen);

    let threads = rebuild_threads(&entries, &before);

    // Second pass: in date order.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|i| (entries[*i].at, *i));
    progress.writing(order.len() as u64);
    let mut file = std::fs::File::open(path).map_err(cannot_read)?;
    let mut w = Writer {
        ctx,
        space: &space,
        members: &members,
        summary,
        items: HashMap::new(),
        failed: HashSet::new(),
        waiting: HashMap::new(),
        matched: HashSet::new(),
        unknown: HashSet::new(),
        tx: None,
        in_tx: 0,
    };
    for i in order {
        let raw = mbox::read_at(&mut file, &entries[i].span).map_err(cannot_read)?;
        w.message(&entries, &threads, i, &raw).await?;
        progress.wrote();
    }
    // Replies whose thread's first message could not be written and that
    // were waiting for it start the thread themselves.
    let left: Vec<(usize, Waiting)> = w.waiting.drain().collect();
    for (_, replies) in left {
        for (i, raw) in replies {
            w.message(&entries, &threads, i, &raw).await?;
        }
    }
    w.commit().await?;
    let mut summary = w.summary;
    summary.matched_authors = w.matched.len() as u64;
    summary.unknown_authors = w.unknown.len() as u64;
    Ok(summary)
}

/// A date that can be a message's: after 1970 and not more than a day
/// ahead.
fn plausible(at: i64, now: i64) -> bool {
    at > 0 && at <= now + 86_400_000_000
}

/// A subject without its reply, forward and list prefixes, lower-cased
/// with its spaces collapsed (the key of subject threading), and whether it
/// had a reply or forward prefix.
pub fn normalise_subject(subject: &str) -> (String, bool) {
    let (s, reply) = strip_prefixes(subject);
    let words: Vec<&str> = s.split_whitespace().collect();
    (words.join(" ").to_lowercase(), reply)
}

/// A subject without its leading "[list]" tags and reply and forward
/// prefixes, and whether it had a reply or forward prefix.
fn strip_prefixes(subject: &str) -> (&str, bool) {
    let mut s = subject.trim();
    let mut reply = false;
    loop {
        if s.starts_with('[')
            && let Some(end) = s.find(']')
        {
            s = s[end + 1..].trim_start();
            continue;
        }
        let lower = s.to_lowercase();
        let Some(n) = [
            "re:", "re :", "fwd:", "fw:", "aw:", "wg:", "tr:", "sv:", "vs:",
        ]
        .iter()
        .find_map(|p| lower.starts_with(p).then_some(p.len())) else {
            break;
        };
        reply = true;
        s = s[n..].trim_start();
    }
    (s, reply)
}

/// Each entry's thread.
fn rebuild_threads(entries: &[Entry], before: &HashMap<String, ItemId>) -> Vec<Thread> {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.as_str(), i))
        .collect();
    // The message a subject's thread starts with: the earliest without a
    // reply prefix or headers, else the earliest of all.
    let mut by_subject: HashMap<&str, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.subject.is_empty() {
            continue;
        }
        let starts = !e.reply_subject && e.answers.is_empty();
        by_subject
            .entry(e.subject.as_str())
            .and_modify(|j| {
                let other = &entries[*j];
                let other_starts = !other.reply_subject && other.answers.is_empty();
                if (starts, std::cmp::Reverse(e.at)) > (other_starts, std::cmp::Reverse(other.at)) {
                    *j = i;
                }
            })
            .or_insert(i);
    }
    let parent: Vec<Option<Thread>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            for a in &e.answers {
                if let Some(j) = index.get(a.as_str()).filter(|j| **j != i) {
                    return Some(Thread::Entry(*j));
                }
                if let Some(item) = before.get(a) {
                    return Some(Thread::Item(*item));
                }
            }
            if e.reply_subject || !e.answers.is_empty() {
                return by_subject
                    .get(e.subject.as_str())
                    .filter(|j| **j != i)
                    .map(|j| Thread::Entry(*j));
            }
            None
        })
        .collect();
    (0..entries.len())
        .map(|i| {
            let mut at = i;
            // A loop of replies (possible with forged headers) starts its
            // thread at the message it was entered from.
            for _ in 0..entries.len().min(10_000) {
                match parent[at] {
                    None => return Thread::Entry(at),
                    Some(Thread::Item(item)) => return Thread::Item(item),
                    Some(Thread::Entry(j)) if j == i => return Thread::Entry(i),
                    Some(Thread::Entry(j)) => at = j,
                }
            }
            Thread::Entry(i)
        })
        .collect()
}

/// Replies (entry, message) waiting for their thread's first message.
type Waiting = Vec<(usize, Vec<u8>)>;

/// The second pass's state.
struct Writer<'a> {
    ctx: &'a Ctx,
    space: &'a q::Target,
    members: &'a HashMap<String, MemberId>,
    summary: Summary,
    /// The item each thread of the file became.
    items: HashMap<usize, ItemId>,
    /// Threads whose first message was skipped: their next message starts
    /// them.
    failed: HashSet<usize>,
    /// Replies read before their thread's first message.
    waiting: HashMap<usize, Waiting>,
    matched: HashSet<String>,
    unknown: HashSet<String>,
    tx: Option<store::Tx>,
    in_tx: usize,
}

impl Writer<'_> {
    async fn commit(&mut self) -> AppResult<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        self.in_tx = 0;
        Ok(())
    }

    async fn message(
        &mut self,
        entries: &[Entry],
        threads: &[Thread],
        i: usize,
        raw: &[u8],
    ) -> AppResult<()> {
        let e = &entries[i];
        let thread = match threads[i] {
            Thread::Entry(root) if root == i => None,
            Thread::Entry(root) => match self.items.get(&root) {
                Some(item) => Some(*item),
                // Its thread's start was skipped: this one starts it.
                None if self.failed.contains(&root) => None,
                None => {
                    self.waiting
                        .entry(root)
                        .or_default()
                        .push((i, raw.to_vec()));
                    return Ok(());
                }
            },
            Thread::Item(item) => Some(item),
        };
        let root = match threads[i] {
            Thread::Entry(root) => Some(root),
            Thread::Item(_) => None,
        };
        let written = self.write(e, raw, thread).await?;
        match (written, thread, root) {
            (Some(item), None, Some(root)) => {
                self.items.insert(root, item);
                self.failed.remove(&root);
                if let Some(replies) = self.waiting.remove(&root) {
                    for (j, raw) in replies {
                        self.write(&entries[j], &raw, Some(item)).await?;
                    }
                }
            }
            (None, None, Some(root)) => {
                self.failed.insert(root);
                if let Some(mut replies) = self.waiting.remove(&root) {
                    // The earliest waiting reply starts the thread.
                    if !replies.is_empty() {
                        let (j, raw) = replies.remove(0);
                        let first = self.write(&entries[j], &raw, None).await?;
                        if let Some(item) = first {
                            self.items.insert(root, item);
                            self.failed.remove(&root);
                        }
                        for (k, raw) in replies {
                            self.write(&entries[k], &raw, first).await?;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes one message as an item (`thread` None) or a comment; None
    /// when it was skipped.
    async fn write(
        &mut self,
        e: &Entry,
        raw: &[u8],
        thread: Option<ItemId>,
    ) -> AppResult<Option<ItemId>> {
        let a = match message::archived(raw, false) {
            Ok(a) => a,
            Err(_) => {
                self.summary
                    .skip("not a mail message (no headers)", e.name());
                return Ok(None);
            }
        };
        let text = clean(&a.inbound.text);
        let trimmed = match thread {
            Some(_) => domain::mail_in::trim_reply(&text),
            None => domain::mail_in::strip_signature(&text),
        };
        let text = if trimmed.trim().is_empty() {
            text
        } else {
            trimmed
        };
        // Unnamed parts of list mail are mostly the list's footer and
        // signatures: only named attachments are listed as not kept.
        let named: Vec<String> = a
            .inbound
            .attachments
            .into_iter()
            .filter(|n| n != "unnamed attachment")
            .collect();
        let Ok(body) = with_attachments(text, &named) else {
            self.summary.skip("no text", e.name());
            return Ok(None);
        };
        let body = cut(body);
        let body_html = domain::social::render_post(&body, &HashSet::new());
        let address = a.from_address.as_deref().map(str::to_lowercase);
        let member = address.as_ref().and_then(|a| self.members.get(a)).copied();
        let from = match (&member, &a.from_name, &a.from_address) {
            (Some(_), _, _) => None,
            (None, Some(n), Some(addr)) => Some(format!("{} <{addr}>", clean_line(n))),
            (None, None, Some(addr)) => Some(addr.clone()),
            (None, Some(n), None) => Some(clean_line(n)),
            (None, None, None) => Some("an unknown sender".to_owned()),
        };
        let from = from.map(|f| f.chars().take(200).collect::<String>());
        match (&member, address) {
            (Some(_), Some(a)) => {
                self.matched.insert(a);
            }
            (None, Some(a)) => {
                self.unknown.insert(a);
            }
            _ => {}
        }
        if self.tx.is_none() {
            self.tx = Some(self.ctx.db.write().await?);
        }
        let tx = self.tx.as_mut().expect("opened");
        let m = q::Message {
            space: self.space.id,
            key: &e.key,
            author: member.unwrap_or(self.space.created_by),
            imported_from: from.as_deref(),
            body: &body,
            body_html: &body_html,
            at: e.at,
        };
        let item = match thread {
            Some(item) => {
                q::write_comment(tx, &m, item).await?;
                self.summary.comments += 1;
                item
            }
            None => {
                let item = q::write_item(
                    tx,
                    &m,
                    &title(strip_prefixes(&clean_line(&a.inbound.subject)).0),
                )
                .await?;
                self.summary.items += 1;
                item
            }
        };
        self.in_tx += 1;
        if self.in_tx >= BATCH {
            self.commit().await?;
        }
        Ok(Some(item))
    }
}

/// Text without the control characters a post may not hold (form feeds
/// in patches, stray escapes); line ends as "\n".
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .filter(|c| !domain::validate::is_bidi_control(*c))
        .collect()
}

fn clean_line(text: &str) -> String {
    clean(text).replace(['\n', '\t'], " ").trim().to_owned()
}

/// A body cut to what a post holds, saying so.
fn cut(body: String) -> String {
    const NOTE: &str = "\n\n(cut: the message was longer)";
    if body.chars().count() <= MAX_BODY_CHARS {
        return body;
    }
    let keep = MAX_BODY_CHARS - NOTE.chars().count();
    let mut s: String = body.chars().take(keep).collect();
    s.push_str(NOTE);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_normalise() {
        assert_eq!(
            normalise_subject("[dev] Re: AW: Fwd:  Launch   plan"),
            ("launch plan".into(), true)
        );
        assert_eq!(
            normalise_subject("Launch plan"),
            ("launch plan".into(), false)
        );
        assert_eq!(normalise_subject("Re: [dev] x"), ("x".into(), true));
        assert_eq!(normalise_subject(""), (String::new(), false));
    }

    #[test]
    fn long_bodies_are_cut_and_say_so() {
        let b = cut("x".repeat(MAX_BODY_CHARS + 5));
        assert_eq!(b.chars().count(), MAX_BODY_CHARS);
        assert!(b.ends_with("(cut: the message was longer)"));
        assert_eq!(clean("a\u{c}b\r\nc\u{0}"), "ab\nc");
    }
}
