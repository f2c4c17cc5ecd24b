//! Provenance of results: the OCR line each `kv` value was read on, and
//! the library entry text each filled value was copied from.
//!
//! The protocol result JSON carries none of this; the Rust and Python APIs do.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::extract::dates::{DateReading, find_dates, parse_date};
use crate::extract::validate::{find_entry, normalize_for_match, text_contains_value};
use crate::ocr::{BoundingBox, PageText, TextLine};
use crate::types::{EntryRef, FileLibrary, FillResult, KeyValues};

/// The maximum number of consecutive lines one value may span, as an address or an MRZ does.
const MAX_SPAN: usize = 3;

/// Key words too generic to tell which line a value belongs to.
const GENERIC_KEY_WORDS: [&str; 4] = ["full", "english", "latin", "the"];

/// The places the values of a result's `kv` were read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The origin of each `kv` value found on a page, by `kv` key; values
    /// found on no page are absent.
    pub values: IndexMap<String, ValueOrigin>,
}

/// The OCR line or lines one value was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueOrigin {
    /// The zero-based page index.
    pub page: usize,
    /// The box around the matching lines, in page pixels.
    pub bbox: BoundingBox,
    /// The text of the matching lines, joined with newlines.
    pub line_text: String,
}

/// The library text one filled value was matched against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillOrigin {
    /// The entry the value came from.
    pub source: EntryRef,
    /// The entry's `kv` key holding the value; `None` when the value was
    /// found in the entry's title or description.
    pub matched_key: Option<String>,
    /// The entry text that contains the value.
    pub matched_text: String,
}

/// Finds the OCR lines each `kv` value was read from.
///
/// Matching ignores case, spacing and punctuation and compares dates by day,
/// so `Jan 05, 1965` is found on a line reading `DOB: 05 JAN 1965`. When a
/// value occurs more than once, the line that also names the key wins.
pub fn locate_values(kv: &KeyValues, pages: &[PageText]) -> Provenance {
    let values = kv
        .iter()
        .filter_map(|(key, value)| {
            locate_value(key, value, pages).map(|origin| (key.clone(), origin))
        })
        .collect();
    Provenance { values }
}

/// Finds, for each filled value, the text of its source entry that contains it.
/// Fields whose value is not found in their source are absent.
pub fn explain_fill(fill: &FillResult, library: &FileLibrary) -> IndexMap<String, FillOrigin> {
    let mut origins = IndexMap::new();
    for (label, filled) in fill {
        let Some(entry) = find_entry(library, &filled.source) else {
            continue;
        };
        let wanted = normalize_for_match(&filled.value);
        let kv_match = entry
            .kv
            .iter()
            .find(|(_, text)| normalize_for_match(text) == wanted)
            .or_else(|| {
                entry
                    .kv
                    .iter()
                    .find(|(_, text)| text_contains_value(text, &filled.value))
            })
            .map(|(key, text)| (Some(key.clone()), text.clone()));
        let other_match = || {
            [&entry.title, &entry.description]
                .into_iter()
                .find(|text| text_contains_value(text, &filled.value))
                .map(|text| (None, text.clone()))
        };
        if let Some((matched_key, matched_text)) = kv_match.or_else(other_match) {
            origins.insert(
                label.clone(),
                FillOrigin {
                    source: filled.source.clone(),
                    matched_key,
                    matched_text,
                },
            );
        }
    }
    origins
}

/// A run of consecutive lines on one page that contains a value.
struct Candidate<'a> {
    page: usize,
    lines: &'a [TextLine],
    /// The number of key words on the lines, counted twice, plus those on the line before.
    key_score: usize,
}

fn locate_value(key: &str, value: &str, pages: &[PageText]) -> Option<ValueOrigin> {
    let key_words = key_words(key);
    for span in 1..=MAX_SPAN {
        let mut best: Option<Candidate<'_>> = None;
        for page in pages {
            for start in 0..page.lines.len().saturating_sub(span - 1) {
                let lines = &page.lines[start..start + span];
                if !lines_contain_value(lines, value) {
                    continue;
                }
                let previous = start.checked_sub(1).map(|index| &page.lines[index]);
                let key_score = 2 * key_hits(&key_words, lines)
                    + previous.map_or(0, |line| key_hits(&key_words, std::slice::from_ref(line)));
                if best.as_ref().is_none_or(|best| key_score > best.key_score) {
                    best = Some(Candidate {
                        page: page.index,
                        lines,
                        key_score,
                    });
                }
            }
        }
        if let Some(best) = best {
            return Some(origin(best));
        }
    }
    None
}

fn lines_contain_value(lines: &[TextLine], value: &str) -> bool {
    let text = join_text(lines, " ");
    if text_contains_value(&text, value) {
        return true;
    }
    let reading = DateReading::for_value().with_compact();
    match parse_date(value, reading) {
        Some(date) => find_dates(&text, reading)
            .iter()
            .any(|found| found.date == date),
        None => false,
    }
}

fn key_words(key: &str) -> Vec<String> {
    normalize_for_match(key)
        .split(' ')
        .filter(|word| word.chars().count() >= 3 && !GENERIC_KEY_WORDS.contains(word))
        .map(str::to_owned)
        .collect()
}

fn key_hits(key_words: &[String], lines: &[TextLine]) -> usize {
    let text = format!(" {} ", normalize_for_match(&join_text(lines, " ")));
    key_words
        .iter()
        .filter(|word| text.contains(&format!(" {word} ")))
        .count()
}

fn join_text(lines: &[TextLine], separator: &str) -> String {
    let texts: Vec<&str> = lines.iter().map(|line| line.text.as_str()).collect();
    texts.join(separator)
}

fn origin(candidate: Candidate<'_>) -> ValueOrigin {
    ValueOrigin {
        page: candidate.page,
        bbox: union(candidate.lines.iter().map(|line| line.bbox)),
        line_text: join_text(candidate.lines, "\n"),
    }
}

fn union(boxes: impl Iterator<Item = BoundingBox>) -> BoundingBox {
    let mut bounds: Option<(f32, f32, f32, f32)> = None;
    for bbox in boxes {
        let (left, top, right, bottom) =
            (bbox.x, bbox.y, bbox.x + bbox.width, bbox.y + bbox.height);
        bounds = Some(match bounds {
            None => (left, top, right, bottom),
            Some((l, t, r, b)) => (l.min(left), t.min(top), r.max(right), b.max(bottom)),
        });
    }
    let (left, top, right, bottom) = bounds.unwrap_or_default();
    BoundingBox {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{EntryKind, FilledValue};

    fn page(index: usize, texts: &[&str]) -> PageText {
        let lines = texts
            .iter()
            .enumerate()
            .map(|(row, text)| TextLine {
                text: (*text).to_owned(),
                bbox: BoundingBox {
                    x: 10.0 + row as f32,
                    y: 30.0 * row as f32,
                    width: 100.0,
                    height: 20.0,
                },
                confidence: None,
            })
            .collect();
        PageText {
            index,
            width: 600,
            height: 800,
            lines,
        }
    }

    fn kv(pairs: &[(&str, &str)]) -> KeyValues {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_are_found_on_their_lines() {
        let pages = [
            page(0, &["PASSPORT", "Surname: LI", "Given names: WEI"]),
            page(
                1,
                &["Date of birth: 05 JAN 1965", "Place of birth: BEIJING"],
            ),
        ];
        let provenance = locate_values(
            &kv(&[
                ("Surname", "Li"),
                ("Date of Birth (Full)", "Jan 05, 1965"),
                ("Place of Birth", "Beijing"),
                ("Height", "172"),
            ]),
            &pages,
        );

        let surname = &provenance.values["Surname"];
        assert_eq!(
            (surname.page, surname.line_text.as_str()),
            (0, "Surname: LI")
        );
        assert_eq!(surname.bbox.y, 30.0);
        let birth = &provenance.values["Date of Birth (Full)"];
        assert_eq!(
            (birth.page, birth.line_text.as_str()),
            (1, "Date of birth: 05 JAN 1965")
        );
        assert_eq!(
            provenance.values["Place of Birth"].line_text,
            "Place of birth: BEIJING"
        );
        assert!(!provenance.values.contains_key("Height"));
    }

    #[test]
    fn line_naming_the_key_wins() {
        let pages = [page(0, &["Issued in BEIJING", "Birthplace", "BEIJING"])];
        let provenance = locate_values(&kv(&[("Birthplace", "Beijing")]), &pages);
        assert_eq!(provenance.values["Birthplace"].line_text, "BEIJING");
    }

    #[test]
    fn value_spanning_lines_gets_their_union() {
        let pages = [page(0, &["Address:", "12 Long Road", "Springfield 4021"])];
        let provenance = locate_values(
            &kv(&[("Address (Full)", "12 Long Road, Springfield 4021")]),
            &pages,
        );

        let address = &provenance.values["Address (Full)"];
        assert_eq!(address.line_text, "12 Long Road\nSpringfield 4021");
        assert_eq!(
            address.bbox,
            BoundingBox {
                x: 11.0,
                y: 30.0,
                width: 101.0,
                height: 50.0
            }
        );
    }

    #[test]
    fn fill_origins_name_key_or_text() {
        let library: FileLibrary = serde_json::from_value(json!({
            "docs": [{"resource_id": "d1", "title": "Passport of Li Wei",
                      "kv": {"Name": "LI WEI", "Date of Birth (Full)": "Jan 05, 1965"}}]
        }))
        .unwrap();
        let source = EntryRef {
            kind: EntryKind::Doc,
            resource_id: "d1".into(),
        };
        let filled = |value: &str| FilledValue {
            value: value.into(),
            source: source.clone(),
        };
        let mut fill = FillResult::new();
        fill.insert("Full Name".into(), filled("Li Wei"));
        fill.insert("Date of Birth".into(), filled("1965-01-05"));
        fill.insert("Surname".into(), filled("Wang"));

        let origins = explain_fill(&fill, &library);

        assert_eq!(origins["Full Name"].matched_key.as_deref(), Some("Name"));
        assert_eq!(origins["Full Name"].matched_text, "LI WEI");
        assert_eq!(
            origins["Date of Birth"].matched_key.as_deref(),
            Some("Date of Birth (Full)")
        );
        assert_eq!(origins["Date of Birth"].source, source);
        assert!(!origins.contains_key("Surname"));
    }

    #[test]
    fn fill_origin_in_title() {
        let library: FileLibrary = serde_json::from_value(
            json!({"docs": [{"resource_id": "d1", "title": "Lease for Flat 4B"}]}),
        )
        .unwrap();
        let mut fill = FillResult::new();
        fill.insert(
            "Unit".into(),
            FilledValue {
                value: "Flat 4B".into(),
                source: EntryRef {
                    kind: EntryKind::Doc,
                    resource_id: "d1".into(),
                },
            },
        );
        let origins = explain_fill(&fill, &library);
        assert_eq!(origins["Unit"].matched_key, None);
        assert_eq!(origins["Unit"].matched_text, "Lease for Flat 4B");
    }
}
