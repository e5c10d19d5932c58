//! p2pd: topology-aware peer-to-peer distribution of application packages.
//!
//! The code map, the invariants and the design notes are in
//! `ARCHITECTURE.md`; this is the short version.
//!
//! # Layout
//!
//! - [`domain`]: the nouns every layer shares: ids, have-maps, manifests,
//!   the clock, settings, spreadsheet cells, counting words.
//! - [`platform`]: every OS-specific call (Unix and Windows).
//! - [`store`]: the schema, the migrations and every SQL statement.
//! - [`trust`]: who may talk: the shared key, replay counters, TLS.
//! - [`vault`]: secrets sealed in the database, for serve replicas.
//! - [`wire`]: what crosses the network: wire types, signed HTTP, the
//!   listener.
//! - [`topology`]: offices, ranges and parents; where a device is.
//! - [`content`]: packages, their pieces and hashes, publishing.
//! - [`metrics`]: Prometheus metrics of `serve` and the agent.
//! - [`deploy`]: scripted installs: systemd units, agent configuration.
//! - [`server`]: `p2pd serve`: the control plane and the central seed.
//! - [`agent`]: `p2pd agent`: the peer client on each device.
//! - [`ops`]: the library behind the admin commands (typed, prints nothing).
//! - [`cli`]: clap definitions, one module per subcommand, exit codes; the
//!   only place that uses clap and anyhow.
//!
//! # Layers
//!
//! Dependencies point one way: down this list. A module may use (through
//! `crate::` paths) only the modules named after it on its line, and each
//! of those comes earlier in the list, so there is no cycle. `cli` sits on
//! top; nothing uses it. Each folder's `mod.rs` repeats its line as
//! "May use:". The test `layers::` in `tests/it/layers.rs` (part of
//! `cargo test`) reads every `crate::` path in `src/` and fails naming the
//! file and line of any that goes against this map; change the map here,
//! deliberately, when a new dependency is right.
//!
//! ```text
//! domain:
//! platform:
//! store: domain
//! trust: domain platform
//! vault: store trust
//! wire: domain store trust
//! topology: domain store
//! content: domain platform store topology trust
//! metrics: domain store wire
//! deploy: platform trust
//! server: content domain metrics platform store topology trust vault wire
//! agent: domain metrics platform trust wire
//! ops: agent content deploy domain metrics platform server store topology trust vault wire
//! cli: agent content deploy domain metrics ops platform server store topology trust vault wire
//! ```
//!

#![warn(unreachable_pub)]

pub mod agent;
pub mod cli;
pub mod content;
pub mod deploy;
pub mod domain;
pub mod metrics;
pub mod ops;
pub mod platform;
pub mod server;
pub mod store;
pub mod topology;
pub mod trust;
pub mod vault;
pub mod wire;

/// The version of this binary, reported by agents and the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
