//! The accept loop both HTTP servers (`serve` and the agent's peer server)
//! run instead of `axum::serve`, for the limits `axum::serve` cannot set:
//!
//! - a header-read timeout (a client that opens a connection and sends
//!   headers slowly, or never, is dropped);
//! - an idle timeout (no byte read or written for that long closes the
//!   connection, whether between requests or inside one);
//! - caps on concurrent connections per source address, and in total, so
//!   one host cannot use up the process's file descriptors.
//!
//! Accept errors (EMFILE under a flood) are logged and retried after a
//! pause rather than ending the server.
//!
//! With a TLS configuration ([`crate::trust::tls`]) every connection is TLS 1.3;
//! the handshake must finish within the header-read timeout. Each request
//! carries a [`Conn`] extension: the source address and the identity the
//! client's certificate proved, so handlers never take it from the request.
//!
//! # Strangers and members
//!
//! Anyone can open a connection, so connections that have not shown they
//! belong cannot be allowed to hold the slots devices need (design note `key-holders`: 20
//! addresses holding 19,481 of 19,488 slots for 120 s with one TLS
//! handshake and one unsigned request each, and 1,024 from one address
//! locking out every device behind that NAT address). A connection is
//! one of two kinds:
//!
//! - a **member** (authenticated): its client presented a certificate
//!   from the CA in the TLS handshake (a device, or serve probing an
//!   agent), or a request on it carried a valid signature by the shared
//!   key (the `Signed` extractor calls [`Admission::authenticated`]), or a
//!   valid dashboard admin token or session. Members get the long limits:
//!   [`Limits::idle`], [`Limits::per_addr`], [`Limits::total`].
//! - a **stranger** (everything else, and every connection until its
//!   handshake is done): its own, smaller pool ([`Limits::unauth_total`],
//!   [`Limits::unauth_per_addr`]) and a budget of [`Limits::unauth_idle`]
//!   both for going quiet and for its TLS handshake and request headers.
//!   When the pool (or the address's share of it) is full, a new
//!   connection is still taken: the oldest stranger that is not in the
//!   middle of a request is closed to make room (the oldest stranger, if
//!   all of them are). So a flood of strangers only ever replaces itself,
//!   and a device enrolling — whose enrollment connection is a stranger
//!   until its key-signed request verifies, since it has no certificate
//!   yet — gets through as long as fewer than a pool's worth of new
//!   connections arrive during its own handshake.
//!
//! A stranger becomes a member when it proves itself, if the member caps
//! have room; otherwise it stays a stranger. A member never goes back.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// A member connection with no bytes moving for this long is closed.
    pub idle: Duration,
    /// Concurrent member connections from one source address.
    pub per_addr: usize,
    /// Concurrent member connections in all.
    pub total: usize,
    /// A stranger's budget: its TLS handshake and each request's headers
    /// must arrive within it, and it is closed when quiet for that long.
    pub unauth_idle: Duration,
    /// Concurrent strangers from one source address.
    pub unauth_per_addr: usize,
    /// Concurrent strangers in all.
    pub unauth_total: usize,
}

impl Limits {
    /// These limits fitted to `open_files` descriptors (a few hundred kept
    /// for the database, logs and outgoing calls): the strangers' pool
    /// takes at most an eighth of them, members the rest, never above
    /// [`MAX_CONNECTIONS`].
    pub fn fitted(self, open_files: Option<u64>) -> Limits {
        let Some(n) = open_files else {
            return self;
        };
        let avail = (n.saturating_sub(512) as usize).clamp(64, MAX_CONNECTIONS + self.unauth_total);
        let unauth_total = self.unauth_total.min(avail / 8).max(8);
        Limits {
            total: (avail - unauth_total).min(MAX_CONNECTIONS),
            unauth_total,
            unauth_per_addr: self.unauth_per_addr.min(unauth_total),
            ..self
        }
    }

    /// The control plane: every device connects from its own address, but
    /// behind NAT or a proxy many share one, hence the high per-address cap.
    pub const SERVER: Limits = Limits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(120),
        per_addr: 1024,
        total: 16_384,
        unauth_idle: Duration::from_secs(5),
        unauth_per_addr: 256,
        unauth_total: 4096,
    };
    /// An agent's peer server: a handful of office peers at a time.
    pub const PEER: Limits = Limits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
        per_addr: 32,
        total: 512,
        unauth_idle: Duration::from_secs(5),
        unauth_per_addr: 32,
        unauth_total: 128,
    };

    /// The limits a stranger's timer judges it by.
    fn for_strangers(&self) -> Limits {
        Limits {
            header_read: self.header_read.min(self.unauth_idle),
            idle: self.unauth_idle,
            ..*self
        }
    }
}

/// Most member connections serve keeps open, however many descriptors it
/// may have: 100,000 devices on kept connections, with room to spare.
pub const MAX_CONNECTIONS: usize = 131_072;

/// Descriptors serve asks for: [`MAX_CONNECTIONS`], the strangers' pool
/// and the ones [`Limits::fitted`] keeps aside.
pub const OPEN_FILES_WANTED: u64 = (MAX_CONNECTIONS + Limits::SERVER.unauth_total) as u64 + 512;

/// Strangers scanned, oldest first, for one that is not in a request
/// before the oldest is closed regardless: bounds the work of one accept.
const EVICTION_SCAN: usize = 64;

/// `Admission::state` of a member.
const MEMBER: u64 = u64::MAX;
/// `Admission::state` of a connection that has ended.
const GONE: u64 = u64::MAX - 1;

/// Live connections: members counted per address, strangers in order of
/// arrival so the oldest can be closed first.
#[derive(Default)]
struct Slots {
    members_by_addr: HashMap<IpAddr, usize>,
    members: usize,
    /// Arrival number → the stranger.
    strangers: BTreeMap<u64, Stranger>,
    strangers_by_addr: HashMap<IpAddr, BTreeSet<u64>>,
    next: u64,
    /// Strangers closed to make room since the last log line, and when
    /// that was.
    evicted: u64,
    evicted_logged: Option<Instant>,
}

struct Stranger {
    ip: IpAddr,
    close: CancellationToken,
    /// The connection's [`Idle::head`]: [`IN_REQUEST`] while a request is
    /// being answered.
    head: Arc<AtomicU64>,
}

impl Slots {
    fn forget_stranger(&mut self, seq: u64) -> Option<Stranger> {
        let s = self.strangers.remove(&seq)?;
        if let Some(set) = self.strangers_by_addr.get_mut(&s.ip) {
            set.remove(&seq);
            if set.is_empty() {
                self.strangers_by_addr.remove(&s.ip);
            }
        }
        Some(s)
    }

    /// Closes one stranger to make room: among `candidates` (arrival
    /// numbers, oldest first) the first not in a request, else the first.
    fn evict(&mut self, candidates: Vec<u64>) {
        let strangers = &self.strangers;
        let pick = candidates
            .iter()
            .find(|seq| {
                strangers
                    .get(seq)
                    .is_some_and(|s| s.head.load(Ordering::Relaxed) != IN_REQUEST)
            })
            .or(candidates.first())
            .copied();
        if let Some(s) = pick.and_then(|seq| self.forget_stranger(seq)) {
            s.close.cancel();
            self.evicted += 1;
        }
    }
}

/// A connection's place in [`Slots`]; shared by its task and, as a
/// request extension, by the handlers of its requests.
pub struct Admission {
    slots: Arc<Mutex<Slots>>,
    ip: IpAddr,
    /// Its arrival number while a stranger, [`MEMBER`] or [`GONE`]; only
    /// changed with `slots` locked.
    state: AtomicU64,
    limits: Limits,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("ip", &self.ip)
            .field("member", &self.is_member())
            .finish()
    }
}

impl Admission {
    /// Whether the connection is a member (authenticated).
    pub fn is_member(&self) -> bool {
        self.state.load(Ordering::Relaxed) == MEMBER
    }

    /// The connection proved itself (a valid signature, certificate or
    /// admin token): it moves to the members' pool if that has room.
    /// Returns whether it is a member now.
    pub fn authenticated(&self) -> bool {
        if self.is_member() {
            return true;
        }
        let mut s = self.slots.lock();
        let seq = self.state.load(Ordering::Relaxed);
        if seq == MEMBER {
            return true;
        }
        if seq == GONE || !s.strangers.contains_key(&seq) {
            return false; // closed to make room meanwhile
        }
        let n = s.members_by_addr.get(&self.ip).copied().unwrap_or(0);
        if n >= self.limits.per_addr || s.members >= self.limits.total {
            return false; // stays a stranger
        }
        s.forget_stranger(seq);
        s.members_by_addr.insert(self.ip, n + 1);
        s.members += 1;
        self.state.store(MEMBER, Ordering::Relaxed);
        true
    }

    /// The connection ended: its slot is free.
    fn release(&self) {
        let mut s = self.slots.lock();
        match self.state.swap(GONE, Ordering::Relaxed) {
            GONE => {}
            MEMBER => {
                s.members -= 1;
                if let Some(n) = s.members_by_addr.get_mut(&self.ip) {
                    *n -= 1;
                    if *n == 0 {
                        s.members_by_addr.remove(&self.ip);
                    }
                }
            }
            seq => {
                s.forget_stranger(seq);
            }
        }
    }
}

/// Gives the slot back when the connection's task ends, however it ends.
struct Release(Arc<Admission>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Takes a stranger's slot for a new connection from `ip`, closing the
/// oldest idle stranger (of that address, or of all) if the pool is full.
/// `None` only when the pool has no room at all (`unauth_total` 0).
fn admit(
    slots: &Arc<Mutex<Slots>>,
    ip: IpAddr,
    limits: &Limits,
    close: CancellationToken,
    head: Arc<AtomicU64>,
) -> Option<Arc<Admission>> {
    if limits.unauth_total == 0 || limits.unauth_per_addr == 0 {
        return None;
    }
    let mut s = slots.lock();
    let of_addr = s.strangers_by_addr.get(&ip).map_or(0, |set| set.len());
    if of_addr >= limits.unauth_per_addr {
        let oldest: Vec<u64> = s.strangers_by_addr[&ip]
            .iter()
            .take(EVICTION_SCAN)
            .copied()
            .collect();
        s.evict(oldest);
    } else if s.strangers.len() >= limits.unauth_total {
        let oldest: Vec<u64> = s.strangers.keys().take(EVICTION_SCAN).copied().collect();
        s.evict(oldest);
    }
    if s.evicted > 0
        && s.evicted_logged
            .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
    {
        tracing::warn!(
            closed = s.evicted,
            "closed the oldest unauthenticated connections to make room: at most {} \
             connections that presented no certificate and no signed request are kept \
             ({} per address), each for {} s",
            limits.unauth_total,
            limits.unauth_per_addr,
            limits.unauth_idle.as_secs()
        );
        s.evicted = 0;
        s.evicted_logged = Some(Instant::now());
    }
    let seq = s.next;
    s.next += 1;
    s.strangers.insert(seq, Stranger { ip, close, head });
    s.strangers_by_addr.entry(ip).or_default().insert(seq);
    Some(Arc::new(Admission {
        slots: slots.clone(),
        ip,
        state: AtomicU64::new(seq),
        limits: *limits,
    }))
}

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The TCP peer address.
    pub addr: std::net::SocketAddr,
    /// Who the client proved to be with a certificate from the CA; `None`
    /// on plain HTTP or when the client sent no certificate.
    pub identity: Option<crate::trust::tls::Identity>,
    /// True on a TLS connection.
    pub tls: bool,
}

/// Marks the connection a request came on as authenticated (see the
/// module's "Strangers and members"), given the request's extensions: a
/// valid signature or admin token arrived on it.
pub fn authenticated(extensions: &axum::http::Extensions) {
    if let Some(a) = extensions.get::<Arc<Admission>>() {
        a.authenticated();
    }
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
        let last = Arc::new(AtomicU64::new(0));
        // The first request's headers are due from the connection's start.
        let head = Arc::new(AtomicU64::new(0));
        let evicted = CancellationToken::new();
        let Some(admission) = admit(&slots, peer.ip(), &limits, evicted.clone(), head.clone())
        else {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = Instant::now();
                tracing::warn!(addr = %peer.ip(), "refused a connection: no unauthenticated connections are allowed");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let accepted = Accepted {
            peer,
            admission,
            last,
            head,
            evicted,
        };
        tracker.spawn(connection(
            accepted,
            stream,
            app.clone(),
            shutdown.clone(),
            acceptor.clone(),
            limits,
        ));
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// One accepted connection, admitted to a pool, with the clocks its
/// timer judges it by.
struct Accepted {
    peer: std::net::SocketAddr,
    admission: Arc<Admission>,
    /// When bytes last moved, and when the pending request's head began
    /// ([`Idle`]'s clocks).
    last: Arc<AtomicU64>,
    head: Arc<AtomicU64>,
    /// Cancelled to make room for a newer stranger.
    evicted: CancellationToken,
}

/// The TLS handshake (on a stranger's budget: no certificate is known
/// yet), and what the connection proves. `None` when it failed or the
/// connection was evicted meanwhile.
async fn handshake(
    c: &Accepted,
    stream: tokio::net::TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    limits: &Limits,
) -> Option<(Box<dyn Stream>, Conn)> {
    let peer = c.peer;
    let Some(acc) = acceptor else {
        let conn = Conn {
            addr: peer,
            identity: None,
            tls: false,
        };
        return Some((Box::new(stream), conn));
    };
    let budget = limits.for_strangers().header_read;
    let hs = tokio::select! {
        r = tokio::time::timeout(budget, acc.accept(stream)) => r,
        _ = c.evicted.cancelled() => return None,
    };
    let tls = match hs {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::debug!(addr = %peer, "TLS handshake failed: {e}");
            return None;
        }
        Err(_) => return None,
    };
    // The verifier already checked the chain to the CA.
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::trust::tls::identity_of(c));
    if identity.is_some() {
        c.admission.authenticated();
    }
    let conn = Conn {
        addr: peer,
        identity,
        tls: true,
    };
    Some((Box::new(tls), conn))
}

/// Serves one connection until it ends, is evicted, goes idle or slow, or
/// (after its current request) the server shuts down.
async fn connection(
    c: Accepted,
    stream: tokio::net::TcpStream,
    app: axum::Router,
    stop: CancellationToken,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
) {
    let release = Release(c.admission.clone());
    let start = Instant::now();
    let Some((stream, info)) = handshake(&c, stream, acceptor, &limits).await else {
        return;
    };
    let parsed = c.head.clone();
    let handle = c.admission.clone();
    let svc = TowerToHyperService::new(tower::util::MapRequest::new(
        app,
        move |mut req: axum::http::Request<hyper::body::Incoming>| {
            // The headers are in: no head is due until the response.
            parsed.store(IN_REQUEST, Ordering::Relaxed);
            req.extensions_mut().insert(info.clone());
            req.extensions_mut().insert(handle.clone());
            req
        },
    ));
    let io = TokioIo::new(Idle {
        inner: stream,
        last: c.last.clone(),
        head: c.head.clone(),
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
            // Closed to make room for a newer stranger.
            _ = c.evicted.cancelled() => break,
            _ = stop.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = timer.as_mut() => {
                let now = start.elapsed().as_millis() as u64;
                let judged = if c.admission.is_member() {
                    limits
                } else {
                    limits.for_strangers()
                };
                match next_deadline(
                    now,
                    c.last.load(Ordering::Relaxed),
                    c.head.load(Ordering::Relaxed),
                    &judged,
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
    drop(release);
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
    fn the_connection_caps_follow_the_open_file_limit() {
        // 19,488 descriptors: an eighth for strangers, the rest members.
        let l = Limits::SERVER.fitted(Some(20_000));
        assert_eq!(
            (l.total, l.unauth_total, l.unauth_per_addr),
            (17_052, 2_436, 256)
        );
        let l = Limits::SERVER.fitted(Some(OPEN_FILES_WANTED));
        assert_eq!((l.total, l.unauth_total), (MAX_CONNECTIONS, 4096));
        assert_eq!(Limits::SERVER.fitted(Some(1 << 20)).total, MAX_CONNECTIONS);
        let l = Limits::SERVER.fitted(Some(100));
        assert_eq!((l.total, l.unauth_total, l.unauth_per_addr), (56, 8, 8));
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
            unauth_idle: Duration::from_secs(30),
            unauth_per_addr: 8,
            unauth_total: 8,
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

    /// Reads until the server closes `s` (or 5 s pass); true if it did.
    async fn closed(s: &mut tokio::net::TcpStream) -> bool {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .is_ok()
    }

    /// Whether `s` is still open 300 ms from now (nothing was sent on it,
    /// so a closed connection reads EOF).
    async fn still_open(s: &mut tokio::net::TcpStream) -> bool {
        let mut buf = [0u8; 16];
        tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf))
            .await
            .is_err()
    }

    /// A server whose `/` answers after `wait_ms`, and whose `/signed`
    /// counts as a verified request (as the `Signed` extractor does).
    async fn start_members(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "hi"
                }),
            )
            .route(
                "/signed",
                axum::routing::get(|req: axum::extract::Request| async move {
                    authenticated(req.extensions());
                    "hi"
                }),
            );
        let stop = CancellationToken::new();
        tokio::spawn(serve(l, app, stop.clone(), limits, None));
        (addr, stop)
    }

    const SMALL: Limits = Limits {
        header_read: Duration::from_secs(30),
        idle: Duration::from_secs(30),
        per_addr: 2,
        total: 100,
        unauth_idle: Duration::from_millis(700),
        unauth_per_addr: 3,
        unauth_total: 4,
    };

    /// Design note `key-holders`: strangers (no certificate, no signed request) have a
    /// short idle budget and their own pool; when it is full the oldest
    /// idle stranger makes room, so newcomers always get in.
    #[tokio::test]
    async fn a_full_strangers_pool_closes_its_oldest_idle_connection_for_a_newcomer() {
        let limits = Limits {
            unauth_idle: Duration::from_secs(2),
            ..SMALL
        };
        let (addr, stop) = start_members(limits).await;
        let connect = || tokio::net::TcpStream::connect(addr);
        // Three from one address fill its share; a fourth closes the first.
        let mut a = connect().await.unwrap();
        let mut b = connect().await.unwrap();
        let mut c = connect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut d = connect().await.unwrap();
        assert!(closed(&mut a).await, "the oldest stranger was kept");
        assert!(still_open(&mut b).await && still_open(&mut c).await);
        assert!(still_open(&mut d).await, "the newcomer was refused");
        // A stranger in the middle of a request is passed over: b waits
        // for an answer, so the next newcomer closes c instead.
        b.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut e = connect().await.unwrap();
        assert!(closed(&mut c).await, "the idle stranger was kept");
        assert!(
            response(&mut b).await.is_some(),
            "the busy stranger was closed"
        );
        assert!(still_open(&mut e).await);
        // Quiet strangers go after their short budget.
        assert!(closed(&mut d).await && closed(&mut e).await);
        stop.cancel();
    }

    /// A connection with a verified request is a member: the long idle
    /// timeout and the members' per-address cap apply to it; past that
    /// cap a connection stays a stranger.
    #[tokio::test]
    async fn a_verified_request_makes_its_connection_a_member() {
        let (addr, stop) = start_members(SMALL).await;
        let signed = b"GET /signed HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut kept = Vec::new();
        for _ in 0..3 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(signed).await.unwrap();
            assert!(response(&mut s).await.is_some());
            kept.push(s);
        }
        // Past the strangers' 700 ms: the two members (per_addr 2) are
        // open, the third, a stranger still, was closed.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let mut third = kept.pop().unwrap();
        assert!(closed(&mut third).await, "the third stayed open");
        for s in &mut kept {
            s.write_all(signed).await.unwrap();
            assert!(response(s).await.is_some(), "a member was closed");
        }
        // Strangers cannot close members: fill the strangers' pool twice.
        let mut flood = Vec::new();
        for _ in 0..8 {
            flood.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for s in &mut kept {
            s.write_all(signed).await.unwrap();
            assert!(
                response(s).await.is_some(),
                "a member was closed by strangers"
            );
        }
        stop.cancel();
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed() {
        let limits = Limits {
            unauth_idle: Duration::from_millis(500),
            ..SMALL
        };
        let (addr, stop) = start(limits).await;
        let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut a).await, "the idle connection stayed open");
        stop.cancel();
    }
}
