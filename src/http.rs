//! HTTP plumbing shared by the server and the agent: signed requests on
//! both sides, and JSON errors on the wire.

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::key::{SharedKey, Verifier};
use crate::proto::{ErrorBody, ErrorCode, WireError};

/// An error answered to a client as `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError(pub ErrorCode, pub String);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(code, message.into())
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError(ErrorCode::Internal, e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: WireError {
                code: self.0,
                message: self.1,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        // For the request metrics (error counts by code, key mismatches).
        resp.extensions_mut().insert(self.0);
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
    .map_err(|e| ApiError((&e).into(), e.to_string()))
}

/// State that can verify signed requests (the server's and the agent's).
pub trait Verifies {
    fn verifier(&self) -> &Verifier;

    /// The time requests are checked against: the server's own clock, or
    /// for an agent the server's clock as it learned it (so that two agents
    /// with wrong clocks still accept each other).
    fn now(&self) -> i64 {
        crate::store::now()
    }

    /// Told about each request refused for `key_mismatch`, with the
    /// fingerprint it was signed with and the device it names (its
    /// `device` query parameter or `device_id` body field: a claim, since
    /// the signature did not verify). The server records these so the
    /// admin can see which devices still hold an old key.
    fn key_refused(&self, _fingerprint: &str, _device: Option<String>) {}
}

/// The device a request names: `?device=ID` or a JSON body's `device_id`.
fn claimed_device(uri: &Uri, body: &[u8]) -> Option<String> {
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("device="))
            .map(str::to_string)
    });
    from_query.or_else(|| {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()?
            .get("device_id")?
            .as_str()
            .map(str::to_string)
    })
}

/// Largest request body accepted (heartbeats and reports are small).
const MAX_BODY: usize = 4 << 20;

/// Extractor for a request whose signature checked out: every handler on
/// the control plane and the peer data plane takes one, so no route can
/// forget to verify. Holds the body.
pub struct Signed(pub Bytes);

impl Signed {
    /// The body as JSON, or `bad_request`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad request body: {e}")))
    }
}

impl<T: Verifies + Send + Sync + 'static> FromRequest<Arc<T>> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<T>) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
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
        if let Err(e) = checked {
            if let crate::key::VerifyError::KeyMismatch { presented, .. } = &e {
                state.key_refused(presented, claimed_device(&parts.uri, &body));
            }
            return Err(ApiError((&e).into(), e.to_string()));
        }
        Ok(Signed(body))
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
    pub http: reqwest::Client,
    key: Arc<std::sync::RwLock<SharedKey>>,
    /// Seconds added to this host's clock when signing: an agent signs
    /// with the server's time, learned at enrollment and each heartbeat.
    clock_offset: Arc<AtomicI64>,
}

impl SignedClient {
    /// `local` binds outgoing connections to the device's own address, so
    /// the address the server sees is the one the agent reports.
    pub fn new(key: SharedKey, local: Option<IpAddr>) -> reqwest::Result<SignedClient> {
        let http = reqwest::Client::builder()
            .local_address(local)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(SignedClient {
            http,
            key: Arc::new(std::sync::RwLock::new(key)),
            clock_offset: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The key requests are signed with now.
    pub fn key(&self) -> SharedKey {
        self.key.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Signs every later request with `key` (all clones share it).
    pub fn set_key(&self, key: SharedKey) {
        *self.key.write().unwrap_or_else(|p| p.into_inner()) = key;
    }

    /// Signs from now on with this host's clock plus `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    /// This host's clock plus the offset: the time requests are signed with.
    pub fn now(&self) -> i64 {
        crate::store::now() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Builds a signed request. `url` must be absolute.
    ///
    /// The signature covers the path exactly as it goes on the wire: the
    /// URL is parsed (which percent-encodes spaces and non-ASCII) before
    /// the path is taken from it, because the receiver verifies the
    /// encoded path it was sent, not the text the caller wrote.
    pub fn request(&self, method: Method, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
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
            Ok(u) => self.http.request(method.clone(), u),
            Err(_) => self.http.request(method.clone(), url),
        };
        let key = self.key();
        for (name, value) in key.sign_at(method.as_str(), &path, &body, self.now()) {
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
        let resp = self
            .request(method, url, body)
            .timeout(timeout)
            .send()
            .await?;
        Ok(check(resp).await?.json().await?)
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let resp = self
            .request(Method::GET, url, Vec::new())
            .timeout(timeout)
            .send()
            .await?;
        Ok(check(resp).await?.json().await?)
    }
}

/// Turns a non-2xx response into a [`CallError`].
pub async fn check(resp: reqwest::Response) -> Result<reqwest::Response, CallError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
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
    use super::*;

    #[test]
    fn encoded_paths_keep_separators_and_escape_the_rest() {
        assert_eq!(encode_path("a/b c/ü#?.msi"), "a/b%20c/%C3%BC%23%3F.msi");
        assert_eq!(encode_path("plain/1.0/x.bin"), "plain/1.0/x.bin");
    }
}
