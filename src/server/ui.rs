//! The read-only dashboard (`/ui`), `/metrics`, the admin token that guards
//! both, and the request-metrics middleware.
//!
//! # Access
//!
//! Both live on serve's own listener. They take the **admin token**
//! (created by `install`, rotated by `p2pd ui token`), never the shared
//! key: the shared key admits devices, the admin token admits people and
//! Prometheus. Only its SHA-256 is stored, and each request is checked
//! against the database, so a rotation takes effect at once without a
//! restart. It is given as `Authorization: Bearer TOKEN` (Prometheus,
//! scripts) or, in a browser, once through `/ui/login?token=TOKEN`, which
//! redirects to `/ui`, so the token leaves the address bar and no page
//! ever shows it.
//!
//! # Sessions
//!
//! The browser never keeps the admin token: `/ui/login` checks it and
//! sets a cookie holding a **session id** (256 random bits), `HttpOnly`,
//! `SameSite=Strict`, `Secure` when serve speaks TLS, with a `Max-Age` of
//! [`SESSION_SECS`]. Sessions live in serve's memory ([`Sessions`]), each
//! with its expiry and the digest of the admin token it was opened with:
//! an expired session, one opened with a token since rotated (`p2pd ui
//! token`), or any session after a restart of serve is refused, and
//! logging in again opens a new one. A cookie that holds anything else
//! (such as the raw token, which older versions stored) is refused.
//! Replicas each keep their own sessions. At most [`MAX_SESSIONS`] are
//! kept; past that the one closest to expiry goes.
//!
//! Every response here carries `X-Content-Type-Options: nosniff`,
//! `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
//!
//! # Assets
//!
//! `src/server/ui/` holds the page, its script and its style sheet, embedded
//! with `include_str!`: nothing is loaded from elsewhere at run time and
//! there is no JavaScript build step. The chart is hand-drawn SVG.
//!
//! # Scale
//!
//! Every JSON endpoint returns one page (offices: the children of one
//! office, or the matches of a search; devices: a search page), never the
//! whole fleet, so the dashboard stays usable at 5,000 offices.
//!
//! Uses: `store`, `metrics`, `server::scheduler` (timing). Used by: `server`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ServerState;
use crate::domain::clock::now;
use crate::server::liveness::{DeviceState, Timing};
use crate::store::{Store, StoreError};
use crate::wire::http::ApiError;
use crate::wire::proto::ErrorCode;

type AppState = Arc<ServerState>;

/// The cookie `/ui/login` sets.
const COOKIE: &str = "p2pd_ui";

const INDEX_HTML: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");

/// Most rows one dashboard page returns.
const MAX_PAGE: u32 = 200;

// ---------------------------------------------------------------- token --

/// Makes a new admin token, stores its SHA-256 (replacing any older one)
/// and returns the token. The caller shows it once.
pub fn new_admin_token(st: &Store) -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes)
        .map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("p2pd-admin-{}", hex::encode(bytes));
    st.set_admin_token_sha256(&token_sha256(&token))?;
    Ok(token)
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

// ------------------------------------------------------------- sessions --

/// How long a dashboard session lasts from its login.
pub const SESSION_SECS: u64 = 8 * 3600;

/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 1024;

/// Dashboard sessions, in memory: session id → when it ends and the
/// digest of the admin token it was opened with.
#[derive(Default)]
pub struct Sessions {
    open: parking_lot::Mutex<std::collections::HashMap<String, Session>>,
}

struct Session {
    expires: Instant,
    token_sha256: String,
}

impl Sessions {
    /// Opens a session for a login with the token whose digest is
    /// `token_sha256`; returns its id.
    fn open(&self, token_sha256: String, lifetime: std::time::Duration) -> Result<String, Refused> {
        let mut bytes = [0u8; 32];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes)
            .map_err(|_| Refused("The server could not make a session id; try again.".into()))?;
        let id = hex::encode(bytes);
        let now = Instant::now();
        let mut open = self.open.lock();
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(first) = open
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            open.remove(&first);
        }
        open.insert(
            id.clone(),
            Session {
                expires: now + lifetime,
                token_sha256,
            },
        );
        Ok(id)
    }

    /// The token digest of a live session; forgets it if it has expired.
    fn token_of(&self, id: &str) -> Option<String> {
        let mut open = self.open.lock();
        let s = open.get(id)?;
        if s.expires <= Instant::now() {
            open.remove(id);
            return None;
        }
        Some(s.token_sha256.clone())
    }
}

/// Proof that a request carried the current admin token, or a live session
/// opened with it.
pub struct Admin;

/// Why a request was refused: an HTML page for people, 401 for everyone.
pub struct Refused(String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>p2pd: access refused</title></head>\
             <body><h1 id=\"refused\">Access refused</h1><p>{}</p>\
             <p>Open <code>/ui/login?token=TOKEN</code> with the admin token that <code>p2pd install</code> \
             printed, or make a new one with <code>p2pd ui token</code> on the server. \
             Scripts and Prometheus send <code>Authorization: Bearer TOKEN</code>.</p></body></html>",
            html_escape(&self.0)
        );
        (
            StatusCode::UNAUTHORIZED,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::WWW_AUTHENTICATE, "Bearer realm=\"p2pd\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a request presents: the token (`Authorization: Bearer`), else
/// the session cookie.
enum Presented {
    Token(String),
    Session(String),
    Nothing,
}

fn presented(parts: &Parts) -> Presented {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Presented::Token(t.trim().to_string());
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .map(|v| Presented::Session(v.to_string()))
        .next()
        .unwrap_or(Presented::Nothing)
}

/// Checks a token digest against the stored one.
async fn check_digest(s: &ServerState, digest: &str, rotated: &str) -> Result<(), Refused> {
    let stored =
        s.db.call(|st| Ok(st.admin_token_sha256()?))
            .await
            .map_err(|_| Refused("The database could not be read.".into()))?;
    match stored {
        None => Err(Refused(
            "This server has no admin token yet: run `p2pd ui token` on the server to create one."
                .into(),
        )),
        // Both sides are SHA-256 digests, so comparing them leaks nothing
        // useful about the token even without a constant-time compare.
        Some(h) if h == digest => Ok(()),
        Some(_) => Err(Refused(rotated.into())),
    }
}

/// Checks an admin token; returns its digest.
async fn check_token(s: &ServerState, token: Option<String>) -> Result<String, Refused> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Refused("This page needs the p2pd admin token.".into()));
    };
    let digest = token_sha256(&token);
    check_digest(
        s,
        &digest,
        "The admin token is wrong or was rotated (`p2pd ui token`).",
    )
    .await?;
    Ok(digest)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Refused> {
        match presented(parts) {
            Presented::Token(t) => {
                check_token(s, Some(t)).await?;
            }
            Presented::Session(id) => {
                let digest = s.ui_sessions.token_of(&id).ok_or_else(|| {
                    Refused(
                        "Your dashboard session has expired (or serve restarted): log in again."
                            .into(),
                    )
                })?;
                check_digest(
                    s,
                    &digest,
                    "The admin token was rotated (`p2pd ui token`) since this session began: \
                     log in again with the new token.",
                )
                .await?;
            }
            Presented::Nothing => check_token(s, None).await.map(|_| ())?,
        }
        // A person with the admin token: this connection is no stranger's.
        crate::wire::listen::authenticated(&parts.extensions);
        Ok(Admin)
    }
}

/// Headers on every dashboard and `/metrics` response: no content-type
/// sniffing, no caching of fleet data, no referrer to other sites.
async fn harden(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

// ------------------------------------------------------------- metrics --

/// Middleware on every route: latency by route template and method, and
/// error counts by code (key mismatches among them).
pub async fn track_request(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or_else(|| "(unmatched)".into());
    let method = req.method().as_str().to_string();
    let t = Instant::now();
    let resp = next.run(req).await;
    let code = resp.extensions().get::<ErrorCode>().copied();
    s.metrics
        .observe_request(&route, &method, t.elapsed(), code);
    resp
}

/// A route template as a label: `/v1/contents/{id}/pieces/{n}` →
/// `/v1/contents/:id/pieces/:n`. Braces in label values are valid, but
/// some simple exposition parsers stop at the first `}`.
fn route_label(template: &str) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => name.to_string(),
                Some(name) => format!(":{name}"),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

async fn metrics(State(s): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let fleet =
        s.db.call(|st| {
            let t = now();
            let timing = Timing::load(st)?;
            Ok(crate::metrics::FleetSnapshot::load(
                st,
                t - (3 * timing.heartbeat_secs + 2),
                t,
            )?)
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        s.metrics.render(&fleet),
    )
        .into_response())
}

// ------------------------------------------------------------- routes --

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/login", get(login))
        .route("/ui/app.js", get(app_js))
        .route("/ui/app.css", get(app_css))
        .route("/ui/api/overview", get(overview))
        .route("/ui/api/offices", get(offices))
        .route("/ui/api/series", get(series))
        .route("/ui/api/devices", get(devices))
        .route_layer(axum::middleware::map_response(harden))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn index(_admin: Admin) -> Response {
    let mut r = asset("text/html; charset=utf-8", INDEX_HTML);
    // Nothing from elsewhere, ever: scripts, styles, images, fetches.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

async fn app_js(_admin: Admin) -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css(_admin: Admin) -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[derive(Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// Checks the token once, opens a session, keeps its id in an HttpOnly
/// cookie and sends the browser to `/ui` (so the token leaves the address
/// bar). The token itself is never in the cookie.
async fn login(State(s): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let digest = match check_token(&s, q.token).await {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let lifetime = s.faults.ui_session_lifetime();
    let id = match s.ui_sessions.open(digest, lifetime) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        lifetime.as_secs(),
        if s.tls.is_some() { "; Secure" } else { "" }
    );
    let mut r = Redirect::to("/ui").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------- JSON views --

#[derive(Serialize)]
pub struct Overview {
    pub server_id: String,
    pub version: String,
    pub key_fingerprint: String,
    pub key_version: i64,
    pub distribution_optimization: bool,
    pub assigned_groups: Vec<String>,
    pub min_client_version: String,
    pub max_client_version: String,
    pub file_storage: String,
    pub cdn_url: String,
    pub heartbeat_secs: i64,
    pub offices: i64,
    pub devices: i64,
    pub no_office_devices: i64,
    pub key_mismatch_refusals: u64,
    /// Contents, active first, at most 50.
    pub contents: Vec<ContentItem>,
}

#[derive(Serialize)]
pub struct ContentItem {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub active: bool,
    pub pieces: u32,
    pub devices_targeted: u64,
    pub devices_done: u64,
    /// Pieces held by targeted devices ÷ (targeted devices × pieces), in %.
    pub progress_percent: f64,
}

async fn overview(State(s): State<AppState>, _admin: Admin) -> Result<Json<Overview>, ApiError> {
    let server_id = s.server_id.clone();
    let fingerprint = s.verifier.fingerprint().to_string();
    let key_version = s.key_version.load(std::sync::atomic::Ordering::Relaxed);
    let refusals = s.metrics.key_mismatch_refusals();
    let o =
        s.db.call(move |st| {
            use crate::domain::settings::Setting;
            let get = |x: Setting| -> Result<String, StoreError> {
                Ok(st.setting(x.name())?.unwrap_or_else(|| x.default_value()))
            };
            let counts = st.counts()?;
            let active: std::collections::HashSet<String> = st
                .active_contents(now() - crate::metrics::ACTIVE_WINDOW_SECS)?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            let mut all = st.content_ids()?;
            all.sort_by_key(|(id, _, _)| !active.contains(id));
            let mut contents = Vec::new();
            for (id, name, size) in all.into_iter().take(50) {
                let pieces = st.manifest(&id)?.map(|m| m.piece_count()).unwrap_or(0);
                let (targeted, done, held) = st.content_done(&id)?;
                contents.push(ContentItem {
                    active: active.contains(&id),
                    progress_percent: percent(held, targeted * pieces as u64),
                    id,
                    name,
                    size,
                    pieces,
                    devices_targeted: targeted,
                    devices_done: done,
                });
            }
            Ok(Overview {
                server_id,
                version: crate::VERSION.to_string(),
                key_fingerprint: fingerprint,
                key_version,
                distribution_optimization: crate::topology::optimization_on(st)?,
                assigned_groups: st.assigned_groups()?,
                min_client_version: get(Setting::MinClientVersion)?,
                max_client_version: get(Setting::MaxClientVersion)?,
                file_storage: get(Setting::FileStorage)?,
                cdn_url: get(Setting::CdnUrl)?,
                heartbeat_secs: Timing::load(st)?.heartbeat_secs,
                offices: counts.offices,
                devices: counts.devices,
                no_office_devices: counts.no_office_devices,
                key_mismatch_refusals: refusals,
                contents,
            })
        })
        .await?;
    Ok(Json(o))
}

/// One page of a list view (offices, devices): where it is in the list,
/// then its rows.
#[derive(Serialize)]
struct Page<T> {
    /// Rows in the whole list.
    total: u64,
    page: u32,
    per: u32,
    #[serde(flatten)]
    rows: T,
}

/// The page (from 0) and page size (50 unless asked, at most
/// [`MAX_PAGE`]) a list query asks for.
fn paging(page: Option<u32>, per: Option<u32>) -> (u32, u32) {
    (page.unwrap_or(0), per.unwrap_or(50).clamp(1, MAX_PAGE))
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}

#[derive(Deserialize)]
struct OfficesQuery {
    content: Option<String>,
    /// An office id, or absent for the top of the tree.
    parent: Option<i64>,
    q: Option<String>,
    page: Option<u32>,
    per: Option<u32>,
}

#[derive(Serialize)]
struct OfficeItem {
    id: i64,
    name: String,
    kind: String,
    parent_id: Option<i64>,
    /// For search results: the names from the top down to the parent.
    path: Vec<String>,
    children: u64,
    devices: u64,
    devices_targeted: u64,
    devices_done: u64,
    progress_percent: f64,
    wan_copies: f64,
    leader: Option<String>,
}

#[derive(Serialize)]
struct Offices {
    offices: Vec<OfficeItem>,
    /// No-office devices for the content (shown at the top level only).
    no_office: Option<OfficeItem>,
}

async fn offices(
    State(s): State<AppState>,
    _admin: Admin,
    Query(q): Query<OfficesQuery>,
) -> Result<Json<Page<Offices>>, ApiError> {
    let (page, per) = paging(q.page, q.per);
    let search = q.q.filter(|x| !x.trim().is_empty());
    let page_out =
        s.db.call(move |st| {
            let (total, rows) = st.offices_page(
                if search.is_some() {
                    None
                } else {
                    Some(q.parent)
                },
                search.as_deref(),
                per,
                page.saturating_mul(per),
            )?;
            let content = match &q.content {
                Some(c) => st
                    .manifest(c)?
                    .map(|m| (m.id.to_string(), m.size, m.piece_count())),
                None => None,
            };
            let wan: std::collections::HashMap<Option<i64>, u64> = match &content {
                Some((id, _, _)) => st
                    .wan_bytes(id)?
                    .into_iter()
                    .map(|(o, _, b)| (o, b))
                    .collect(),
                None => Default::default(),
            };
            let item = |st: &Store,
                        id: Option<i64>,
                        row: Option<&crate::store::observe::OfficeListRow>|
             -> Result<OfficeItem, StoreError> {
                let (targeted, done, held) = match &content {
                    Some((c, _, _)) => st.office_done_held(c, id)?,
                    None => (0, 0, 0),
                };
                let pieces = content.as_ref().map_or(0, |c| c.2 as u64);
                let wan_copies = match &content {
                    Some((_, size, _)) if *size > 0 => {
                        wan.get(&id).copied().unwrap_or(0) as f64 / *size as f64
                    }
                    _ => 0.0,
                };
                let leader = match (&content, id) {
                    (Some((c, _, _)), Some(o)) => match st.leader(c, o)? {
                        Some(l) => st
                            .device(&l)?
                            .map(|d| format!("{} ({})", d.hostname, d.addr)),
                        None => None,
                    },
                    _ => None,
                };
                let mut path = Vec::new();
                if let Some(r) = row {
                    let mut p = r.parent_id;
                    while let Some(pid) = p {
                        let Some(o) = st.office(pid)? else { break };
                        path.push(o.name);
                        p = o.parent_id;
                        if path.len() > 64 {
                            break;
                        }
                    }
                    path.reverse();
                }
                Ok(OfficeItem {
                    id: id.unwrap_or(-1),
                    name: row
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|| crate::metrics::NO_OFFICE.into()),
                    kind: row.map(|r| r.kind.clone()).unwrap_or_else(|| "-".into()),
                    parent_id: row.and_then(|r| r.parent_id),
                    path,
                    children: row.map_or(0, |r| r.children),
                    devices: row.map_or(0, |r| r.devices),
                    devices_targeted: targeted,
                    devices_done: done,
                    progress_percent: percent(held, targeted * pieces),
                    wan_copies: (wan_copies * 100.0).round() / 100.0,
                    leader,
                })
            };
            let mut offices = Vec::with_capacity(rows.len());
            for r in &rows {
                offices.push(item(st, Some(r.id), Some(r))?);
            }
            let no_office = if q.parent.is_none() && page == 0 {
                let n = item(st, None, None)?;
                (n.devices_targeted > 0).then_some(n)
            } else {
                None
            };
            Ok(Page {
                total,
                page,
                per,
                rows: Offices { offices, no_office },
            })
        })
        .await?;
    Ok(Json(page_out))
}

#[derive(Deserialize)]
struct SeriesQuery {
    content: String,
}

#[derive(Serialize)]
struct SeriesPoint {
    t: i64,
    lan: u64,
    parent: u64,
    server: u64,
    cdn: u64,
}

#[derive(Serialize)]
struct Series {
    content: String,
    bucket_secs: i64,
    points: Vec<SeriesPoint>,
}

/// Bytes received over time by tier for one content, in at most 60 buckets.
async fn series(
    State(s): State<AppState>,
    _admin: Admin,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Series>, ApiError> {
    let out =
        s.db.call(move |st| {
            let span = st.transfer_span(&q.content)?;
            let bucket = match span {
                Some((a, b)) => ((b - a) / 60 + 1).max(1),
                None => 1,
            };
            let mut points: Vec<SeriesPoint> = Vec::new();
            for (t, tier, bytes) in st.bytes_series(&q.content, bucket)? {
                if points.last().is_none_or(|p| p.t != t) {
                    points.push(SeriesPoint {
                        t,
                        lan: 0,
                        parent: 0,
                        server: 0,
                        cdn: 0,
                    });
                }
                let p = points.last_mut().expect("pushed above");
                match tier.as_str() {
                    "lan" => p.lan += bytes,
                    "parent" => p.parent += bytes,
                    "server" => p.server += bytes,
                    _ => p.cdn += bytes,
                }
            }
            Ok(Series {
                content: q.content,
                bucket_secs: bucket,
                points,
            })
        })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
struct DevicesQuery {
    q: Option<String>,
    page: Option<u32>,
    per: Option<u32>,
}

#[derive(Serialize)]
struct DeviceItem {
    id: String,
    hostname: String,
    addr: String,
    office: String,
    group: String,
    version: String,
    /// online, offline, stale key, stuck, banned
    state: &'static str,
    last_seen_secs_ago: i64,
    score: f64,
    failures: i64,
    uploads_ok: i64,
}

#[derive(Serialize)]
struct Devices {
    devices: Vec<DeviceItem>,
}

async fn devices(
    State(s): State<AppState>,
    _admin: Admin,
    Query(q): Query<DevicesQuery>,
) -> Result<Json<Page<Devices>>, ApiError> {
    let (page, per) = paging(q.page, q.per);
    let out =
        s.db.call(move |st| {
            let t = now();
            let timing = Timing::load(st)?;
            let search = q.q.filter(|x| !x.trim().is_empty());
            let (total, rows) =
                st.devices_page(search.as_deref(), per, page.saturating_mul(per))?;
            let devices = rows
                .into_iter()
                .map(|r| {
                    let d = &r.device;
                    // The same states, in the same order, as `p2pd devices list`.
                    let online = timing.online(d.last_seen, t);
                    let state = DeviceState::of(r.stale_key, online, r.banned, r.stuck).as_str();
                    DeviceItem {
                        id: d.id.clone(),
                        hostname: d.hostname.clone(),
                        addr: d.addr.clone(),
                        office: r
                            .office
                            .clone()
                            .unwrap_or_else(|| crate::metrics::NO_OFFICE.into()),
                        group: d.group_name.clone(),
                        version: d.version.clone(),
                        state,
                        last_seen_secs_ago: t - d.last_seen,
                        score: (super::scheduler::score(d, &timing, t) * 10.0).round() / 10.0,
                        failures: d.failures,
                        uploads_ok: d.uploads_ok,
                    }
                })
                .collect();
            Ok(Page {
                total,
                page,
                per,
                rows: Devices { devices },
            })
        })
        .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_labels_have_no_braces() {
        assert_eq!(
            super::route_label("/v1/contents/{id}/pieces/{n}"),
            "/v1/contents/:id/pieces/:n"
        );
        assert_eq!(
            super::route_label("/v1/storage/{*path}"),
            "/v1/storage/*path"
        );
        assert_eq!(super::route_label("/metrics"), "/metrics");
    }
}
