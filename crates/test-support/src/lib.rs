//! What only tests link, never the `chorus` binary: every crate takes it
//! as a dev-dependency, and the fuzz targets (`fuzz/`) as a dependency.
//!
//! - [`safety`]: does this HTML run script or load what it should not,
//!   read with html5ever as a browser reads it.
//! - [`html_text`]: the words a browser shows for some HTML.
//! - [`fuzz_checks`]: the properties each fuzz target asserts, shared with
//!   the test that replays the committed corpora.

pub mod fuzz_checks;
pub mod html_text;
pub mod safety;
