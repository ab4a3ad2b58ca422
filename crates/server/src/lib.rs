//! The Chorus server: settings, startup, HTTP (JSON API and pages), and
//! the services they call. `main.rs` is a thin command-line shell over
//! this library, and the integration tests start the same [`app::App`].

pub mod app;
pub mod caches;
pub mod cli;
pub mod config;
pub mod context;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod service;
pub mod state;
pub mod views;
