//! What several feature modules share: a person as lists show them, a
//! space's visibility from a row, and the `IN (…)` lists and JSON rows that
//! statements take.

use domain::social::SpaceVisibility;

use crate::{Error, Row};

/// A person in a list: id, handle, name, avatar version, plus a role or
/// level when the list has one.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: i64,
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

pub(crate) fn person(r: &Row) -> Result<Person, Error> {
    Ok(Person {
        id: r.i64(0)?,
        handle: r.text(1)?,
        display_name: r.text(2)?,
        avatar_version: r.i64(3)?,
        extra: r.opt_text(4)?.unwrap_or_default(),
    })
}

/// A space's visibility from column `at` (NULL where there is no space).
pub(crate) fn space_visibility(r: &mut Row, at: usize) -> Result<Option<SpaceVisibility>, Error> {
    r.take_opt_text(at)?
        .map(|v| SpaceVisibility::parse(&v))
        .transpose()
        .map_err(|e| Error::Decode(e.to_string()))
}

/// Placeholders `$first, $first+1, …` for `IN (…)` and their values. The
/// list is padded (repeating the last id) to one of a few sizes, so each
/// query has a handful of shapes that stay in the prepared-statement cache
/// instead of a new statement to parse for every distinct list.
pub(crate) fn in_list(first: usize, ids: &[i64]) -> (String, Vec<crate::Value>) {
    let size = [8usize, 32, 128]
        .into_iter()
        .find(|s| *s >= ids.len())
        .unwrap_or(ids.len());
    let last = ids.last().copied().unwrap_or(-1);
    let values: Vec<crate::Value> = ids
        .iter()
        .copied()
        .chain(std::iter::repeat(last))
        .take(size)
        .map(crate::Value::Int)
        .collect();
    let marks = (first..first + size)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    (marks, values)
}

pub(crate) fn with(mut head: Vec<crate::Value>, tail: Vec<crate::Value>) -> Vec<crate::Value> {
    head.extend(tail);
    head
}

/// Rows of ids as a JSON array of arrays, for `json_each` on SQLite.
pub(crate) fn json_rows<T: serde::Serialize>(rows: &[T]) -> Result<String, Error> {
    serde_json::to_string(rows).map_err(|e| Error::Db(format!("encoding rows as JSON: {e}")))
}
