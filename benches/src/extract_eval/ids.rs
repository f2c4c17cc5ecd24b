//! Identity-document specimens: MRZ field accuracy on OCR lines built from
//! the ground-truth MRZ lines, clean and with OCR noise.

use std::path::Path;

use docsnap_core::extract::rules::{self, dates};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::FileLibrary;
use serde_json::Value;

use crate::normalize;
use crate::{ErrorClasses, Outcome, files_ending, ratio, read_json};

fn page(texts: &[String]) -> PageText {
    let lines = texts
        .iter()
        .enumerate()
        .map(|(i, text)| TextLine {
            text: text.clone(),
            bbox: BoundingBox {
                x: 20.0,
                y: 40.0 * i as f32,
                width: 600.0,
                height: 24.0,
            },
            confidence: None,
        })
        .collect();
    PageText {
        index: 0,
        width: 700,
        height: 40 * texts.len() as u32,
        lines,
    }
}

/// Adds the noise the MRZ reader tolerates: a space every 7 characters, `«`
/// for the first filler, and `K` for a filler inside a run of three.
fn noisy(line: &str) -> String {
    let mut text = line.replacen('<', "«", 1);
    if let Some(run) = text.find("<<<") {
        text.replace_range(run + 1..run + 2, "K");
    }
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(7)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lists the fields a specimen's MRZ encodes, from its ground truth, as
/// (standard key, expected value) pairs.
fn expected_fields(fields: &Value) -> Vec<(&'static str, String)> {
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| fields[*k].as_str())
            .map(str::to_string)
    };
    let mut expected = Vec::new();

    let name = match (get(&["surname"]), get(&["given_names", "given_name"])) {
        (Some(surname), Some(given)) => Some(format!("{surname} {given}")),
        _ => get(&["name"]),
    };
    if let Some(name) = name {
        expected.push(("Full Name (English/Latin)", name));
    }
    if let Some(number) = get(&["passport_number", "document_number"]) {
        expected.push(("Document Number", number));
    }
    // Only a three-letter code can be compared with the MRZ, not a printed
    // country name.
    if let Some(nationality) = get(&["nationality"]) {
        let code = nationality
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
            expected.push(("Nationality", code));
        }
    }
    if let Some(birth) = get(&["date_of_birth", "birth_date"]) {
        expected.push(("Date of Birth (Full)", birth));
    }
    if let Some(expiry) = get(&["date_of_expiry", "iv_expires_on"]) {
        expected.push(("Date of Expiry", expiry));
    }
    if let Some(sex) = get(&["sex", "gender"]) {
        expected.push(("Sex", sex));
    }
    if let Some(state) = get(&["issuing_country", "issuing_state", "code"]) {
        expected.push(("Issuing State", state));
    }
    expected
}

/// Scores every `*.gt.json` with `mrz_lines` in `dir`.
pub fn evaluate(dir: &Path) -> Outcome {
    let mut errors = ErrorClasses::default();
    let mut rows = Vec::new();

    for (variant, add_noise) in [("clean", false), ("noisy", true)] {
        let (mut hits, mut total, mut zones) = (0, 0, 0);
        for gt_path in files_ending(dir, ".gt.json")? {
            let truth = read_json(&gt_path)?;
            let Some(mrz_lines) = truth["mrz_lines"].as_array() else {
                continue;
            };
            let name = gt_path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .replace(".gt.json", "");
            let lines: Vec<String> = mrz_lines
                .iter()
                .filter_map(Value::as_str)
                .map(|l| if add_noise { noisy(l) } else { l.to_string() })
                .collect();
            let result = rules::extract_document(&[page(&lines)], &FileLibrary::default());
            if result.kv.contains_key("Machine Readable Zone (MRZ)") {
                zones += 1;
            }

            for (key, expected) in expected_fields(&truth["fields"]) {
                total += 1;
                let got = result.kv.get(key).cloned().unwrap_or_default();
                let correct = normalize::compact(&got) == normalize::compact(&expected)
                    || normalize::same_value(&got, &expected, dates::DateOrder::DayFirst)
                        && !got.is_empty();
                if correct {
                    hits += 1;
                } else {
                    let class = if got.is_empty() {
                        "field withheld or missing"
                    } else {
                        "field differs"
                    };
                    errors.add(
                        &format!("{variant}: {class}"),
                        format!("{name} {key}: got {got:?}, expected {expected:?}"),
                    );
                }
            }
        }
        rows.push((format!("MRZ zones decoded ({variant})"), zones.to_string()));
        rows.push((
            format!("MRZ field accuracy ({variant})"),
            ratio(hits, total),
        ));
    }
    Ok((rows, errors))
}
