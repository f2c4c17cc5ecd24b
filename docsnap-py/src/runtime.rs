//! The per-process tokio runtime and the one helper every long call goes
//! through: it releases the GIL and checks for Ctrl-C and cancellation while
//! it waits.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};
use tokio::runtime::Runtime;

use crate::logging;

/// How often a waiting call takes the GIL back to check for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The runtime of the process that created it.
struct ProcessRuntime {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<ProcessRuntime>> = Mutex::new(None);

thread_local! {
    /// The flag of the [`Cancellation`] whose `run` this thread is inside.
    static CANCELLED: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

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
/// [`SIGNAL_CHECK_INTERVAL`] the wait takes the GIL back to log the queued
/// log events and to run Python's signal handlers. On Ctrl-C the future is
/// cancelled and `KeyboardInterrupt` is raised. Signals are only delivered to the main thread, so a call from
/// another thread stops early only when it runs inside
/// [`Cancellation::run`] and that cancellation is cancelled.
pub fn run_detached<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = PyResult<T>> + Send + 'static,
{
    let runtime = runtime()?;
    let cancelled = CANCELLED.with(|current| current.borrow().clone());
    let is_cancelled = || {
        cancelled
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
    };
    if is_cancelled() {
        return Err(cancelled_error(py));
    }
    let mut task = runtime.spawn(future);

    loop {
        let waited = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK_INTERVAL, &mut task).await })
        });
        // Log what the call has logged so far, while this thread holds no lock.
        if let Err(interrupt) = logging::flush(py) {
            task.abort();
            return Err(interrupt);
        }

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
                if is_cancelled() {
                    task.abort();
                    return Err(cancelled_error(py));
                }
            }
        }
    }
}

fn cancelled_error(py: Python<'_>) -> PyErr {
    let class = py.import("asyncio").and_then(|asyncio| {
        let class = asyncio.getattr("CancelledError")?.cast_into::<PyType>()?;
        Ok(class)
    });
    match class {
        Ok(class) => PyErr::from_type(class, "the docsnap call was cancelled"),
        Err(error) => error,
    }
}

/// A way to stop the docsnap calls that a function makes in a worker
/// thread, which Ctrl-C does not reach. The `a`-prefixed methods use it to
/// stop their call when the awaiting asyncio task is cancelled.
#[pyclass(module = "docsnap._docsnap", name = "_Cancellation", frozen)]
#[derive(Debug, Default)]
pub struct Cancellation {
    cancelled: Arc<AtomicBool>,
}

#[pymethods]
impl Cancellation {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Calls `function(*args, **kwargs)` in this thread and returns its
    /// result. Once `cancel()` is called, its running docsnap call stops
    /// within 0.1 s and raises `asyncio.CancelledError`, and so do later ones.
    #[pyo3(signature = (function, *args, **kwargs))]
    fn run<'py>(
        &self,
        function: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let outer = CANCELLED.with(|current| current.replace(Some(Arc::clone(&self.cancelled))));
        let result = function.call(args, kwargs);
        CANCELLED.with(|current| current.replace(outer));
        result
    }

    /// Stops the calls made inside `run`, from any thread.
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
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
