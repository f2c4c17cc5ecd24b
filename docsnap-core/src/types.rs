//! Domain types in the exact JSON shape of the DocuSnap protocol.

use std::fmt;
use std::str::FromStr;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// The processing kind of a task: the protocol's `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Extract title, tags, description and key-value pairs from a document.
    Doc,
    /// Like `Doc`, plus the labels of the blank fields of a form.
    Form,
    /// Fill a form's blank fields from the file library.
    Fill,
}

impl TaskKind {
    /// Every kind, in protocol order.
    pub const ALL: [TaskKind; 3] = [TaskKind::Doc, TaskKind::Form, TaskKind::Fill];

    /// The protocol spelling: `doc`, `form` or `fill`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Doc => "doc",
            TaskKind::Form => "form",
            TaskKind::Fill => "fill",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "doc" => Ok(TaskKind::Doc),
            "form" => Ok(TaskKind::Form),
            "fill" => Ok(TaskKind::Fill),
            other => Err(Error::new(
                ErrorKind::InvalidType,
                format!("invalid task type {other:?}: expected \"doc\", \"form\" or \"fill\""),
            )),
        }
    }
}

/// The identity of a task: `(client_id, SHA256, type)`.
///
/// `sha256` is always lowercase hex, because the protocol treats an uppercase
/// hash as its lowercase form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// The client's identity, as sent.
    pub client_id: String,
    /// Lowercase hex SHA-256 of the request's `content` text.
    pub sha256: String,
    /// The processing kind.
    pub kind: TaskKind,
}

impl TaskKey {
    /// Creates a key, lowercasing `sha256`.
    pub fn new(client_id: impl Into<String>, sha256: &str, kind: TaskKind) -> Self {
        Self {
            client_id: client_id.into(),
            sha256: sha256.to_ascii_lowercase(),
            kind,
        }
    }
}

impl fmt::Display for TaskKey {
    /// Formats the key for logs: the client id, the first 12 hex digits of
    /// the hash and the kind. None of these reveal document content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short_hash = self.sha256.get(..12).unwrap_or(&self.sha256);
        write!(f, "{}/{}/{}", self.client_id, short_hash, self.kind)
    }
}

/// A task's state as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Queued or running.
    Processing,
    /// Done; `result` is `base64(IV || AES-CBC(result JSON))`, or the
    /// A256GCM form for requests that asked for it.
    Completed {
        /// The sealed result, ready to send.
        result: String,
    },
    /// Failed with a task-level error code, kept until the client clears it.
    Failed {
        /// The error code.
        error: ErrorKind,
    },
}

/// Key-value pairs in reading order: a flat map of string to string.
pub type KeyValues = IndexMap<String, String>;

/// The client's earlier results, which `related` may cite and fill draws on.
///
/// Accepts both spellings clients send: `docs`/`forms` (the Android app) and
/// `doc`/`form` (the browser page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileLibrary {
    /// Earlier document results.
    #[serde(default, alias = "doc")]
    pub docs: Vec<LibraryEntry>,
    /// Earlier form results.
    #[serde(default, alias = "form")]
    pub forms: Vec<LibraryEntry>,
}

impl FileLibrary {
    /// Returns whether the library contains an entry with this id and kind.
    pub fn contains(&self, kind: EntryKind, id: &str) -> bool {
        self.entries(kind).iter().any(|entry| entry.id == id)
    }

    /// Returns the entries of one kind.
    pub fn entries(&self, kind: EntryKind) -> &[LibraryEntry] {
        match kind {
            EntryKind::Doc => &self.docs,
            EntryKind::Form => &self.forms,
        }
    }

    /// Every entry with its kind, documents first.
    pub fn iter(&self) -> impl Iterator<Item = (EntryKind, &LibraryEntry)> {
        let docs = self.docs.iter().map(|entry| (EntryKind::Doc, entry));
        let forms = self.forms.iter().map(|entry| (EntryKind::Form, entry));
        docs.chain(forms)
    }

    /// Returns whether the library has no entries.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty() && self.forms.is_empty()
    }
}

/// One earlier result in the file library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    /// The entry's id; clients send it as `id` or `resource_id`.
    #[serde(
        rename = "resource_id",
        alias = "id",
        deserialize_with = "string_or_number"
    )]
    pub id: String,
    /// The entry's title.
    #[serde(default)]
    pub title: String,
    /// The entry's tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The entry's description.
    #[serde(default)]
    pub description: String,
    /// The entry's key-value pairs. Values of other JSON types are kept as
    /// their JSON text, so a library from an older client never fails to load.
    #[serde(default, deserialize_with = "lenient_key_values")]
    pub kv: KeyValues,
    /// The entry's blank fields, for forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// Which part of the file library an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An earlier document result.
    Doc,
    /// An earlier form result.
    Form,
}

/// A reference from a result to a file library entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryRef {
    /// The part of the library the entry is in.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// The entry's id.
    pub resource_id: String,
}

/// The result of a `doc` task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentResult {
    /// A title of three to five words.
    pub title: String,
    /// One to four keywords.
    pub tags: Vec<String>,
    /// One to three sentences.
    pub description: String,
    /// Key-value pairs printed on the document.
    pub kv: KeyValues,
    /// Up to five related file library entries.
    pub related: Vec<EntryRef>,
}

/// The result of a `form` task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormResult {
    /// A title of three to five words.
    pub title: String,
    /// One to four keywords.
    pub tags: Vec<String>,
    /// One to three sentences.
    pub description: String,
    /// Values printed on the form, always including `Form Type`.
    pub kv: KeyValues,
    /// Labels of the blank fields the user must fill; disjoint from `kv`.
    pub fields: Vec<String>,
    /// Up to five related file library entries.
    pub related: Vec<EntryRef>,
}

/// The result of a `fill` task: field label → verified value.
pub type FillResult = IndexMap<String, FilledValue>;

/// A value for one blank field, with the library entry it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledValue {
    /// The value, with dates as `YYYY-MM-DD`.
    pub value: String,
    /// The entry the value was read from.
    pub source: EntryRef,
}

/// The form object of a `fill` task: a previous form result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormToFill {
    /// The form's title, if the client sent it.
    #[serde(default)]
    pub title: String,
    /// Values already printed on the form.
    #[serde(default, deserialize_with = "lenient_key_values")]
    pub kv: KeyValues,
    /// Labels of the blank fields to fill.
    #[serde(default)]
    pub fields: Vec<String>,
}

fn string_or_number<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number id, found {other}"
        ))),
    }
}

fn lenient_key_values<'de, D>(deserializer: D) -> Result<KeyValues, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map = Option::<IndexMap<String, serde_json::Value>>::deserialize(deserializer)?;
    let pairs = map.unwrap_or_default().into_iter().map(|(key, value)| {
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        (key, text)
    });
    Ok(pairs.collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn library_accepts_browser_spelling() {
        let json = r#"{"doc": [{"id": "a1", "title": "Passport"}], "form": [{"id": 7}]}"#;
        let library: FileLibrary = serde_json::from_str(json).unwrap();

        assert_eq!(library.docs[0].id, "a1");
        assert_eq!(library.docs[0].title, "Passport");
        assert_eq!(library.forms[0].id, "7");
    }

    #[test]
    fn library_accepts_app_spelling() {
        let json = r#"{"docs": [{"resource_id": "a1", "kv": {"Name": "Li", "Age": 30}}]}"#;
        let library: FileLibrary = serde_json::from_str(json).unwrap();

        assert_eq!(library.docs[0].id, "a1");
        assert_eq!(library.docs[0].kv["Age"], "30");
        assert!(library.forms.is_empty());
    }

    #[test]
    fn task_key_lowercases_hash() {
        let key = TaskKey::new("c", "ABCDEF", TaskKind::Doc);
        assert_eq!(key.sha256, "abcdef");
    }

    #[test]
    fn fill_result_shape() {
        let mut fill = FillResult::new();
        fill.insert(
            "Name".into(),
            FilledValue {
                value: "Li".into(),
                source: EntryRef {
                    kind: EntryKind::Doc,
                    resource_id: "a1".into(),
                },
            },
        );
        let json = serde_json::to_string(&fill).unwrap();
        assert_eq!(
            json,
            r#"{"Name":{"value":"Li","source":{"type":"doc","resource_id":"a1"}}}"#
        );
    }
}
