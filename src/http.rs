//! HTTP plumbing shared by the server and the agent: signed requests on
//! both sides, and JSON errors on the wire.

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;

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
) -> Result<(), ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    v.verify(method.as_str(), path, body, |name| {
        headers.get(name).and_then(|h| h.to_str().ok())
    })
    .map_err(|e| ApiError((&e).into(), e.to_string()))
}

/// State that can verify signed requests (the server's and the agent's).
pub trait Verifies {
    fn verifier(&self) -> &Verifier;
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
        verify(
            state.verifier(),
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
        )?;
        Ok(Signed(body))
    }
}

/// Why a call to the server or a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The other side answered with a wire error.
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Wire(WireError),
    #[error("{0}")]
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
#[derive(Clone)]
pub struct SignedClient {
    pub http: reqwest::Client,
    key: SharedKey,
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
        Ok(SignedClient { http, key })
    }

    pub fn key(&self) -> &SharedKey {
        &self.key
    }

    /// Builds a signed request. `url` must be absolute.
    pub fn request(&self, method: Method, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let path = url
            .find("://")
            .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
            .unwrap_or("/");
        let mut rb = self.http.request(method.clone(), url);
        for (name, value) in self.key.sign(method.as_str(), path, &body) {
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
