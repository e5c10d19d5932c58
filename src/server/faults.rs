//! The server's test-only fault switches (the `fault-injection` feature):
//! environment variables of the serve process, read once when its state
//! is built ([`Faults::from_env`]) and read from [`Faults`] by the
//! handlers. Without the feature every switch is off.

use std::time::Duration;

/// The switches, each `None` when off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// `P2PD_FAULT_DEVICE_CERT_SECS`: device certificates valid for this
    /// many seconds, to see agents renew.
    pub device_cert_secs: Option<u64>,
    /// `P2PD_FAULT_UI_SESSION_SECS`: dashboard sessions last this many
    /// seconds (tests that watch one expire).
    pub ui_session_secs: Option<u64>,
}

impl Faults {
    /// The switches the environment sets (none without the feature).
    pub fn from_env() -> Faults {
        #[cfg(feature = "fault-injection")]
        let faults = Faults {
            device_cert_secs: secs("P2PD_FAULT_DEVICE_CERT_SECS"),
            ui_session_secs: secs("P2PD_FAULT_UI_SESSION_SECS"),
        };
        #[cfg(not(feature = "fault-injection"))]
        let faults = Faults::default();
        faults
    }

    /// How long the device certificates this server issues are valid.
    pub fn device_cert_lifetime(&self) -> Duration {
        self.device_cert_secs
            .map_or(crate::trust::tls::DEVICE_CERT_LIFETIME, Duration::from_secs)
    }

    /// How long a dashboard session lasts.
    pub fn ui_session_lifetime(&self) -> Duration {
        Duration::from_secs(self.ui_session_secs.unwrap_or(super::ui::SESSION_SECS))
    }
}

/// A whole number of seconds from the environment variable `name`.
#[cfg(feature = "fault-injection")]
fn secs(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}
