//! Parsing of `/process` and `/clear` bodies and of the decrypted inner payload.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::envelope::{Cipher, decode_base64};
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::{InnerPayload, TaskInput};
use crate::store::ClearScope;
use crate::types::{FileLibrary, FormToFill, TaskKey, TaskKind};

/// A `POST /process` request, typed.
///
/// `content` and `aes_key` stay optional here because a request for an
/// existing task never looks at them; [`crate::service::TaskService`] checks
/// them only when it creates a task.
#[derive(Clone)]
pub struct ProcessRequest {
    /// The task's identity, with the hash lowercased.
    pub key: TaskKey,
    /// False for a poll: the request must name an existing task.
    pub has_content: bool,
    /// The encrypted inner payload (base64), if sent as a string.
    pub content: Option<String>,
    /// The RSA-wrapped AES key (base64), if sent as a string.
    pub aes_key: Option<String>,
    /// The cipher of `content` and of the result; CBC when the field is absent.
    pub cipher: Cipher,
}

impl std::fmt::Debug for ProcessRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRequest")
            .field("key", &self.key)
            .field("has_content", &self.has_content)
            .field("content_len", &self.content.as_ref().map(String::len))
            .field("aes_key_sent", &self.aes_key.is_some())
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl ProcessRequest {
    /// Builds a poll for an existing task.
    pub fn poll(key: TaskKey) -> Self {
        Self {
            key,
            has_content: false,
            content: None,
            aes_key: None,
            cipher: Cipher::Cbc,
        }
    }

    /// Builds a submission of a sealed payload.
    pub fn submit(key: TaskKey, content: String, aes_key: String, cipher: Cipher) -> Self {
        Self {
            key,
            has_content: true,
            content: Some(content),
            aes_key: Some(aes_key),
            cipher,
        }
    }

    /// Parses a `/process` body, checking in the protocol's order: a JSON
    /// object, then the required fields and their JSON types, then `type`,
    /// then the optional `cipher`.
    ///
    /// Errors: `InvalidRequest` for a body that is not an object or an
    /// unknown `cipher` (any value other than `"A256GCM"` or `"CBC"`);
    /// `MissingRequiredField` for a missing, empty or wrongly typed
    /// `client_id`, `type`, `SHA256` or `has_content`; `InvalidType`.
    pub fn from_json(body: &Value) -> Result<Self> {
        let object = body.as_object().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "the request body is a JSON {}: expected an object with client_id, type, SHA256 and has_content",
                    json_type(body)
                ),
            )
        })?;

        let client_id = required_string(object, "client_id")?;
        let kind = required_string(object, "type")?;
        let sha256 = required_string(object, "SHA256")?;
        let has_content = required_flag(object, "has_content")?;

        let kind: TaskKind = kind.parse()?;
        let cipher = match object.get("cipher") {
            None | Some(Value::Null) => Cipher::Cbc,
            Some(Value::String(name)) => name.parse()?,
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "cipher is a JSON {}: expected the string \"A256GCM\", or omit the field for CBC",
                        json_type(other)
                    ),
                ));
            }
        };

        Ok(Self {
            key: TaskKey::new(client_id, sha256, kind),
            has_content,
            content: optional_string(object, "content"),
            aes_key: optional_string(object, "aes_key"),
            cipher,
        })
    }
}

/// Parses a `/clear` body into the tasks to delete.
///
/// `client_id` is required (`MissingRequiredField`). With `SHA256` and
/// `type` one task goes; with `SHA256` alone every kind of that hash; with
/// neither every task of the client.
pub fn parse_clear(body: &Value) -> Result<ClearScope> {
    let object = body.as_object().ok_or_else(|| {
        Error::new(
            ErrorKind::MissingRequiredField,
            format!(
                "the request body is a JSON {}: expected an object with client_id",
                json_type(body)
            ),
        )
    })?;
    let client_id = required_string(object, "client_id")?.to_owned();
    let sha256 = match object.get("SHA256") {
        None | Some(Value::Null) => None,
        Some(_) => Some(required_string(object, "SHA256")?.to_ascii_lowercase()),
    };
    let kind = match object.get("type") {
        None | Some(Value::Null) => None,
        Some(_) => Some(required_string(object, "type")?.parse::<TaskKind>()?),
    };

    // NOTE: `type` without `SHA256` clears every task of the client, as the
    // old backend did for any request short of both fields.
    Ok(match (sha256, kind) {
        (Some(sha256), Some(kind)) => ClearScope::Task(TaskKey::new(client_id, &sha256, kind)),
        (Some(sha256), None) => ClearScope::Hash { client_id, sha256 },
        (None, _) => ClearScope::Client(client_id),
    })
}

/// Checks the structure of a decrypted inner payload and decodes its pages.
///
/// Errors: `MissingContent` without `to_process` or with no pages;
/// `TooManyPages` above `max_pages`; `InvalidImage` for a page that is not
/// base64 or not an image format docsnap reads; `InvalidJson` for any other
/// wrong shape, including `file_lib`. Messages name positions, never values.
pub fn parse_payload(kind: TaskKind, payload: &Value, max_pages: usize) -> Result<InnerPayload> {
    let object = payload.as_object().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidJson,
            format!(
                "the decrypted payload is a JSON {}: expected an object with to_process",
                json_type(payload)
            ),
        )
    })?;
    let to_process = object.get("to_process").ok_or_else(|| {
        Error::new(
            ErrorKind::MissingContent,
            "the decrypted payload has no to_process: send the pages (doc, form) or the form to fill (fill)",
        )
    })?;

    let input = match kind {
        TaskKind::Doc | TaskKind::Form => TaskInput::Pages(parse_pages(to_process, max_pages)?),
        TaskKind::Fill => TaskInput::Form(parse_form(to_process)?),
    };
    let library = match object.get("file_lib") {
        None | Some(Value::Null) => FileLibrary::default(),
        Some(value) => FileLibrary::deserialize(value).map_err(|_| {
            Error::new(
                ErrorKind::InvalidJson,
                "file_lib has the wrong structure: expected {\"docs\": [entry, ...], \"forms\": [entry, ...]} \
                 where each entry has an id or resource_id",
            )
        })?,
    };

    Ok(InnerPayload { input, library })
}

fn parse_pages(to_process: &Value, max_pages: usize) -> Result<Vec<Vec<u8>>> {
    let pages = to_process.as_array().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidJson,
            format!(
                "to_process is a JSON {}: expected an array of base64 page images",
                json_type(to_process)
            ),
        )
    })?;
    if pages.is_empty() {
        return Err(Error::new(
            ErrorKind::MissingContent,
            "to_process is an empty array: send at least one page image",
        ));
    }
    if pages.len() > max_pages {
        return Err(Error::new(
            ErrorKind::TooManyPages,
            format!(
                "the task has {} pages but the server accepts at most {max_pages}: split it into several tasks",
                pages.len()
            ),
        ));
    }

    pages
        .iter()
        .enumerate()
        .map(|(index, page)| decode_page(index, page))
        .collect()
}

fn decode_page(index: usize, page: &Value) -> Result<Vec<u8>> {
    let invalid = |reason: &str| {
        Error::new(
            ErrorKind::InvalidImage,
            format!("page {index} of to_process {reason}"),
        )
    };
    let text = page.as_str().ok_or_else(|| {
        invalid(&format!(
            "is a JSON {}: expected a base64 string",
            json_type(page)
        ))
    })?;
    let bytes = decode_base64(text)
        .ok_or_else(|| invalid("is not valid base64: expected the standard padded alphabet"))?;

    match image::guess_format(&bytes) {
        Ok(format) if format.reading_enabled() => Ok(bytes),
        Ok(format) => Err(invalid(&format!(
            "is a {format:?} image, which this build cannot read: send JPEG or PNG"
        ))),
        Err(_) => Err(invalid(
            "is not a recognised image format: send JPEG or PNG",
        )),
    }
}

fn parse_form(to_process: &Value) -> Result<FormToFill> {
    let wrong_shape = || {
        Error::new(
            ErrorKind::InvalidJson,
            format!(
                "to_process of a fill task is a JSON {} or has the wrong structure: expected a form \
                 result object with a fields array of strings",
                json_type(to_process)
            ),
        )
    };
    if !to_process.is_object() {
        return Err(wrong_shape());
    }
    FormToFill::deserialize(to_process).map_err(|_| wrong_shape())
}

fn required_string<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str> {
    match object.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::String(_)) => Err(missing(format!(
            "{field} is empty: send a non-empty string"
        ))),
        Some(other) => Err(missing(format!(
            "{field} is a JSON {}: expected a string",
            json_type(other)
        ))),
        None => Err(missing(format!("{field} is missing: send it as a string"))),
    }
}

/// Reads a flag sent as a JSON boolean or as the number 0 or 1.
fn required_flag(object: &Map<String, Value>, field: &str) -> Result<bool> {
    match object.get(field) {
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::Number(number)) if number.as_u64() == Some(0) => Ok(false),
        Some(Value::Number(number)) if number.as_u64() == Some(1) => Ok(true),
        Some(Value::Number(_)) => Err(missing(format!(
            "{field} is a number other than 0 or 1: expected true or false (or 1 or 0)"
        ))),
        Some(other) => Err(missing(format!(
            "{field} is a JSON {}: expected true or false (or 1 or 0)",
            json_type(other)
        ))),
        None => Err(missing(format!("{field} is missing: send true or false"))),
    }
}

fn optional_string(object: &Map<String, Value>, field: &str) -> Option<String> {
    match object.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

fn missing(message: String) -> Error {
    Error::new(ErrorKind::MissingRequiredField, message)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
