//! Python exceptions: `DocsnapError` and one subclass per core error kind,
//! mapped from core errors in this file only.

use docsnap_core::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyIsADirectoryError, PyNotADirectoryError, PyOSError,
    PyPermissionError,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

create_exception!(
    docsnap,
    DocsnapError,
    PyException,
    "Base class of every docsnap error; `code` is the protocol error code."
);

/// Declares one exception class per error kind, the kind-to-class mapping and
/// the registration, so adding a kind to the core means adding one line here.
macro_rules! error_classes {
    ($( $kind:ident => $class:ident, $doc:literal; )+) => {
        $( create_exception!(docsnap, $class, DocsnapError, $doc); )+

        /// Converts a core error into the exception of its kind.
        ///
        /// The message carries the error's source chain; core messages never
        /// contain document text, images or keys.
        pub fn to_py_err(error: Error) -> PyErr {
            let message = describe(&error);
            match error.kind() {
                $( ErrorKind::$kind => PyErr::new::<$class, _>(message), )+
                // A kind newer than this module: the base class still carries
                // the code in the message.
                other => PyErr::new::<DocsnapError, _>(format!("{other}: {message}")),
            }
        }

        fn add_classes(module: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = module.py();
            $(
                let class = py.get_type::<$class>();
                class.setattr("code", ErrorKind::$kind.code())?;
                module.add(stringify!($class), class)?;
            )+
            Ok(())
        }
    };
}

error_classes! {
    InvalidRequest => InvalidRequest, "The request is not a JSON object.";
    MissingRequiredField => MissingRequiredField, "A required request field is missing or has the wrong type.";
    InvalidType => InvalidType, "The task type is not \"doc\", \"form\" or \"fill\".";
    MissingContent => MissingContent, "The request or its payload has nothing to process.";
    TaskNotFound => TaskNotFound, "A poll named a task the server does not hold.";
    Sha256Mismatch => Sha256Mismatch, "The request's SHA256 is not the hash of its content.";
    RsaDecryptionFailed => RsaDecryptionFailed, "The server could not unwrap the AES key.";
    AesDecryptionFailed => AesDecryptionFailed, "Content or a result could not be decrypted.";
    InvalidJson => InvalidJson, "A payload is not valid JSON or has the wrong structure.";
    PayloadTooLarge => PayloadTooLarge, "The request is larger than the server accepts.";
    InvalidImage => InvalidImage, "A page image could not be decoded or breaks a size limit.";
    TooManyPages => TooManyPages, "The task has more pages than allowed.";
    Database => DatabaseError, "The task store or result database failed.";
    OcrFailure => OcrError, "Text recognition failed.";
    LlmFailure => LlmError, "The language model failed or gave no usable answer.";
    DocPromptConstructionFailed => DocPromptConstructionFailed, "The prompt for a document could not be built.";
    FormPromptConstructionFailed => FormPromptConstructionFailed, "The prompt for a form could not be built.";
    FillPromptConstructionFailed => FillPromptConstructionFailed, "The prompt for a fill could not be built.";
    ProcessingError => ProcessingError, "Processing failed for a reason no other class describes.";
    ProcessingTimeout => ProcessingTimeout, "The task was still processing when the server's timeout passed.";
    InvalidConfig => InvalidConfig, "A configuration value or key is invalid.";
}

/// Converts a core error into Python's own `OSError` subclass when an I/O
/// failure caused it, such as a missing directory (`FileNotFoundError`), and
/// into the exception of its kind otherwise.
pub fn to_py_os_err(error: Error) -> PyErr {
    let io_kind = std::iter::successors(std::error::Error::source(&error), |cause| cause.source())
        .find_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let message = describe(&error);
    match io_kind {
        Some(std::io::ErrorKind::NotFound) => PyFileNotFoundError::new_err(message),
        Some(std::io::ErrorKind::PermissionDenied) => PyPermissionError::new_err(message),
        Some(std::io::ErrorKind::IsADirectory) => PyIsADirectoryError::new_err(message),
        Some(std::io::ErrorKind::NotADirectory) => PyNotADirectoryError::new_err(message),
        Some(_) => PyOSError::new_err(message),
        None => to_py_err(error),
    }
}

/// Converts a protocol error code returned by a server into its exception.
pub fn from_code(code: &str, context: &str) -> PyErr {
    match ErrorKind::from_code(code) {
        Some(kind) => to_py_err(Error::new(kind, format!("{context}: {code}"))),
        None => PyErr::new::<DocsnapError, _>(format!("{context}: unknown error code {code}")),
    }
}

/// Registers the base class, every kind's class and `_error_codes()`.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let base = py.get_type::<DocsnapError>();
    base.setattr("code", py.None())?;
    module.add("DocsnapError", base)?;
    add_classes(module)?;
    module.add_function(wrap_pyfunction!(_error_codes, module)?)?;
    Ok(())
}

/// Returns every protocol error code the core defines, for tests that check
/// each one has a class.
#[pyfunction]
fn _error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let codes = ErrorKind::ALL.iter().map(|kind| kind.code());
    PyList::new(py, codes)
}

fn describe(error: &Error) -> String {
    let mut message = error.message().to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        // Core messages often quote their direct cause already.
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}
