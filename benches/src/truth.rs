//! OCR ground truth in the FUNSD and SROIE formats, and discovery of
//! image and ground-truth pairs in a folder.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// One annotated piece of text: a word (FUNSD) or a line (SROIE).
#[derive(Debug, Clone, PartialEq)]
pub struct TruthItem {
    /// The transcript.
    pub text: String,
    /// Left, top, right and bottom edges in image pixels.
    pub bounds: [f32; 4],
}

/// The annotation format a ground-truth file was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruthFormat {
    /// `<id>.json` with `form[].words[]`, each `{"box": [x0, y0, x1, y1], "text"}`.
    Funsd,
    /// `<name>.box.csv` with rows `x1,y1,x2,y2,x3,y3,x4,y4,transcript`.
    Sroie,
}

impl TruthFormat {
    /// Returns whether the transcripts keep the printed case. SROIE transcripts are
    /// upper case whatever the receipt prints, so scores against them must
    /// ignore case.
    pub fn is_case_sensitive(self) -> bool {
        match self {
            TruthFormat::Funsd => true,
            TruthFormat::Sroie => false,
        }
    }
}

impl fmt::Display for TruthFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TruthFormat::Funsd => "FUNSD",
            TruthFormat::Sroie => "SROIE",
        })
    }
}

/// The ground truth of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// The file's format.
    pub format: TruthFormat,
    /// Annotated words or lines, in file order.
    pub items: Vec<TruthItem>,
}

impl GroundTruth {
    /// Joins the items into text in an estimated reading order: rows from
    /// top to bottom, items within a row from left to right.
    ///
    /// An item joins the current row when its vertical centre lies within
    /// the row's vertical extent. Neither format records reading order
    /// (FUNSD lists words by entity), so this is a heuristic: side-by-side
    /// columns come out interleaved, as they do from a line-based engine.
    pub fn reading_order_text(&self) -> String {
        let mut items: Vec<&TruthItem> = self.items.iter().collect();
        items.sort_by(|a, b| a.bounds[1].total_cmp(&b.bounds[1]));

        let mut rows: Vec<(f32, f32, Vec<&TruthItem>)> = Vec::new();
        for item in items {
            let centre = (item.bounds[1] + item.bounds[3]) / 2.0;
            match rows.last_mut() {
                Some((top, bottom, row)) if centre >= *top && centre <= *bottom => {
                    *bottom = bottom.max(item.bounds[3]);
                    row.push(item);
                }
                _ => rows.push((item.bounds[1], item.bounds[3], vec![item])),
            }
        }

        let lines: Vec<String> = rows
            .into_iter()
            .map(|(_, _, mut row)| {
                row.sort_by(|a, b| a.bounds[0].total_cmp(&b.bounds[0]));
                let texts: Vec<&str> = row.iter().map(|item| item.text.as_str()).collect();
                texts.join(" ")
            })
            .collect();
        lines.join("\n")
    }
}

#[derive(Deserialize)]
struct FunsdFile {
    form: Vec<FunsdEntity>,
}

#[derive(Deserialize)]
struct FunsdEntity {
    words: Vec<FunsdWord>,
}

#[derive(Deserialize)]
struct FunsdWord {
    #[serde(rename = "box")]
    bounds: [f32; 4],
    text: String,
}

/// Parses a FUNSD annotation, skipping words with empty text.
pub fn parse_funsd(json: &str) -> anyhow::Result<GroundTruth> {
    let file: FunsdFile = serde_json::from_str(json)
        .context("expected a FUNSD annotation: {\"form\": [{\"words\": [{\"box\", \"text\"}]}]}")?;

    let items = file
        .form
        .into_iter()
        .flat_map(|entity| entity.words)
        .filter(|word| !word.text.trim().is_empty())
        .map(|word| TruthItem {
            text: word.text.trim().to_owned(),
            bounds: word.bounds,
        })
        .collect();

    Ok(GroundTruth {
        format: TruthFormat::Funsd,
        items,
    })
}

/// Parses a SROIE `.box.csv`: eight polygon coordinates, then the
/// transcript, which is the rest of the row and may contain commas.
pub fn parse_sroie(csv: &str) -> anyhow::Result<GroundTruth> {
    let csv = csv.strip_prefix('\u{feff}').unwrap_or(csv);
    let mut items = Vec::new();

    for (index, row) in csv.lines().enumerate() {
        let row = row.trim_end_matches('\r');
        if row.trim().is_empty() {
            continue;
        }
        let line_number = index + 1;

        let fields: Vec<&str> = row.splitn(9, ',').collect();
        let [coordinates @ .., transcript] = fields.as_slice() else {
            bail!("line {line_number}: empty row");
        };
        if coordinates.len() != 8 {
            bail!(
                "line {line_number}: expected 8 coordinates and a transcript, found {} fields",
                fields.len()
            );
        }

        let mut xs = Vec::with_capacity(4);
        let mut ys = Vec::with_capacity(4);
        for (position, value) in coordinates.iter().enumerate() {
            let value: f32 = value.trim().parse().with_context(|| {
                format!("line {line_number}: coordinate {value:?} is not a number")
            })?;
            if position % 2 == 0 {
                xs.push(value);
            } else {
                ys.push(value);
            }
        }

        let transcript = transcript.trim();
        if transcript.is_empty() {
            continue;
        }
        items.push(TruthItem {
            text: transcript.to_owned(),
            bounds: [min(&xs), min(&ys), max(&xs), max(&ys)],
        });
    }

    Ok(GroundTruth {
        format: TruthFormat::Sroie,
        items,
    })
}

fn min(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::INFINITY, f32::min)
}

fn max(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// An image with its ground truth.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The image's file name without extension.
    pub id: String,
    /// Path of the image.
    pub image: PathBuf,
    /// The image's ground truth.
    pub truth: GroundTruth,
}

/// The samples found in a folder.
#[derive(Debug, Default)]
pub struct SampleSet {
    /// Images with ground truth, sorted by file name.
    pub samples: Vec<Sample>,
    /// Images without a `<name>.box.csv` or `<name>.json` beside them.
    pub without_truth: Vec<PathBuf>,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp"];

/// Finds every image in `dir` and pairs it with `<name>.box.csv` (SROIE)
/// or else `<name>.json` (FUNSD); subfolders are not searched.
pub fn find_samples(dir: &Path) -> anyhow::Result<SampleSet> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list the folder {}", dir.display()))?;
    let mut images = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("failed to list the folder {}", dir.display()))?
            .path();
        if path.is_file() && is_image(&path) {
            images.push(path);
        }
    }
    images.sort();

    let mut set = SampleSet::default();
    for image in images {
        let Some(id) = image.file_stem().and_then(|stem| stem.to_str()) else {
            set.without_truth.push(image);
            continue;
        };
        let id = id.to_owned();

        let sroie = dir.join(format!("{id}.box.csv"));
        let funsd = dir.join(format!("{id}.json"));
        let truth = if sroie.is_file() {
            parse_sroie(&read_text(&sroie)?)
                .with_context(|| format!("invalid SROIE ground truth {}", sroie.display()))?
        } else if funsd.is_file() {
            parse_funsd(&read_text(&funsd)?)
                .with_context(|| format!("invalid FUNSD ground truth {}", funsd.display()))?
        } else {
            set.without_truth.push(image);
            continue;
        };

        set.samples.push(Sample { id, image, truth });
    }
    Ok(set)
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            IMAGE_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
        })
}

/// Reads a text file, replacing invalid UTF-8 so that one stray byte in an
/// annotation does not stop the run.
fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str, bounds: [f32; 4]) -> TruthItem {
        TruthItem {
            text: text.to_owned(),
            bounds,
        }
    }

    #[test]
    fn sroie_transcript_keeps_commas() {
        let csv = "126,191,297,191,297,214,126,214,27,JALAN DEDAP 13,\r\n\r\n";
        let truth = parse_sroie(csv).expect("valid row");
        assert_eq!(
            truth.items,
            vec![item("27,JALAN DEDAP 13,", [126.0, 191.0, 297.0, 214.0])]
        );
    }

    #[test]
    fn sroie_polygon_becomes_bounds() {
        let csv = "\u{feff}12,5,40,9,38,21,10,17,Invoice\n";
        let truth = parse_sroie(csv).expect("valid row");
        assert_eq!(truth.items[0].bounds, [10.0, 5.0, 40.0, 21.0]);
    }

    #[test]
    fn sroie_rejects_short_row() {
        let err = parse_sroie("1,2,3,TOTAL").expect_err("row has 4 fields");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn sroie_rejects_bad_coordinate() {
        let err = parse_sroie("1,2,x,4,5,6,7,8,TOTAL").expect_err("x is no number");
        assert!(err.to_string().contains("\"x\""), "{err}");
    }

    #[test]
    fn funsd_words_without_empty() {
        let json = r#"{"form": [
            {"id": 0, "label": "other", "text": "", "box": [0, 0, 1, 1],
             "words": [{"box": [61, 127, 143, 211], "text": ""}], "linking": []},
            {"id": 1, "label": "question", "text": "TO: Bob", "box": [102, 345, 180, 359],
             "words": [{"box": [102, 345, 129, 359], "text": "TO:"},
                       {"box": [135, 345, 180, 359], "text": "Bob"}], "linking": [[1, 14]]}
        ]}"#;
        let truth = parse_funsd(json).expect("valid annotation");
        assert_eq!(truth.format, TruthFormat::Funsd);
        assert_eq!(
            truth.items,
            vec![
                item("TO:", [102.0, 345.0, 129.0, 359.0]),
                item("Bob", [135.0, 345.0, 180.0, 359.0]),
            ]
        );
    }

    #[test]
    fn funsd_rejects_other_json() {
        assert!(parse_funsd(r#"{"results": []}"#).is_err());
    }

    #[test]
    fn reading_order_rows_then_columns() {
        let truth = GroundTruth {
            format: TruthFormat::Funsd,
            items: vec![
                item("12.50", [200.0, 52.0, 240.0, 66.0]),
                item("Invoice", [10.0, 10.0, 60.0, 24.0]),
                item("Total", [10.0, 50.0, 50.0, 64.0]),
                item("42", [70.0, 12.0, 85.0, 26.0]),
            ],
        };
        assert_eq!(truth.reading_order_text(), "Invoice 42\nTotal 12.50");
    }
}
