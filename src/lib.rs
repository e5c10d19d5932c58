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
//! - [`proto`]: wire types and error codes shared by server and agent.
//! - [`http`]: signed HTTP requests and JSON errors, both sides; 503 and
//!   `Retry-After` are honoured here.
//! - [`listen`]: the HTTP listener both servers use: header-read and idle
//!   timeouts, per-address and total connection caps.
//! - [`cells`]: spreadsheet cells p2pd writes and reads back (formula
//!   neutralising, shared by every CSV export and the importer).
//! - [`server`]: `serve`: control plane, scheduling (leaders, sources), central seed;
//!   `server::leader` is the leadership state machine (epochs, grace, failover),
//!   `server::fleet` the in-memory fleet snapshot (topology lookup, settings,
//!   groups) refreshed from the database's generation counter,
//!   `server::peerset` the bounded peer set, `server::beats` heartbeats
//!   (group commit, adaptive interval), `server::roster` office rosters
//!   reused briefly by `/sources`, `server::decisions` what
//!   `explain` reads, `server::ui` the dashboard.
//! - [`agent`]: `agent`: enrollment, piece store, downloader, peer server.
//! - [`topology`]: offices, their ranges and parents, CSV/XLSX import and
//!   export, address → office lookup, auto offices and device placement.
//! - [`report`]: per-office, per-content distribution report.
//! - [`deploy`]: scripted installs: systemd units and agent configuration,
//!   written idempotently.
//! - [`exit`]: the exit codes every command shares.
//! - [`metrics`]: Prometheus metrics of `serve` and the agent.
//! - [`explain`]: `p2pd explain`: why a device got a content the way it did.
//! - [`platform`]: every OS-specific call (Unix and Windows): positional
//!   I/O, preallocation, owner-only files, signals, child processes, the
//!   Windows service control manager. The bottom layer: uses nothing else.

pub mod agent;
pub mod cells;
pub mod cli;
pub mod content;
pub mod deploy;
pub mod exit;
pub mod explain;
pub mod http;
pub mod key;
pub mod listen;
pub mod metrics;
pub mod platform;
pub mod proto;
pub mod report;
pub mod server;
pub mod settings;
pub mod store;
pub mod topology;

/// The version of this binary, reported by agents and the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
