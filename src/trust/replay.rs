//! Replay protection for device requests: per-device monotonic counters
//! (design note `fleet-scale`).
//!
//! A signed request from an enrolled device carries its device id
//! (`x-p2pd-device`) and a counter (`x-p2pd-counter`), both covered by the
//! HMAC (see [`crate::trust::key`]). The agent makes the counter from its clock in
//! microseconds, raised to one more than the last it sent when that is
//! larger (`max(last + 1, now_µs)`): strictly increasing while it runs, and
//! after a restart larger than anything it sent before, with nothing to
//! store (its clock moved on).
//!
//! The receiver ([`Counters`]) keeps, per device, the highest counter seen
//! and the few accepted just below it, and refuses a counter it has seen or
//! that is older than its window:
//!
//! - greater than the highest: accepted (the usual case);
//! - within [`WINDOW_US`] below the highest and not seen yet: accepted.
//!   An agent sends concurrently (heartbeats, sources, reports, pieces from
//!   peers) over several connections, so requests may arrive slightly out
//!   of order; at most [`RECENT`] such counters are remembered per device,
//!   and when more come the oldest sets a floor below which everything is
//!   refused;
//! - anything else: `replay`.
//!
//! A counter must also lie within the signature's time window
//! ([`crate::trust::key::MAX_SKEW_SECS`]) of the receiver's clock. That bounds
//! memory: a device not heard from for longer than the window needs no
//! entry, because any counter it may still send is above what was kept;
//! such entries are swept. Memory is a few dozen bytes per device active
//! in the last five minutes, [`CAPACITY`] devices at most, whatever the
//! request rate. The nonce cache it replaces covered its ±300 s window only
//! up to about 670 requests/s (200,000 nonces); counters hold at any rate.
//!
//! Requests with no device (enrollment, the admin CLI) keep the nonce
//! cache. Known limits, as with the nonce cache: the table is in memory, so
//! a request captured before a serve restart could be replayed within the
//! window after it; on a shared PostgreSQL database each replica keeps its
//! own table. An agent whose clock stepped back across a restart is
//! refused for at most that step (and never beyond the time window), with
//! a `replay` error that names both counters.

use std::collections::HashMap;

/// How far below a device's highest counter an unseen counter is still
/// accepted: requests sent at about the same time may arrive out of order.
pub const WINDOW_US: u64 = 10_000_000;

/// Counters below the highest remembered per device.
pub const RECENT: usize = 64;

/// Most devices tracked at once.
pub const CAPACITY: usize = 400_000;

/// How often (by the receiver's clock) entries past the window are swept.
const SWEEP_EVERY_SECS: i64 = 10;

/// Why a counter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    #[error(
        "replayed request: device {device} already sent counter {counter} or one that makes it too \
         old (its highest is {highest}); a genuine agent never repeats a counter"
    )]
    Replayed {
        device: String,
        counter: u64,
        highest: u64,
    },
    #[error(
        "request counter {counter} of device {device} is {skew}s away from this host's clock \
         (limit {limit}s); fix the clock (NTP)"
    )]
    OutOfWindow {
        device: String,
        counter: u64,
        skew: i64,
        limit: i64,
    },
    #[error("too many devices ({CAPACITY}) sent requests within the time window; retry later")]
    Full,
}

#[derive(Debug, Default)]
struct Seen {
    highest: u64,
    /// Everything at or below this is refused (raised when `recent` overflows).
    floor: u64,
    /// Accepted counters below `highest`, within the window.
    recent: Vec<u64>,
}

/// The highest counter per device, and a window below it.
#[derive(Debug)]
pub struct Counters {
    devices: HashMap<String, Seen>,
    /// Accepted clock difference, seconds (the signature's time window).
    skew_secs: i64,
    last_sweep: i64,
}

impl Counters {
    pub fn new(skew_secs: i64) -> Counters {
        Counters {
            devices: HashMap::new(),
            skew_secs,
            last_sweep: 0,
        }
    }

    /// Devices tracked now.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Checks `counter` from `device` at `now` (unix seconds) and
    /// remembers it when accepted.
    pub fn check(&mut self, device: &str, counter: u64, now: i64) -> Result<(), CounterError> {
        let at = (counter / 1_000_000) as i64;
        let skew = (at - now).abs();
        if skew > self.skew_secs {
            return Err(CounterError::OutOfWindow {
                device: device.to_string(),
                counter,
                skew,
                limit: self.skew_secs,
            });
        }
        if now - self.last_sweep >= SWEEP_EVERY_SECS || self.devices.len() >= CAPACITY {
            self.sweep(now);
        }
        let seen = match self.devices.get_mut(device) {
            Some(s) => s,
            None => {
                if self.devices.len() >= CAPACITY {
                    return Err(CounterError::Full);
                }
                self.devices.entry(device.to_string()).or_default()
            }
        };
        let refused = CounterError::Replayed {
            device: device.to_string(),
            counter,
            highest: seen.highest,
        };
        if counter > seen.highest {
            if seen.highest > 0 {
                seen.recent.push(seen.highest);
            }
            seen.highest = counter;
            let low = counter.saturating_sub(WINDOW_US);
            seen.recent.retain(|&c| c > low);
        } else if counter <= seen.floor
            || counter + WINDOW_US <= seen.highest
            || seen.recent.contains(&counter)
            || counter == seen.highest
        {
            return Err(refused);
        } else {
            seen.recent.push(counter);
        }
        if seen.recent.len() > RECENT {
            let (i, &oldest) = seen
                .recent
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| **c)
                .expect("not empty");
            seen.recent.swap_remove(i);
            seen.floor = seen.floor.max(oldest);
        }
        Ok(())
    }

    /// Drops devices whose highest counter is older than the window: any
    /// counter they may still send is above it anyway.
    fn sweep(&mut self, now: i64) {
        self.last_sweep = now;
        let oldest = (now - self.skew_secs).max(0) as u64 * 1_000_000;
        self.devices.retain(|_, s| s.highest >= oldest);
    }
}

/// The agent's side: the next counter, `max(last + 1, now_us)`.
pub fn next_counter(last: u64, now_us: u64) -> u64 {
    now_us.max(last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const US: u64 = NOW as u64 * 1_000_000;

    #[test]
    fn increasing_counters_pass_and_a_repeat_is_refused() {
        let mut c = Counters::new(300);
        c.check("a", US, NOW).unwrap();
        c.check("a", US + 1, NOW).unwrap();
        let e = c.check("a", US + 1, NOW).unwrap_err();
        assert!(matches!(e, CounterError::Replayed { highest, .. } if highest == US + 1));
        assert!(e.to_string().contains("replayed request"), "{e}");
        // Another device has its own counter.
        c.check("b", US, NOW).unwrap();
        // The device keeps working after a refused replay.
        c.check("a", US + 2, NOW).unwrap();
    }

    #[test]
    fn out_of_order_arrivals_within_the_window_pass_once() {
        let mut c = Counters::new(300);
        c.check("a", US + 500, NOW).unwrap();
        c.check("a", US + 100, NOW).unwrap();
        c.check("a", US + 300, NOW).unwrap();
        assert!(c.check("a", US + 100, NOW).is_err());
        assert!(c.check("a", US + 300, NOW).is_err());
        assert!(c.check("a", US + 500, NOW).is_err());
        // Below the window: refused even if never seen.
        c.check("a", US + 500 + WINDOW_US, NOW).unwrap();
        assert!(c.check("a", US + 200, NOW).is_err());
    }

    #[test]
    fn remembered_counters_are_bounded_and_the_oldest_becomes_a_floor() {
        let mut c = Counters::new(300);
        c.check("a", US + 10_000, NOW).unwrap();
        for i in 0..(RECENT as u64 + 10) {
            c.check("a", US + 100 + i, NOW).unwrap();
        }
        let seen = &c.devices["a"];
        assert!(seen.recent.len() <= RECENT);
        // Unseen but at or under the floor: refused.
        assert!(c.check("a", US + 100, NOW).is_err());
        assert!(c.check("a", US + 50, NOW).is_err());
    }

    #[test]
    fn an_agent_restart_continues_above_what_it_sent() {
        // Before the restart the agent ran its counter ahead of its clock
        // (many requests within one microsecond); after it, the clock has
        // moved on.
        let mut c = Counters::new(300);
        let mut last = 0;
        for _ in 0..1000 {
            last = next_counter(last, US);
            c.check("a", last, NOW).unwrap();
        }
        let after_restart = next_counter(0, US + 2_000_000);
        c.check("a", after_restart, NOW + 2).unwrap();
    }

    #[test]
    fn counters_outside_the_time_window_are_refused_and_old_devices_swept() {
        let mut c = Counters::new(300);
        let e = c.check("a", US + 301_000_000, NOW).unwrap_err();
        assert!(matches!(e, CounterError::OutOfWindow { .. }), "{e}");
        c.check("a", US, NOW).unwrap();
        c.check("b", US + 200_000_000, NOW + 200).unwrap();
        assert_eq!(c.len(), 2);
        // 400 s later "a" is older than the window: swept; "b" stays.
        c.check("b", US + 400_000_000, NOW + 400).unwrap();
        assert_eq!(c.len(), 1);
        // And "a" may come back with any counter inside the window.
        c.check("a", US + 399_000_000, NOW + 400).unwrap();
    }
}
