//! Forwards the `tracing` events of docsnap's Rust code to Python's
//! `logging` module, as records of the `docsnap` logger.
//!
//! An event is queued where it happens, and [`flush`] logs the queue later
//! from a Python thread. Calling `logging` at the event itself would run
//! Python code wherever Rust logs, for example while a thread holds the GIL
//! and the lock of an engine it is building. Python can switch threads in
//! that code, and a thread that then waits for that lock while holding the
//! GIL deadlocks the process, or a thread that forks leaves the lock held in
//! the child forever.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber, span};

/// The name of the Python logger that receives the events.
const LOGGER: &str = "docsnap";

/// Events more verbose than this level are not forwarded, so that debug
/// events such as each retry of a busy SQLite statement stay out of Python.
const MAX_LEVEL: LevelFilter = LevelFilter::INFO;

/// The maximum number of events kept until the next flush. Later events
/// are counted and dropped.
const MAX_PENDING: usize = 1000;

/// How often an event tries to take the queue's lock before it is dropped.
/// The lock is held only to move events in or out, so a busy lock is free
/// again at once, except in a child forked while its parent held it, where
/// waiting would never end.
const LOCK_ATTEMPTS: u32 = 100;

/// Events that wait for the next [`flush`].
static PENDING: Mutex<VecDeque<Record>> = Mutex::new(VecDeque::new());

/// Events dropped since the last [`flush`].
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Makes the `docsnap` logger the receiver of this process's `tracing`
/// events, unless the process has a global subscriber already.
pub fn install() {
    // An error means another extension module installed its own, which stays.
    let _ = tracing::subscriber::set_global_default(PythonLogging);
}

/// Logs the queued events to the `docsnap` logger, in the order they
/// happened. Call it only where this thread holds no lock that another
/// Python thread may wait for, such as after a call's future finished.
///
/// Returns the `KeyboardInterrupt` that Ctrl-C raises while a handler runs;
/// the events not yet logged then count as dropped.
pub fn flush(py: Python<'_>) -> PyResult<()> {
    let records: Vec<Record> = match PENDING.try_lock() {
        Ok(mut pending) => pending.drain(..).collect(),
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().drain(..).collect(),
        // Another thread is flushing, and logs these events too.
        Err(TryLockError::WouldBlock) => return Ok(()),
    };
    let count = records.len();
    for (index, record) in records.into_iter().enumerate() {
        if let Err(interrupt) = log(py, record.level, record.message) {
            DROPPED.fetch_add((count - index - 1) as u64, Ordering::Relaxed);
            return Err(interrupt);
        }
    }

    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let message = format!("{dropped} docsnap log records were dropped");
        log(py, python_level(Level::WARN), message)?;
    }
    Ok(())
}

/// Logs one record. A handler's `Exception` is reported as unraisable,
/// because a failing handler must not fail the call, while a
/// `BaseException` such as `KeyboardInterrupt` is returned.
fn log(py: Python<'_>, level: u8, message: String) -> PyResult<()> {
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", (LOGGER,)))
        .and_then(|logger| logger.call_method1("log", (level, message)));
    match logged {
        Ok(_) => Ok(()),
        Err(error) if error.is_instance_of::<PyException>(py) => {
            error.write_unraisable(py, None);
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// One queued event.
#[derive(Debug)]
struct Record {
    /// The number of Python's logging level.
    level: u8,
    message: String,
}

fn enqueue(record: Record) {
    for _ in 0..LOCK_ATTEMPTS {
        let mut pending = match PENDING.try_lock() {
            Ok(pending) => pending,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                std::thread::yield_now();
                continue;
            }
        };
        if pending.len() < MAX_PENDING {
            pending.push_back(record);
        } else {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
}

/// A `tracing` subscriber that queues each event for the `docsnap` logger.
/// Spans are ignored, and the fields of an event follow its message.
#[derive(Debug)]
struct PythonLogging;

impl Subscriber for PythonLogging {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= MAX_LEVEL
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(MAX_LEVEL)
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = Message::default();
        event.record(&mut message);
        enqueue(Record {
            level: python_level(*event.metadata().level()),
            message: message.finish(),
        });
    }

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// Returns the number of Python's level of the same name.
fn python_level(level: Level) -> u8 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// An event's message followed by its other fields as `name=value`.
#[derive(Debug, Default)]
struct Message {
    text: String,
    fields: String,
}

impl Message {
    fn finish(mut self) -> String {
        self.text.push_str(&self.fields);
        self.text
    }
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
