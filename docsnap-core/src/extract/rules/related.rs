//! Related file library entries, ranked by the names, numbers and dates they
//! share with the current result.

use std::collections::HashSet;

use crate::extract::dates::{self, DateOrder};
use crate::types::{EntryRef, FileLibrary, KeyValues, LibraryEntry};

/// At most this many related entries, as the protocol allows.
pub const MAX_RELATED: usize = 5;

// Words too common in documents to mean a real overlap.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "this", "that", "date", "name", "number", "total", "form",
    "page", "document", "please", "your", "are", "not", "you", "all", "of", "yes", "none", "n/a",
];

/// Collects the overlap tokens of a text: lowercase words of three or more letters,
/// numbers of three or more digits (separators removed), and dates as
/// `YYYY-MM-DD`. Stopwords are dropped.
pub fn tokens(text: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    for found in dates::find_dates(text, DateOrder::MonthFirst) {
        set.insert(dates::format_fill_date(found.date));
    }
    for word in text.split(|c: char| c.is_whitespace() || ",;:/()".contains(c)) {
        let digits: String = word.chars().filter(char::is_ascii_digit).collect();
        let letters = word.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 && digits.len() >= 3 {
            set.insert(digits);
            continue;
        }
        let cleaned: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        if cleaned.chars().count() >= 3 && !STOPWORDS.contains(&cleaned.as_str()) {
            set.insert(cleaned);
        }
    }
    set
}

fn is_strong(token: &str) -> bool {
    token.chars().filter(char::is_ascii_digit).count() >= 4
}

/// Scores the overlap: two points per shared number or date of four or more
/// digits, one per other shared token.
pub fn overlap_score(a: &HashSet<String>, b: &HashSet<String>) -> u32 {
    a.intersection(b)
        .map(|token| if is_strong(token) { 2 } else { 1 })
        .sum()
}

fn entry_tokens(entry: &LibraryEntry) -> HashSet<String> {
    let mut text = entry.title.clone();
    for value in entry.kv.values() {
        text.push('\n');
        text.push_str(value);
    }
    tokens(&text)
}

/// Ranks library entries by overlap with `kv` and `title`. An entry needs a
/// score of at least 2 (one shared number or date, or two shared words).
pub fn related(title: &str, kv: &KeyValues, library: &FileLibrary) -> Vec<EntryRef> {
    let mut text = title.to_string();
    for value in kv.values() {
        text.push('\n');
        text.push_str(value);
    }
    let own = tokens(&text);

    let mut scored: Vec<(u32, usize, EntryRef)> = library
        .iter()
        .enumerate()
        .map(|(position, (kind, entry))| {
            let score = overlap_score(&own, &entry_tokens(entry));
            (
                score,
                position,
                EntryRef {
                    kind,
                    resource_id: entry.id.clone(),
                },
            )
        })
        .filter(|(score, _, _)| *score >= 2)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut seen = HashSet::new();
    scored
        .into_iter()
        .filter(|(_, _, entry)| seen.insert((entry.kind, entry.resource_id.clone())))
        .take(MAX_RELATED)
        .map(|(_, _, entry)| entry)
        .collect()
}
