//! The Windows service control manager, through the `windows-service`
//! crate: registering and removing a service, and running as one.
//!
//! Running as a service: the SCM starts the program's command line; the
//! program must connect to the SCM (`StartServiceCtrlDispatcher`) within
//! 30 s. The dispatcher then calls `service_main` on another thread, which
//! registers a control handler, reports "running", runs the body, and
//! reports "stopped". A stop or shutdown request cancels [`stop_token`],
//! which [`crate::platform::shutdown_signal`] also waits on, so the body
//! shuts down exactly as it would on Ctrl-C.

use std::ffi::OsString;
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::{PlatformError, ServiceOutcome, ServiceSpec};

/// `ERROR_SERVICE_DOES_NOT_EXIST`.
const NO_SUCH_SERVICE: i32 = 1060;
/// `ERROR_SERVICE_NOT_ACTIVE`: stopping a stopped service.
const NOT_ACTIVE: i32 = 1062;

/// Cancelled when the SCM asks the service to stop.
pub fn stop_token() -> CancellationToken {
    static STOP: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);
    STOP.clone()
}

fn scm_error(what: &str, e: windows_service::Error) -> PlatformError {
    let why = match &e {
        windows_service::Error::Winapi(io) if io.raw_os_error() == Some(5) => {
            format!("{io}; run it from an elevated prompt (Run as administrator)")
        }
        _ => format!("{e:#}"),
    };
    PlatformError::Service {
        what: what.to_string(),
        why,
    }
}

fn os_code(e: &windows_service::Error) -> Option<i32> {
    match e {
        windows_service::Error::Winapi(io) => io.raw_os_error(),
        _ => None,
    }
}

fn info(spec: &ServiceSpec) -> ServiceInfo {
    ServiceInfo {
        name: spec.name.clone().into(),
        display_name: spec.display_name.clone().into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: spec.exe.clone(),
        launch_arguments: spec.args.clone(),
        dependencies: vec![],
        account_name: None, // LocalSystem
        account_password: None,
    }
}

pub fn install_service(spec: &ServiceSpec, force: bool) -> Result<ServiceOutcome, PlatformError> {
    let mgr = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| scm_error("connect", e))?;
    let info = info(spec);
    match mgr.open_service(
        &spec.name,
        ServiceAccess::QUERY_CONFIG | ServiceAccess::CHANGE_CONFIG,
    ) {
        Ok(svc) => {
            let cfg = svc
                .query_config()
                .map_err(|e| scm_error(&format!("read the configuration of {}", spec.name), e))?;
            let same = cfg.executable_path.as_os_str() == OsString::from(spec.command_line())
                && cfg.start_type == ServiceStartType::AutoStart
                && cfg.display_name == OsString::from(&spec.display_name);
            if same {
                Ok(ServiceOutcome::Unchanged)
            } else if force {
                svc.change_config(&info)
                    .map_err(|e| scm_error(&format!("change {}", spec.name), e))?;
                let _ = svc.set_description(&spec.description);
                Ok(ServiceOutcome::Replaced)
            } else {
                Ok(ServiceOutcome::Differs)
            }
        }
        Err(e) if os_code(&e) == Some(NO_SUCH_SERVICE) => {
            let svc = mgr
                .create_service(&info, ServiceAccess::CHANGE_CONFIG)
                .map_err(|e| scm_error(&format!("create {}", spec.name), e))?;
            // A description is a nicety; Wine's SCM may not keep it.
            let _ = svc.set_description(&spec.description);
            Ok(ServiceOutcome::Created)
        }
        Err(e) => Err(scm_error(&format!("open {}", spec.name), e)),
    }
}

pub fn uninstall_service(name: &str, timeout: Duration) -> Result<bool, PlatformError> {
    let mgr = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| scm_error("connect", e))?;
    let svc = match mgr.open_service(
        name,
        ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
    ) {
        Ok(s) => s,
        Err(e) if os_code(&e) == Some(NO_SUCH_SERVICE) => return Ok(false),
        Err(e) => return Err(scm_error(&format!("open {name}"), e)),
    };
    match svc.stop() {
        Ok(_) => {}
        Err(e) if os_code(&e) == Some(NOT_ACTIVE) => {}
        Err(e) => return Err(scm_error(&format!("stop {name}"), e)),
    }
    let deadline = Instant::now() + timeout;
    loop {
        let st = svc
            .query_status()
            .map_err(|e| scm_error(&format!("query {name}"), e))?;
        if st.current_state == ServiceState::Stopped {
            break;
        }
        if Instant::now() >= deadline {
            return Err(PlatformError::Service {
                what: format!("stop {name}"),
                why: format!(
                    "still {:?} after {} s; stop it with `sc.exe stop {name}` and run uninstall again",
                    st.current_state,
                    timeout.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    svc.delete()
        .map_err(|e| scm_error(&format!("delete {name}"), e))?;
    Ok(true)
}

/// What `service_main` runs; set by [`run_service`] before the dispatcher
/// starts (the dispatcher takes a plain function, not a closure).
static BODY: Mutex<Option<Box<dyn FnOnce() -> u32 + Send>>> = Mutex::new(None);
static NAME: OnceLock<String> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

pub fn run_service(name: &str, body: Box<dyn FnOnce() -> u32 + Send>) -> Result<(), PlatformError> {
    let _ = NAME.set(name.to_string());
    *BODY.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
    // Blocks until service_main returns. Fails at once (error 1063) when
    // the process was not started by the SCM.
    service_dispatcher::start(name, ffi_service_main).map_err(|e| PlatformError::Service {
        what: format!("run as the service {name}"),
        why: format!(
            "{e:#}; this entry point is for the service control manager (`sc.exe start {name}`), run `p2pd agent` to run the agent in a console"
        ),
    })
}

fn service_main(_args: Vec<OsString>) {
    if let Err(e) = service_main_impl() {
        tracing::error!("service failed: {e:#}");
    }
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: if exit == 0 {
            ServiceExitCode::Win32(0)
        } else {
            ServiceExitCode::ServiceSpecific(exit)
        },
        checkpoint: 0,
        wait_hint: if state == ServiceState::StopPending {
            Duration::from_secs(30)
        } else {
            Duration::ZERO
        },
        process_id: None,
    }
}

fn service_main_impl() -> Result<(), windows_service::Error> {
    let name = NAME.get().cloned().unwrap_or_default();
    let stop = stop_token();
    let handle_slot: std::sync::Arc<OnceLock<service_control_handler::ServiceStatusHandle>> =
        Default::default();
    let slot = handle_slot.clone();
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(h) = slot.get() {
                let _ = h.set_service_status(status(ServiceState::StopPending, 0));
            }
            stop.cancel();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(&name, handler)?;
    let _ = handle_slot.set(handle);
    handle.set_service_status(status(ServiceState::Running, 0))?;
    let body = BODY.lock().unwrap_or_else(|p| p.into_inner()).take();
    let code = body.map(|b| b()).unwrap_or(1);
    handle.set_service_status(status(ServiceState::Stopped, code))?;
    Ok(())
}
