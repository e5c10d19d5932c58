//! The library behind the admin commands. Each module returns typed
//! results and prints nothing: `cli` parses, calls and prints.
//!
//! - [`install`]: the server install (staged, all or nothing), its
//!   idempotent re-run, and key rotation.
//! - [`configure`]: changing a setting, checked alone and against the
//!   others, stored with what follows, in one transaction.
//! - [`devices`]: the admin's device list, naming a device, retiring one.
//! - [`health`]: every health check, as a typed report with a fix per
//!   problem.
//! - [`explain`]: why a device got a content the way it did.
//! - [`report`]: the per-office, per-content distribution report.
//! - [`demo`]: a real local distribution on an embedded default.
//!
//! May use: agent content deploy domain metrics platform server store topology trust vault wire

pub mod configure;
pub mod demo;
pub mod devices;
pub mod explain;
pub mod health;
pub mod install;
pub mod report;
