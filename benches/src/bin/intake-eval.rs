//! Runs every file of a robustness sample folder through the page intake,
//! and through the ocrs engine where text is expected, and compares each
//! outcome with the expectation derived from the folder's `robustness.json`.
//!
//! Usage: `cargo run -p benches --bin intake-eval -- FOLDER [--max-side PIXELS]
//! [--no-columns] [--print-text]`, where FOLDER is such as `samples/robustness`.
//! Exits 0 when every file gives its expected outcome, 1 on a mismatch and
//! 2 when the folder or its `robustness.json` is missing or invalid.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use docsnap_core::ErrorKind;
use docsnap_core::ocr::{IntakeLimits, OcrsConfig, OcrsEngine, Page, PageText, decode_page};
use serde_json::Value;

/// Highest character error rate accepted against a full-page transcription.
/// The reference transcriptions come from another OCR engine and keep its
/// quirks (bullets read as `0`, curly quotes), so this is a loose bound.
const MAX_PAGE_CER: f64 = 0.10;

/// The outcome docsnap should give for one sample file.
#[derive(Debug)]
enum Expectation {
    /// The intake rejects the file as `INVALID_IMAGE` with this text in the message.
    Reject(&'static str),
    /// The intake accepts the file, and then the check runs on the page.
    Accept(Check),
}

#[derive(Debug)]
enum Check {
    /// Nothing beyond a successful decode.
    Decodes,
    /// The page has both dark and light pixels after normalisation, for
    /// text that ocrs cannot read (it is Latin-only) but must stay visible.
    Visible,
    /// OCR finds no text.
    NoText,
    /// OCR reads this word in the upper half of the page, which shows that
    /// the page was turned upright.
    WordAtTop(String),
    /// OCR's first line contains this text.
    FirstLine(String),
    /// OCR text is within [`MAX_PAGE_CER`] of this reference.
    Transcription(String),
}

/// Command-line settings.
#[derive(Debug, Default)]
struct Options {
    folder: PathBuf,
    limits: IntakeLimits,
    config: OcrsConfig,
    print_text: bool,
}

const USAGE: &str = "usage: intake-eval FOLDER [--max-side PIXELS] [--no-columns] [--print-text]
  FOLDER         a folder with robustness.json, such as samples/robustness
  --max-side     longest page side after intake, in pixels (default 2400)
  --no-columns   keep ocrs's own line order instead of reading columns in turn
  --print-text   print the recognised text of transcription checks";

fn parse_options() -> Result<Options, String> {
    let mut options = Options::default();
    let mut folder = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-side" => {
                let value = args.next().ok_or("--max-side needs a number of pixels")?;
                options.limits.max_side = value.parse().map_err(|_| {
                    format!("invalid --max-side {value:?}; give a number of pixels")
                })?;
            }
            "--no-columns" => options.config.split_columns = false,
            "--print-text" => options.print_text = true,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path => folder = Some(PathBuf::from(path)),
        }
    }
    options.folder = folder.ok_or("missing FOLDER")?;
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("intake-eval: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let folder = options.folder.clone();
    let manifest_path = folder.join("robustness.json");
    if !manifest_path.is_file() {
        eprintln!(
            "intake-eval: {} not found; pass the robustness sample folder",
            manifest_path.display()
        );
        return ExitCode::from(2);
    }
    let items = match read_items(&manifest_path) {
        Ok(items) => items,
        Err(message) => {
            eprintln!(
                "intake-eval: invalid {}: {message}",
                manifest_path.display()
            );
            return ExitCode::from(2);
        }
    };

    let engine = match OcrsEngine::new(options.config.clone()) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("intake-eval: {error}");
            return ExitCode::from(2);
        }
    };

    let mut mismatches = 0;
    let mut checked = 0;
    for item in &items {
        let Some(file) = item["file"].as_str() else {
            continue;
        };
        let Some(expectation) = expectation_for(&folder, item) else {
            continue;
        };
        checked += 1;
        let outcome = evaluate(&engine, &options, &folder.join(file), &expectation);
        let verdict = if outcome.is_ok() { "ok" } else { "MISMATCH" };
        let actual = match &outcome {
            Ok(actual) | Err(actual) => actual,
        };
        println!(
            "{verdict:8} {file}\n         expected: {}\n         actual:   {actual}",
            describe(&expectation)
        );
        if outcome.is_err() {
            mismatches += 1;
        }
    }

    println!(
        "\n{checked} files checked, {} as expected, {mismatches} mismatches",
        checked - mismatches
    );
    if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read_items(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let manifest: Value = serde_json::from_str(&text).map_err(|error| error.to_string())?;
    manifest["items"]
        .as_array()
        .cloned()
        .ok_or_else(|| "no `items` array".to_string())
}

/// Derives docsnap's expected outcome from a manifest entry. PDF and
/// HEIC/HEIF are outside the formats docsnap decodes, and a multi-page TIFF
/// must be sent as one image per page, so those are expected rejections.
fn expectation_for(folder: &Path, item: &Value) -> Option<Expectation> {
    let file = item["file"].as_str()?;
    let category = item["category"].as_str().unwrap_or_default();
    let truth = &item["ground_truth"];
    let extension = file.rsplit('.').next().unwrap_or_default();

    if category == "ground truth" {
        return None;
    }
    let size = std::fs::metadata(folder.join(file))
        .map(|meta| meta.len())
        .unwrap_or(0);
    if size == 0 {
        return Some(Expectation::Reject("empty"));
    }
    if extension == "pdf" {
        return Some(Expectation::Reject("unsupported format PDF"));
    }
    if extension == "heic" && (category.contains("truncated") || category.contains("corrupt")) {
        // A damaged HEIC may have lost its `ftyp` box, so any rejection fits.
        return Some(Expectation::Reject("page 0:"));
    }
    if matches!(extension, "heic" | "heif") {
        return Some(Expectation::Reject("unsupported format HEIC/HEIF"));
    }
    if category.contains("truncated") {
        return Some(Expectation::Reject("truncated"));
    }
    if category.contains("corrupt") {
        return Some(Expectation::Reject("invalid PNG data"));
    }
    if category.contains("decompression bomb") {
        return Some(Expectation::Reject("exceeds the limit"));
    }
    if category.contains("multi-page TIFF") {
        return Some(Expectation::Reject("send each page as its own image"));
    }

    let check = if let Some(text_file) = truth["text_file"].as_str() {
        // The path is relative to the samples root, the folder's parent.
        let path = folder.parent().unwrap_or(folder).join(text_file);
        Check::Transcription(std::fs::read_to_string(path).ok()?)
    } else if truth["labels"].is_array() && category == "exif-orientation" {
        // The labels are white words on a photo. ocrs, made for documents,
        // reads "top" and "bottom" but not all of them.
        Check::WordAtTop("top".into())
    } else if let Some(first_line) = truth["first_line"].as_str() {
        if first_line.is_ascii() {
            Check::FirstLine(first_line.to_string())
        } else {
            Check::Visible
        }
    } else if truth["text"].as_str() == Some("") {
        Check::NoText
    } else {
        Check::Decodes
    };
    Some(Expectation::Accept(check))
}

fn describe(expectation: &Expectation) -> String {
    match expectation {
        Expectation::Reject(needle) => format!("INVALID_IMAGE mentioning {needle:?}"),
        Expectation::Accept(Check::Decodes) => "decoded".into(),
        Expectation::Accept(Check::Visible) => {
            "decoded with visible dark-on-light or light-on-dark content".into()
        }
        Expectation::Accept(Check::NoText) => "decoded, no text".into(),
        Expectation::Accept(Check::WordAtTop(word)) => {
            format!("decoded, {word:?} read in the upper half")
        }
        Expectation::Accept(Check::FirstLine(line)) => {
            format!("decoded, first line contains {line:?}")
        }
        Expectation::Accept(Check::Transcription(_)) => format!("decoded, CER <= {MAX_PAGE_CER}"),
    }
}

/// Returns the actual outcome as `Ok` when it matches and `Err` when not.
fn evaluate(
    engine: &OcrsEngine,
    options: &Options,
    path: &Path,
    expectation: &Expectation,
) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read the file: {error}"))?;
    let decoded = decode_page(&bytes, 0, &options.limits);

    let page = match (decoded, expectation) {
        (Err(error), Expectation::Reject(needle)) => {
            let actual = format!("{} {}", error.code(), error.message());
            return if error.kind() == ErrorKind::InvalidImage && error.message().contains(needle) {
                Ok(actual)
            } else {
                Err(actual)
            };
        }
        (Err(error), Expectation::Accept(_)) => {
            return Err(format!("{} {}", error.code(), error.message()));
        }
        (Ok(page), Expectation::Reject(_)) => {
            return Err(format!(
                "decoded to {}x{}",
                page.image.width(),
                page.image.height()
            ));
        }
        (Ok(page), Expectation::Accept(check)) => (page, check),
    };
    let (page, check) = page;
    let size = format!("{}x{}", page.image.width(), page.image.height());

    match check {
        Check::Decodes => Ok(format!("decoded {size}, mean luma {:.2}", mean_luma(&page))),
        Check::Visible => {
            let (dark, light) = dark_and_light_share(&page);
            let actual = format!(
                "decoded {size}, {:.1}% dark and {:.1}% light pixels",
                dark * 100.0,
                light * 100.0
            );
            if dark > 0.001 && light > 0.001 {
                Ok(actual)
            } else {
                Err(actual)
            }
        }
        Check::NoText => {
            let text = recognize(engine, &page)?;
            let actual = format!("decoded {size}, {} lines", text.lines.len());
            if text.lines.is_empty() {
                Ok(actual)
            } else {
                Err(actual)
            }
        }
        Check::WordAtTop(word) => {
            let text = recognize(engine, &page)?;
            let lines: Vec<&str> = text.lines.iter().map(|line| line.text.as_str()).collect();
            let actual = format!("decoded {size}, lines {lines:?}");
            let at_top = text.lines.iter().any(|line| {
                let has_word = line
                    .text
                    .split_whitespace()
                    .any(|token| token.eq_ignore_ascii_case(word));
                has_word && line.bbox.y + line.bbox.height / 2.0 < text.height as f32 / 2.0
            });
            if at_top { Ok(actual) } else { Err(actual) }
        }
        Check::FirstLine(expected) => {
            let text = recognize(engine, &page)?;
            let first = text
                .lines
                .first()
                .map(|line| line.text.as_str())
                .unwrap_or_default();
            let actual = format!("decoded {size}, first line {first:?}");
            if first.contains(expected.as_str()) {
                Ok(actual)
            } else {
                Err(actual)
            }
        }
        Check::Transcription(reference) => {
            let text = recognize(engine, &page)?;
            if options.print_text {
                println!("{}", text.text());
            }
            let rate = cer(&normalise_space(reference), &normalise_space(&text.text()));
            let actual = format!("decoded {size}, CER {rate:.3}");
            if rate <= MAX_PAGE_CER {
                Ok(actual)
            } else {
                Err(actual)
            }
        }
    }
}

fn recognize(engine: &OcrsEngine, page: &Page) -> Result<PageText, String> {
    engine
        .recognize_blocking(page)
        .map_err(|error| format!("{} {}", error.code(), error.message()))
}

fn mean_luma(page: &Page) -> f64 {
    let total: f64 = page.image.pixels().map(|pixel| luma(pixel.0)).sum();
    total / (page.image.width() as f64 * page.image.height() as f64).max(1.0)
}

fn dark_and_light_share(page: &Page) -> (f64, f64) {
    let count = (page.image.width() as f64 * page.image.height() as f64).max(1.0);
    let dark = page
        .image
        .pixels()
        .filter(|pixel| luma(pixel.0) < 0.3)
        .count() as f64;
    let light = page
        .image
        .pixels()
        .filter(|pixel| luma(pixel.0) > 0.7)
        .count() as f64;
    (dark / count, light / count)
}

fn luma([red, green, blue]: [u8; 3]) -> f64 {
    (0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue)) / 255.0
}

/// Collapses runs of whitespace, so blank lines and line breaks do not count as errors.
fn normalise_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Levenshtein distance over chars divided by the reference length.
fn cer(reference: &str, hypothesis: &str) -> f64 {
    let reference: Vec<char> = reference.chars().collect();
    let hypothesis: Vec<char> = hypothesis.chars().collect();
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(r != h);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[hypothesis.len()] as f64 / reference.len().max(1) as f64
}
