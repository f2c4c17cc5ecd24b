//! SROIE receipts: company, date, address and total, on the ground-truth
//! OCR lines of each `.box.csv`.

use std::path::Path;

use docsnap_core::extract::rules::{self, dates, layout};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::FileLibrary;

use crate::normalize;
use crate::{ErrorClasses, Outcome, files_ending, ratio, read_json};

/// Parses `x1,y1,...,x4,y4,transcript` rows into lines in reading order;
/// the transcript may itself contain commas.
pub fn page_from_csv(csv: &str) -> PageText {
    let mut lines = Vec::new();
    for row in csv.lines() {
        let parts: Vec<&str> = row.splitn(9, ',').collect();
        if parts.len() < 9 {
            continue;
        }
        let numbers: Vec<f32> = parts[..8]
            .iter()
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        if numbers.len() != 8 || parts[8].trim().is_empty() {
            continue;
        }
        let xs = [numbers[0], numbers[2], numbers[4], numbers[6]];
        let ys = [numbers[1], numbers[3], numbers[5], numbers[7]];
        let (x, y) = (
            xs.iter().cloned().fold(f32::MAX, f32::min),
            ys.iter().cloned().fold(f32::MAX, f32::min),
        );
        let right = xs.iter().cloned().fold(f32::MIN, f32::max);
        let bottom = ys.iter().cloned().fold(f32::MIN, f32::max);
        let bbox = BoundingBox {
            x,
            y,
            width: right - x,
            height: bottom - y,
        };
        lines.push(TextLine {
            text: parts[8].trim().to_string(),
            bbox,
            confidence: None,
        });
    }
    layout::reading_order(&mut lines);
    PageText {
        index: 0,
        width: 0,
        height: 0,
        lines,
    }
}

/// Scores every `.box.csv` with a `.key.json` in `dir`.
pub fn evaluate(dir: &Path) -> Outcome {
    let mut errors = ErrorClasses::default();
    let mut hits = [0usize; 4];
    let mut receipts = 0;

    for csv_path in files_ending(dir, ".box.csv")? {
        let name = csv_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .replace(".box.csv", "");
        let csv = std::fs::read_to_string(&csv_path)
            .map_err(|e| format!("cannot read {}: {e}", csv_path.display()))?;
        let truth = read_json(&dir.join(format!("{name}.key.json")))?;
        let result = rules::extract_document(&[page_from_csv(&csv)], &FileLibrary::default());
        receipts += 1;

        let get = |key: &str| result.kv.get(key).cloned().unwrap_or_default();
        let truth_of = |key: &str| truth[key].as_str().unwrap_or_default().to_string();
        let checks = [
            (
                "company",
                get("Company Name"),
                normalize::compact(&get("Company Name"))
                    == normalize::compact(&truth_of("company")),
            ),
            // SROIE receipts are Malaysian, so the ground truth is day first.
            (
                "date",
                get("Date"),
                normalize::same_value(&get("Date"), &truth_of("date"), dates::DateOrder::DayFirst),
            ),
            (
                "address",
                get("Address (Full)"),
                normalize::compact(&get("Address (Full)"))
                    == normalize::compact(&truth_of("address")),
            ),
            (
                "total",
                get("Total Amount"),
                normalize::same_amount(&get("Total Amount"), &truth_of("total")),
            ),
        ];
        for (i, (field, predicted, correct)) in checks.into_iter().enumerate() {
            if correct {
                hits[i] += 1;
            } else {
                let class = if predicted.is_empty() {
                    "not found"
                } else {
                    "wrong value"
                };
                errors.add(
                    &format!("{field}: {class}"),
                    format!("{name}: got {predicted:?}, expected {:?}", truth_of(field)),
                );
            }
        }
    }

    let rows = ["company", "date", "address", "total"]
        .iter()
        .enumerate()
        .map(|(i, field)| (format!("SROIE {field} accuracy"), ratio(hits[i], receipts)))
        .collect();
    Ok((rows, errors))
}
