//! `/v1/enroll`: a device joins (or renews): its version, group and
//! claimed address checked, its office placed, its id kept only with a
//! proof, and its certificate and secret issued.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;

use crate::domain::clock::now;
use crate::store::Store;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use crate::server::auth::{secret_proves, secret_sha256};
use crate::server::{AppState, fleet, quota, roster};

pub async fn enroll(
    State(s): State<AppState>,
    conn: Option<axum::Extension<crate::wire::listen::Conn>>,
    signed: Signed,
) -> Result<axum::Json<EnrollResponse>, ApiError> {
    let req: EnrollRequest = signed.json()?;
    req.validate()?;
    // The device its certificate proves (directly, or through a trusted
    // proxy): `Signed` already refused a body naming another. On plain
    // HTTP nothing is proved.
    let proved = match (&signed.caller, &s.tls) {
        (crate::wire::http::Caller::Device(d), Some(_)) => Some(d.as_str()),
        _ => None,
    };
    let source = conn.as_ref().map(|c| c.0.addr.ip());
    quota::enroll(&s, source, proved, &req).await?;
    let fleet = s.fleet.current();
    // A fixed peer URL (`--advertise`) must be at the address the device
    // connects from, unless claims are trusted. Without one the claims
    // are only hints: the device is placed by its source address.
    if let Some(ip) = source
        && !req.peer_url.is_empty()
    {
        check_claimed_address(&fleet, &req, ip)?;
    }
    let tls = s.tls.is_some();
    let csr = req.csr.clone();
    // Device ids are public (every peer port shows one in its
    // certificate), so naming one proves nothing. An existing id is kept
    // only with a proof that only that device has: its certificate (a
    // renewal), or the secret it was given at its first enrollment (a
    // device whose certificate expired while it was off, or that moved).
    // Without one the request enrolls a new device: holding the key, even
    // with the victim's address, is not enough to become another device.
    let proved_by_cert = proved.is_some() && proved == req.device_id.as_deref();
    let identities = s.tls.is_some();
    let state = s.clone();
    let (mut resp, secret, placed) =
        s.db.call(move |st| {
            let mut req = req;
            if let Some(id) = req.device_id.clone() {
                if let Some(at) = st.retired(&id)? {
                    return Err(retired(&id, at));
                }
                if identities
                    && !proved_by_cert
                    && !secret_proves(st, &id, req.device_secret.as_deref())?
                {
                    new_device_instead(st, &id)?;
                    req.device_id = None;
                }
            }
            let (resp, placed) = enroll_impl(st, &fleet, &state.roster, req, source, tls)?;
            st.forget_readmitted(&resp.device_id)?;
            let secret = give_secret(st, &resp.device_id)?;
            Ok((resp, secret, placed))
        })
        .await?;
    resp.device_secret = secret;
    // Whether its peers can reach it is learnt again (`reachability.rs`).
    let (office_id, peer_url) = placed;
    crate::server::reachability::check(&s, &resp.device_id, office_id, Some(peer_url));
    // Its group or office may have changed: the next heartbeat reads them.
    s.fleet.current().directory.remove(&resp.device_id);
    if let (Some(certs), Some(csr)) = (&s.tls, csr) {
        let lifetime = s.faults.device_cert_lifetime();
        resp.certificate = Some(issue_certificate(certs, &csr, &resp.device_id, lifetime)?);
    }
    Ok(axum::Json(resp))
}

/// An enrollment under an existing device id without its certificate or
/// its secret enrolls a new device; said in the log when `id` exists.
fn new_device_instead(st: &Store, id: &str) -> Result<(), ApiError> {
    if st.device(id)?.is_some() {
        tracing::warn!(
            device = %id,
            "enrollment under an existing device id without its certificate \
             or its secret: enrolled as a new device"
        );
    }
    Ok(())
}

/// First enrollment (or a device from before secrets): the secret it
/// proves itself with from now on. Kept stable: an agent that missed one
/// answer still holds a valid one, so a device that has one gets none.
fn give_secret(st: &mut Store, device_id: &str) -> Result<Option<String>, ApiError> {
    if st.device_secret(device_id)?.is_some() {
        return Ok(None);
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    st.set_device_secret(device_id, &secret_sha256(&secret))?;
    Ok(Some(secret))
}

/// The device certificate for `csr`, from the server CA.
fn issue_certificate(
    certs: &crate::trust::tls::ServerCerts,
    csr: &str,
    device_id: &str,
    lifetime: Duration,
) -> Result<String, ApiError> {
    certs
        .ca()
        .issue_device(csr, device_id, lifetime)
        .map_err(|e| match e {
            crate::trust::tls::TlsError::BadCsr(_) => {
                ApiError::new(ErrorCode::BadRequest, e.to_string())
            }
            other => ApiError::internal(other),
        })
}

/// The refusal of a retired device id.
fn retired(id: &str, at: i64) -> ApiError {
    ApiError::new(
        ErrorCode::DeviceRetired,
        format!(
            "device {id} was retired by the admin at {}; it stays refused until an admin \
             runs `p2pd devices readmit {id}` on the server",
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64)
            )
        ),
    )
}

/// The address that places an enrolling device: the multi-homed rule
/// (`topology::placing`) over its source address and its claims.
fn placed_by(
    fleet: &fleet::Snapshot,
    req: &EnrollRequest,
    source: Option<IpAddr>,
) -> Option<crate::topology::placing::Candidate> {
    use crate::topology::placing::{Candidate, placing_address};
    let claimed: Vec<Candidate> = req
        .addrs
        .iter()
        .map(|a| Candidate {
            ip: a.ip,
            prefix: a.prefix,
        })
        .collect();
    let is_vpn = |o: i64| {
        fleet
            .office(o)
            .is_some_and(|o| o.kind == crate::domain::OfficeKind::Vpn)
    };
    // In-process (no connection): the claims are all there is.
    let trust = fleet.settings.trust_claimed_addresses || source.is_none();
    placing_address(&fleet.lookup, is_vpn, source, &claimed, trust)
}

/// Unless `trust_claimed_addresses` is on, the address an enrolling device
/// claims must be the one it connects from (an IPv4-mapped IPv6 source
/// counts as IPv4). A claim of the other family cannot be compared, so it
/// is refused too.
fn check_claimed_address(
    fleet: &fleet::Snapshot,
    req: &EnrollRequest,
    source: IpAddr,
) -> Result<(), ApiError> {
    if fleet.settings.trust_claimed_addresses {
        return Ok(());
    }
    let source = source.to_canonical();
    let Some(claimed) = req.addrs.first().map(|a| a.ip.to_canonical()) else {
        return Ok(()); // validate() refuses an empty list
    };
    if claimed == source {
        return Ok(());
    }
    if claimed.is_ipv4() != source.is_ipv4() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "this device claims address {claimed} but connects from {source}, an address \
                 of the other family, so the claim cannot be checked; an agent must connect \
                 from the address it advertises (--advertise). Behind NAT or a proxy, an admin \
                 can accept claimed addresses with \
                 `p2pd settings set trust_claimed_addresses on`"
            ),
        ));
    }
    Err(ApiError::new(
        ErrorCode::BadRequest,
        format!(
            "this device claims address {claimed} but connects from {source}; \
             an agent must connect from the address it advertises (--advertise). \
             Behind NAT or a proxy, an admin can accept claimed addresses with \
             `p2pd settings set trust_claimed_addresses on`"
        ),
    ))
}

fn enroll_impl(
    st: &mut Store,
    fleet: &fleet::Snapshot,
    roster: &roster::Roster,
    req: EnrollRequest,
    source: Option<IpAddr>,
    tls: bool,
) -> Result<(EnrollResponse, (Option<i64>, String)), ApiError> {
    let settings = &fleet.settings;
    if !settings.accepts_version(&req.version) {
        let (min, max) = (&settings.min_client_version, &settings.max_client_version);
        return Err(ApiError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "client version {} is not supported; this server accepts {min} to {max}. \
                 Install a supported agent, or change min_client_version / max_client_version",
                req.version
            ),
        ));
    }
    if !fleet.group_assigned(&req.group) {
        return Err(ApiError::new(
            ErrorCode::GroupNotAssigned,
            format!(
                "group '{}' is not assigned to peer distribution; an admin can assign it with `p2pd groups assign {}`",
                req.group, req.group
            ),
        ));
    }
    let place = placed_by(fleet, &req, source).ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "enrollment lists no address, and the connection shows none",
        )
    })?;
    let peer_url = match (req.peer_url.is_empty(), req.peer_port) {
        (false, _) => req.peer_url.clone(),
        (true, Some(port)) => {
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{}", std::net::SocketAddr::new(place.ip, port))
        }
        (true, None) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "enrollment gives neither a peer URL nor a peer port",
            ));
        }
    };
    let row = st.enroll_device(&crate::store::devices::Enrollment {
        device_id: req.device_id.as_deref(),
        hostname: &req.hostname,
        addr: &place.ip.to_string(),
        prefix_len: place.prefix,
        group: &req.group,
        version: &req.version,
        peer_url: &peer_url,
    })?;
    let office_id = crate::topology::place_device(st, &fleet.lookup, place.ip, place.prefix)
        .map_err(ApiError::internal)?;
    st.set_device_office(&row.id, office_id)?;
    // A new enrollment may be a new network path: reachability is checked
    // again.
    st.set_unreachable(&row.id, None)?;
    // Both offices' rosters changed: a new member is one on its first call.
    for o in [row.office_id, office_id].into_iter().flatten() {
        roster.forget(o);
    }
    let office = match office_id {
        // An auto office created just now is not in the snapshot yet.
        Some(id) => match fleet.office(id) {
            Some(o) => Some(o.clone()),
            None => st.office(id)?,
        },
        None => None,
    };
    let serve_peers = office.as_ref().is_some_and(|o| o.kind.serves_peers());
    let placed = (office_id, peer_url.clone());
    Ok((
        EnrollResponse {
            device_id: row.id,
            office: office.as_ref().map(|o| o.name.clone()),
            office_kind: office.map(|o| o.kind.to_string()),
            heartbeat_secs: fleet.settings.heartbeat_secs,
            license_activated_at: row.license_activated_at.unwrap_or_else(now),
            serve_peers,
            server_time: now(),
            certificate: None,
            device_secret: None,
        },
        placed,
    ))
}
