//! The one integration-test binary: every test drives the real server over
//! HTTP, on SQLite and on PostgreSQL.

mod accounts;
mod addresses;
mod digest;
mod harness;
mod import;
mod jobs;
mod lists;
mod live;
mod mail;
mod mail_in;
mod ops;
mod requests;
mod search;
mod search_page;
mod searches;
mod social;
mod trust_accounts;
mod trust_hardening;
mod trust_input;
mod trust_measured;
mod trust_surfaces;
mod trust_visibility;
mod web;
