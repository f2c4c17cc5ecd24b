//! Printed key-value pairs: `Label: value` on one line, and a label line
//! whose value sits to its right on the same row or on the line below.

use std::sync::LazyLock;

use regex::Regex;

use super::layout::{self, Line};
use super::synonyms;
use crate::extract::dates::{self, DateOrder};

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

/// Returns whether `text` reads like a label: one to ten words, a letter among them,
/// at most 60 characters, and not a sentence.
pub fn is_label_like(text: &str) -> bool {
    let words = text.split_whitespace().count();
    let has_letter = text.chars().any(char::is_alphabetic);
    let sentence = text.ends_with('.') && words > 4;
    has_letter && (1..=10).contains(&words) && text.chars().count() <= 60 && !sentence
}

/// Returns whether text before a final colon reads like a label. A colon
/// marks a label so clearly that up to 14 words and 100 characters are
/// allowed, as in `RECORDS PLACED IN INDEX BINDER AND IN FILE BY:`.
pub fn is_colon_label_like(text: &str) -> bool {
    let words = text.split_whitespace().count();
    text.chars().any(char::is_alphabetic)
        && (1..=14).contains(&words)
        && text.chars().count() <= 100
}

/// Splits `Label: value` at its first colon when the left part reads like a
/// label. A colon between digits (a time such as `20:49`) or in a URL does
/// not split.
pub fn split_inline(text: &str) -> Option<(String, String)> {
    let colon = text.find([':', '：'])?;
    let (left, rest) = text.split_at(colon);
    let right = &rest[rest.chars().next()?.len_utf8()..];

    // A colon between a one- or two-digit number and two digits is a time
    // such as `20:49` or `17: 46`, not a label.
    let last_token = left.split_whitespace().last().unwrap_or_default();
    let first_token = right.split_whitespace().next().unwrap_or_default();
    let is_time = (1..=2).contains(&last_token.len())
        && last_token.chars().all(|c| c.is_ascii_digit())
        && first_token
            .chars()
            .take(2)
            .filter(char::is_ascii_digit)
            .count()
            == 2;
    if is_time || right.starts_with("//") {
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

// Endings that make a line a label even without a colon: `ACCT. NO.`,
// `APPROVED BY`, `JOB#`.
static LABEL_ENDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\bNO\.?|\bNUMBER|#|\bBY)$").expect("label ending pattern is valid")
});

/// Returns whether a line can be the value of a neighbouring label: not a
/// label (ending in a colon, known, or ending like `ACCT. NO.`), not a
/// `Label: value` line itself, and not a bracketed remark.
fn can_be_value(text: &str) -> bool {
    let trimmed = text.trim();
    let has_digit = trimmed.contains(|c: char| c.is_ascii_digit());
    let label_ending = LABEL_ENDING.is_match(trimmed) && !has_digit;
    // A remark in brackets, such as `(CHECK ONE)`, belongs to the label.
    let remark = trimmed.starts_with('(') && trimmed.ends_with(')');
    let is_label = ends_with_colon(trimmed) || synonyms::lookup(trimmed).is_some() || label_ending;

    !trimmed.is_empty()
        && !is_label
        && !remark
        && split_inline(trimmed).is_none()
        && !is_blank_marker_only(trimmed)
}

/// Returns whether the only markers on a line are dot leaders before a value, as in
/// `TOTAL AMT ........ RM`.
fn is_leader_line(text: &str) -> bool {
    !text.contains("___") && !text.contains(['[', '(', '□', '☐'])
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

/// Finds the lines that form a label column: at least three short,
/// label-like lines (at most six words) whose left edges align within one
/// line height, as in the left column of a printed form. A line much taller
/// than the body lines is a heading and never in the column.
pub fn label_column(lines: &[Line<'_>]) -> Vec<bool> {
    let body: Vec<Option<f32>> = lines
        .iter()
        .map(|line| layout::body_height(lines, line.page))
        .collect();
    let short = |i: usize, line: &Line<'_>| {
        let tall = body[i].is_some_and(|h| line.bbox.height > super::classify::HEADING_HEIGHT * h);
        let text = line.text.trim();
        !tall
            && !super::blanks::has_marker(text)
            && text.split_whitespace().count() <= 6
            && is_label_like(text)
            && !text.ends_with('.')
            && split_inline(text).is_none()
    };
    let aligned = |a: &Line<'_>, b: &Line<'_>| {
        a.page == b.page && (a.bbox.x - b.bbox.x).abs() <= a.bbox.height.max(1.0)
    };
    // A line with another line to its left on its row is a value, not a label.
    let first_on_row = |line: &Line<'_>| {
        !lines
            .iter()
            .any(|o| layout::same_row(o, line) && o.bbox.x + o.bbox.width <= line.bbox.x)
    };
    let candidate: Vec<bool> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| short(i, l) && first_on_row(l))
        .collect();
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            candidate[i]
                && lines
                    .iter()
                    .enumerate()
                    .filter(|(j, o)| candidate[*j] && aligned(line, o))
                    .count()
                    >= 3
        })
        .collect()
}

/// Finds the lines of header rows: rows of three or more short lines (at
/// most three words, no digits), such as `QUANTITY  CODE  UNIT  PRICE`.
/// Their lines are column titles, never values of each other.
pub fn header_rows(lines: &[Line<'_>]) -> Vec<bool> {
    let title_like = |line: &Line<'_>| {
        let text = line.text.trim();
        text.split_whitespace().count() <= 3
            && text.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && is_label_like(text)
            && !text.contains(|c: char| c.is_ascii_digit())
    };
    lines
        .iter()
        .map(|line| {
            let row: Vec<&Line<'_>> = lines.iter().filter(|o| layout::same_row(o, line)).collect();
            row.len() >= 3 && row.iter().all(|o| title_like(o))
        })
        .collect()
}

/// Returns whether a value line suits a label: a date label needs a date in it.
fn value_suits(label: &str, value: &str) -> bool {
    match synonyms::label_kind(label) {
        synonyms::ValueKind::Date => !dates::find_dates(value, DateOrder::MonthFirst).is_empty(),
        _ => true,
    }
}

/// Finds the key-value pairs and open labels among `lines` (reading order).
/// With `columns`, short lines aligned in a label column count as labels
/// even without a colon, as on printed forms. A heading line without a colon
/// is never an open label and takes a value only from its own row.
pub fn find_pairs(lines: &[Line<'_>], columns: bool) -> KvLayout {
    let mut layout = KvLayout::default();
    let mut used = vec![false; lines.len()];
    let in_header = header_rows(lines);
    let heading = super::classify::heading_lines(lines);
    let in_column = if columns {
        label_column(lines)
    } else {
        vec![false; lines.len()]
    };

    for i in 0..lines.len() {
        if used[i] {
            continue;
        }
        let text = lines[i].text.trim();
        if super::blanks::has_marker(text) && !is_leader_line(text) {
            continue;
        }
        let colon_label = ends_with_colon(text) && is_colon_label_like(&clean_label(text));
        let known_label = synonyms::lookup(&clean_label(text)).is_some();

        if colon_label || known_label || in_column[i] {
            let label = clean_label(text);
            let usable = |j: &usize| {
                // A column line to the right of a colon label is its value,
                // such as a name aligned with the labels further down.
                !used[*j]
                    && !in_header[*j]
                    && (!in_column[*j] || colon_label)
                    && can_be_value(lines[*j].text)
                    && value_suits(&label, lines[*j].text)
            };
            // A heading is a label only when its row holds a value, as in
            // `MEDIA TYPE   DIRECT MAIL` at the top of a page.
            let is_heading = heading[i] && !colon_label;
            if is_heading {
                if let Some(j) = layout::right_of(lines, i, 25.0).filter(usable) {
                    used[i] = true;
                    used[j] = true;
                    let value = join_row(lines, j, &mut used, clean_value(lines[j].text));
                    layout.pairs.push(KvPair { label, value });
                }
                continue;
            }
            // A label ending in a colon expects a value, so the value may
            // sit further down and indented, as handwriting under a label does.
            let below = if colon_label {
                layout::below_within(lines, i, 2.5, true)
                    .into_iter()
                    .find(usable)
            } else {
                layout::below(lines, i).filter(usable)
            };
            let neighbour = layout::right_of(lines, i, 25.0).filter(usable).or(below);
            used[i] = true;
            match neighbour {
                Some(j) => {
                    used[j] = true;
                    let mut value = clean_value(lines[j].text);
                    // A currency code printed apart from its number joins it.
                    if is_currency_code(&value)
                        && let Some(k) = layout::right_of(lines, j, 25.0).filter(|k| !used[*k])
                    {
                        used[k] = true;
                        value = format!("{value} {}", clean_value(lines[k].text));
                    }
                    let value = join_row(lines, j, &mut used, value);
                    let value = continue_value(lines, j, &mut used, &in_column, value);
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

    merge_wrapped_labels(lines, &mut layout.open_labels, &used, &heading);
    layout.used_lines = used
        .iter()
        .enumerate()
        .filter(|(_, u)| **u)
        .map(|(i, _)| i)
        .collect();
    layout
}

/// Joins open labels that wrap onto a second line. The line directly above
/// (gap at most 0.3 line heights, left edges aligned) becomes the first part
/// of the label when it has no final colon, is no heading, and is free or an
/// open label.
fn merge_wrapped_labels(
    lines: &[Line<'_>],
    open_labels: &mut Vec<OpenLabel>,
    used: &[bool],
    heading: &[bool],
) {
    let mut k = 0;
    while k < open_labels.len() {
        let line = open_labels[k].line;
        let upper = (0..lines.len()).find(|u| {
            layout::below_within(lines, *u, 0.3, false).first() == Some(&line)
                && !heading[*u]
                && !ends_with_colon(lines[*u].text)
                && is_colon_label_like(lines[*u].text.trim())
        });
        let Some(upper) = upper else {
            k += 1;
            continue;
        };
        let upper_open = open_labels.iter().position(|open| open.line == upper);
        if upper_open.is_none() && used[upper] {
            k += 1;
            continue;
        }
        open_labels[k].label = format!(
            "{} {}",
            clean_label(lines[upper].text),
            open_labels[k].label
        );
        open_labels[k].line = upper;
        match upper_open {
            Some(position) => {
                open_labels.remove(position);
                if position < k {
                    k -= 1;
                }
            }
            None => k += 1,
        }
    }
}

/// Appends the fragments of a value that OCR split on its row: lines to the
/// right within two line heights that cannot be labels.
fn join_row(lines: &[Line<'_>], mut j: usize, used: &mut [bool], mut value: String) -> String {
    for _ in 0..8 {
        let Some(next) = layout::right_of(lines, j, 2.0) else {
            break;
        };
        if used[next] || !can_be_value(lines[next].text) {
            break;
        }
        used[next] = true;
        value = format!("{value} {}", clean_value(lines[next].text));
        j = next;
    }
    value
}

/// Appends the lines that continue a value downwards: aligned with it, a
/// small gap, and alone on their row (a line with something to its left is
/// another label's value).
fn continue_value(
    lines: &[Line<'_>],
    mut j: usize,
    used: &mut [bool],
    in_column: &[bool],
    mut value: String,
) -> String {
    for _ in 0..8 {
        let Some(next) = layout::below(lines, j) else {
            break;
        };
        let alone = !lines.iter().any(|other| {
            layout::same_row(other, &lines[next]) && other.bbox.x < lines[next].bbox.x
        });
        // A value that sits in the label column may continue in it too.
        let gap = lines[next].bbox.y - (lines[j].bbox.y + lines[j].bbox.height);
        let column_ok = !in_column[next] || in_column[j] || gap <= 0.5 * lines[j].bbox.height;
        if used[next] || !column_ok || !alone || !can_be_value(lines[next].text) {
            break;
        }
        used[next] = true;
        value = format!("{value} {}", clean_value(lines[next].text));
        j = next;
    }
    value
}
