//! HTTP plumbing shared by the server and the agent: signed requests on
//! both sides, and JSON errors on the wire.

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::domain::DeviceId;
use crate::trust::key::{SharedKey, Verifier, VerifyError};
use crate::wire::proto::{ErrorBody, ErrorCode, Invalid, WireError};

/// An error answered to a client as `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `key_mismatch`: the server's current key fingerprint, so a
    /// client can say which key it needs without parsing the message.
    pub current_key: Option<String>,
    /// For `rate_limited`: the `Retry-After` seconds.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            current_key: None,
            retry_after: None,
        }
    }

    /// `rate_limited` (429) with `Retry-After: secs`.
    pub fn rate_limited(message: impl Into<String>, secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(secs.max(1)),
            ..ApiError::new(ErrorCode::RateLimited, message)
        }
    }
    /// An error that is the server's, not the caller's: logged in full
    /// with a short request id, while the client gets only that id and a
    /// generic message (the text may name database paths or internals).
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        let id = hex::encode(rand::random::<[u8; 4]>());
        tracing::error!(request_id = %id, "internal error: {e}");
        ApiError::new(
            ErrorCode::Internal,
            format!("internal server error (request {id}); the server's log has the details"),
        )
    }
}

// The one place where errors meet their wire codes.

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        let current_key = match &e {
            VerifyError::KeyMismatch { current, .. } => Some(current.clone()),
            _ => None,
        };
        ApiError {
            code: (&e).into(),
            message: e.to_string(),
            current_key,
            retry_after: None,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        // A write asked of one of serve's read-only connections: the work
        // runs again on the writer (`server::Db::read_or_write`), which is
        // no internal error; `server::Db::read` logs one that is not retried.
        if e.needs_writer() {
            return ApiError::new(ErrorCode::Internal, e.to_string());
        }
        if let crate::store::StoreError::LicenseCap { .. } = e {
            return ApiError::new(ErrorCode::LicenseLimit, e.to_string());
        }
        ApiError::internal(e)
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::new(ErrorCode::BadRequest, format!("bad request: {e}"))
    }
}

impl From<&VerifyError> for ErrorCode {
    fn from(e: &VerifyError) -> Self {
        match e {
            VerifyError::Unsigned(_) => ErrorCode::Unsigned,
            VerifyError::KeyMismatch { .. } => ErrorCode::KeyMismatch,
            VerifyError::BadSignature => ErrorCode::BadSignature,
            VerifyError::Expired { .. } => ErrorCode::Expired,
            VerifyError::Replay(_) => ErrorCode::Replay,
            VerifyError::Counter(c) => match c {
                crate::trust::replay::CounterError::Replayed { .. } => ErrorCode::Replay,
                crate::trust::replay::CounterError::OutOfWindow { .. } => ErrorCode::Expired,
                crate::trust::replay::CounterError::Full => ErrorCode::Overloaded,
            },
        }
    }
}

/// What `Retry-After` says to a refused (`overloaded`) client, in seconds.
pub const RETRY_AFTER_SECS: u64 = 2;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: WireError {
                code: self.code,
                message: self.message,
                current_key: self.current_key,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let retry_after = match self.code {
            ErrorCode::Overloaded => Some(RETRY_AFTER_SECS),
            ErrorCode::RateLimited => Some(self.retry_after.unwrap_or(1)),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        // For the request metrics (error counts by code, key mismatches).
        resp.extensions_mut().insert(self.code);
        resp
    }
}

/// Verifies a request's signature over method, path (with query) and body.
pub fn verify(
    v: &Verifier,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    v.verify_at(
        method.as_str(),
        path,
        body,
        |name| headers.get(name).and_then(|h| h.to_str().ok()),
        now,
    )
    .map_err(ApiError::from)
}

/// State that can verify signed requests (the server's and the agent's).
pub trait Verifies {
    fn verifier(&self) -> &Verifier;

    /// The time requests are checked against: the server's own clock, or
    /// for an agent the server's clock as it learned it (so that two agents
    /// with wrong clocks still accept each other).
    fn now(&self) -> i64 {
        crate::domain::clock::now()
    }

    /// Told about each request refused for `key_mismatch`, with the
    /// fingerprint it was signed with and who, if anyone, is proven to
    /// have sent it ([`RefusedBy`]). The server records a proven device so
    /// the admin can see which devices still hold an old key; a request
    /// that only names a device proves nothing.
    fn key_refused(&self, _fingerprint: &str, _by: RefusedBy) {}

    /// Whether a request to `path` over TLS must come with a device
    /// certificate. serve answers enrollment (the device has no
    /// certificate yet) and `status` (admin tools) without one.
    fn needs_identity(&self, _path: &str) -> bool {
        true
    }

    /// The identity a trusted TLS-terminating proxy forwarded for this
    /// request, if the connection comes from one (serve's `--trusted-proxy`).
    fn forwarded_identity(
        &self,
        _conn: &crate::wire::listen::Conn,
        _headers: &HeaderMap,
    ) -> Result<Option<crate::trust::tls::Identity>, ApiError> {
        Ok(None)
    }
}

/// Every device a request names, wherever a name can go: each decoded
/// `device=` / `device_id=` query parameter (percent-encoded keys decoded
/// as axum's `Query` decodes them, every occurrence, not just the first),
/// the signer header, and a JSON body's top-level `device_id` / `device`.
/// The identity check compares all of them with the certificate, so no
/// spelling a handler could read escapes it.
fn named_devices(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(q) = uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if matches!(k.as_ref(), "device" | "device_id") {
                names.push(v.into_owned());
            }
        }
    }
    if let Some(signer) = headers
        .get(crate::trust::key::H_DEVICE)
        .and_then(|h| h.to_str().ok())
    {
        names.push(signer.to_string());
    }
    // Only the two fields are read (serde skips the rest without building
    // it): a heartbeat body is parsed in full once, by its handler.
    #[derive(serde::Deserialize)]
    struct Named {
        device_id: Option<serde_json::Value>,
        device: Option<serde_json::Value>,
    }
    if body.first() == Some(&b'{')
        && let Ok(n) = serde_json::from_slice::<Named>(body)
    {
        for v in [n.device_id, n.device].into_iter().flatten() {
            match v {
                serde_json::Value::String(v) => names.push(v),
                serde_json::Value::Null => {}
                // A name that is not a string cannot be compared: refused
                // below as a name no certificate carries.
                other => names.push(other.to_string()),
            }
        }
    }
    names
}

/// Who is proven to have sent a request refused for its key. Only such
/// evidence may change a device's state: anyone can name any device in a
/// request whose signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedBy {
    /// The device the connection's client certificate names.
    Certificate(String),
    /// An enrollment naming a device and carrying a device secret: proof
    /// once the receiver checks the secret against the one it gave.
    Secret { device: String, secret: String },
    /// Nobody in particular.
    Nobody,
}

impl RefusedBy {
    fn of(conn: Option<&crate::wire::listen::Conn>, body: &[u8]) -> RefusedBy {
        if let Some(crate::trust::tls::Identity::Device(id)) =
            conn.filter(|c| c.tls).and_then(|c| c.identity.as_ref())
        {
            return RefusedBy::Certificate(id.clone());
        }
        #[derive(serde::Deserialize)]
        struct Claim {
            device_id: String,
            device_secret: String,
        }
        match serde_json::from_slice::<Claim>(body) {
            Ok(c) => RefusedBy::Secret {
                device: c.device_id,
                secret: c.device_secret,
            },
            Err(_) => RefusedBy::Nobody,
        }
    }
}

/// Who a verified request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A device: the one its client certificate names (TLS), or on plain
    /// HTTP the one the signed request names.
    Device(DeviceId),
    /// serve itself, by its certificate (probing or re-checking an agent).
    Server(String),
    /// Nobody in particular: TLS without a client certificate (enrollment,
    /// status), or a plain request that names no device.
    Anonymous,
}

/// The identity a request acts for, and the refusal of any name that
/// differs from it.
///
/// On TLS the client certificate decides, and nothing else: a device id in
/// the query, the signer header or the body that differs is refused; one
/// that agrees is redundant. A route that needs an identity refuses a
/// connection without a certificate. Plain HTTP has no identities (the
/// shared key is all there is): the request's own names must agree with
/// each other, and that name is the caller.
fn caller_of(
    conn: Option<&crate::wire::listen::Conn>,
    names: &[String],
    needed: bool,
) -> Result<Caller, ApiError> {
    use crate::trust::tls::Identity;
    let mismatch = |named: &str, by: &str| {
        ApiError::new(
            ErrorCode::IdentityMismatch,
            format!(
                "this request names device {}, but {by}; a device acts only for itself",
                crate::wire::proto::shown(named)
            ),
        )
    };
    match conn.filter(|c| c.tls) {
        Some(c) => match &c.identity {
            Some(Identity::Device(id)) => {
                if let Some(other) = names.iter().find(|n| *n != id) {
                    return Err(mismatch(
                        other,
                        &format!("the client's certificate is device {id}'s"),
                    ));
                }
                Ok(Caller::Device(DeviceId::proved(id.clone())))
            }
            Some(Identity::Server(id)) => {
                if let Some(other) = names.first() {
                    return Err(mismatch(other, "the client's certificate is the server's"));
                }
                Ok(Caller::Server(id.clone()))
            }
            None if needed => Err(ApiError::new(
                ErrorCode::IdentityMismatch,
                "this request needs a device certificate: enroll first (the agent sends a CSR \
                 at enrollment and uses the certificate it gets for every later request)",
            )),
            None => Ok(Caller::Anonymous),
        },
        None => {
            let Some(first) = names.first() else {
                return Ok(Caller::Anonymous);
            };
            if let Some(other) = names.iter().find(|n| *n != first) {
                return Err(mismatch(
                    other,
                    &format!("it also names device {}", crate::wire::proto::shown(first)),
                ));
            }
            Ok(Caller::Device(DeviceId::proved(first.clone())))
        }
    }
}

/// Largest request body accepted. Heartbeats and reports are a few KiB;
/// their arrays are capped at [`crate::wire::proto::limits::MAX_ITEMS`] entries,
/// which stays well below this.
pub const MAX_BODY: usize = 1 << 20;

fn too_large(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body {what} is larger than the {MAX_BODY} bytes accepted"),
    )
}

/// Extractor for a request whose signature checked out: every handler on
/// the control plane and the peer data plane takes one, so no route can
/// forget to verify. Holds the body and who the request acts for
/// ([`Caller`]): a handler takes the device from here
/// ([`Signed::device`]), never from its query or body.
pub struct Signed {
    pub body: Bytes,
    pub caller: Caller,
}

impl Signed {
    /// The body as JSON, or `bad_request`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad request body: {e}")))
    }

    /// The device this request acts for, or `identity_mismatch` when it is
    /// not a device's.
    pub fn device(&self) -> Result<&DeviceId, ApiError> {
        match &self.caller {
            Caller::Device(d) => Ok(d),
            Caller::Server(_) | Caller::Anonymous => Err(ApiError::new(
                ErrorCode::IdentityMismatch,
                "this request names no enrolled device: it must come from an enrolled agent, \
                 over its device certificate (enroll first)",
            )),
        }
    }
}

impl<T: Verifies + Send + Sync + 'static> FromRequest<Arc<T>> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<T>) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        // Refuse a declared oversize body before reading any of it.
        let declared = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > MAX_BODY as u64) {
            return Err(too_large(format!("of {n} bytes")));
        }
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                return too_large("(streamed)");
            }
            ApiError::new(
                ErrorCode::BadRequest,
                format!("cannot read the request body: {e}"),
            )
        })?;
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let checked = state.verifier().verify_at(
            parts.method.as_str(),
            path,
            &body,
            |name| parts.headers.get(name).and_then(|h| h.to_str().ok()),
            state.now(),
        );
        let mut conn = parts.extensions.get::<crate::wire::listen::Conn>().cloned();
        if let Err(e) = checked {
            if let VerifyError::KeyMismatch { presented, .. } = &e {
                state.key_refused(presented, RefusedBy::of(conn.as_ref(), &body));
            }
            return Err(e.into());
        }
        // A key holder: its connection leaves the strangers' pool.
        crate::wire::listen::authenticated(&parts.extensions);
        if let Some(c) = &mut conn
            && let Some(id) = state.forwarded_identity(c, &parts.headers)?
        {
            // The proxy verified the device's certificate; serve checked
            // it again against the CA. It counts as the connection's.
            c.identity = Some(id);
            c.tls = true;
        }
        // The signer header (whose counters a request advances) is one of
        // the names: a device signs and counts only its own requests.
        let names = named_devices(&parts.uri, &parts.headers, &body);
        let caller = caller_of(
            conn.as_ref(),
            &names,
            state.needs_identity(parts.uri.path()),
        )?;
        Ok(Signed { body, caller })
    }
}

/// Why a call to the server or a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The other side answered with a wire error.
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Wire(WireError),
    /// reqwest's own text ("error sending request for url ...") hides the
    /// cause; the display walks the source chain so "connection refused"
    /// or "timed out" reaches the log line.
    #[error("{}", error_chain(.0))]
    Transport(#[from] reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// A peer whose certificate names another device than the one asked.
    #[error("{0}")]
    WrongPeer(String),
    /// The certificate the server issued at enrollment is not usable.
    #[error("device certificate: {0}")]
    Certificate(String),
}

impl CallError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            CallError::Wire(w) => Some(w.code),
            _ => None,
        }
    }
}

/// A reqwest client that signs every request with the shared key.
///
/// The key can be replaced while requests are in flight ([`set_key`]):
/// the agent re-reads its key file when it changes, so a key roll-out
/// needs no restart.
///
/// [`set_key`]: SignedClient::set_key
#[derive(Clone)]
pub struct SignedClient {
    /// For the server: it must prove the server's identity. Rebuilt when
    /// the device certificate is renewed ([`SignedClient::renew_tls`]).
    http: Arc<parking_lot::RwLock<reqwest::Client>>,
    /// For peers: they must prove a device's identity (which device is
    /// checked per answer, [`peer_checked`]). Rebuilt with `http`.
    peers: Arc<parking_lot::RwLock<reqwest::Client>>,
    /// For public URLs (a CDN) only: the platform's roots, never the CA.
    /// Built on first use: loading the platform's roots costs more than
    /// the rest of the client, and most agents never use it.
    public: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// The CA and the device certificate, on TLS; `None` on plain HTTP.
    tls: Option<ClientTls>,
    local: Option<IpAddr>,
    key: Arc<parking_lot::RwLock<SharedKey>>,
    /// Seconds added to this host's clock when signing: an agent signs
    /// with the server's time, learned at enrollment and each heartbeat.
    clock_offset: Arc<AtomicI64>,
    /// The enrolled device requests are signed as, with its counter
    /// ([`crate::trust::replay`]); `None` before enrollment and for admin tools.
    device: Arc<parking_lot::RwLock<Option<String>>>,
    counter: Arc<AtomicU64>,
    /// Per origin (`scheme://host:port`): no request before this instant.
    /// Set when that origin answered 503 with `Retry-After`, so every task
    /// of the agent (heartbeats, sources, reports) backs off together.
    not_before: Arc<parking_lot::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}

/// The longest `Retry-After` honoured; a larger value is clamped so that a
/// bad header cannot silence an agent for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The wait a 503 asks for: `Retry-After` seconds (1 when absent or not a
/// number), clamped to [`MAX_RETRY_AFTER`], plus up to 50% random jitter so
/// that refused agents do not come back in one wave.
pub fn retry_after_wait(header: Option<&str>, jitter: f64) -> Duration {
    let secs = header
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    let base = Duration::from_secs(secs).min(MAX_RETRY_AFTER);
    base + base.mul_f64(jitter.clamp(0.0, 1.0) * 0.5)
}

/// `d` scaled by a random factor in [0.5, 1.5): retries of many agents
/// that failed together (a server restart) spread out instead of arriving
/// in one wave.
pub fn jittered(d: Duration) -> Duration {
    d.mul_f64(0.5 + rand::random::<f64>())
}

fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_string(),
    }
}

/// What a client trusts and proves on TLS.
#[derive(Clone)]
pub struct ClientTls {
    /// The server CA: the server and every peer must prove a certificate
    /// from it.
    pub trust: crate::trust::tls::Trust,
    /// The certificate this client presents (the device's, once enrolled;
    /// serve's own when it probes an agent).
    pub cert: Arc<dyn rustls::client::ResolvesClientCert>,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("http client: {}", error_chain(.0))]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Tls(#[from] crate::trust::tls::TlsError),
}

/// A reqwest client for the server (`Expect::Server`) or for peers
/// (`Expect::Device`): with `tls`, only TLS 1.3 to endpoints proving a
/// certificate from the CA with that identity. A peer client also keeps
/// each response's TLS details, so the caller can check that the peer is
/// the very device it asked for ([`peer_checked`]).
pub fn build_client(
    local: Option<IpAddr>,
    tls: Option<&ClientTls>,
    expect: crate::trust::tls::Expect,
) -> Result<reqwest::Client, ClientError> {
    crate::trust::tls::install_default_provider();
    let b = reqwest::Client::builder()
        .local_address(local)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .tls_info(expect == crate::trust::tls::Expect::Device);
    let b = match tls {
        Some(t) => b
            .use_preconfigured_tls(t.trust.client_config(t.cert.clone(), expect)?)
            .https_only(true),
        None => b,
    };
    Ok(b.build()?)
}

/// A peer's answer, once its certificate proved it is `device` (on TLS;
/// plain HTTP has no identities to check). Another device at the address
/// the scheduler gave, even one with a valid certificate, is refused
/// before a byte of its answer is used.
pub fn peer_checked(resp: reqwest::Response, device: &str) -> Result<reqwest::Response, CallError> {
    if !resp.url().scheme().eq_ignore_ascii_case("https") {
        return Ok(resp);
    }
    let cert = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate());
    crate::trust::tls::peer_is(cert, device).map_err(CallError::WrongPeer)?;
    Ok(resp)
}

impl SignedClient {
    /// A plain-HTTP client (benchmarks, tests of the signing layer).
    /// `local` binds outgoing connections to the device's own address, so
    /// the address the server sees is the one the agent reports.
    pub fn new(key: SharedKey, local: Option<IpAddr>) -> Result<SignedClient, ClientError> {
        SignedClient::with_tls(key, local, None)
    }

    /// With `tls`, the server and peers must prove a certificate from the
    /// CA, and this client presents `tls.cert` when it holds one.
    pub fn with_tls(
        key: SharedKey,
        local: Option<IpAddr>,
        tls: Option<ClientTls>,
    ) -> Result<SignedClient, ClientError> {
        let http = build_client(local, tls.as_ref(), crate::trust::tls::Expect::Server)?;
        let peers = build_client(local, tls.as_ref(), crate::trust::tls::Expect::Device)?;
        Ok(SignedClient {
            http: Arc::new(parking_lot::RwLock::new(http)),
            peers: Arc::new(parking_lot::RwLock::new(peers)),
            public: Arc::default(),
            tls,
            local,
            key: Arc::new(parking_lot::RwLock::new(key)),
            clock_offset: Arc::new(AtomicI64::new(0)),
            device: Arc::default(),
            counter: Arc::new(AtomicU64::new(0)),
            not_before: Arc::default(),
        })
    }

    /// After the device certificate changed (enrollment, renewal): later
    /// requests use new connections that present it. Connections in use
    /// finish on the old one.
    pub fn renew_tls(&self) -> Result<(), ClientError> {
        if self.tls.is_none() {
            return Ok(());
        }
        let http = build_client(
            self.local,
            self.tls.as_ref(),
            crate::trust::tls::Expect::Server,
        )?;
        let peers = build_client(
            self.local,
            self.tls.as_ref(),
            crate::trust::tls::Expect::Device,
        )?;
        *self.http.write() = http;
        *self.peers.write() = peers;
        Ok(())
    }

    /// True when this client speaks TLS to the server and peers.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn http(&self) -> reqwest::Client {
        self.http.read().clone()
    }

    /// The client for public URLs (an unsigned CDN download).
    pub fn public(&self) -> &reqwest::Client {
        self.public.get_or_init(|| {
            crate::trust::tls::install_default_provider();
            reqwest::Client::builder()
                .local_address(self.local)
                .connect_timeout(Duration::from_secs(5))
                .build()
                // Only a TLS back end that cannot start fails here; the
                // download through it then fails with that error.
                .unwrap_or_default()
        })
    }

    /// Waits while `url`'s origin asked us (503 + `Retry-After`) to stay away.
    async fn wait_turn(&self, url: &str) {
        let until = self.not_before.lock().get(&origin(url)).copied();
        if let Some(t) = until {
            tokio::time::sleep_until(t.into()).await;
        }
    }

    /// Sends, after honouring an earlier `Retry-After` from the same
    /// origin; a 503 answer sets the next wait.
    pub async fn send(
        &self,
        url: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        self.wait_turn(url).await;
        let resp = rb.send().await?;
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE
            || resp.status() == StatusCode::TOO_MANY_REQUESTS
        {
            let wait = retry_after_wait(
                resp.headers()
                    .get(axum::http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
                rand::random::<f64>(),
            );
            tracing::debug!(url, ?wait, "server overloaded; backing off");
            self.not_before
                .lock()
                .insert(origin(url), std::time::Instant::now() + wait);
        }
        Ok(resp)
    }

    /// The key requests are signed with now.
    pub fn key(&self) -> SharedKey {
        self.key.read().clone()
    }

    /// Signs every later request with `key` (all clones share it).
    pub fn set_key(&self, key: SharedKey) {
        *self.key.write() = key;
    }

    /// Signs from now on with this host's clock plus `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    /// Signs every later request as `device`, with a counter
    /// (`x-p2pd-device`, `x-p2pd-counter`; see [`crate::trust::replay`]).
    pub fn set_device(&self, device: &str) {
        *self.device.write() = (!device.is_empty()).then(|| device.to_string());
    }

    /// The next request counter: this host's clock (plus the offset) in
    /// microseconds, or one more than the last when that is larger.
    fn next_counter(&self) -> u64 {
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64
            + self.clock_offset.load(Ordering::Relaxed) * 1_000_000;
        let now_us = now_us.max(0) as u64;
        let prev = self
            .counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(crate::trust::replay::next_counter(last, now_us))
            })
            .expect("the update always succeeds");
        crate::trust::replay::next_counter(prev, now_us)
    }

    /// This host's clock plus the offset: the time requests are signed with.
    pub fn now(&self) -> i64 {
        crate::domain::clock::now() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Builds a signed request. `url` must be absolute.
    ///
    /// The signature covers the path exactly as it goes on the wire: the
    /// URL is parsed (which percent-encodes spaces and non-ASCII) before
    /// the path is taken from it, because the receiver verifies the
    /// encoded path it was sent, not the text the caller wrote.
    pub fn request(&self, method: Method, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.signed(self.http(), method, url, body)
    }

    /// A signed request to a peer: the connection must prove a device
    /// certificate (never the server's), and the caller checks the answer
    /// with [`peer_checked`] against the device it meant to ask.
    pub fn peer_request(
        &self,
        method: Method,
        url: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let peers = self.peers.read().clone();
        self.signed(peers, method, url, body)
    }

    fn signed(
        &self,
        http: reqwest::Client,
        method: Method,
        url: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let parsed = reqwest::Url::parse(url);
        let path = match &parsed {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            },
            // reqwest reports the bad URL when the request is sent.
            Err(_) => "/".to_string(),
        };
        let mut rb = match parsed {
            Ok(u) => http.request(method.clone(), u),
            Err(_) => http.request(method.clone(), url),
        };
        let key = self.key();
        let device = self.device.read().clone();
        let headers = match device {
            Some(d) => key.sign_device_at(
                method.as_str(),
                &path,
                &body,
                self.now(),
                &d,
                self.next_counter(),
            ),
            None => key.sign_at(method.as_str(), &path, &body, self.now()),
        };
        for (name, value) in headers {
            rb = rb.header(name, value);
        }
        if !body.is_empty() {
            rb = rb.header("content-type", "application/json").body(body);
        }
        rb
    }

    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: &impl serde::Serialize,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let body = serde_json::to_vec(body).expect("wire types serialize");
        let rb = self.request(method, url, body).timeout(timeout);
        let resp = self.send(url, rb).await?;
        json_capped(check(resp).await?).await
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let rb = self.request(Method::GET, url, Vec::new()).timeout(timeout);
        let resp = self.send(url, rb).await?;
        json_capped(check(resp).await?).await
    }

    /// [`Self::get_json`] from the peer `device`.
    pub async fn peer_get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        device: &str,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let rb = self
            .peer_request(Method::GET, url, Vec::new())
            .timeout(timeout);
        let resp = peer_checked(self.send(url, rb).await?, device)?;
        json_capped(check(resp).await?).await
    }
}

/// Largest JSON answer an agent reads from the server or a peer: a
/// manifest of the biggest package is well under 1 MiB.
pub const MAX_JSON_RESPONSE: usize = 16 << 20;

/// Reads a JSON answer of at most [`MAX_JSON_RESPONSE`] bytes, streaming, so
/// a hostile server cannot make an agent buffer without bound.
async fn json_capped<T: serde::de::DeserializeOwned>(
    mut resp: reqwest::Response,
) -> Result<T, CallError> {
    let status = resp.status().as_u16();
    let too_big = |n: u64| CallError::Status {
        status,
        body: format!("the answer is {n} bytes or more; at most {MAX_JSON_RESPONSE} are read"),
    };
    if let Some(n) = resp
        .content_length()
        .filter(|n| *n > MAX_JSON_RESPONSE as u64)
    {
        return Err(too_big(n));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > MAX_JSON_RESPONSE {
            return Err(too_big((buf.len() + chunk.len()) as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&buf).map_err(|e| CallError::Status {
        status,
        body: format!("not the JSON expected: {e}"),
    })
}

/// Turns a non-2xx response into a [`CallError`].
pub async fn check(resp: reqwest::Response) -> Result<reqwest::Response, CallError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    // An error body is a short JSON object: read at most 64 KiB of it.
    let mut resp = resp;
    let mut raw = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        raw.extend_from_slice(&chunk[..chunk.len().min((64 << 10) - raw.len().min(64 << 10))]);
        if raw.len() >= 64 << 10 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => Err(CallError::Wire(b.error)),
        Err(_) => Err(CallError::Status { status, body: text }),
    }
}

/// An error and its causes, outermost first, joined with ": ", skipping a
/// cause whose text the previous one already contains.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

/// Percent-encodes a storage path for a URL: every byte except unreserved
/// characters and `/` separators, so a file name with spaces, `#`, `?`,
/// `%` or non-ASCII letters names the same file on the other side (axum's
/// `Path` and any web server decode it back).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_internal_error_reaches_the_client_as_a_request_id_only() {
        let resp = super::ApiError::internal(
            "database /var/lib/p2pd/p2pd.db is locked (SQLITE_BUSY at row 12)",
        )
        .into_response();
        assert_eq!(resp.status().as_u16(), 500);
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 16))
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("/var/lib") && !text.contains("SQLITE"),
            "{text}"
        );
        assert!(text.contains("internal server error (request "), "{text}");
    }
    use super::*;

    #[test]
    fn encoded_paths_keep_separators_and_escape_the_rest() {
        assert_eq!(encode_path("a/b c/ü#?.msi"), "a/b%20c/%C3%BC%23%3F.msi");
        assert_eq!(encode_path("plain/1.0/x.bin"), "plain/1.0/x.bin");
    }

    #[test]
    fn retry_after_is_clamped_and_jittered() {
        let s = Duration::from_secs;
        assert_eq!(retry_after_wait(Some("5"), 0.0), s(5));
        assert_eq!(
            retry_after_wait(Some("5"), 1.0),
            Duration::from_millis(7500)
        );
        assert_eq!(retry_after_wait(None, 0.0), s(1));
        assert_eq!(retry_after_wait(Some("soon"), 0.0), s(1));
        assert_eq!(retry_after_wait(Some("0"), 0.0), s(1));
        assert_eq!(retry_after_wait(Some("999999"), 0.0), MAX_RETRY_AFTER);
        for _ in 0..100 {
            let j = jittered(s(2));
            assert!(j >= s(1) && j < s(3), "{j:?}");
        }
    }

    /// Design note `fleet-scale`: an agent told 503 + `Retry-After` waits at least that long
    /// before its next request to that server (a tiny fake server here).
    #[tokio::test]
    async fn every_error_code_crosses_the_wire_as_itself() {
        // `ErrorCode::ALL` is made from the same list as the enum (see
        // `error_codes!`), so this covers every code.
        let app = axum::Router::new().route(
            "/v1/code/{n}",
            axum::routing::get(
                |axum::extract::Path(n): axum::extract::Path<usize>| async move {
                    ApiError::new(ErrorCode::ALL[n], "as asked").into_response()
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        for (n, &code) in ErrorCode::ALL.iter().enumerate() {
            let resp = client
                .get(format!("{base}/v1/code/{n}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), code.http_status(), "{code:?}");
            let e = check(resp).await.unwrap_err();
            assert_eq!(e.code(), Some(code), "{e}");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_503_with_retry_after_holds_the_next_request_back() {
        use parking_lot::Mutex;
        use std::time::Instant;
        let hits: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/v1/heartbeat",
            axum::routing::post(move || {
                let h = h.clone();
                async move {
                    let mut v = h.lock();
                    v.push(Instant::now());
                    if v.len() == 1 {
                        ApiError::new(ErrorCode::Overloaded, "busy").into_response()
                    } else {
                        axum::Json(serde_json::json!({"ok": true})).into_response()
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/heartbeat", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = SignedClient::new(SharedKey::generate().unwrap(), None).unwrap();
        let body = serde_json::json!({});
        let t = Duration::from_secs(10);
        let first = client
            .json::<serde_json::Value>(Method::POST, &url, &body, t)
            .await
            .unwrap_err();
        assert_eq!(first.code(), Some(ErrorCode::Overloaded), "{first}");
        let second: serde_json::Value = client.json(Method::POST, &url, &body, t).await.unwrap();
        assert_eq!(second["ok"], true);
        let v = hits.lock().clone();
        assert_eq!(v.len(), 2);
        let gap = v[1] - v[0];
        let asked = Duration::from_secs(RETRY_AFTER_SECS);
        assert!(
            gap >= asked,
            "second request after {gap:?}, asked {asked:?}"
        );
        assert!(
            gap <= asked.mul_f64(1.5) + Duration::from_secs(1),
            "{gap:?}"
        );
        server.abort();
    }
}
