//! Services: Chorus's use cases. Each public function validates its input
//! with the domain's types, checks who may do it, and reads or writes
//! through the store in one transaction. HTTP handlers, pages and the CLI
//! all call these, so a rule holds whichever door a request comes in by.

pub mod accounts;
pub mod calendar;
pub mod jobs;
pub mod ops;
pub mod pages;
pub mod requests;
pub mod social;
