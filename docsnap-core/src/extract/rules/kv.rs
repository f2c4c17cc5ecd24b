//! Printed key-value pairs: `Label: value` on one line, and a label line
//! whose value sits to its right on the same row or on the line below.

use super::layout::{self, Line};
use super::synonyms;

/// A label and the value printed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPair {
    /// The label as printed, cleaned of colons and leaders.
    pub label: String,
    /// The value, trimmed.
    pub value: String,
}

/// A label with nothing printed after it or below it: a blank to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLabel {
    /// The label as printed, cleaned.
    pub label: String,
    /// Index of the label's line in the flattened list.
    pub line: usize,
}

/// The pairs and open labels found on a set of lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvLayout {
    /// Labels with values, in reading order.
    pub pairs: Vec<KvPair>,
    /// Labels without values.
    pub open_labels: Vec<OpenLabel>,
    /// Indices of lines consumed as labels or values.
    pub used_lines: Vec<usize>,
}

/// Cleans a printed label: surrounding whitespace, trailing colons, dot and
/// underscore leaders.
pub fn clean_label(label: &str) -> String {
    label
        .trim()
        .trim_end_matches(|c: char| c == ':' || c == '.' || c == '_' || c.is_whitespace())
        .trim_start_matches(|c: char| c == '_' || c == '.' || c.is_whitespace())
        .to_string()
}

/// Cleans a printed value: whitespace and leaders on both ends.
pub fn clean_value(value: &str) -> String {
    value
        .trim()
        .trim_matches(|c: char| c == '_' || c.is_whitespace())
        .trim_start_matches(|c: char| c == '.' || c == ':' || c.is_whitespace())
        .trim()
        .to_string()
}

/// Whether `text` reads like a label: one to ten words, a letter among them,
/// at most 60 characters, and not a sentence.
pub fn is_label_like(text: &str) -> bool {
    let words = text.split_whitespace().count();
    let has_letter = text.chars().any(char::is_alphabetic);
    let sentence = text.ends_with('.') && words > 4;
    has_letter && (1..=10).contains(&words) && text.chars().count() <= 60 && !sentence
}

/// Splits `Label: value` at its first colon when the left part reads like a
/// label. A colon between digits (a time such as `20:49`) or in a URL does
/// not split.
pub fn split_inline(text: &str) -> Option<(String, String)> {
    let colon = text.find([':', '：'])?;
    let (left, rest) = text.split_at(colon);
    let right = &rest[rest.chars().next()?.len_utf8()..];

    let digit_before = left.trim_end().ends_with(|c: char| c.is_ascii_digit());
    let digit_after = right.trim_start().starts_with(|c: char| c.is_ascii_digit());
    let is_time = left.ends_with(|c: char| c.is_ascii_digit())
        && right.starts_with(|c: char| c.is_ascii_digit());
    if is_time
        || (digit_before && digit_after && left.split_whitespace().count() == 1)
        || right.starts_with("//")
    {
        return None;
    }

    // `Name: ______` is a blank, not a value.
    if right.contains("___") || right.contains("....") {
        return None;
    }

    let label = clean_label(left);
    let value = clean_value(right);
    (is_label_like(&label) && !value.is_empty()).then_some((label, value))
}

/// Splits `Label - value` only when the label is a known synonym, because a
/// dash inside free text usually means something else.
pub fn split_dashed(text: &str) -> Option<(String, String)> {
    let (left, right) = text.split_once(" - ").or_else(|| text.split_once(" – "))?;
    let label = clean_label(left);
    let value = clean_value(right);
    (synonyms::lookup(&label).is_some() && !value.is_empty()).then_some((label, value))
}

fn ends_with_colon(text: &str) -> bool {
    text.trim_end().ends_with([':', '：'])
}

/// Whether a line can be a value for a neighbouring label: not a label
/// ending in a colon, not a `Label: value` line itself, not a known label.
fn can_be_value(text: &str) -> bool {
    let trimmed = text.trim();
    !trimmed.is_empty()
        && !ends_with_colon(trimmed)
        && split_inline(trimmed).is_none()
        && synonyms::lookup(trimmed).is_none()
        && !is_blank_marker_only(trimmed)
}

fn is_currency_code(text: &str) -> bool {
    matches!(
        text,
        "RM" | "MYR" | "USD" | "EUR" | "GBP" | "SGD" | "$" | "€" | "£"
    )
}

fn is_blank_marker_only(text: &str) -> bool {
    text.chars()
        .all(|c| c == '_' || c == '.' || c.is_whitespace())
}

/// Finds the key-value pairs and open labels among `lines` (reading order).
pub fn find_pairs(lines: &[Line<'_>]) -> KvLayout {
    let mut layout = KvLayout::default();
    let mut used = vec![false; lines.len()];

    for i in 0..lines.len() {
        if used[i] {
            continue;
        }
        let text = lines[i].text.trim();
        let colon_label = ends_with_colon(text) && is_label_like(&clean_label(text));
        let known_label = synonyms::lookup(&clean_label(text)).is_some();

        if colon_label || known_label {
            let label = clean_label(text);
            let neighbour = layout::right_of(lines, i, 25.0)
                .filter(|j| !used[*j] && can_be_value(lines[*j].text))
                .or_else(|| {
                    layout::below(lines, i).filter(|j| !used[*j] && can_be_value(lines[*j].text))
                });
            used[i] = true;
            match neighbour {
                Some(j) => {
                    used[j] = true;
                    let mut value = clean_value(lines[j].text);
                    // A currency code printed apart from its number joins it.
                    if is_currency_code(&value) {
                        if let Some(k) = layout::right_of(lines, j, 25.0).filter(|k| !used[*k]) {
                            used[k] = true;
                            value = format!("{value} {}", clean_value(lines[k].text));
                        }
                    }
                    layout.pairs.push(KvPair { label, value });
                }
                None => layout.open_labels.push(OpenLabel { label, line: i }),
            }
            continue;
        }

        if let Some((label, value)) = split_inline(text).or_else(|| split_dashed(text)) {
            used[i] = true;
            layout.pairs.push(KvPair { label, value });
        }
    }

    layout.used_lines = used
        .iter()
        .enumerate()
        .filter(|(_, u)| **u)
        .map(|(i, _)| i)
        .collect();
    layout
}
