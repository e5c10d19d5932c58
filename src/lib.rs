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
//! - [`listen`]: the HTTP listener both servers use: TLS, header-read and
//!   idle timeouts, per-address and total connection caps.
//! - [`tls`]: the server CA, server and device certificates, the rustls
//!   configurations (TLS 1.3, ring) and the identity a certificate names.
//! - [`cells`]: spreadsheet cells p2pd writes and reads back (formula
//!   neutralising, shared by every CSV export and the importer).
//! - [`server`]: `serve`: control plane, scheduling (leaders, sources), central seed;
//!   `server::leader` is the leadership state machine (epochs, grace, failover),
//!   `server::fleet` the in-memory fleet snapshot (topology lookup, settings,
//!   groups) refreshed from the database's generation counter,
//!   `server::peerset` the bounded peer set, `server::decisions` what
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

//!
//! # Trust
//!
//! Two layers (README, "Security model"):
//!
//! - The **shared key** admits a device. Every request is HMAC-signed with
//!   it (method, path, time, nonce, body digest); `key regenerate` retires
//!   it everywhere within seconds. Kept on every request even with mutual
//!   TLS: certificates cannot be revoked early, the key can; the signature
//!   binds a peer request to the peer it is for.
//! - The **server CA** gives identities. Every connection is TLS 1.3; the
//!   agent accepts only certificates from its CA. Enrollment (key-signed)
//!   carries a CSR and returns a 24 h device certificate naming the device
//!   id; from then on every request naming a device must come over a
//!   connection whose certificate names that device ([`http::Signed`]
//!   checks it with the [`listen::Conn`] of the connection). A peer learns
//!   who asks from the certificate, never from a query parameter alone.
//!   Plain HTTP exists only behind `--insecure-plain-http` (benchmarks).

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
pub mod tls;
pub mod topology;

/// The version of this binary, reported by agents and the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
