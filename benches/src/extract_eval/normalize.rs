//! Text comparison for scoring: what counts as the same key or value.

use docsnap_core::extract::rules::{dates, patterns, synonyms};

/// Lowercase alphanumeric words joined by single spaces; a trailing ` (n)`
/// disambiguation suffix and ballot-box symbols are removed.
pub fn text(value: &str) -> String {
    let trimmed = strip_suffix(value);
    let lowered: String = trimmed
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Only the letters and digits, uppercased: spacing and punctuation ignored.
pub fn compact(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

fn strip_suffix(value: &str) -> &str {
    let trimmed = value.trim();
    if let Some(open) = trimmed.rfind(" (") {
        let inside = &trimmed[open + 2..];
        if inside.ends_with(')')
            && inside[..inside.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            return &trimmed[..open];
        }
    }
    trimmed
}

/// Returns whether a predicted key names the ground-truth label: the same text, or
/// the standard field name the extractor gives that label.
pub fn same_key(predicted: &str, truth: &str) -> bool {
    let predicted = text(predicted);
    predicted == text(truth)
        || synonyms::standard_key(truth).is_some_and(|key| text(key) == predicted)
}

/// Returns whether two values agree: the same compact text, the same date (ground
/// truth read with `order`), or the same digits for numbers of seven or more
/// digits such as phone numbers.
pub fn same_value(predicted: &str, truth: &str, order: dates::DateOrder) -> bool {
    if compact(predicted) == compact(truth) {
        return true;
    }
    let truth_date = dates::parse_date(truth, order);
    if truth_date.is_some()
        && dates::parse_date(predicted, dates::DateOrder::MonthFirst) == truth_date
    {
        return true;
    }
    let digits = |v: &str| v.chars().filter(char::is_ascii_digit).collect::<String>();
    digits(truth).len() >= 7
        && digits(predicted) == digits(truth)
        && !predicted.chars().any(char::is_alphabetic)
}

/// Returns whether two amounts agree in value, ignoring currency.
pub fn same_amount(predicted: &str, truth: &str) -> bool {
    let number = |v: &str| {
        let digits: String = v
            .chars()
            .filter(|c| c.is_ascii_digit() || ",.-".contains(*c))
            .collect();
        patterns::parse_number(&digits)
    };
    number(predicted).is_some() && number(predicted) == number(truth)
}
