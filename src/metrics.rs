//! Prometheus metrics for `serve` (`/metrics`) and the agent
//! (`--metrics-listen`), encoded by the `prometheus-client` crate in the
//! OpenMetrics text format.
//!
//! Two kinds of numbers:
//!
//! - **Live** ones that only the running process sees (request latency by
//!   route, key-mismatch refusals, database write batches; an agent's bytes
//!   in and out) live in a [`Registry`] for the life of the process.
//! - **Fleet** ones that the database already records (devices by office
//!   and version, bytes by office and tier, WAN copies, elections,
//!   failovers, bans) are read at scrape time into a fresh registry
//!   ([`FleetSnapshot`]), so they agree with `p2pd report` and survive a
//!   restart of `serve`.
//!
//! Label cardinality is bounded: labels are office names (one per office,
//! 5,000 at most), versions, tiers, routes (the router's templates, never a
//! raw path), error codes and active contents. No device id is ever a label.
//!
//! Uses: `store` (fleet aggregates). Used by: `server`, `agent`.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{Store, StoreError};
use crate::wire::proto::ErrorCode;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Office label of devices and bytes with no office.
pub const NO_OFFICE: &str = "(no office)";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    route: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OfficeVersion {
    office: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OfficeTier {
    office: String,
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OfficeContent {
    office: String,
    content: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// The live metrics of one `serve` process.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    requests: Family<RouteLabels, Histogram>,
    errors: Family<ErrorLabels, Counter>,
    key_mismatch: Counter,
    batch_rows: Family<OpLabels, Histogram>,
    batch_seconds: Family<OpLabels, Histogram>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerMetrics {
    pub fn new() -> ServerMetrics {
        let mut registry = Registry::default();
        // 0.5 ms .. ~16 s: a heartbeat takes about a millisecond, a piece
        // from file storage up to seconds.
        let requests = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let errors = Family::<ErrorLabels, Counter>::default();
        let key_mismatch = Counter::default();
        let batch_rows = Family::<OpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 12))
        });
        let batch_seconds = Family::<OpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "p2pd_http_request_duration_seconds",
            "Time to answer a request, by route template and method",
            requests.clone(),
        );
        registry.register(
            "p2pd_http_errors",
            "Requests answered with an error, by route template and error code",
            errors.clone(),
        );
        registry.register(
            "p2pd_key_mismatch_refusals",
            "Requests refused because they were signed with a retired key",
            key_mismatch.clone(),
        );
        registry.register(
            "p2pd_db_write_batch_rows",
            "Rows written per database write batch (one heartbeat or report), by operation",
            batch_rows.clone(),
        );
        registry.register(
            "p2pd_db_write_batch_duration_seconds",
            "Time to write one database write batch, by operation",
            batch_seconds.clone(),
        );
        let info = Family::<VersionLabels, Gauge>::default();
        info.get_or_create(&VersionLabels {
            version: crate::VERSION.to_string(),
        })
        .set(1);
        registry.register("p2pd_build_info", "The version of this serve", info);
        ServerMetrics {
            registry,
            requests,
            errors,
            key_mismatch,
            batch_rows,
            batch_seconds,
        }
    }

    /// Records one answered request. `route` is the router's template
    /// (`/v1/contents/:id/pieces/:n`), `code` the wire error code if any.
    pub fn observe_request(
        &self,
        route: &str,
        method: &str,
        elapsed: Duration,
        code: Option<ErrorCode>,
    ) {
        self.requests
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(code) = code {
            self.errors
                .get_or_create(&ErrorLabels {
                    route: route.to_string(),
                    code: code.as_str().to_string(),
                })
                .inc();
            if code == ErrorCode::KeyMismatch {
                self.key_mismatch.inc();
            }
        }
    }

    /// Records one database write batch of `rows` rows.
    pub fn observe_write(&self, op: &str, rows: usize, elapsed: Duration) {
        let l = OpLabels { op: op.to_string() };
        self.batch_rows.get_or_create(&l).observe(rows as f64);
        self.batch_seconds
            .get_or_create(&l)
            .observe(elapsed.as_secs_f64());
    }

    /// Key-mismatch refusals since start.
    pub fn key_mismatch_refusals(&self) -> u64 {
        self.key_mismatch.get()
    }

    /// The whole exposition: live metrics, then the fleet snapshot.
    pub fn render(&self, fleet: &FleetSnapshot) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &fleet.registry());
        let _ = encode_eof(&mut out);
        out
    }
}

/// What the database says about the fleet, read at scrape time.
#[derive(Debug, Default, Clone)]
pub struct FleetSnapshot {
    /// (office, version, enrolled, online)
    pub devices: Vec<(String, String, u64, u64)>,
    /// (office, tier, verified bytes received), over every content.
    pub bytes: Vec<(String, String, u64)>,
    /// (office, content "name version (id12)", WAN copies) for active contents.
    pub wan_copies: Vec<(String, String, f64)>,
    pub elections: u64,
    pub failovers: u64,
    pub bans: u64,
}

/// Contents that finished longer ago than this are no longer "active".
pub const ACTIVE_WINDOW_SECS: i64 = 3600;

impl FleetSnapshot {
    /// Reads the snapshot. `online_since`: devices seen at or after this
    /// time count as online.
    pub fn load(st: &Store, online_since: i64, now: i64) -> Result<FleetSnapshot, StoreError> {
        let office = |o: Option<String>| o.unwrap_or_else(|| NO_OFFICE.to_string());
        let devices = st
            .devices_by_office_version(online_since)?
            .into_iter()
            .map(|c| (office(c.office), c.version, c.enrolled, c.online))
            .collect();
        let bytes = st
            .bytes_by_office_tier()?
            .into_iter()
            .map(|(o, t, b)| (office(o), t, b))
            .collect();
        let mut wan_copies = Vec::new();
        for (id, name, size) in st.active_contents(now - ACTIVE_WINDOW_SECS)? {
            let label = content_label(&name, &id);
            for (_, o, b) in st.wan_bytes(&id)? {
                let copies = if size == 0 {
                    0.0
                } else {
                    b as f64 / size as f64
                };
                wan_copies.push((office(o), label.clone(), copies));
            }
        }
        let (elections, failovers) = st.election_counts()?;
        Ok(FleetSnapshot {
            devices,
            bytes,
            wan_copies,
            elections,
            failovers,
            bans: st.ban_count()?,
        })
    }

    fn registry(&self) -> Registry {
        let mut r = Registry::default();
        let enrolled = Family::<OfficeVersion, Gauge>::default();
        let online = Family::<OfficeVersion, Gauge>::default();
        for (office, version, e, o) in &self.devices {
            let l = OfficeVersion {
                office: office.clone(),
                version: version.clone(),
            };
            enrolled.get_or_create(&l).set(*e as i64);
            online.get_or_create(&l).set(*o as i64);
        }
        r.register(
            "p2pd_devices_enrolled",
            "Enrolled devices, by office and client version",
            enrolled,
        );
        r.register(
            "p2pd_devices_online",
            "Devices that sent a heartbeat recently, by office and client version",
            online,
        );
        let bytes = Family::<OfficeTier, Counter>::default();
        for (office, tier, b) in &self.bytes {
            bytes
                .get_or_create(&OfficeTier {
                    office: office.clone(),
                    tier: tier.clone(),
                })
                .inc_by(*b);
        }
        r.register(
            "p2pd_received_bytes",
            "Verified bytes devices received, by their office and the source tier (lan, parent, server, cdn)",
            bytes,
        );
        let wan = Family::<OfficeContent, Gauge<f64, AtomicU64>>::default();
        for (office, content, c) in &self.wan_copies {
            wan.get_or_create(&OfficeContent {
                office: office.clone(),
                content: content.clone(),
            })
            .set(*c);
        }
        r.register(
            "p2pd_wan_copies",
            "Copies of an active content that entered an office over its WAN link (bytes from parent, server and CDN ÷ size)",
            wan,
        );
        let counter = |v: u64| {
            let c: Counter = Counter::default();
            c.inc_by(v);
            c
        };
        r.register(
            "p2pd_leader_elections",
            "Offices that got their first leader for a content",
            counter(self.elections),
        );
        r.register(
            "p2pd_leader_failovers",
            "Leaders replaced (offline, stalled or banned) by another device",
            counter(self.failovers),
        );
        r.register(
            "p2pd_bans",
            "Devices banned from serving a content after sending a bad piece",
            counter(self.bans),
        );
        r
    }
}

/// The `content` label: name, version and the first 12 hex digits of the id.
pub fn content_label(name_version: &str, id: &str) -> String {
    format!("{name_version} ({})", &id[..12.min(id.len())])
}

/// An agent's own counters, for `p2pd agent --metrics-listen`.
///
/// One per process: an agent process is one device, so a process-wide
/// registry is the agent's registry.
#[derive(Debug)]
pub struct AgentMetrics {
    registry: Registry,
    received_bytes: Family<TierLabels, Counter>,
    received_pieces: Family<TierLabels, Counter>,
    failed_pieces: Family<TierLabels, Counter>,
    served_bytes: Counter,
    served_pieces: Counter,
}

/// The agent's metrics.
pub static AGENT: LazyLock<AgentMetrics> = LazyLock::new(AgentMetrics::new);

impl AgentMetrics {
    fn new() -> AgentMetrics {
        let mut registry = Registry::default();
        let received_bytes = Family::<TierLabels, Counter>::default();
        let received_pieces = Family::<TierLabels, Counter>::default();
        let failed_pieces = Family::<TierLabels, Counter>::default();
        let served_bytes = Counter::default();
        let served_pieces = Counter::default();
        registry.register(
            "p2pd_agent_received_bytes",
            "Verified bytes this device received, by source tier",
            received_bytes.clone(),
        );
        registry.register(
            "p2pd_agent_received_pieces",
            "Verified pieces this device received, by source tier",
            received_pieces.clone(),
        );
        registry.register(
            "p2pd_agent_failed_pieces",
            "Pieces this device received that failed verification or transfer, by source tier",
            failed_pieces.clone(),
        );
        registry.register(
            "p2pd_agent_served_bytes",
            "Bytes this device served to peers",
            served_bytes.clone(),
        );
        registry.register(
            "p2pd_agent_served_pieces",
            "Pieces this device served to peers",
            served_pieces.clone(),
        );
        let info = Family::<VersionLabels, Gauge>::default();
        info.get_or_create(&VersionLabels {
            version: crate::VERSION.to_string(),
        })
        .set(1);
        registry.register("p2pd_agent_build_info", "The version of this agent", info);
        AgentMetrics {
            registry,
            received_bytes,
            received_pieces,
            failed_pieces,
            served_bytes,
            served_pieces,
        }
    }

    /// A piece received from `tier` (`ok`: it verified).
    pub fn received(&self, tier: &str, bytes: u64, ok: bool) {
        let l = TierLabels {
            tier: tier.to_string(),
        };
        if ok {
            self.received_bytes.get_or_create(&l).inc_by(bytes);
            self.received_pieces.get_or_create(&l).inc();
        } else {
            self.failed_pieces.get_or_create(&l).inc();
        }
    }

    /// A piece served to a peer.
    pub fn served(&self, bytes: u64) {
        self.served_bytes.inc_by(bytes);
        self.served_pieces.inc();
    }

    /// Verified bytes received from a tier so far.
    pub fn received_bytes(&self, tier: &str) -> u64 {
        self.received_bytes
            .get_or_create(&TierLabels {
                tier: tier.to_string(),
            })
            .get()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_eof(&mut out);
        out
    }
}

/// Binds `addr` and serves the agent's `/metrics` there, in a task, until
/// `shutdown` is cancelled; returns the address bound (a port of 0 picks
/// a free one).
pub async fn spawn_agent_metrics(
    addr: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    tokio::spawn(async move {
        if let Err(e) = serve_agent_metrics(listener, shutdown).await {
            tracing::warn!("metrics listener stopped: {e}");
        }
    });
    Ok(addr)
}

/// Serves an agent's `/metrics` on `listener` until `shutdown` is cancelled.
pub async fn serve_agent_metrics(
    listener: tokio::net::TcpListener,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
                AGENT.render(),
            )
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_the_live_and_the_fleet_families() {
        let m = ServerMetrics::new();
        m.observe_request(
            "/v1/heartbeat",
            "POST",
            Duration::from_millis(3),
            Some(ErrorCode::KeyMismatch),
        );
        m.observe_write("heartbeat", 3, Duration::from_micros(400));
        let fleet = FleetSnapshot {
            devices: vec![("Branch \"A\"".into(), "0.1.0".into(), 4, 3)],
            bytes: vec![("Branch \"A\"".into(), "lan".into(), 1234)],
            wan_copies: vec![("Branch \"A\"".into(), "app 1.0 (0123456789ab)".into(), 1.0)],
            elections: 2,
            failovers: 1,
            bans: 0,
        };
        let text = m.render(&fleet);
        assert!(
            text.contains("p2pd_key_mismatch_refusals_total 1"),
            "{text}"
        );
        assert!(
            text.contains(r#"p2pd_received_bytes_total{office="Branch \"A\"",tier="lan"} 1234"#),
            "{text}"
        );
        assert!(text.contains("p2pd_leader_failovers_total 1"), "{text}");
        assert!(
            text.contains(r#"p2pd_db_write_batch_rows_count{op="heartbeat"} 1"#),
            "{text}"
        );
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.ends_with("# EOF\n"));
    }
}
