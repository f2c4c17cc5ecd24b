//! Fill: match each blank field label to a value in the file library.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::patterns;
use super::synonyms::{self, ValueKind};
use crate::extract::dates::{self, DateOrder};
use crate::types::{EntryRef, FileLibrary, FillResult, FilledValue, FormToFill};

const PERSON_KEY: &str = "Full Name (English/Latin)";

/// The minimum score for a match; 1.0 is a synonym match.
pub const MIN_SCORE: f32 = 0.6;

// Words naming someone other than the person filling the form. A label with
// one of them only matches a key that carries it too, so `Requester's name`
// never takes the user's own name.
const OTHER_PARTY: &[&str] = &[
    "requester",
    "requesters",
    "employer",
    "spouse",
    "guest",
    "father",
    "mother",
    "parent",
    "agent",
    "witness",
    "beneficiary",
    "business",
    "company",
    "emergency",
    "guardian",
    "recipient",
    "sender",
    "payer",
    "landlord",
];

const FILLER_WORDS: &[&str] = &[
    "the",
    "and",
    "or",
    "of",
    "your",
    "if",
    "any",
    "here",
    "list",
    "please",
    "enter",
    "print",
    "as",
    "on",
    "no",
    "a",
    "an",
    "to",
    "in",
    "for",
    "see",
    "optional",
    "instructions",
    "shown",
];

fn words(label: &str) -> Vec<String> {
    synonyms::normalize_label(label)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn content_words(label: &str) -> HashSet<String> {
    words(&synonyms::strip_remarks(label))
        .into_iter()
        .filter(|w| !FILLER_WORDS.contains(&w.as_str()))
        .collect()
}

fn other_parties(label: &str) -> HashSet<String> {
    words(label)
        .into_iter()
        .map(|w| w.trim_end_matches('s').to_string())
        .filter(|w| OTHER_PARTY.iter().any(|p| p.trim_end_matches('s') == w))
        .collect()
}

/// Scores how well a library key matches a field label, from 0.0 to 1.0:
/// 1.0 when both map to the same standard field, otherwise the share of the
/// label's content words found in the key. Other-party words must agree.
pub fn label_score(field: &str, key: &str) -> f32 {
    if other_parties(field) != other_parties(key) {
        return 0.0;
    }
    let field_standard = synonyms::standard_key(field)
        .or_else(|| synonyms::standard_key(&synonyms::strip_remarks(field)));
    let key_standard = synonyms::standard_key(key);
    if field_standard.is_some() && field_standard == key_standard {
        return 1.0;
    }

    let field_words = content_words(field);
    let key_words = content_words(key);
    if field_words.is_empty() || key_words.is_empty() {
        return 0.0;
    }
    let shared = field_words.intersection(&key_words).count() as f32;
    let union = field_words.union(&key_words).count() as f32;
    0.9 * shared / union
}

/// Returns whether `value` is of the kind `kind`.
pub fn value_fits(kind: ValueKind, value: &str) -> bool {
    match kind {
        ValueKind::Date => dates::parse_date_time(value, DateOrder::MonthFirst).is_some(),
        ValueKind::Email => patterns::find_emails(value).len() == 1,
        ValueKind::Phone => !patterns::find_phones(value, true).is_empty(),
        ValueKind::Amount => value.chars().any(|c| c.is_ascii_digit()),
        ValueKind::Text => !value.trim().is_empty(),
    }
}

static DIGIT_SLICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(first|middle|last)\s+(\d{1,2})\s+digits?\b")
        .expect("digit slice pattern is valid")
});

/// Applies a `(first 3 digits)` / `(middle 2 digits)` / `(last 4 digits)`
/// request in the label to the digits of `value`. Returns the value
/// unchanged when the label requests no slice, and `None` when the digits
/// are too few.
pub fn apply_digit_slice(label: &str, value: &str) -> Option<String> {
    let Some(caps) = DIGIT_SLICE.captures(label) else {
        return Some(value.to_string());
    };
    let count: usize = caps[2].parse().ok()?;
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let slice: String = match caps[1].to_ascii_lowercase().as_str() {
        "first" => digits.get(..count)?.iter().collect(),
        "last" => digits
            .get(digits.len().checked_sub(count)?..)?
            .iter()
            .collect(),
        _ => {
            // The middle group of a number printed in groups, such as 123-45-6789.
            let groups: Vec<&str> = value
                .split(|c: char| !c.is_ascii_digit())
                .filter(|g| !g.is_empty())
                .collect();
            let middle = groups
                .get(1)
                .filter(|g| g.len() == count && groups.len() == 3)?;
            middle.to_string()
        }
    };
    Some(slice)
}

/// Formats a value for a fill: dates become `YYYY-MM-DD`.
pub fn fill_value(kind: ValueKind, value: &str) -> String {
    if kind == ValueKind::Date
        && let Some((date, _time)) = dates::parse_date_time(value, DateOrder::MonthFirst)
    {
        return dates::format_fill_date(date);
    }
    value.trim().to_string()
}

// NOTE: checkbox fields (`Federal tax classification: Partnership`) are only
// filled when a library key names the same option; no rule infers a tick.

/// Fills each blank field of `form` from the best-scoring library value.
/// Fields without a match scoring at least [`MIN_SCORE`] stay out.
pub fn fill(form: &FormToFill, library: &FileLibrary) -> FillResult {
    let mut result = FillResult::new();
    for field in &form.fields {
        let kind = synonyms::label_kind(field);
        let mut best: Option<(f32, String, EntryRef)> = None;

        for (entry_kind, entry) in library.iter() {
            for (key, value) in &entry.kv {
                let score = label_score(field, key);
                if score < MIN_SCORE || !value_fits(kind, value) {
                    continue;
                }
                let Some(sliced) = apply_digit_slice(field, value) else {
                    continue;
                };
                // Between equal label matches, an entry that names a person
                // more likely describes the one filling the form than a shop does.
                let names_person = entry
                    .kv
                    .keys()
                    .any(|k| synonyms::standard_key(k) == Some(PERSON_KEY));
                let score = if names_person { score + 0.05 } else { score };
                if best.as_ref().is_none_or(|(top, _, _)| score > *top) {
                    let source = EntryRef {
                        kind: entry_kind,
                        resource_id: entry.id.clone(),
                    };
                    best = Some((score, fill_value(kind, &sliced), source));
                }
            }
        }

        if let Some((_, value, source)) = best {
            result.insert(field.clone(), FilledValue { value, source });
        }
    }
    result
}
