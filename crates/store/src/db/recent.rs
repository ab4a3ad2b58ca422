//! Recent home deliveries on SQLite, kept by member in memory.
//!
//! Writing a delivery straight into `inbox` costs one B-tree leaf per
//! member reached: the members of one fan-out are scattered over the whole
//! table, so a comment that reaches sixty people writes sixty pages to the
//! WAL and sixty more to the database at the checkpoint. Instead, a
//! delivering transaction appends one row to `deliveries` (the activity, its
//! delivery position and its members, a few hundred bytes at the end of one
//! table), and after it commits the members' entries go into this index.
//! Home reads take the viewer's entries from here together with the
//! `inbox` range. Every so often [`crate::fanout::fold_deliveries`] copies
//! the log into `inbox` in member order, where one leaf takes all its
//! members' deliveries of that interval in one write, then deletes the log
//! rows and, last, these entries.
//!
//! Order matters in two places. Entries are added after the commit, while
//! the transaction still holds the writer, so each member's list grows in
//! delivery order. They are removed only after the fold's deletion has
//! committed, and a reader takes its entries before it reads `inbox`: an
//! entry missing here was folded before the reader's statement began, so
//! the statement sees it in `inbox`. An entry in both places is one row
//! (readers take the union).
//!
//! PostgreSQL does not use this: several nodes share its database and
//! none would see the others' memory, so it writes `inbox` directly.

use std::collections::HashMap;
use std::time::Instant;

/// One delivering transaction's log row: its position, the activity and
/// the members reached.
pub type Logged = (i64, i64, Vec<i64>);

/// One entry as a fold writes it: (member, seq, activity).
pub(crate) type Entry = (i64, i64, i64);

#[derive(Default)]
pub(crate) struct Recent {
    /// Member → (seq, activity), ascending.
    by_member: HashMap<i64, Vec<(i64, i64)>>,
    total: usize,
    /// When the oldest entry still here was added.
    since: Option<Instant>,
    /// The newest delivery position held.
    newest: Option<i64>,
}

impl Recent {
    /// Adds one delivery's members (in commit order).
    pub(crate) fn add(&mut self, (seq, activity, members): &Logged) {
        for m in members {
            self.by_member
                .entry(*m)
                .or_default()
                .push((*seq, *activity));
        }
        self.total += members.len();
        if !members.is_empty() {
            self.since.get_or_insert_with(Instant::now);
            self.newest = self.newest.max(Some(*seq));
        }
    }

    /// Entries held, and how long the oldest has been here.
    pub(crate) fn size(&self) -> (usize, Option<std::time::Duration>) {
        (self.total, self.since.map(|s| s.elapsed()))
    }

    /// The member's entries strictly inside (`after`, `before`): the
    /// `limit` newest (`newest_first`) or oldest, in that order.
    pub(crate) fn window(
        &self,
        member: i64,
        after: (i64, i64),
        before: (i64, i64),
        limit: usize,
        newest_first: bool,
    ) -> Vec<(i64, i64)> {
        let Some(list) = self.by_member.get(&member) else {
            return Vec::new();
        };
        // The list is in (seq, activity) order: the window is a slice.
        let from = list.partition_point(|e| *e <= after);
        let to = list.partition_point(|e| *e < before).max(from);
        let inside = list[from..to].iter().copied();
        if newest_first {
            inside.rev().take(limit).collect()
        } else {
            inside.take(limit).collect()
        }
    }

    /// Every entry up to delivery position `seq`, as (member, seq,
    /// activity), in no order: a plain copy, so the lock is held briefly
    /// (the caller sorts them by member, without it).
    pub(crate) fn upto(&self, seq: i64) -> Vec<Entry> {
        let mut out = Vec::with_capacity(self.total);
        for (m, list) in &self.by_member {
            for &(s, a) in list.iter().take_while(|e| e.0 <= seq) {
                out.push((*m, s, a));
            }
        }
        out
    }

    /// The newest delivery position held.
    pub(crate) fn newest(&self) -> Option<i64> {
        self.newest
    }

    /// Forgets the entries up to `seq` (folded into `inbox`).
    pub(crate) fn drop_upto(&mut self, seq: i64) {
        let mut removed = 0;
        self.by_member.retain(|_, list| {
            let n = list.partition_point(|e| e.0 <= seq);
            removed += n;
            list.drain(..n);
            !list.is_empty()
        });
        self.total -= removed;
        self.since = (self.total > 0).then(Instant::now);
        if self.total == 0 {
            self.newest = None;
        }
        if self.by_member.capacity() > 4 * self.by_member.len().max(1024) {
            self.by_member.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn windows_folds_and_order() {
        let mut r = Recent::default();
        r.add(&(1, 10, vec![5, 7]));
        r.add(&(2, 11, vec![7]));
        r.add(&(3, 12, vec![5, 7, 9]));
        assert_eq!(r.size().0, 6);
        assert_eq!(
            r.window(7, (0, 0), (i64::MAX, i64::MAX), 2, true),
            vec![(3, 12), (2, 11)]
        );
        assert_eq!(
            r.window(7, (1, 10), (i64::MAX, i64::MAX), 10, false),
            vec![(2, 11), (3, 12)]
        );
        assert_eq!(r.window(7, (0, 0), (2, 11), 10, true), vec![(1, 10)]);
        assert_eq!(r.window(7, (1, 10), (3, 12), 10, true), vec![(2, 11)]);
        assert!(r.window(7, (3, 12), (1, 10), 10, true).is_empty());
        assert!(
            r.window(8, (0, 0), (i64::MAX, i64::MAX), 10, true)
                .is_empty()
        );
        assert_eq!(r.newest(), Some(3));
        let mut folded = r.upto(2);
        folded.sort_unstable();
        assert_eq!(folded, vec![(5, 1, 10), (7, 1, 10), (7, 2, 11)]);
        r.drop_upto(2);
        assert_eq!(r.size().0, 3);
        let mut folded = r.upto(9);
        folded.sort_unstable();
        assert_eq!(folded, vec![(5, 3, 12), (7, 3, 12), (9, 3, 12)]);
        assert_eq!(r.newest(), Some(3));
        r.drop_upto(3);
        assert_eq!(r.size(), (0, None));
        assert_eq!(r.newest(), None);
    }
}
