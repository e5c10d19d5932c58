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
//! - [`dbkey`]: the database key file that seals the secrets kept in a
//!   shared (PostgreSQL) database (the shared key, the CA's private key),
//!   for serve replicas.
//! - [`server_ca`]: the server CA at rest in the database (both backends),
//!   and the move of an older install's CA files into it.
//! - [`exit`]: the exit codes every command shares.
//! - [`metrics`]: Prometheus metrics of `serve` and the agent.
//! - [`explain`]: `p2pd explain`: why a device got a content the way it did.
//! - [`platform`]: every OS-specific call (Unix and Windows): positional
//!   I/O, preallocation, owner-only files, signals, child processes, the
//!   Windows service control manager. Uses nothing else in the crate.
//! - [`domain`]: the bottom layer of domain nouns: content ids and piece
//!   hashes (32-byte newtypes), have-map bitmaps, office kinds, a content's
//!   manifest, and the clock (settable in tests).
//! - [`configure`]: changing a setting: checked alone and against the
//!   others, stored with what follows (devices re-placed), in one transaction.
//! - [`health`]: every health check, as a typed report with a fix per
//!   problem (`p2pd health` prints it).
//! - [`words`]: counting in sentences ("1 device", "3 packages").
//! - [`demo`]: `p2pd demo`: a real local distribution (install, topology,
//!   publish through the library; serve and agents as processes).
//! - [`devices`]: the admin's device list (state, score), naming a device,
//!   retiring one.
//! - [`install`]: the server install (staged, all or nothing), its
//!   idempotent re-run, and key rotation.
//! - [`liveness`]: when a device is online, the preferred-device score and
//!   a device's state word; shared by the scheduler, the dashboard and
//!   `devices list`.
//!
//! # Layers
//!
//! Dependencies point one way: down this list. A module may use (through
//! `crate::` paths) only the modules named after it on its line, and each
//! of those comes earlier in the list, so there is no cycle. `cli` sits on
//! top; nothing uses it. The test `layers::` in `tests/it/layers.rs` (part
//! of `cargo test`) reads every `crate::` path in `src/` and fails naming
//! the file and line of any that goes against this map; change the map
//! here, deliberately, when a new dependency is right.
//!
//! ```text
//! domain:
//! platform:
//! tls: platform
//! cells:
//! exit:
//! listen: tls
//! settings:
//! words:
//! replay:
//! key: domain platform replay
//! proto: domain
//! store: domain
//! dbkey: key store
//! server_ca: dbkey key store tls
//! topology: domain cells settings store
//! content: domain key platform store tls topology
//! liveness: domain settings store
//! report: domain store
//! metrics: domain proto store
//! http: domain key listen proto replay store tls
//! deploy: platform tls
//! server: cells content dbkey domain http key listen liveness metrics platform proto report settings store tls topology
//! agent: domain http key listen metrics platform proto tls
//! configure: settings store topology
//! explain: domain liveness server store topology
//! health: content dbkey domain http key proto report server_ca settings store tls topology words
//! install: dbkey deploy exit key platform server server_ca settings store tls
//! devices: cells domain liveness store
//! demo: agent configure content install key platform report store tls topology
//! cli: agent cells configure content dbkey demo deploy devices domain exit explain health http install key listen liveness metrics platform proto report server server_ca settings store tls topology words
//! ```
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
pub mod configure;
pub mod content;
pub mod dbkey;
pub mod demo;
pub mod deploy;
pub mod devices;
pub mod domain;
pub mod exit;
pub mod explain;
pub mod health;
pub mod http;
pub mod install;
pub mod key;
pub mod listen;
pub mod liveness;
pub mod metrics;
pub mod platform;
pub mod proto;
pub mod replay;
pub mod report;
pub mod server;
pub mod server_ca;
pub mod settings;
pub mod store;
pub mod tls;
pub mod topology;
pub mod words;

/// The version of this binary, reported by agents and the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
