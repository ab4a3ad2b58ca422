//! What several feature modules share: how rows are declared and decoded
//! ([`columns!`], [`Column`]), a person as lists show them, and the
//! `IN (…)` lists and JSON rows that statements take.
//!
//! A statement's columns are declared once, with [`columns!`]: each by the
//! name its value is read under and the SQL that selects it, or as a group
//! (another declaration, for a statement that joins several row shapes).
//! The declaration gives the SELECT list and where each column lands, so a
//! decoder reads `c.handle`, never a number, and a shape joined after
//! another starts where the declaration says. Positions are constants
//! worked out at compile time: decoding a row is the same indexing as by
//! hand.

use domain::Role;
use domain::kinds::{AudienceKind, ItemKind, NotificationReason, SpaceRole, Verb};
use domain::social::SpaceVisibility;

use crate::{Error, Row, Value};

/// A value one column decodes into.
pub trait Column: Sized {
    /// The value at column `i`; text is moved out of the row.
    fn take(r: &mut Row, i: usize) -> Result<Self, Error>;
}

impl Column for i64 {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.i64(i)
    }
}
impl Column for Option<i64> {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.opt_i64(i)
    }
}
macro_rules! id_columns {
    ($($Id:ident),+) => {$(
        impl Column for domain::$Id {
            fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
                r.i64(i).map(domain::$Id)
            }
        }
        impl Column for Option<domain::$Id> {
            fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
                Ok(r.opt_i64(i)?.map(domain::$Id))
            }
        }
    )+};
}
id_columns!(MemberId, SpaceId, ItemId, CommentId);

/// A 0/1 flag.
impl Column for bool {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.bool(i)
    }
}
impl Column for String {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.take_text(i)
    }
}
impl Column for Option<String> {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.take_opt_text(i)
    }
}
impl Column for Vec<u8> {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.bytes(i)
    }
}
impl Column for Role {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        Role::parse(&r.take_text(i)?).map_err(|e| Error::Decode(e.to_string()))
    }
}
impl Column for SpaceVisibility {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        SpaceVisibility::parse(&r.take_text(i)?).map_err(|e| Error::Decode(e.to_string()))
    }
}
impl Column for Option<SpaceVisibility> {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        r.take_opt_text(i)?
            .map(|v| SpaceVisibility::parse(&v))
            .transpose()
            .map_err(|e| Error::Decode(e.to_string()))
    }
}

/// A stored word (see `domain::kinds`); text no version writes is an
/// error naming `what`.
fn word<T>(r: &mut Row, i: usize, what: &str, parse: fn(&str) -> Option<T>) -> Result<T, Error> {
    let text = r.take_text(i)?;
    parse(&text).ok_or_else(|| Error::Decode(format!("an unknown {what} {text:?}")))
}

impl Column for ItemKind {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        word(r, i, "item kind", ItemKind::parse)
    }
}
impl Column for AudienceKind {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        word(r, i, "audience", AudienceKind::parse)
    }
}
impl Column for Verb {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        word(r, i, "verb", Verb::parse)
    }
}
impl Column for NotificationReason {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        word(r, i, "notification reason", NotificationReason::parse)
    }
}
impl Column for Option<SpaceRole> {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        match r.take_opt_text(i)? {
            None => Ok(None),
            Some(role) => SpaceRole::parse(&role)
                .map(Some)
                .ok_or_else(|| Error::Decode(format!("an unknown space role {role:?}"))),
        }
    }
}

/// A column that is a row or NULL (`(SELECT 1 … )`, `CASE … END`):
/// whether there is one.
pub(crate) fn present(r: &mut Row, i: usize) -> Result<bool, Error> {
    Ok(r.opt_i64(i)?.is_some())
}

/// Tab-separated text (`string_agg(…, '\t')`) as a list; NULL is empty.
pub(crate) fn tab_list(r: &mut Row, i: usize) -> Result<Vec<String>, Error> {
    Ok(r.take_opt_text(i)?
        .map(|s| s.split('\t').map(str::to_owned).collect())
        .unwrap_or_default())
}

/// A whole row read in SELECT order into a tuple: for statements of a
/// few columns read right where they are written. The row must have
/// exactly as many columns as the tuple.
pub trait Tuple: Sized {
    fn from_row(r: Row) -> Result<Self, Error>;
}

macro_rules! tuple {
    ($n:literal; $($t:ident $i:tt),+) => {
        impl<$($t: Column),+> Tuple for ($($t,)+) {
            fn from_row(mut r: Row) -> Result<Self, Error> {
                if r.len() != $n {
                    return Err(Error::Decode(format!(
                        "expected {} columns, got {}", $n, r.len()
                    )));
                }
                Ok(($($t::take(&mut r, $i)?,)+))
            }
        }
    };
}
tuple!(2; A 0, B 1);
tuple!(3; A 0, B 1, C 2);
tuple!(4; A 0, B 1, C 2, D 3);
tuple!(5; A 0, B 1, C 2, D 3, E 4);

/// Declares a row shape: a struct of column positions, its width, its
/// SELECT list, and (with `=> Type`) the decoder of a `Type` whose fields
/// are the columns by name.
///
/// ```ignore
/// columns! {
///     /// A to-do as lists show it.
///     pub(crate) struct TodoCols => TodoRow {
///         id: "t.id",
///         space_slug: "s.slug",
///         viewer_in_space: (VIEWER_IN_SPACE) as present,
///         item: [ItemCols(body)],
///     }
/// }
/// ```
///
/// Each column is `name: sql`, where `sql` is one token tree that reads
/// as `&str` (a literal, a constant, or anything in parentheses, which may
/// use the parameters given after the struct's name); `as f` decodes it
/// with `f(&mut Row, usize)` instead of [`Column`]. `name: [Shape(args)]`
/// is a group: another declaration's columns, starting where this one
/// puts them. Without parameters `sql()` is built once; with them, on each
/// call, so callers keep the variants they use.
macro_rules! columns {
    (
        $(#[$m:meta])*
        $vis:vis struct $Name:ident ($($p:ident: $pt:ty),* $(,)?) $(=> $Out:ident)? {
            $($(#[$fm:meta])* $field:ident: $col:tt $(as $read:path)?),+ $(,)?
        }
    ) => {
        $crate::rows::columns!(@shape $(#[$m])* $vis $Name $(=> $Out)? {
            $($(#[$fm])* $field: $col $(as $read)?),+
        });
        impl $Name {
            /// The SELECT list, in the declared order.
            #[allow(dead_code)]
            pub fn sql($($p: $pt),*) -> String {
                $crate::rows::columns!(@join $($col),+)
            }
        }
    };
    (
        $(#[$m:meta])*
        $vis:vis struct $Name:ident $(=> $Out:ident)? {
            $($(#[$fm:meta])* $field:ident: $col:tt $(as $read:path)?),+ $(,)?
        }
    ) => {
        $crate::rows::columns!(@shape $(#[$m])* $vis $Name $(=> $Out)? {
            $($(#[$fm])* $field: $col $(as $read)?),+
        });
        impl $Name {
            /// The SELECT list, in the declared order.
            #[allow(dead_code)]
            pub fn sql() -> &'static str {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                SQL.get_or_init(|| $crate::rows::columns!(@join $($col),+))
            }
        }
    };
    (@shape
        $(#[$m:meta])* $vis:vis $Name:ident $(=> $Out:ident)? {
            $($(#[$fm:meta])* $field:ident: $col:tt $(as $read:path)?),+
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $Name {
            $($(#[$fm])* pub $field: $crate::rows::columns!(@ty $col)),+
        }
        impl $Name {
            /// How many columns the shape has.
            #[allow(dead_code)]
            pub const WIDTH: usize = 0 $(+ $crate::rows::columns!(@width $col))+;

            /// Where each column is when the shape starts at column `at`.
            #[allow(unused_assignments, dead_code)]
            pub const fn at(at: usize) -> Self {
                let mut next = at;
                $(let $field = $crate::rows::columns!(@at next $col);)+
                $Name { $($field),+ }
            }
        }
        $crate::rows::columns!(@decode $Name [$($Out)?] { $($field $(as $read)?),+ });
    };
    (@decode $Name:ident [] { $($tail:tt)* }) => {};
    (@decode $Name:ident [$Out:ident] { $($field:ident $(as $read:path)?),+ }) => {
        impl $Name {
            /// The row's value, each field from its column.
            #[allow(dead_code)]
            pub fn decode(self, r: &mut $crate::Row) -> Result<$Out, $crate::Error> {
                Ok($Out {
                    $($field: $crate::rows::columns!(@read r, self.$field $(, $read)?)),+
                })
            }
        }
    };
    (@ty [$G:ident $($args:tt)*]) => { $G };
    (@ty $col:tt) => { usize };
    (@width [$G:ident $($args:tt)*]) => { $G::WIDTH };
    (@width $col:tt) => { 1 };
    (@at $next:ident [$G:ident $($args:tt)*]) => {{
        let group = $G::at($next);
        $next += $G::WIDTH;
        group
    }};
    (@at $next:ident $col:tt) => {{
        let column = $next;
        $next += 1;
        column
    }};
    (@read $r:ident, $pos:expr) => { $crate::rows::Column::take($r, $pos)? };
    (@read $r:ident, $pos:expr, $read:path) => { $read($r, $pos)? };
    (@sql [$G:ident $(($($arg:expr),* $(,)?))?]) => { $G::sql($($($arg),*)?) };
    (@sql $col:tt) => { $col };
    (@join $($col:tt),+) => {{
        let mut sql = String::new();
        $(
            if !sql.is_empty() {
                sql.push_str(", ");
            }
            sql.push_str(&$crate::rows::columns!(@sql $col));
        )+
        sql
    }};
}
pub(crate) use columns;

columns! {
    /// A person in a list (see [`Person`]), from members `m`; the list's
    /// role or level, if it has one, comes after.
    pub(crate) struct PersonCols {
        id: "m.id",
        handle: "m.handle",
        display_name: "m.display_name",
        avatar_version: "m.avatar_version",
    }
}

/// A person in a list: id, handle, name, avatar version, plus a role or
/// level when the list has one.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: domain::MemberId,
    pub handle: String,
    pub display_name: String,
    pub avatar_version: i64,
    pub extra: String,
}

impl From<&crate::profiles::Member> for Person {
    fn from(m: &crate::profiles::Member) -> Person {
        Person {
            id: m.id,
            handle: m.handle.clone(),
            display_name: m.display_name.clone(),
            avatar_version: m.avatar_version,
            extra: String::new(),
        }
    }
}

/// A person from the columns at `c`.
pub(crate) fn person(r: &mut Row, c: PersonCols) -> Result<Person, Error> {
    Ok(Person {
        id: Column::take(r, c.id)?,
        handle: r.take_text(c.handle)?,
        display_name: r.take_text(c.display_name)?,
        avatar_version: r.i64(c.avatar_version)?,
        extra: String::new(),
    })
}

/// The people of a statement of [`PersonCols`] alone.
pub(crate) fn people(rows: Vec<Row>) -> Result<Vec<Person>, Error> {
    rows.into_iter()
        .map(|mut r| person(&mut r, PersonCols::at(0)))
        .collect()
}

columns! {
    /// A person in a list, with the list's role, level or message
    /// (`extra`, text or NULL).
    pub(crate) struct ListedCols(extra: &str) {
        person: [PersonCols],
        extra: (extra),
    }
}

/// A person in a list with its `extra`, from a statement of [`ListedCols`]
/// alone.
pub(crate) fn listed(mut r: Row) -> Result<Person, Error> {
    let c = ListedCols::at(0);
    Ok(Person {
        extra: r.take_opt_text(c.extra)?.unwrap_or_default(),
        ..person(&mut r, c.person)?
    })
}

/// A statement's parameters, numbered in the order they are added: a
/// statement put together from parts names exactly the values it is
/// given (both databases refuse a parameter the text does not use).
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<Value>);

impl Params {
    pub(crate) fn new() -> Params {
        Params::default()
    }

    /// Adds a value; returns its placeholder, `$n`.
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> String {
        self.0.push(v.into());
        format!("${}", self.0.len())
    }

    pub(crate) fn values(&self) -> &[Value] {
        &self.0
    }
}

/// Placeholders `$first, $first+1, …` for `IN (…)` and their values. The
/// list is padded (repeating the last id) to one of a few sizes, so each
/// query has a handful of shapes that stay in the prepared-statement cache
/// instead of a new statement to parse for every distinct list.
pub(crate) fn in_list<T: Copy + Into<i64>>(first: usize, ids: &[T]) -> (String, Vec<Value>) {
    let size = [8usize, 32, 128]
        .into_iter()
        .find(|s| *s >= ids.len())
        .unwrap_or(ids.len());
    let last = ids.last().map_or(-1, |&id| id.into());
    let values: Vec<Value> = ids
        .iter()
        .map(|&id| id.into())
        .chain(std::iter::repeat(last))
        .take(size)
        .map(Value::Int)
        .collect();
    let marks = (first..first + size)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    (marks, values)
}

pub(crate) fn with(mut head: Vec<Value>, tail: Vec<Value>) -> Vec<Value> {
    head.extend(tail);
    head
}

/// Rows of ids as a JSON array of arrays, for `json_each` on SQLite.
pub(crate) fn json_rows<T: serde::Serialize>(rows: &[T]) -> Result<String, Error> {
    serde_json::to_string(rows).map_err(|e| Error::Db(format!("encoding rows as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair {
        n: i64,
        s: Option<String>,
    }

    columns! {
        struct PairCols => Pair {
            n: "p.n",
            s: "p.s",
        }
    }

    columns! {
        struct Joined(flag: &str) {
            first: "x.a",
            pair: [PairCols],
            flag: (flag) as present,
            person: [PersonCols],
        }
    }

    #[test]
    fn a_declaration_gives_the_list_the_width_and_the_positions() {
        assert_eq!(PairCols::sql(), "p.n, p.s");
        assert_eq!(PairCols::WIDTH, 2);
        assert_eq!(Joined::WIDTH, 1 + 2 + 1 + 4);
        assert_eq!(
            Joined::sql("NULL"),
            "x.a, p.n, p.s, NULL, m.id, m.handle, m.display_name, m.avatar_version"
        );
        const J: Joined = Joined::at(3);
        assert_eq!((J.first, J.pair.n, J.pair.s, J.flag), (3, 4, 5, 6));
        assert_eq!((J.person.id, J.person.avatar_version), (7, 10));
    }

    #[test]
    fn rows_decode_by_name() {
        let mut r = Row(vec![
            Value::Int(9),
            Value::Int(1),
            Value::Text("one".into()),
            Value::Null,
        ]);
        let c = Joined::at(0);
        assert_eq!(
            c.pair.decode(&mut r).unwrap(),
            Pair {
                n: 1,
                s: Some("one".into())
            }
        );
        assert!(!present(&mut r, c.flag).unwrap());
        let t: Result<(i64, i64), _> = Tuple::from_row(Row(vec![Value::Int(1)]));
        assert!(t.is_err(), "a tuple of the wrong width is refused");
    }

    #[test]
    fn parameters_are_numbered_as_added() {
        let mut p = Params::new();
        assert_eq!(p.bind(7), "$1");
        assert_eq!(p.bind("x"), "$2");
        assert_eq!(p.values(), &[Value::Int(7), Value::Text("x".into())]);
    }
}
