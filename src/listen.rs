//! The accept loop both HTTP servers (`serve` and the agent's peer server)
//! run instead of `axum::serve`, for the limits `axum::serve` cannot set:
//!
//! - a header-read timeout (a client that opens a connection and sends
//!   headers slowly, or never, is dropped);
//! - an idle timeout (no byte read or written for that long closes the
//!   connection, whether between requests or inside one);
//! - a cap on concurrent connections per source address, and in total, so
//!   one host cannot use up the process's file descriptors.
//!
//! Accept errors (EMFILE under a flood) are logged and retried after a
//! pause rather than ending the server.
//!
//! With a TLS configuration ([`crate::tls`]) every connection is TLS 1.3;
//! the handshake must finish within the header-read timeout. Each request
//! carries a [`Conn`] extension: the source address and the identity the
//! client's certificate proved, so handlers never take it from the request.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time allowed to send a request's headers, counted from the
    /// connection's start for its first request and from the first byte of
    /// each later one (an idle keep-alive connection is bounded by `idle`).
    pub header_read: Duration,
    /// A connection with no bytes moving for this long is closed.
    pub idle: Duration,
    /// Concurrent connections from one source address.
    pub per_addr: usize,
    /// Concurrent connections in all.
    pub total: usize,
}

impl Limits {
    /// These limits with the total cap fitted to `open_files` descriptors
    /// (a few hundred kept for the database, logs and outgoing calls), and
    /// never above [`MAX_CONNECTIONS`].
    pub fn fitted(self, open_files: Option<u64>) -> Limits {
        let total = match open_files {
            Some(n) => (n.saturating_sub(512) as usize).clamp(64, MAX_CONNECTIONS),
            None => self.total,
        };
        Limits { total, ..self }
    }

    /// The control plane: every device connects from its own address, but
    /// behind NAT or a proxy many share one, hence the high per-address cap.
    pub const SERVER: Limits = Limits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(120),
        per_addr: 1024,
        total: 16_384,
    };
    /// An agent's peer server: a handful of office peers at a time.
    pub const PEER: Limits = Limits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
        per_addr: 32,
        total: 512,
    };
}

/// Most connections serve keeps open, however many descriptors it may
/// have: 100,000 devices on kept connections, with room to spare.
pub const MAX_CONNECTIONS: usize = 131_072;

/// Descriptors serve asks for: [`MAX_CONNECTIONS`] and the ones
/// [`Limits::fitted`] keeps aside.
pub const OPEN_FILES_WANTED: u64 = MAX_CONNECTIONS as u64 + 512;

/// Live connections per source address; the guard gives its slot back.
#[derive(Default)]
struct Slots {
    by_addr: HashMap<IpAddr, usize>,
    total: usize,
}

struct Slot {
    slots: Arc<Mutex<Slots>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        s.total -= 1;
        if let Some(n) = s.by_addr.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.by_addr.remove(&self.ip);
            }
        }
    }
}

fn take_slot(slots: &Arc<Mutex<Slots>>, ip: IpAddr, limits: &Limits) -> Option<Slot> {
    let mut s = slots.lock().unwrap_or_else(|p| p.into_inner());
    let n = s.by_addr.get(&ip).copied().unwrap_or(0);
    if n >= limits.per_addr || s.total >= limits.total {
        return None;
    }
    s.by_addr.insert(ip, n + 1);
    s.total += 1;
    Some(Slot {
        slots: slots.clone(),
        ip,
    })
}

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The TCP peer address.
    pub addr: std::net::SocketAddr,
    /// Who the client proved to be with a certificate from the CA; `None`
    /// on plain HTTP or when the client sent no certificate.
    pub identity: Option<crate::tls::Identity>,
    /// True on a TLS connection.
    pub tls: bool,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets
/// in-flight requests finish (each connection is told to close after its
/// current request) and returns when every connection has ended. Callers
/// bound that wait themselves. With `tls`, every connection is TLS.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: CancellationToken,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Mutex::new(Slots::default()));
    let tracker = TaskTracker::new();
    let mut refused_logged = Instant::now() - Duration::from_secs(60);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE/ENFILE and friends: wait for connections to
                    // close instead of spinning or giving up.
                    tracing::warn!("accept: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Some(slot) = take_slot(&slots, peer.ip(), &limits) else {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = Instant::now();
                tracing::warn!(
                    addr = %peer.ip(),
                    "refused a connection: too many open connections from this address \
                     (at most {}) or in all (at most {})",
                    limits.per_addr,
                    limits.total
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = shutdown.clone();
        let acceptor = acceptor.clone();
        tracker.spawn(async move {
            let last = Arc::new(AtomicU64::new(0));
            // The first request's headers are due from the connection's start.
            let head = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let (stream, info): (Box<dyn Stream>, Conn) = match acceptor {
                None => (
                    Box::new(stream),
                    Conn {
                        addr: peer,
                        identity: None,
                        tls: false,
                    },
                ),
                Some(acc) => {
                    let hs = tokio::time::timeout(limits.header_read, acc.accept(stream)).await;
                    let tls = match hs {
                        Ok(Ok(t)) => t,
                        Ok(Err(e)) => {
                            tracing::debug!(addr = %peer, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => return,
                    };
                    // The verifier already checked the chain to the CA.
                    let identity = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| crate::tls::identity_of(c));
                    (
                        Box::new(tls),
                        Conn {
                            addr: peer,
                            identity,
                            tls: true,
                        },
                    )
                }
            };
            let parsed = head.clone();
            let svc = TowerToHyperService::new(tower::util::MapRequest::new(
                app,
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    // The headers are in: no head is due until the response.
                    parsed.store(IN_REQUEST, Ordering::Relaxed);
                    req.extensions_mut().insert(info.clone());
                    req
                },
            ));
            let io = TokioIo::new(Idle {
                inner: stream,
                last: last.clone(),
                head: head.clone(),
                start,
            });
            // hyper's own header timeout starts as soon as it waits for the
            // next request, so it would also close every idle keep-alive
            // connection after `header_read`: agents with a 10 s heartbeat
            // would then make a new (mutual TLS) connection for nearly
            // every request. The head deadline is kept here instead.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(None)
                .serve_connection(io, svc);
            tokio::pin!(conn);
            // One timer per connection, set to the next deadline that can
            // close it (not a fixed tick: at 15,000 kept connections a 1 s
            // tick cost as many task wake-ups as the heartbeats themselves).
            let timer = tokio::time::sleep(Duration::ZERO);
            tokio::pin!(timer);
            let mut closing = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stop.cancelled(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ = timer.as_mut() => {
                        let now = start.elapsed().as_millis() as u64;
                        match next_deadline(
                            now,
                            last.load(Ordering::Relaxed),
                            head.load(Ordering::Relaxed),
                            &limits,
                        ) {
                            // Idle, or headers too slow (slow-loris): drop it.
                            None => break,
                            Some(at) => timer
                                .as_mut()
                                .reset(tokio::time::Instant::from_std(start) + Duration::from_millis(at)),
                        }
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// When a connection's timer should next look at it (milliseconds since
/// the connection's start), or `None` when it is to be closed now: no
/// bytes moved for `idle`, or a request's headers took longer than
/// `header_read`. `last` and `head` are [`Idle`]'s. While no request is on
/// its way the header deadline is at least `header_read` away, so the
/// timer looks again then: a head that began meanwhile is then timed from
/// its own first byte, never later than it is due.
fn next_deadline(now: u64, last: u64, head: u64, limits: &Limits) -> Option<u64> {
    let idle_at = last.min(now) + limits.idle.as_millis() as u64;
    let header = limits.header_read.as_millis() as u64;
    let head_at = match head {
        IN_REQUEST => u64::MAX,
        AWAITING => now + header,
        began => {
            let due = began.min(now) + header;
            if now >= due {
                return None;
            }
            due
        }
    };
    if now >= idle_at {
        return None;
    }
    Some(idle_at.min(head_at))
}

/// A plain or TLS connection.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// `Idle::head` while no request is on its way: the last response went out.
const AWAITING: u64 = u64::MAX;
/// `Idle::head` while a request's headers are in and its response is not out.
const IN_REQUEST: u64 = u64::MAX - 1;

/// A stream that notes when bytes last moved, for the idle timeout, and
/// when the headers of the request on its way began, for the header
/// timeout.
struct Idle<T> {
    inner: T,
    /// Milliseconds since `start` of the last read or write.
    last: Arc<AtomicU64>,
    /// Milliseconds since `start` of the first byte of a request whose
    /// headers are not complete yet, or [`AWAITING`] / [`IN_REQUEST`].
    head: Arc<AtomicU64>,
    start: Instant,
}

impl<T> Idle<T> {
    fn touch(&self) -> u64 {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
        now
    }

    /// Response bytes went out: the request is answered (or being
    /// answered), and the next head is awaited.
    fn wrote(&self) {
        self.touch();
        let _ =
            self.head
                .compare_exchange(IN_REQUEST, AWAITING, Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Idle<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.touch();
            // The first byte after a response starts the next head's clock.
            let _ = self.head.compare_exchange(
                AWAITING,
                now.min(IN_REQUEST - 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Idle<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_connection_cap_follows_the_open_file_limit() {
        assert_eq!(Limits::SERVER.fitted(Some(20_000)).total, 19_488);
        assert_eq!(Limits::SERVER.fitted(Some(1 << 20)).total, MAX_CONNECTIONS);
        assert_eq!(Limits::SERVER.fitted(Some(100)).total, 64);
        assert_eq!(Limits::SERVER.fitted(None).total, Limits::SERVER.total);
    }

    #[test]
    fn the_timer_looks_again_at_the_first_deadline_that_can_close_the_connection() {
        let l = Limits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            ..Limits::SERVER
        };
        // A fresh connection: its first headers are due 10 s from the start.
        assert_eq!(next_deadline(0, 0, 0, &l), Some(10_000));
        assert_eq!(next_deadline(10_000, 0, 0, &l), None);
        // Kept and waiting for the next request: idle at last + 120 s, and
        // looked at every 10 s meanwhile (no fixed 1 s tick).
        assert_eq!(next_deadline(50_000, 40_000, AWAITING, &l), Some(60_000));
        assert_eq!(next_deadline(155_000, 40_000, AWAITING, &l), Some(160_000));
        assert_eq!(next_deadline(160_000, 40_000, AWAITING, &l), None);
        // A head that began at 55 s is cut at 65 s, however late the timer
        // looks (slow-loris), even though bytes keep moving.
        assert_eq!(next_deadline(60_000, 59_000, 55_000, &l), Some(65_000));
        assert_eq!(next_deadline(65_000, 64_900, 55_000, &l), None);
        // A request being answered: only the idle deadline.
        assert_eq!(next_deadline(70_000, 69_000, IN_REQUEST, &l), Some(189_000));
    }

    async fn start(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
        let stop = CancellationToken::new();
        tokio::spawn(serve(l, app, stop.clone(), limits, None));
        (addr, stop)
    }

    /// A connection to a server that allows 300 ms for a request's headers.
    async fn connect_with_short_header_timeout() -> (tokio::net::TcpStream, CancellationToken) {
        let limits = Limits {
            header_read: Duration::from_millis(300),
            idle: Duration::from_secs(30),
            per_addr: 8,
            total: 8,
        };
        let (addr, stop) = start(limits).await;
        (tokio::net::TcpStream::connect(addr).await.unwrap(), stop)
    }

    #[tokio::test]
    async fn a_client_that_never_sends_headers_is_dropped() {
        let (mut s, stop) = connect_with_short_header_timeout().await;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "the slow client was never dropped");
        stop.cancel();
    }

    /// Reads one `Content-Length` response off `s`; `None` if the server
    /// closed the connection first.
    async fn response(s: &mut tokio::net::TcpStream) -> Option<String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        for _ in 0..100 {
            let n = s.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if text.contains("\r\n\r\nhi") {
                return Some(text);
            }
        }
        None
    }

    /// A kept-alive connection waiting for its next request is bounded by
    /// `idle`, not by `header_read`; a request's headers still are, from
    /// their first byte.
    #[tokio::test]
    async fn a_kept_connection_outlives_the_header_timeout_but_slow_headers_do_not() {
        let (mut s, stop) = connect_with_short_header_timeout().await;
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        s.write_all(get).await.unwrap();
        assert!(response(&mut s).await.is_some(), "first request");
        // Quiet for three header timeouts, then the next request works on
        // the same connection.
        tokio::time::sleep(Duration::from_millis(900)).await;
        s.write_all(get).await.unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), response(&mut s))
            .await
            .expect("no answer");
        assert!(
            second.is_some(),
            "the kept connection was closed while idle"
        );
        // Half a head, then nothing: cut after the header timeout.
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut rest = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(r.is_ok(), "a slow head on a kept connection was never cut");
        stop.cancel();
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_and_connections_per_address_are_capped() {
        let limits = Limits {
            header_read: Duration::from_secs(30),
            idle: Duration::from_millis(500),
            per_addr: 2,
            total: 100,
        };
        let (addr, stop) = start(limits).await;
        let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The third from the same address is closed at once.
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
            .await
            .expect("the over-cap connection stayed open");
        assert!(matches!(n, Ok(0) | Err(_)));
        // The idle one is closed by the idle timeout.
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), a.read_to_end(&mut rest))
            .await
            .expect("the idle connection stayed open")
            .ok();
        stop.cancel();
    }
}
