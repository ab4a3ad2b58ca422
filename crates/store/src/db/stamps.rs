//! Which rows changed since when: for caches of what is rendered from rows.
//!
//! SQLite only. The writer's connection reports every row it updates or
//! deletes in the tables a stream entry shows (SQLite's update hook); when
//! the transaction has committed, the writer's thread takes the next
//! *stamp* and marks those rows with it. A cache keeps with each rendering
//! the stamp read before the statement it rendered from, and the rows it
//! shows. It is current while none of those rows carries a later stamp.
//!
//! A statement that changes only counts which renderings leave out (an
//! item's comment count and reaction summary, rewritten by every comment
//! and reaction) says so (`Tx::execute_counts`), and its updates mark
//! nothing: otherwise every comment would outdate every rendering of its
//! item. Any other statement marks what it changes.
//!
//! Marks live in a fixed table of slots, each row hashed to one: memory
//! stays fixed, and two rows that share a slot only cost a rendering
//! again, never a stale one. Inserted rows are not marked: nothing
//! rendered can show a row from before it existed (a reused id was
//! deleted first, and the deletion marked it).
//!
//! Why this is safe against a reader racing a commit: a rendering keeps
//! the stamp read *before* its statement, so its snapshot holds every
//! commit stamped up to then. A commit that lands after is marked with a
//! later stamp once it has committed, which outdates the rendering,
//! whether it was cached before or after the mark.

use std::sync::atomic::{AtomicU64, Ordering};

/// The tables whose rows a rendered stream entry shows. Spaces are not
/// here: a space row changes with every join (its member count), so
/// renderings compare the space's name and visibility instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Activities = 1,
    Items = 2,
    Members = 3,
    Comments = 4,
    /// Not shown in a stream entry: marked so that an API token's
    /// revocation outdates what authenticated with it (see the server's
    /// token cache).
    ApiTokens = 5,
}

impl Table {
    fn named(name: &str) -> Option<Table> {
        match name {
            "activities" => Some(Table::Activities),
            "items" => Some(Table::Items),
            "members" => Some(Table::Members),
            "comments" => Some(Table::Comments),
            "api_tokens" => Some(Table::ApiTokens),
            _ => None,
        }
    }
}

/// 2^18 slots of 8 bytes: 2 MiB.
const SLOT_BITS: u32 = 18;

pub struct Stamps {
    now: AtomicU64,
    /// Everything kept from before this stamp is outdated: another
    /// process committed to the file ([`Stamps::outdate_all`]).
    floor: AtomicU64,
    slots: Box<[AtomicU64]>,
}

impl Default for Stamps {
    fn default() -> Self {
        Stamps {
            now: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            slots: (0..1usize << SLOT_BITS)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl Stamps {
    /// The stamp to keep with a rendering: read it before the statement
    /// whose rows are rendered.
    pub fn now(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    /// Whether the row is unchanged since `stamp` (or shares a slot with
    /// one that changed).
    pub fn unchanged(&self, table: Table, id: impl Into<i64>, stamp: u64) -> bool {
        stamp >= self.floor.load(Ordering::Acquire)
            && self.slots[slot(table, id.into())].load(Ordering::Acquire) <= stamp
    }

    /// Outdates everything kept so far: for a commit this process's writer
    /// did not make (another process on the same file, such as `chorus
    /// admin`), whose rows nobody marked.
    pub(crate) fn outdate_all(&self) {
        let stamp = self.now.fetch_add(1, Ordering::AcqRel) + 1;
        self.floor.fetch_max(stamp, Ordering::AcqRel);
    }

    /// Marks rows changed by a transaction that has committed.
    pub(crate) fn mark(&self, rows: &[(Table, i64)]) {
        if rows.is_empty() {
            return;
        }
        let stamp = self.now.fetch_add(1, Ordering::AcqRel) + 1;
        for &(table, id) in rows {
            self.slots[slot(table, id)].fetch_max(stamp, Ordering::AcqRel);
        }
    }
}

fn slot(table: Table, id: i64) -> usize {
    let key = (id as u64) ^ ((table as u64) << 56);
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize
}

/// What the writer's connection changed in the transaction under way: the
/// update hook adds to it, a rollback empties it, and the writer's thread
/// hands it to [`Stamps::mark`] once no transaction is open.
pub(crate) struct Pending {
    rows: std::sync::Mutex<PendingRows>,
    stamps: std::sync::Arc<Stamps>,
}

#[derive(Default)]
pub(crate) struct PendingRows {
    rows: Vec<(Table, i64)>,
    /// A statement that changes only counts runs (see `Tx::execute_counts`).
    counts: bool,
}

impl Pending {
    pub(crate) fn new(stamps: std::sync::Arc<Stamps>) -> Pending {
        Pending {
            rows: Default::default(),
            stamps,
        }
    }

    pub(crate) fn changed(&self, action: rusqlite::hooks::Action, table: &str, id: i64) {
        use rusqlite::hooks::Action;
        if matches!(action, Action::SQLITE_UPDATE | Action::SQLITE_DELETE)
            && let Some(t) = Table::named(table)
        {
            let mut p = self.rows.lock().expect("pending changes");
            if !(p.counts && action == Action::SQLITE_UPDATE) {
                p.rows.push((t, id));
            }
        }
    }

    /// Runs `f`, a statement whose updates change only counts that a
    /// rendering leaves out, without marking the rows it updates.
    pub(crate) fn counts<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Ends the exception even if the statement panics.
        struct Counting<'a>(&'a Pending);
        impl Drop for Counting<'_> {
            fn drop(&mut self) {
                if let Ok(mut p) = self.0.rows.lock() {
                    p.counts = false;
                }
            }
        }
        self.rows.lock().expect("pending changes").counts = true;
        let _counting = Counting(self);
        f()
    }

    pub(crate) fn rolled_back(&self) {
        self.rows.lock().expect("pending changes").rows.clear();
    }

    /// Marks what was changed, once no transaction is open: before the
    /// writer answers the statement that committed.
    pub(crate) fn committed(&self) {
        let rows = std::mem::take(&mut self.rows.lock().expect("pending changes").rows);
        self.stamps.mark(&rows);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rusqlite::hooks::Action;

    use super::{Pending, Stamps, Table};

    #[test]
    fn pending_rows_are_marked_once_committed() {
        let stamps = Arc::new(Stamps::default());
        let p = Pending::new(stamps.clone());
        let start = stamps.now();
        // Inserts and other tables mark nothing; a rollback forgets.
        p.changed(Action::SQLITE_INSERT, "items", 1);
        p.changed(Action::SQLITE_UPDATE, "inbox", 2);
        p.changed(Action::SQLITE_UPDATE, "items", 3);
        p.rolled_back();
        p.committed();
        assert_eq!(stamps.now(), start);
        // Counts mark no updates, but a deletion still marks.
        p.counts(|| {
            p.changed(Action::SQLITE_UPDATE, "items", 4);
            p.changed(Action::SQLITE_DELETE, "items", 5);
        });
        p.changed(Action::SQLITE_UPDATE, "members", 6);
        p.committed();
        assert!(stamps.unchanged(Table::Items, 4, start));
        assert!(!stamps.unchanged(Table::Items, 5, start));
        assert!(!stamps.unchanged(Table::Members, 6, start));
        // The exception ends with the statement, even one that panics.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            p.counts(|| panic!("a statement that fails"))
        }));
        let before = stamps.now();
        p.changed(Action::SQLITE_UPDATE, "items", 7);
        p.committed();
        assert!(!stamps.unchanged(Table::Items, 7, before));
    }

    #[test]
    fn a_mark_outdates_earlier_stamps_only() {
        let s = Stamps::default();
        let before = s.now();
        assert!(s.unchanged(Table::Items, 7, before));
        s.mark(&[(Table::Items, 7)]);
        let after = s.now();
        assert!(after > before);
        assert!(!s.unchanged(Table::Items, 7, before));
        assert!(s.unchanged(Table::Items, 7, after));
        // Another table's row 7 is another row, in another slot.
        assert_ne!(super::slot(Table::Members, 7), super::slot(Table::Items, 7));
        assert!(s.unchanged(Table::Members, 7, before));
        s.mark(&[]);
        assert_eq!(s.now(), after, "an empty transaction takes no stamp");
    }
}
