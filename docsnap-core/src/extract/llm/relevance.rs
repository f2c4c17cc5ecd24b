//! Ranks file library entries by the terms they share with a text, so a
//! prompt over its budget drops the least related entries first.

use std::collections::{HashMap, HashSet};

use crate::extract::rules::related::tokens;
use crate::types::{FileLibrary, LibraryEntry};

/// Returns the positions of the library's entries (in [`FileLibrary::iter`]
/// order), most related to `text` first.
///
/// An entry scores the sum of the terms it shares with `text`, each divided
/// by the number of entries that contain it, so a name or number found in one
/// entry outweighs a word that every entry has. Shared numbers and dates of
/// four or more digits count double, because document numbers and birth
/// dates identify a person. Entries carry no date, so ties keep the order in
/// which the client sent them.
pub fn rank_entries(text: &str, library: &FileLibrary) -> Vec<usize> {
    let text_terms = terms(text);
    let entries: Vec<HashSet<String>> = library
        .iter()
        .map(|(_, entry)| terms(&entry_text(entry)))
        .collect();

    let mut entry_counts: HashMap<&str, usize> = HashMap::new();
    for entry in &entries {
        for term in entry.intersection(&text_terms) {
            *entry_counts.entry(term.as_str()).or_default() += 1;
        }
    }

    let scores: Vec<f64> = entries
        .iter()
        .map(|entry| {
            entry
                .intersection(&text_terms)
                .map(|term| term_weight(term) / entry_counts[term.as_str()] as f64)
                .sum()
        })
        .collect();

    let mut positions: Vec<usize> = (0..entries.len()).collect();
    // A stable sort keeps the library order among equal scores.
    positions.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    positions
}

/// Collects the terms of a text: the words, numbers and dates that the rule
/// extractor's `related` matching uses, plus every pair of adjacent Chinese,
/// Japanese or Korean characters, because those scripts put no spaces
/// between words.
fn terms(text: &str) -> HashSet<String> {
    let mut terms = tokens(text);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if !is_cjk(c) {
            previous = None;
            continue;
        }
        if let Some(first) = previous {
            terms.insert([first, c].iter().collect());
        }
        previous = Some(c);
    }
    terms
}

fn term_weight(term: &str) -> f64 {
    let digits = term.chars().filter(char::is_ascii_digit).count();
    if digits >= 4 { 2.0 } else { 1.0 }
}

/// Joins the title, tags, description and `kv` of an entry. That is more
/// than the prompt's summary shows, because `kv` contains the names and
/// numbers that tie an earlier document to this one.
fn entry_text(entry: &LibraryEntry) -> String {
    let mut text = format!(
        "{}\n{}\n{}",
        entry.title,
        entry.tags.join("\n"),
        entry.description
    );
    for (key, value) in &entry.kv {
        text.push('\n');
        text.push_str(key);
        text.push('\n');
        text.push_str(value);
    }
    text
}

/// Returns whether `c` is a Han ideograph, kana or Hangul syllable.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana and Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK Unified Ideographs Extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul Syllables
        | '\u{F900}'..='\u{FAFF}' // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{2FA1F}' // Extensions B to F and compatibility supplement
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn library(entries: serde_json::Value) -> FileLibrary {
        serde_json::from_value(json!({ "docs": entries })).unwrap()
    }

    #[test]
    fn shared_number_ranks_first() {
        let library = library(json!([
            {"id": "a", "title": "Coffee receipt", "description": "A receipt."},
            {"id": "b", "title": "Passport", "kv": {"Document Number": "E12345678"}},
            {"id": "c", "title": "Gym card", "description": "A membership card."},
        ]));

        let ranking = rank_entries("Visa form\nPassport No. E12345678", &library);

        assert_eq!(ranking, vec![1, 0, 2]);
    }

    #[test]
    fn common_word_weighs_less_than_rare_one() {
        let library = library(json!([
            {"id": "a", "title": "Invoice Shanghai"},
            {"id": "b", "title": "Invoice Shanghai"},
            {"id": "c", "title": "Invoice Hangzhou"},
        ]));

        let ranking = rank_entries("Invoice from Hangzhou and Shanghai", &library);

        assert_eq!(ranking[0], 2);
    }

    #[test]
    fn chinese_text_matches_by_character_pairs() {
        let library = library(json!([
            {"id": "a", "title": "购物小票", "description": "超市的购物小票。"},
            {"id": "b", "title": "劳动合同", "description": "张伟与北京某公司的劳动合同。"},
        ]));

        let ranking = rank_entries("劳动合同书 甲方：北京某公司 乙方：张伟", &library);

        assert_eq!(ranking, vec![1, 0]);
    }

    #[test]
    fn ties_keep_library_order() {
        let library = library(json!([
            {"id": "a", "title": "One"},
            {"id": "b", "title": "Two"},
            {"id": "c", "title": "Three"},
        ]));

        assert_eq!(rank_entries("nothing shared", &library), vec![0, 1, 2]);
    }
}
