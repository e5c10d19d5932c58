//! The asking side: `SignedClient` (signed requests to the server and to
//! peers, retries, `Retry-After`), and reading answers with a size cap.

use super::*;

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
    /// No connection could be made (refused, or no answer to the
    /// connection attempt): the other side is down or unreachable, as
    /// opposed to an answer that was an error.
    pub fn is_connect(&self) -> bool {
        matches!(self, CallError::Transport(e) if e.is_connect())
    }

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
    /// The source address of outgoing connections; `None` (always on a
    /// real device): the operating system picks it.
    local: Arc<parking_lot::RwLock<Option<IpAddr>>>,
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
            local: Arc::new(parking_lot::RwLock::new(local)),
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
        self.reset_connections()
    }

    /// Drops every pooled connection (the device's addresses changed: a
    /// connection from an address it no longer has would only time out);
    /// later requests open new ones from whatever source the operating
    /// system picks now.
    pub fn reset_connections(&self) -> Result<(), ClientError> {
        let local = *self.local.read();
        let http = build_client(local, self.tls.as_ref(), crate::trust::tls::Expect::Server)?;
        let peers = build_client(local, self.tls.as_ref(), crate::trust::tls::Expect::Device)?;
        *self.http.write() = http;
        *self.peers.write() = peers;
        Ok(())
    }

    /// Binds later connections to `local` (tests: a device that changes
    /// address on a loopback host), dropping the pooled ones.
    pub fn set_local(&self, local: Option<IpAddr>) -> Result<(), ClientError> {
        *self.local.write() = local;
        self.reset_connections()
    }

    fn http(&self) -> reqwest::Client {
        self.http.read().clone()
    }

    /// The client for public URLs (an unsigned CDN download).
    pub fn public(&self) -> &reqwest::Client {
        self.public.get_or_init(|| {
            crate::trust::tls::install_default_provider();
            reqwest::Client::builder()
                .local_address(*self.local.read())
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
