//! The device's own addresses, and the agent's peer listener on every
//! address family the device has.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One address of this device and the prefix length of its subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostAddr {
    pub ip: IpAddr,
    pub prefix: u8,
}

/// The addresses other devices could reach this one at, in the order the
/// operating system lists its interfaces: interfaces not down (veths and
/// some VPN adapters say "unknown" while they carry traffic), without
/// loopback, link-local (169.254/16, fe80::/10) and unspecified addresses,
/// which never place a device in an office. Empty when the list cannot be
/// read (the caller then relies on the address the server sees).
pub fn host_addrs() -> Vec<HostAddr> {
    let Ok(all) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut out: Vec<HostAddr> = Vec::new();
    for i in all {
        if i.is_loopback()
            || matches!(
                i.oper_status,
                if_addrs::IfOperStatus::Down
                    | if_addrs::IfOperStatus::NotPresent
                    | if_addrs::IfOperStatus::LowerLayerDown
            )
        {
            continue;
        }
        let (ip, prefix) = match &i.addr {
            if_addrs::IfAddr::V4(a) => (IpAddr::V4(a.ip), a.prefixlen),
            if_addrs::IfAddr::V6(a) => (IpAddr::V6(a.ip), a.prefixlen),
        };
        let a = HostAddr { ip, prefix };
        if placeable(ip) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Whether `ip` can place a device: not loopback, link-local, unspecified
/// or multicast.
pub fn placeable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Tells when the operating system reports a change of the host's
/// interface addresses (netlink on Linux, `NotifyIpInterfaceChange` on
/// Windows), so that a new address is acted on at once, not at the next
/// poll.
pub struct AddrWatch {
    #[cfg(any(target_os = "linux", windows))]
    inner: if_addrs::IfChangeNotifier,
}

impl AddrWatch {
    /// `None` where the system offers no notification (then polling alone
    /// notices changes).
    pub fn new() -> Option<AddrWatch> {
        #[cfg(any(target_os = "linux", windows))]
        {
            if_addrs::IfChangeNotifier::new()
                .ok()
                .map(|inner| AddrWatch { inner })
        }
        #[cfg(not(any(target_os = "linux", windows)))]
        {
            None
        }
    }

    /// Waits up to `timeout`; true when an address was added or removed.
    /// An error of the notifier waits out the timeout (no busy loop).
    pub fn wait(&mut self, timeout: std::time::Duration) -> bool {
        #[cfg(any(target_os = "linux", windows))]
        {
            match self.inner.wait(Some(timeout)) {
                Ok(changes) => !changes.is_empty(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(_) => {
                    std::thread::sleep(timeout);
                    false
                }
            }
        }
        #[cfg(not(any(target_os = "linux", windows)))]
        {
            std::thread::sleep(timeout);
            false
        }
    }
}

/// The default peer listener address: port `port` on the IPv6 wildcard,
/// which [`bind_listener`] opens dual-stack (IPv4 too).
pub fn wildcard(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)
}

/// Binds a TCP listener on `addr`. The IPv6 wildcard (`[::]:PORT`) is
/// opened dual-stack, so it takes IPv4 connections too (on Windows, whose
/// default is IPv6 only, as well as on Linux); where the host has no IPv6
/// at all it falls back to `0.0.0.0:PORT`. Any other address is bound as
/// given. Non-blocking, ready for the async runtime.
pub fn bind_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        match bind(addr, true) {
            Ok(l) => return Ok(l),
            Err(e) if no_ipv6(&e) => {
                return bind(
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port()),
                    false,
                );
            }
            Err(e) => return Err(e),
        }
    }
    bind(addr, false)
}

/// The errors of a host without IPv6 (disabled in the kernel).
fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::AddrNotAvailable
    ) || matches!(e.raw_os_error(), Some(97) | Some(10047))
}

fn bind(addr: SocketAddr, dual_stack: bool) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if dual_stack {
        s.set_only_v6(false)?;
    }
    #[cfg(unix)]
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_addresses_never_place_a_device() {
        for ip in [
            "127.0.0.1",
            "169.254.3.4",
            "::1",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
        ] {
            assert!(!placeable(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "198.18.1.11",
            "2001:db8::5",
            "fd00::7",
            "::ffff:10.0.0.1",
        ] {
            assert!(placeable(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_wildcard_listener_takes_ipv4_connections() {
        let l = bind_listener(wildcard(0)).unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(false).unwrap();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_, from) = l.accept().unwrap();
        assert_eq!(from.ip().to_canonical(), c.local_addr().unwrap().ip());
    }

    #[test]
    fn host_addresses_hold_no_loopback() {
        assert!(host_addrs().iter().all(|a| placeable(a.ip)));
    }
}
