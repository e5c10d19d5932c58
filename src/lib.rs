//! p2pd: topology-aware peer-to-peer distribution of application packages.
//!
//! # Layout
//!
//! - [`cli`]: clap definitions and one module per subcommand (`Args` + `run`);
//!   the only place that uses clap and anyhow.
//! - [`content`]: the content library: pieces and hashing, file storage,
//!   publish, group names.
//! - [`key`]: the shared key: create, load, fingerprint, sign and verify requests.
//! - [`settings`]: the server settings and their validation.
//! - [`store`]: SQLite schema and migrations; the only module that writes SQL.
//! - [`exit`]: the exit codes every command shares.

pub mod cli;
pub mod content;
pub mod exit;
pub mod key;
pub mod settings;
pub mod store;

/// The version of this binary, reported by agents and the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
