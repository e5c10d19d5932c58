//! The integration tests: one test binary (one link, one place for the
//! shared harness in [`common`]), one module per area. Run one area with
//! `cargo test --features fault-injection --test it distribution::`.

mod common;

mod abuse;
mod architecture;

mod dashboard_api;
mod dashboard_browser;
mod distribution;
mod explain;
mod faults;
mod fleet;
mod foundation;
mod generated;
mod group_leader;
mod handlers;
mod hostile;
mod keyholder;
mod layers;
mod metrics;
mod moves;
mod office_names;
mod ops;
mod properties;
mod publish;
mod publish_http;
mod replicas;
mod slots;
mod storage_guard;
mod tls;
mod topology;
mod trust;
mod ui_session;
mod windows;
