//! The answering side: JSON errors, and the `Signed` extractor every route
//! takes (signature, replay, and the caller its certificate names).

use super::*;

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
        // runs again on the writer (`server::pool::StorePool::read_or_write`), which is
        // no internal error; `StorePool::read` logs one that is not retried.
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
