//! Validation and normalisation of every extractor's results, so rule-based
//! and LLM results obey the same protocol rules before they reach a client.
//!
//! `validate_*` take the raw JSON a model returned and reject a wrong shape;
//! `normalize_*` take typed results and always succeed.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::extract::dates::{
    DateReading, format_fill_date, format_kv_date, is_date_key, parse_date,
};
use crate::types::{
    DocumentResult, EntryKind, EntryRef, FileLibrary, FillResult, FilledValue, FormResult,
    FormToFill, KeyValues, LibraryEntry,
};

/// The maximum number of tags in a result.
pub const MAX_TAGS: usize = 4;

/// The maximum number of `related` entries in a result.
pub const MAX_RELATED: usize = 5;

/// The `kv` key every form result carries.
pub const FORM_TYPE_KEY: &str = "Form Type";

/// The `Form Type` of a form whose title is empty too.
const FALLBACK_FORM_TYPE: &str = "Form";

/// Checks the shape of a raw document result and normalises it.
///
/// Errors are `ProcessingError` with a message that names the offending part
/// of the JSON but never quotes its text.
pub fn validate_document(raw: &Value, library: &FileLibrary) -> Result<DocumentResult> {
    let object = as_object(raw)?;
    let result = DocumentResult {
        title: required_string(object, "title")?,
        tags: tags_field(object)?,
        description: optional_string(object, "description")?,
        kv: kv_field(object)?,
        related: related_field(object, library)?,
    };
    Ok(normalize_document(result, library))
}

/// Checks the shape of a raw form result and normalises it.
pub fn validate_form(raw: &Value, library: &FileLibrary) -> Result<FormResult> {
    let object = as_object(raw)?;
    let result = FormResult {
        title: required_string(object, "title")?,
        tags: tags_field(object)?,
        description: optional_string(object, "description")?,
        kv: kv_field(object)?,
        fields: fields_field(object)?,
        related: related_field(object, library)?,
    };
    Ok(normalize_form(result, library))
}

/// Checks the shape of a raw fill result and keeps only grounded values.
///
/// Entries that cannot be grounded (no `source`, an unknown entry, a value
/// not found in the source) are dropped rather than rejected.
pub fn validate_fill(raw: &Value, form: &FormToFill, library: &FileLibrary) -> Result<FillResult> {
    let object = unwrap_fill_wrapper(as_object(raw)?, form);
    let mut fill = FillResult::new();
    for (label, entry) in object {
        let Some(filled) = parse_filled_value(entry, library) else {
            continue;
        };
        fill.entry(label.clone()).or_insert(filled);
    }
    Ok(normalize_fill(fill, form, library))
}

/// Normalises a document result: trims text, flattens nothing (it is typed),
/// formats dates, caps tags and keeps only `related` ids in the library.
pub fn normalize_document(result: DocumentResult, library: &FileLibrary) -> DocumentResult {
    DocumentResult {
        title: result.title.trim().to_owned(),
        tags: normalize_tags(result.tags),
        description: result.description.trim().to_owned(),
        kv: normalize_kv(result.kv),
        related: filter_related(result.related, library),
    }
}

/// Normalises a form result like [`normalize_document`], makes `kv` keys and
/// `fields` disjoint and makes sure `Form Type` is present.
///
/// A label in both `kv` and `fields` stays a field only if its `kv` value is
/// empty (a printed label with a blank); otherwise it is printed text and
/// leaves `fields`.
pub fn normalize_form(result: FormResult, library: &FileLibrary) -> FormResult {
    let title = result.title.trim().to_owned();
    let mut kv = trim_keys(result.kv);
    let mut fields = normalize_labels(result.fields);

    fields.retain(|field| {
        let label = normalize_for_match(field);
        let printed = kv
            .iter()
            .find(|(key, _)| normalize_for_match(key) == label)
            .map(|(key, value)| (key.clone(), value.trim().is_empty()));
        match printed {
            None => true,
            Some((key, true)) => {
                kv.shift_remove(&key);
                true
            }
            Some((_, false)) => false,
        }
    });

    let kv = ensure_form_type(normalize_kv(kv), &title);
    let form_type = normalize_for_match(FORM_TYPE_KEY);
    fields.retain(|field| normalize_for_match(field) != form_type);

    FormResult {
        title,
        tags: normalize_tags(result.tags),
        description: result.description.trim().to_owned(),
        kv,
        fields,
        related: filter_related(result.related, library),
    }
}

/// Keeps the filled fields whose label is one of the form's `fields`, whose
/// source is in the library and whose value is found in that source; dates
/// become `YYYY-MM-DD`. Labels take the form's spelling.
pub fn normalize_fill(fill: FillResult, form: &FormToFill, library: &FileLibrary) -> FillResult {
    let labels: IndexMap<String, &String> = form
        .fields
        .iter()
        .map(|field| (normalize_for_match(field), field))
        .collect();

    let total = fill.len();
    let mut kept = FillResult::new();
    for (label, filled) in fill {
        let Some(&canonical) = labels.get(&normalize_for_match(&label)) else {
            continue;
        };
        let Some(source) = find_entry(library, &filled.source) else {
            continue;
        };
        let value = filled.value.trim();
        if value.is_empty() || !is_grounded(value, source) {
            continue;
        }
        let value = match parse_date(value, value_reading(canonical)) {
            Some(date) => format_fill_date(date),
            None => value.to_owned(),
        };
        kept.entry(canonical.clone()).or_insert(FilledValue {
            value,
            source: filled.source,
        });
    }

    if kept.len() < total {
        tracing::debug!(
            kept = kept.len(),
            dropped = total - kept.len(),
            "dropped fill values that are not grounded in their source"
        );
    }
    kept
}

/// Flattens a JSON object into `kv`: nested keys join with `.`, list items
/// get 1-based indices, numbers and booleans become text and nulls are dropped.
///
/// `{"a": {"b": ["x", "y"]}}` becomes `{"a.b.1": "x", "a.b.2": "y"}`. The
/// first of two values that flatten to the same key wins.
pub fn flatten_kv(object: &Map<String, Value>) -> KeyValues {
    let mut kv = KeyValues::new();
    for (key, value) in object {
        flatten_into(key.trim(), value, &mut kv);
    }
    kv
}

/// Trims keys and values, drops empty ones and writes whole-value dates as
/// `MMM DD, YYYY`.
pub fn normalize_kv(kv: KeyValues) -> KeyValues {
    let mut normalized = KeyValues::new();
    for (key, value) in kv {
        let key = key.trim();
        let value = value.trim();
        if key.is_empty() || value.is_empty() {
            continue;
        }
        let value = match parse_date(value, value_reading(key)) {
            Some(date) => format_kv_date(date),
            None => value.to_owned(),
        };
        normalized.entry(key.to_owned()).or_insert(value);
    }
    normalized
}

/// Returns the date reading for a value under `key`: compact `YYYYMMDD`
/// digits count only under a key that names a date.
fn value_reading(key: &str) -> DateReading {
    let reading = DateReading::for_value();
    if is_date_key(key) {
        reading.with_compact()
    } else {
        reading
    }
}

/// Trims tags, drops empty and repeated ones (ignoring case) and keeps the
/// first [`MAX_TAGS`].
pub fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty()
            || kept
                .iter()
                .any(|seen| seen.to_lowercase() == tag.to_lowercase())
        {
            continue;
        }
        kept.push(tag.to_owned());
        if kept.len() == MAX_TAGS {
            break;
        }
    }
    kept
}

/// Keeps the first [`MAX_RELATED`] distinct references that name an entry
/// of the right kind in the library.
pub fn filter_related(related: Vec<EntryRef>, library: &FileLibrary) -> Vec<EntryRef> {
    let mut kept: Vec<EntryRef> = Vec::new();
    for reference in related {
        if !library.contains(reference.kind, &reference.resource_id) || kept.contains(&reference) {
            continue;
        }
        kept.push(reference);
        if kept.len() == MAX_RELATED {
            break;
        }
    }
    kept
}

/// Whether `value` is found in `entry`'s kv values, title or description,
/// comparing without case, punctuation or spacing, and dates by the day they
/// name in any format.
///
/// NOTE: a value joined from two kv values (a surname and a given name) is
/// not found, so such a fill is dropped.
pub fn is_grounded(value: &str, entry: &LibraryEntry) -> bool {
    entry_texts(entry).any(|text| text_contains_value(text, value))
}

/// Whether `text` contains `value` as whole words after normalisation, or
/// both are the same date, or both are the same digits apart from spacing.
pub fn text_contains_value(text: &str, value: &str) -> bool {
    let needle = normalize_for_match(value);
    if needle.is_empty() {
        return false;
    }
    let haystack = normalize_for_match(text);
    if format!(" {haystack} ").contains(&format!(" {needle} ")) {
        return true;
    }

    let reading = DateReading::for_value().with_compact();
    if let Some(date) = parse_date(value, reading)
        && parse_date(text, reading) == Some(date)
    {
        return true;
    }

    // Phone and document numbers are printed with varying groupings.
    let compact = |text: &str| -> String { text.chars().filter(|c| c.is_alphanumeric()).collect() };
    needle.chars().any(|c| c.is_ascii_digit()) && compact(&needle) == compact(&haystack)
}

/// Lowercases `text`, turns punctuation into spaces and collapses spaces.
pub fn normalize_for_match(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .flat_map(char::to_lowercase)
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The entry a reference names, if the library has it.
pub fn find_entry<'a>(library: &'a FileLibrary, reference: &EntryRef) -> Option<&'a LibraryEntry> {
    library
        .entries(reference.kind)
        .iter()
        .find(|entry| entry.id == reference.resource_id)
}

/// The texts of an entry a value may be grounded in: kv values, then title
/// and description.
pub(crate) fn entry_texts(entry: &LibraryEntry) -> impl Iterator<Item = &str> {
    let kv_values = entry.kv.values().map(String::as_str);
    kv_values.chain([entry.title.as_str(), entry.description.as_str()])
}

fn flatten_into(key: &str, value: &Value, kv: &mut KeyValues) {
    match value {
        Value::Null => {}
        Value::Object(object) => {
            for (child, value) in object {
                flatten_into(&join_key(key, child.trim()), value, kv);
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                flatten_into(&join_key(key, &(index + 1).to_string()), value, kv);
            }
        }
        Value::String(text) => insert_first(kv, key, text.clone()),
        Value::Bool(flag) => insert_first(kv, key, flag.to_string()),
        Value::Number(number) => insert_first(kv, key, number.to_string()),
    }
}

fn join_key(prefix: &str, child: &str) -> String {
    if prefix.is_empty() {
        child.to_owned()
    } else {
        format!("{prefix}.{child}")
    }
}

fn insert_first(kv: &mut KeyValues, key: &str, value: String) {
    if !key.is_empty() {
        kv.entry(key.to_owned()).or_insert(value);
    }
}

fn trim_keys(kv: KeyValues) -> KeyValues {
    let mut trimmed = KeyValues::new();
    for (key, value) in kv {
        let key = key.trim();
        if !key.is_empty() {
            trimmed.entry(key.to_owned()).or_insert(value);
        }
    }
    trimmed
}

fn normalize_labels(labels: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for label in labels {
        let label = label.trim();
        let normalized = normalize_for_match(label);
        if normalized.is_empty()
            || kept
                .iter()
                .any(|seen| normalize_for_match(seen) == normalized)
        {
            continue;
        }
        kept.push(label.to_owned());
    }
    kept
}

/// Puts `Form Type` first in `kv`, under that exact spelling, taking the
/// title when the form has none.
fn ensure_form_type(kv: KeyValues, title: &str) -> KeyValues {
    let wanted = normalize_for_match(FORM_TYPE_KEY);
    let mut form_type = None;
    let mut rest = KeyValues::new();
    for (key, value) in kv {
        if form_type.is_none() && normalize_for_match(&key) == wanted {
            form_type = Some(value);
        } else {
            rest.insert(key, value);
        }
    }

    let form_type = form_type.unwrap_or_else(|| {
        if title.is_empty() {
            FALLBACK_FORM_TYPE.to_owned()
        } else {
            title.to_owned()
        }
    });
    let mut kv = KeyValues::with_capacity(rest.len() + 1);
    kv.insert(FORM_TYPE_KEY.to_owned(), form_type);
    kv.extend(rest);
    kv
}

fn shape_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ProcessingError, message)
}

fn as_object(raw: &Value) -> Result<&Map<String, Value>> {
    raw.as_object().ok_or_else(|| {
        shape_error(format!(
            "the result is a JSON {}, expected an object",
            json_type(raw)
        ))
    })
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

fn required_string(object: &Map<String, Value>, key: &str) -> Result<String> {
    match object.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(shape_error(format!(
            "\"{key}\" is empty; give a non-empty string"
        ))),
        None | Some(Value::Null) => Err(shape_error(format!(
            "\"{key}\" is missing; add it as a string"
        ))),
        Some(other) => Err(shape_error(format!(
            "\"{key}\" is a {}, expected a string",
            json_type(other)
        ))),
    }
}

fn optional_string(object: &Map<String, Value>, key: &str) -> Result<String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(shape_error(format!(
            "\"{key}\" is a {}, expected a string",
            json_type(other)
        ))),
    }
}

/// Reads a list of strings; a single comma-separated string is accepted too,
/// and numbers become text.
fn string_list(object: &Map<String, Value>, key: &str) -> Result<Vec<String>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(text.split(',').map(str::to_owned).collect()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
            .collect()),
        Some(other) => Err(shape_error(format!(
            "\"{key}\" is a {}, expected an array of strings",
            json_type(other)
        ))),
    }
}

fn tags_field(object: &Map<String, Value>) -> Result<Vec<String>> {
    string_list(object, "tags")
}

fn fields_field(object: &Map<String, Value>) -> Result<Vec<String>> {
    match object.get("fields") {
        None => Err(shape_error(
            "\"fields\" is missing; add the blank field labels as an array of strings",
        )),
        Some(Value::String(_)) => Err(shape_error(
            "\"fields\" is a string, expected an array of strings",
        )),
        Some(_) => string_list(object, "fields"),
    }
}

fn kv_field(object: &Map<String, Value>) -> Result<KeyValues> {
    match object.get("kv") {
        Some(Value::Object(kv)) => Ok(flatten_kv(kv)),
        None | Some(Value::Null) => Err(shape_error(
            "\"kv\" is missing; add it as an object of strings",
        )),
        Some(other) => Err(shape_error(format!(
            "\"kv\" is a {}, expected an object of strings",
            json_type(other)
        ))),
    }
}

fn related_field(object: &Map<String, Value>, library: &FileLibrary) -> Result<Vec<EntryRef>> {
    match object.get("related") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .filter_map(|item| parse_entry_ref(item, library))
            .collect()),
        Some(other) => Err(shape_error(format!(
            "\"related\" is a {}, expected an array of {{\"type\", \"resource_id\"}} objects",
            json_type(other)
        ))),
    }
}

/// Reads a reference leniently: `id` or `resource_id`, string or number,
/// `doc(s)`/`form(s)`. A bare id or a missing type takes the kind of the
/// library entry with that id.
fn parse_entry_ref(value: &Value, library: &FileLibrary) -> Option<EntryRef> {
    let (kind, id) = match value {
        Value::Object(object) => {
            let id = object
                .get("resource_id")
                .or_else(|| object.get("id"))
                .and_then(id_text)?;
            let kind = object
                .get("type")
                .and_then(Value::as_str)
                .and_then(entry_kind);
            (kind, id)
        }
        other => (None, id_text(other)?),
    };
    let kind = kind.or_else(|| {
        [EntryKind::Doc, EntryKind::Form]
            .into_iter()
            .find(|&kind| library.contains(kind, &id))
    })?;
    Some(EntryRef {
        kind,
        resource_id: id,
    })
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn entry_kind(text: &str) -> Option<EntryKind> {
    match text.trim().to_lowercase().as_str() {
        "doc" | "docs" | "document" => Some(EntryKind::Doc),
        "form" | "forms" => Some(EntryKind::Form),
        _ => None,
    }
}

fn parse_filled_value(value: &Value, library: &FileLibrary) -> Option<FilledValue> {
    let object = value.as_object()?;
    let text = match object.get("value")? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    let source = parse_entry_ref(object.get("source")?, library)?;
    Some(FilledValue {
        value: text,
        source,
    })
}

/// Models sometimes wrap the fill object in one extra key such as `fill` or
/// `fields`; look inside when that key is not itself a field of the form.
fn unwrap_fill_wrapper<'a>(
    object: &'a Map<String, Value>,
    form: &FormToFill,
) -> &'a Map<String, Value> {
    if object.len() != 1 {
        return object;
    }
    let Some((key, Value::Object(inner))) = object.iter().next() else {
        return object;
    };
    let key = normalize_for_match(key);
    let is_field = form
        .fields
        .iter()
        .any(|field| normalize_for_match(field) == key);
    let looks_like_fill = inner.values().all(|value| value.get("value").is_some());
    if is_field || !looks_like_fill {
        object
    } else {
        inner
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn library() -> FileLibrary {
        serde_json::from_value(json!({
            "docs": [{
                "resource_id": "d1",
                "title": "Passport of Li Wei",
                "description": "Chinese passport.",
                "kv": {
                    "Full Name (English/Latin)": "LI, WEI",
                    "Date of Birth (Full)": "Jan 05, 1965",
                    "Phone Number": "+86 138 0000 1234",
                    "Document Number": "E12345678"
                }
            }, {"resource_id": "d2", "title": "Utility bill"}],
            "forms": [{"resource_id": "f1", "title": "Visa form", "fields": ["Name"]}]
        }))
        .unwrap()
    }

    fn doc_ref(id: &str) -> EntryRef {
        EntryRef {
            kind: EntryKind::Doc,
            resource_id: id.into(),
        }
    }

    #[test]
    fn flatten_nested_objects_and_lists() {
        let raw = json!({"a": {"b": ["x", "y"]}, "n": 3, "ok": true, "gone": null, " k ": {"z": [{"w": 1.5}]}});
        let kv = flatten_kv(raw.as_object().unwrap());
        let expected: Vec<(&str, &str)> = vec![
            ("a.b.1", "x"),
            ("a.b.2", "y"),
            ("n", "3"),
            ("ok", "true"),
            ("k.z.1.w", "1.5"),
        ];
        let actual: Vec<(&str, &str)> = kv.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn flatten_keeps_first_of_colliding_keys() {
        let raw = json!({"a.b": "first", "a": {"b": "second"}});
        let kv = flatten_kv(raw.as_object().unwrap());
        assert_eq!(kv.len(), 1);
        assert_eq!(kv["a.b"], "first");
    }

    #[test]
    fn kv_dates_become_month_day_year() {
        let mut kv = KeyValues::new();
        kv.insert("Date of Birth (Full)".into(), "1965-01-05".into());
        kv.insert("Issue Date".into(), "19990731".into());
        kv.insert("Expires".into(), "05 JAN 2030".into());
        kv.insert("Document Number".into(), "19650105".into());
        kv.insert("Empty".into(), "  ".into());
        let kv = normalize_kv(kv);

        assert_eq!(kv["Date of Birth (Full)"], "Jan 05, 1965");
        assert_eq!(kv["Issue Date"], "Jul 31, 1999");
        assert_eq!(kv["Expires"], "Jan 05, 2030");
        assert_eq!(kv["Document Number"], "19650105");
        assert!(!kv.contains_key("Empty"));
    }

    #[test]
    fn tags_are_trimmed_deduped_and_capped() {
        let tags = normalize_tags(
            [
                "  Passport ",
                "passport",
                "",
                "ID",
                "travel",
                " China",
                "extra",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(tags, vec!["Passport", "ID", "travel", "China"]);
    }

    #[test]
    fn related_keeps_known_ids_of_the_right_kind() {
        let related = vec![
            doc_ref("d1"),
            doc_ref("missing"),
            doc_ref("f1"),
            doc_ref("d1"),
            EntryRef {
                kind: EntryKind::Form,
                resource_id: "f1".into(),
            },
        ];
        let kept = filter_related(related, &library());
        assert_eq!(
            kept,
            vec![
                doc_ref("d1"),
                EntryRef {
                    kind: EntryKind::Form,
                    resource_id: "f1".into()
                }
            ]
        );
    }

    #[test]
    fn related_is_capped_at_five() {
        let library = FileLibrary {
            docs: (0..8)
                .map(|i| LibraryEntry {
                    id: format!("d{i}"),
                    ..LibraryEntry::default()
                })
                .collect(),
            forms: Vec::new(),
        };
        let related = (0..8).map(|i| doc_ref(&format!("d{i}"))).collect();
        let kept = filter_related(related, &library);
        assert_eq!(kept.len(), MAX_RELATED);
        assert_eq!(kept[4].resource_id, "d4");
    }

    #[test]
    fn document_from_raw_json() {
        let raw = json!({
            "title": "  Passport of Li Wei ",
            "tags": ["passport", "Passport", "id"],
            "description": " A passport. ",
            "kv": {"Name": {"Given": "WEI", "Family": "LI"}, "Date of Birth (Full)": "05/01/1965", "Height": 172},
            "related": [{"type": "doc", "resource_id": "d2"}, {"type": "doc", "id": "nope"}, "f1", {"id": "d1"}]
        });
        let result = validate_document(&raw, &library()).unwrap();

        assert_eq!(result.title, "Passport of Li Wei");
        assert_eq!(result.description, "A passport.");
        assert_eq!(result.tags, vec!["passport", "id"]);
        assert_eq!(result.kv["Name.Given"], "WEI");
        assert_eq!(result.kv["Name.Family"], "LI");
        assert_eq!(result.kv["Date of Birth (Full)"], "May 01, 1965");
        assert_eq!(result.kv["Height"], "172");
        assert_eq!(
            result.related,
            vec![
                doc_ref("d2"),
                EntryRef {
                    kind: EntryKind::Form,
                    resource_id: "f1".into()
                },
                doc_ref("d1"),
            ]
        );
    }

    #[test]
    fn document_shape_errors_name_the_part() {
        let cases = [
            (json!([1]), "array, expected an object"),
            (json!({"kv": {}}), "\"title\" is missing"),
            (json!({"title": "T"}), "\"kv\" is missing"),
            (json!({"title": "T", "kv": []}), "\"kv\" is a array"),
            (json!({"title": 5, "kv": {}}), "\"title\" is a number"),
            (
                json!({"title": "T", "kv": {}, "related": "d1"}),
                "\"related\" is a string",
            ),
        ];
        for (raw, expected) in cases {
            let error = validate_document(&raw, &library()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ProcessingError);
            assert!(
                error.message().contains(expected),
                "{:?} should mention {expected:?}",
                error.message()
            );
        }
    }

    #[test]
    fn form_type_is_derived_from_title() {
        let raw = json!({"title": " Visa Application ", "kv": {"Office": "Consulate"}, "fields": ["Name"]});
        let form = validate_form(&raw, &library()).unwrap();
        let keys: Vec<&String> = form.kv.keys().collect();
        assert_eq!(keys, vec!["Form Type", "Office"]);
        assert_eq!(form.kv["Form Type"], "Visa Application");
    }

    #[test]
    fn form_type_keeps_model_value_under_canonical_key() {
        let raw = json!({"title": "T", "kv": {"Office": "X", "form type": "DS-160"}, "fields": ["Form Type", "Name"]});
        let form = validate_form(&raw, &library()).unwrap();
        assert_eq!(form.kv["Form Type"], "DS-160");
        assert!(!form.kv.contains_key("form type"));
        assert_eq!(form.fields, vec!["Name"]);
    }

    #[test]
    fn form_requires_fields() {
        let raw = json!({"title": "T", "kv": {}});
        let error = validate_form(&raw, &library()).unwrap_err();
        assert!(error.message().contains("\"fields\" is missing"));
    }

    #[test]
    fn form_kv_and_fields_become_disjoint() {
        let raw = json!({
            "title": "Visa form",
            "kv": {"Name": "", "Country": "France", "Date": "2024-03-01"},
            "fields": ["Name", "country", " Signature ", "signature", ""]
        });
        let form = validate_form(&raw, &library()).unwrap();

        assert_eq!(form.fields, vec!["Name", "Signature"]);
        assert!(!form.kv.contains_key("Name"));
        assert_eq!(form.kv["Country"], "France");
        assert_eq!(form.kv["Date"], "Mar 01, 2024");
    }

    fn form_to_fill() -> FormToFill {
        FormToFill {
            title: "Visa form".into(),
            kv: KeyValues::new(),
            fields: [
                "Full Name",
                "Date of Birth",
                "Phone",
                "Passport No.",
                "Email",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    fn filled(value: &str, id: &str) -> Value {
        json!({"value": value, "source": {"type": "doc", "resource_id": id}})
    }

    #[test]
    fn fill_keeps_grounded_values() {
        let raw = json!({
            "full name": filled("Li Wei", "d1"),
            "Date of Birth": filled("5 January 1965", "d1"),
            "Phone": filled("+8613800001234", "d1"),
            "Passport No.": filled("e12345678", "d1"),
        });
        let fill = validate_fill(&raw, &form_to_fill(), &library()).unwrap();

        let labels: Vec<&String> = fill.keys().collect();
        assert_eq!(
            labels,
            vec!["Full Name", "Date of Birth", "Phone", "Passport No."]
        );
        assert_eq!(fill["Full Name"].value, "Li Wei");
        assert_eq!(fill["Date of Birth"].value, "1965-01-05");
        assert_eq!(fill["Passport No."].source, doc_ref("d1"));
    }

    #[test]
    fn fill_reads_compact_dates_only_under_date_labels() {
        let library: FileLibrary = serde_json::from_value(json!({
            "docs": [{"resource_id": "d1", "kv": {"Date of Birth": "19650105", "Passport No.": "19650105"}}]
        }))
        .unwrap();
        let raw = json!({
            "Date of Birth": filled("19650105", "d1"),
            "Passport No.": filled("19650105", "d1"),
        });
        let fill = validate_fill(&raw, &form_to_fill(), &library).unwrap();
        assert_eq!(fill["Date of Birth"].value, "1965-01-05");
        assert_eq!(fill["Passport No."].value, "19650105");
    }

    #[test]
    fn fill_drops_ungrounded_values() {
        let raw = json!({
            "Full Name": filled("Wang Fang", "d1"),
            "Date of Birth": filled("1965-01-06", "d1"),
            "Email": filled("li@example.com", "d1"),
            "Phone": filled("+86 138 0000 1234", "d2"),
            "Passport No.": filled("E12345678", "missing"),
            "Unknown Field": filled("E12345678", "d1"),
            "Full Name ": {"value": "Li Wei"},
        });
        let fill = validate_fill(&raw, &form_to_fill(), &library()).unwrap();
        assert!(fill.is_empty(), "kept {fill:?}");
    }

    #[test]
    fn fill_grounds_in_title_and_unwraps_wrapper() {
        let raw = json!({"fill": {"Full Name": filled("li wei", "d1")}});
        let fill = validate_fill(&raw, &form_to_fill(), &library()).unwrap();
        assert_eq!(fill["Full Name"].value, "li wei");
    }

    #[test]
    fn grounding_matches_words_not_fragments() {
        let entry = &library().docs[0];
        assert!(is_grounded("LI", entry));
        assert!(is_grounded("Jan 5 1965", entry));
        assert!(!is_grounded("L", entry));
        assert!(!is_grounded("123", entry));
        assert!(!is_grounded("  ", entry));
    }

    #[test]
    fn match_normalisation() {
        assert_eq!(normalize_for_match("  LI,  Wei-Ming. "), "li wei ming");
        assert_eq!(normalize_for_match("李 伟"), "李 伟");
    }
}
