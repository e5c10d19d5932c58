//! Enrollment: the device's identity files (`agent.json`, the device
//! secret), the enroll call (which also issues and renews the device
//! certificate), and enrolling at start, retrying until the server accepts
//! this agent or refuses it for good.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;

use super::refused::{KeyRefused, Next, Refusals};
use super::{Agent, AgentError};
use crate::wire::http::CallError;
use crate::wire::proto::{EnrollRequest, EnrollResponse};

/// Enrolls, retrying while the server is unreachable. A device that
/// enrolled before and is now refused for its key waits for a new key
/// file (a key roll-out in progress); a first start with a wrong key
/// stops at once, so the mistake shows where it was made. `None`: shut
/// down first.
pub(super) async fn at_start(
    agent: &Agent,
    refusals: &mut Refusals,
) -> Result<Option<EnrollResponse>, AgentError> {
    let on_key = if load_device_id(&agent.cfg.data_dir).is_some() {
        KeyRefused::ReloadOrWait
    } else {
        KeyRefused::Reload
    };
    let mut last_error = String::new();
    let mut backoff = Duration::from_millis(200);
    loop {
        let e = match agent.enroll().await {
            Ok(r) => return Ok(Some(r)),
            Err(e) => e,
        };
        let pause = match refusals.next(agent, e, on_key) {
            Next::Retry => continue,
            Next::WaitForKey => Duration::from_secs(5),
            Next::Stop(e) => return Err(e),
            Next::Transient(e) => {
                // Once per distinct error; the retries themselves at debug.
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!("enroll: {text}; retrying every few seconds");
                    last_error = text;
                } else {
                    tracing::debug!("enroll: {text}; retrying in {backoff:?}");
                }
                let pause = crate::wire::http::jittered(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                pause
            }
        };
        tokio::select! {
            _ = agent.shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

impl Agent {
    pub(super) async fn enroll(&self) -> Result<EnrollResponse, CallError> {
        let pending = match &self.cfg.tls {
            Some(_) => Some(
                crate::trust::tls::DeviceCert::request()
                    .map_err(|e| CallError::Certificate(e.to_string()))?,
            ),
            None => None,
        };
        let req = EnrollRequest {
            device_id: load_device_id(&self.cfg.data_dir),
            hostname: self.cfg.hostname.clone(),
            addrs: self.addrs(),
            version: self.cfg.version.clone(),
            group: self.cfg.group.clone(),
            peer_url: self.fixed_peer_url().unwrap_or_default(),
            peer_port: Some(self.peer_port()),
            csr: pending.as_ref().map(|p| p.csr_pem.clone()),
            device_secret: load_device_secret(&self.cfg.data_dir),
        };
        let url = self.url("/v1/enroll");
        let resp: EnrollResponse = self
            .client
            .json(Method::POST, &url, &req, Duration::from_secs(15))
            .await
            .inspect_err(|e| {
                self.server_failed(&url, e);
            })?;
        if let (Some(trust), Some(pending)) = (&self.cfg.tls, &pending) {
            let pem = resp.certificate.as_deref().ok_or_else(|| {
                CallError::Certificate(
                    "the server issued no device certificate (is it serving plain HTTP \
                     behind a TLS proxy? see the README's load-balancer section)"
                        .to_string(),
                )
            })?;
            self.cert
                .install(pending, pem, trust, &resp.device_id)
                .map_err(|e| CallError::Certificate(e.to_string()))?;
            self.client
                .renew_tls()
                .map_err(|e| CallError::Certificate(e.to_string()))?;
            if let Some(t) = self.cert.not_after() {
                tracing::info!(
                    device = %resp.device_id,
                    expires = %humantime::format_rfc3339_seconds(t),
                    "device certificate issued"
                );
            }
        }
        self.learn_clock(resp.server_time);
        *self.device_id.write() = resp.device_id.clone();
        // Later requests carry the device's counter (replay protection).
        self.client.set_device(&resp.device_id);
        save_device_id(&self.cfg.data_dir, &resp.device_id, self.server());
        if let Some(secret) = &resp.device_secret
            && let Err(e) = save_device_secret(&self.cfg.data_dir, secret)
        {
            tracing::warn!(
                "cannot keep the device secret in {}: {e}; if this device's certificate \
                 expires while it is off, it will enroll as a new device",
                self.cfg.data_dir.join(DEVICE_SECRET_FILE).display()
            );
        }
        self.serve_peers.store(resp.serve_peers, Ordering::Relaxed);
        self.heartbeat_secs
            .store(resp.heartbeat_secs.max(1), Ordering::Relaxed);
        Ok(resp)
    }

    /// Renews the device certificate over the authenticated channel
    /// (enrollment: the shared key and the current certificate) once half
    /// its lifetime is gone.
    pub(super) async fn renew_certificate_if_due(&self) {
        if self.cfg.tls.is_some() && self.cert.due() {
            match self.enroll().await {
                Ok(_) => tracing::info!("device certificate renewed"),
                Err(e) => tracing::warn!("renewing the device certificate: {e}; retrying"),
            }
        }
    }
}

fn load_device_id(dir: &std::path::Path) -> Option<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("agent.json")).ok()?).ok()?;
    v.get("device_id")?.as_str().map(str::to_string)
}

fn save_device_id(dir: &std::path::Path, id: &str, server: &str) {
    let tmp = dir.join("agent.json.tmp");
    let body = serde_json::json!({"device_id": id, "server": server});
    if std::fs::write(&tmp, body.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join("agent.json"));
    }
}

/// The secret the server gave this device at its first enrollment
/// (owner-only): its proof, besides its certificate, that it is the device
/// its id names when it enrolls again.
pub const DEVICE_SECRET_FILE: &str = "device.secret";

fn load_device_secret(dir: &std::path::Path) -> Option<String> {
    let s = std::fs::read_to_string(dir.join(DEVICE_SECRET_FILE)).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Written to a temporary owner-only file and renamed over the old one, so
/// a crash leaves the old secret or the new one, never half of one.
fn save_device_secret(dir: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{DEVICE_SECRET_FILE}.tmp"));
    let mut f = crate::platform::create_owner_only(&tmp)?;
    f.write_all(secret.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(DEVICE_SECRET_FILE))
}
