//! The wall clock, in Unix seconds and milliseconds. One place reads the
//! system time, so that a test can pin it ([`set_for_tests`]) and every
//! module (key signatures, leases, reports) sees the same time.

use std::cell::Cell;

thread_local! {
    /// A pinned time in milliseconds for this thread, if a test set one.
    /// Per thread, so tests running in parallel cannot see each other's.
    static PINNED_MS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Milliseconds since the Unix epoch (times reported in 0.1 s).
pub fn now_ms() -> i64 {
    PINNED_MS.with(Cell::get).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Pins this thread's clock at `unix_secs` (`None`: back to the system
/// clock). For tests of code that reads the time.
pub fn set_for_tests(unix_secs: Option<i64>) {
    PINNED_MS.with(|p| p.set(unix_secs.map(|s| s * 1000)));
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
        // Another thread still reads the system clock.
        assert!(std::thread::spawn(now).join().unwrap() >= real);
        set_for_tests(None);
        assert!(now() >= real);
    }
}
