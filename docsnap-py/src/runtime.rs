//! The per-process tokio runtime and the one helper every long call goes
//! through: it releases the GIL and checks for Ctrl-C while it waits.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a waiting call takes the GIL back to check for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The runtime of the process that created it.
struct ProcessRuntime {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<ProcessRuntime>> = Mutex::new(None);

/// Returns this process's runtime, creating it on first use.
///
/// A runtime is never shared across `fork()`: its worker threads exist only
/// in the parent, so a child that used it would wait forever. A child sees a
/// different pid, leaks the parent's runtime (dropping it would join threads
/// that do not exist) and builds its own.
pub fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);

    if let Some(current) = slot.as_ref().filter(|current| current.pid == pid) {
        return Ok(Arc::clone(&current.runtime));
    }
    if let Some(inherited) = slot.take() {
        std::mem::forget(inherited.runtime);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("docsnap-worker")
        .enable_all()
        .build()
        .map_err(|error| {
            PyRuntimeError::new_err(format!("failed to start the docsnap runtime: {error}"))
        })?;
    let runtime = Arc::new(runtime);
    *slot = Some(ProcessRuntime {
        pid,
        runtime: Arc::clone(&runtime),
    });
    Ok(runtime)
}

/// Runs `future` on the runtime with the GIL released, so other Python
/// threads run meanwhile, and returns its output.
///
/// Every OCR, extraction and network call goes through here. Every
/// [`SIGNAL_CHECK_INTERVAL`] the wait takes the GIL back to run Python's
/// signal handlers; on Ctrl-C the future is cancelled and `KeyboardInterrupt`
/// is raised. Signals are only delivered to the main thread, so calls from
/// other threads cannot be interrupted.
pub fn run_detached<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = PyResult<T>> + Send + 'static,
{
    let runtime = runtime()?;
    let mut task = runtime.spawn(future);

    loop {
        let waited = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK_INTERVAL, &mut task).await })
        });

        match waited {
            Ok(Ok(output)) => return output,
            Ok(Err(join_error)) => {
                return Err(PyRuntimeError::new_err(format!(
                    "a docsnap call stopped unexpectedly: {join_error}"
                )));
            }
            Err(_still_running) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

/// A value built once per process, such as an HTTP client whose pooled
/// connections belong to the runtime they were opened on.
///
/// After `fork()` the child builds its own value instead of using the
/// parent's, for the same reason as [`runtime`].
pub struct PerProcess<T> {
    slot: Mutex<Option<(u32, T)>>,
}

impl<T: Clone> PerProcess<T> {
    /// Creates an empty slot, filled on first use.
    pub fn empty() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// Creates a slot holding `value` for the current process.
    pub fn with_value(value: T) -> Self {
        Self {
            slot: Mutex::new(Some((std::process::id(), value))),
        }
    }

    /// Returns this process's value, building it with `build` if the slot is
    /// empty or was filled by a parent process.
    pub fn get_or_try_init(&self, build: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
        let pid = std::process::id();
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);

        if let Some((_, value)) = slot.as_ref().filter(|(owner, _)| *owner == pid) {
            return Ok(value.clone());
        }
        if let Some((_, inherited)) = slot.take() {
            // Dropping may touch the parent's runtime, which has no threads here.
            std::mem::forget(inherited);
        }

        let value = build()?;
        *slot = Some((pid, value.clone()));
        Ok(value)
    }
}

impl<T> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerProcess").finish_non_exhaustive()
    }
}
