//! FUNSD forms: kv precision, recall and F1, and blank-field recall, on
//! OCR lines rebuilt from the annotated entity words.

use std::path::Path;

use docsnap_core::extract::rules::{self, dates::DateOrder, layout};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::FileLibrary;
use serde_json::Value;

use crate::normalize;
use crate::{ErrorClasses, Outcome, files_ending, ratio, read_json};

fn word_box(value: &Value) -> Option<BoundingBox> {
    let b: Vec<f32> = value
        .as_array()?
        .iter()
        .filter_map(|v| v.as_f64().map(|f| f as f32))
        .collect();
    (b.len() == 4).then(|| BoundingBox {
        x: b[0],
        y: b[1],
        width: b[2] - b[0],
        height: b[3] - b[1],
    })
}

fn union(a: BoundingBox, b: BoundingBox) -> BoundingBox {
    let x = a.x.min(b.x);
    let y = a.y.min(b.y);
    let right = (a.x + a.width).max(b.x + b.width);
    let bottom = (a.y + a.height).max(b.y + b.height);
    BoundingBox {
        x,
        y,
        width: right - x,
        height: bottom - y,
    }
}

/// Builds OCR lines from FUNSD entities: each entity's words are grouped
/// into visual rows (a word whose vertical centre lies inside the row's
/// extent joins it), and each row becomes one line. Lines are then put in
/// reading order. Entity labels (question, answer) are not passed on.
pub fn page_from_annotation(annotation: &Value) -> PageText {
    let mut lines = Vec::new();
    for entity in annotation["form"].as_array().into_iter().flatten() {
        let mut rows: Vec<(String, BoundingBox)> = Vec::new();
        for word in entity["words"].as_array().into_iter().flatten() {
            let (Some(text), Some(bbox)) = (word["text"].as_str(), word_box(&word["box"])) else {
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            let centre = bbox.y + bbox.height / 2.0;
            match rows
                .iter_mut()
                .find(|(_, row)| centre >= row.y && centre <= row.y + row.height)
            {
                Some((row_text, row_box)) => {
                    row_text.push(' ');
                    row_text.push_str(text);
                    *row_box = union(*row_box, bbox);
                }
                None => rows.push((text.to_string(), bbox)),
            }
        }
        lines.extend(rows.into_iter().map(|(text, bbox)| TextLine {
            text,
            bbox,
            confidence: None,
        }));
    }
    layout::reading_order(&mut lines);
    let width = lines
        .iter()
        .map(|l| l.bbox.x + l.bbox.width)
        .fold(0.0f32, f32::max) as u32;
    let height = lines
        .iter()
        .map(|l| l.bbox.y + l.bbox.height)
        .fold(0.0f32, f32::max) as u32;
    PageText {
        index: 0,
        width,
        height,
        lines,
    }
}

/// Scores every `<id>.json` with a matching `<id>.gt.json` in `dir`.
pub fn evaluate(dir: &Path) -> Outcome {
    let mut errors = ErrorClasses::default();
    let (mut predicted_total, mut truth_total, mut kv_hits) = (0, 0, 0);
    let (mut blank_truth, mut blank_hits, mut blank_predicted) = (0, 0, 0);
    let mut forms = 0;

    for gt_path in files_ending(dir, ".gt.json")? {
        let name = gt_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let annotation_path = dir.join(name.replace(".gt.json", ".json"));
        let truth = read_json(&gt_path)?;
        let page = page_from_annotation(&read_json(&annotation_path)?);
        let result = rules::extract_form(std::slice::from_ref(&page), &FileLibrary::default());
        forms += 1;
        if std::env::args().any(|a| a == "--show") {
            println!("== {name}");
            for line in &page.lines {
                println!(
                    "   line {:>5.0},{:>5.0} {:?}",
                    line.bbox.x, line.bbox.y, line.text
                );
            }
            for (key, value) in &result.kv {
                println!("   kv {key:?} = {value:?}");
            }
            println!("   fields {:?}", result.fields);
        }

        let mut predicted: Vec<(String, String)> = result
            .kv
            .iter()
            .filter(|(k, _)| *k != "Form Type")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        predicted_total += predicted.len();
        for pair in truth["kv"].as_array().into_iter().flatten() {
            let key = pair["key"].as_str().unwrap_or_default();
            let value = pair["value"].as_str().unwrap_or_default();
            truth_total += 1;
            let found = predicted.iter().position(|(k, v)| {
                normalize::same_key(k, key)
                    && normalize::same_value(v, value, DateOrder::MonthFirst)
            });
            match found {
                Some(i) => {
                    kv_hits += 1;
                    predicted.remove(i);
                }
                None => {
                    let class = match predicted.iter().find(|(k, _)| normalize::same_key(k, key)) {
                        Some(_) => "kv: label found, value differs",
                        None => "kv: pair missed",
                    };
                    errors.add(class, format!("{name}: {key:?} = {:?}", shorten(value)));
                }
            }
        }
        for (key, value) in &predicted {
            errors.add(
                "kv: extra pair",
                format!("{name}: {key:?} = {:?}", shorten(value)),
            );
        }

        let mut fields: Vec<String> = result.fields.iter().map(|f| normalize::text(f)).collect();
        blank_predicted += fields.len();
        for blank in truth["blank_fields"].as_array().into_iter().flatten() {
            let label = blank["field"].as_str().unwrap_or_default();
            blank_truth += 1;
            match fields.iter().position(|f| *f == normalize::text(label)) {
                Some(i) => {
                    blank_hits += 1;
                    fields.remove(i);
                }
                None => errors.add("blank: field missed", format!("{name}: {label:?}")),
            }
        }
    }

    let precision = kv_hits as f64 / predicted_total.max(1) as f64;
    let recall = kv_hits as f64 / truth_total.max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let rows = vec![
        ("FUNSD forms".to_string(), forms.to_string()),
        (
            "FUNSD kv precision".to_string(),
            ratio(kv_hits, predicted_total),
        ),
        ("FUNSD kv recall".to_string(), ratio(kv_hits, truth_total)),
        ("FUNSD kv F1".to_string(), format!("{f1:.2}")),
        (
            "FUNSD blank-field recall".to_string(),
            ratio(blank_hits, blank_truth),
        ),
        (
            "FUNSD blank-field precision".to_string(),
            ratio(blank_hits, blank_predicted),
        ),
    ];
    Ok((rows, errors))
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}...")
    } else {
        short
    }
}
