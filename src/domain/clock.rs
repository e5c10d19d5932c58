//! The wall clock, in Unix seconds and milliseconds. One place reads the
//! system time, so that a test can pin it ([`set_for_tests`]) and every
//! module (key signatures, leases, reports) sees the same time.

use std::sync::atomic::{AtomicI64, Ordering};

/// A pinned time in milliseconds, or [`REAL`] for the system clock.
static PINNED_MS: AtomicI64 = AtomicI64::new(REAL);

/// [`PINNED_MS`] value meaning "not pinned".
const REAL: i64 = i64::MIN;

/// Milliseconds since the Unix epoch (times reported in 0.1 s).
pub fn now_ms() -> i64 {
    match PINNED_MS.load(Ordering::Relaxed) {
        REAL => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
        pinned => pinned,
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Pins the clock of this process at `unix_secs` (`None`: back to the
/// system clock). For tests: the pin is process-wide.
pub fn set_for_tests(unix_secs: Option<i64>) {
    PINNED_MS.store(unix_secs.map_or(REAL, |s| s * 1000), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_reads_the_pin_and_unpinning_restores_the_system_time() {
        let real = now();
        assert!(real > 1_700_000_000, "{real}");
        set_for_tests(Some(1_000));
        assert_eq!((now(), now_ms()), (1_000, 1_000_000));
        set_for_tests(None);
        assert!(now() >= real);
    }
}
