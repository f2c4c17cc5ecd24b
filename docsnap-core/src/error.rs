//! The one error type of docsnap, whose kinds map 1:1 onto protocol error codes.

use std::fmt;

/// A `Result` whose error is docsnap's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from any stage of docsnap, with a stable [`ErrorKind`].
///
/// The message is for people and logs. It never contains document text,
/// image bytes, keys or results, so it is safe to log.
#[derive(thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    transient: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// Creates an error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            transient: false,
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Marks the error as transient: the same call may succeed if retried,
    /// as with an unreachable OCR service or a rate-limited language model.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// The stable kind, which maps onto a protocol error code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The protocol error code, such as `OCR_FAILURE`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Returns whether retrying the failed call may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The message without the kind or the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("transient", &self.transient);
        if let Some(source) = &self.source {
            debug.field("source", &format_args!("{source}"));
        }
        debug.finish()
    }
}

macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )+) => {
        /// The kind of an [`Error`]; each kind is one protocol error code.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $( $(#[$doc])* $variant, )+
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)+];

            /// The protocol error code, such as `OCR_FAILURE`.
            pub fn code(self) -> &'static str {
                match self {
                    $( ErrorKind::$variant => $code, )+
                }
            }

            /// Parses a protocol error code; `None` for an unknown code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $( $code => Some(ErrorKind::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

error_kinds! {
    /// The body is not a JSON object (not JSON, empty, or another JSON type).
    InvalidRequest => "INVALID_REQUEST",
    /// A required request field is missing or has the wrong JSON type.
    MissingRequiredField => "MISSING_REQUIRED_FIELD",
    /// `type` is not `doc`, `form` or `fill`.
    InvalidType => "INVALID_TYPE",
    /// `has_content` is true but `content` or `aes_key` is missing, or the
    /// inner payload has nothing to process.
    MissingContent => "MISSING_CONTENT",
    /// A poll-only request names a task that does not exist.
    TaskNotFound => "TASK_NOT_FOUND",
    /// `SHA256` is not the hash of `content`.
    Sha256Mismatch => "SHA256_MISMATCH",
    /// The wrapped AES key could not be unwrapped with the server's key.
    RsaDecryptionFailed => "RSA_DECRYPTION_FAILED",
    /// `content` could not be decrypted (under CBC this includes a payload
    /// that decrypts to something other than JSON).
    AesDecryptionFailed => "AES_DECRYPTION_FAILED",
    /// The decrypted payload is not valid JSON or has the wrong structure.
    InvalidJson => "INVALID_JSON",
    /// The request body is larger than the server accepts.
    PayloadTooLarge => "PAYLOAD_TOO_LARGE",
    /// A page image could not be decoded or breaks a size limit.
    InvalidImage => "INVALID_IMAGE",
    /// The task has more pages than the server accepts.
    TooManyPages => "TOO_MANY_PAGES",
    /// The task store failed.
    Database => "DATABASE_ERROR",
    /// Text recognition failed.
    OcrFailure => "OCR_FAILURE",
    /// The language model failed or returned no usable result.
    LlmFailure => "LLM_FAILURE",
    /// The prompt for a document could not be built.
    DocPromptConstructionFailed => "DOC_PROMPT_CONSTRUCTION_FAILED",
    /// The prompt for a form could not be built.
    FormPromptConstructionFailed => "FORM_PROMPT_CONSTRUCTION_FAILED",
    /// The prompt for a fill could not be built.
    FillPromptConstructionFailed => "FILL_PROMPT_CONSTRUCTION_FAILED",
    /// Processing failed for a reason no other kind describes.
    ProcessingError => "PROCESSING_ERROR",
    /// The task was still processing when the processing timeout passed.
    ProcessingTimeout => "PROCESSING_TIMEOUT",
    /// The configuration or a key file is invalid; never sent to clients.
    InvalidConfig => "INVALID_CONFIG",
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|kind| kind.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }
}
