//! The values that cross the SQL boundary, the same for both backends.
//!
//! Chorus keeps its columns to a few portable types (64-bit integers, text,
//! floats, bytes) so one SQL text and one row decoder serve SQLite and
//! PostgreSQL alike. Flags are integers 0/1 and times are microseconds since
//! the Unix epoch in a BIGINT.

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
macro_rules! id_values {
    ($($Id:ident),+) => {$(
        impl From<domain::$Id> for Value {
            fn from(v: domain::$Id) -> Self {
                Value::Int(v.get())
            }
        }
    )+};
}
id_values!(MemberId, SpaceId, ItemId, CommentId);

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row; columns are read by position, in SELECT order.
#[derive(Debug, Clone)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, Error> {
        self.0
            .get(i)
            .ok_or_else(|| Error::Decode(format!("no column {i}")))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn i64(&self, i: usize) -> Result<i64, Error> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            other => Err(Error::Decode(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }

    pub fn bool(&self, i: usize) -> Result<bool, Error> {
        Ok(self.i64(i)? != 0)
    }

    pub fn f64(&self, i: usize) -> Result<f64, Error> {
        match self.at(i)? {
            Value::Float(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            other => Err(Error::Decode(format!(
                "column {i}: expected float, got {other:?}"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, Error> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(Error::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// [`Row::text`], moving the text out of the row instead of copying
    /// it (the column reads as empty text afterwards): for decoders that
    /// read each column once, such as a stream page's twenty rows.
    pub fn take_text(&mut self, i: usize) -> Result<String, Error> {
        match self.0.get_mut(i) {
            Some(Value::Text(v)) => Ok(std::mem::take(v)),
            _ => self.text(i),
        }
    }

    /// [`Row::opt_text`], moving the text out (see [`Row::take_text`]).
    pub fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.take_text(i).map(Some),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, Error> {
        match self.at(i)? {
            Value::Bytes(v) => Ok(v.clone()),
            Value::Text(v) => Ok(v.clone().into_bytes()),
            other => Err(Error::Decode(format!(
                "column {i}: expected bytes, got {other:?}"
            ))),
        }
    }
}

/// Build a parameter list: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::Value::from($v)),+] as &[$crate::Value] };
}
