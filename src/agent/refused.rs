//! What the agent does when the server refuses it: one mapping, for
//! enrollment and heartbeats alike, from a failed call to the agent's next
//! step (try a new key, wait for one, stop, or retry later).

use super::{Agent, AgentError};
use crate::wire::http::CallError;
use crate::wire::proto::ErrorCode;

/// How a refusal of this agent's key is met where it comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyRefused {
    /// Stop at once (a re-enrollment the server asked for).
    Stop,
    /// Try the key file again, else stop: a first start with a wrong key
    /// stops, so the mistake shows where it was made.
    Reload,
    /// Try the key file again, else wait for a new one: a device that
    /// enrolled before is in a key roll-out, or its key was regenerated on
    /// the server while it ran.
    ReloadOrWait,
}

/// The agent's next step after a failed enroll or heartbeat.
#[derive(Debug)]
pub(super) enum Next {
    /// The key file holds a new key now: try again at once.
    Retry,
    /// Refused for its key: wait for a new key file.
    WaitForKey,
    /// A refusal no retry can fix: the agent stops with this. Returned,
    /// not logged: `main` prints it once.
    Stop(AgentError),
    /// Not a refusal of this agent: retry on the caller's schedule.
    Transient(CallError),
}

/// The refusal the agent is waiting out: logged once when the wait starts,
/// and once when the server accepts the agent again.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    waiting_for_key: bool,
}

impl Refusals {
    /// What to do about `e`, a failed enroll or heartbeat.
    pub(super) fn next(&mut self, agent: &Agent, e: CallError, on_key: KeyRefused) -> Next {
        if is_key_mismatch(&e) && on_key != KeyRefused::Stop {
            if agent.reload_key() {
                return Next::Retry;
            }
            if on_key == KeyRefused::ReloadOrWait && agent.cfg.key_file.is_some() {
                if !self.waiting_for_key {
                    self.waiting_for_key = true;
                    agent.log_waiting_for_key(&e);
                }
                return Next::WaitForKey;
            }
        }
        if is_fatal(&e) {
            return Next::Stop(match e {
                CallError::Wire(w) => AgentError::Refused(w),
                other => AgentError::Call(other),
            });
        }
        Next::Transient(e)
    }

    /// The server accepted a heartbeat.
    pub(super) fn accepted(&mut self) {
        if std::mem::take(&mut self.waiting_for_key) {
            tracing::info!("the server accepts this agent's key again");
        }
    }
}

fn is_key_mismatch(e: &CallError) -> bool {
    e.code() == Some(ErrorCode::KeyMismatch)
}

/// Refusals that no retry can fix.
fn is_fatal(e: &CallError) -> bool {
    matches!(
        e.code(),
        Some(
            ErrorCode::KeyMismatch
                | ErrorCode::GroupNotAssigned
                | ErrorCode::UnsupportedVersion
                | ErrorCode::BadSignature
                | ErrorCode::DeviceRetired
        )
    )
}

impl Agent {
    fn log_waiting_for_key(&self, e: &CallError) {
        let path = self
            .cfg
            .key_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        tracing::error!(
            "the server refused this agent's key: {e}. Waiting for a new key in {path}: \
             `p2pd agent install --key-file FILE ...` writes it, and this agent picks it up \
             without a restart"
        );
    }
}
