//! The real ocrs engine on fixture pages rendered by
//! `tests/fixtures/ocr/make_fixtures.py`, scored by character error rate.
#![cfg(feature = "bundled-models")]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use docsnap_core::ocr::{
    IntakeLimits, ModelSource, OcrEngine, OcrsConfig, OcrsEngine, Page, decode_page, join_pages,
    recognize_pages,
};
use sha2::{Digest, Sha256};

/// Highest character error rate accepted on the clean rendered fixtures.
const MAX_CER: f64 = 0.05;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ocr")
        .join(name)
}

fn load_page(name: &str, index: usize) -> Page {
    let bytes = std::fs::read(fixture(name)).unwrap();
    decode_page(&bytes, index, &IntakeLimits::default()).unwrap()
}

fn expected_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .trim_end()
        .to_string()
}

/// Returns the engine shared by all tests, because loading the models takes a moment.
fn engine() -> Arc<OcrsEngine> {
    static ENGINE: OnceLock<Arc<OcrsEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(OcrsEngine::new(OcrsConfig::default()).unwrap()))
        .clone()
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

fn assert_reads(name: &str, expected: &str, actual: &str) {
    let rate = cer(expected, actual);
    assert!(
        rate <= MAX_CER,
        "{name}: CER {rate:.3} exceeds {MAX_CER}\nexpected:\n{expected}\nactual:\n{actual}"
    );
}

#[test]
fn cer_counts_edits() {
    assert_eq!(cer("abc", "abc"), 0.0);
    assert_eq!(cer("abcd", "abxd"), 0.25);
    assert_eq!(cer("abcd", "abd"), 0.25);
    assert_eq!(cer("ab", "abcd"), 1.0);
    assert_eq!(cer("", ""), 0.0);
}

#[test]
fn bundled_models_match_known_hashes() {
    use docsnap_core::ocr::bundled::{DETECTION_MODEL, RECOGNITION_MODEL};
    let hex = |bytes: &[u8]| -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    };
    let detection = hex(DETECTION_MODEL);
    let recognition = hex(RECOGNITION_MODEL);
    assert!(
        detection.starts_with("a917b23d"),
        "detection model SHA-256 {detection}"
    );
    assert!(
        recognition.starts_with("86c145c2"),
        "recognition model SHA-256 {recognition}"
    );
}

#[tokio::test]
async fn letter_reads_within_cer() {
    let page = load_page("letter.png", 0);
    let text = engine().recognize(&page).await.unwrap();
    assert_eq!(text.index, 0);
    assert_eq!((text.width, text.height), page.image.dimensions());
    assert_reads("letter.png", &expected_text("letter.txt"), &text.text());
}

#[tokio::test]
async fn lines_have_boxes_inside_page() {
    let page = load_page("letter.png", 0);
    let text = engine().recognize(&page).await.unwrap();
    let name_line = text
        .lines
        .iter()
        .find(|line| line.text.starts_with("Name"))
        .unwrap();
    let bbox = name_line.bbox;
    assert!(bbox.width > 100.0 && bbox.height > 10.0, "{bbox:?}");
    assert!(bbox.x >= 0.0 && bbox.y >= 0.0, "{bbox:?}");
    assert!(bbox.x + bbox.width <= text.width as f32 + 1.0, "{bbox:?}");
    assert!(bbox.y + bbox.height <= text.height as f32 + 1.0, "{bbox:?}");
    assert!(text.lines.iter().all(|line| line.confidence.is_none()));
}

#[tokio::test]
async fn exif_rotated_jpeg_reads_upright() {
    let page = load_page("rotated_exif6.jpg", 0);
    assert!(
        page.image.width() > page.image.height(),
        "orientation 6 turns the stored portrait upright"
    );
    let text = engine().recognize(&page).await.unwrap();
    assert_reads(
        "rotated_exif6.jpg",
        &expected_text("rotated_exif6.txt"),
        &text.text(),
    );
}

#[tokio::test]
async fn two_columns_read_in_column_order() {
    let page = load_page("two_columns.png", 0);
    let text = engine().recognize(&page).await.unwrap();
    assert_reads(
        "two_columns.png",
        &expected_text("two_columns.txt"),
        &text.text(),
    );

    let lines: Vec<&str> = text.lines.iter().map(|line| line.text.as_str()).collect();
    let position = |needle: &str| lines.iter().position(|line| line.contains(needle)).unwrap();
    assert!(
        position("western bend") < position("south bank"),
        "{lines:#?}"
    );
    assert!(
        position("north bank") < position("every spring"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn two_pages_join_with_markers() {
    let pages = vec![load_page("letter.png", 0), load_page("letter_page2.png", 1)];
    let engine = engine();
    let texts = recognize_pages(engine.as_ref(), &pages).await.unwrap();
    assert_eq!(
        texts.iter().map(|text| text.index).collect::<Vec<_>>(),
        vec![0, 1]
    );

    let expected = format!(
        "----page 1----\n{}\n----page 2----\n{}",
        expected_text("letter.txt"),
        expected_text("letter_page2.txt")
    );
    assert_reads("two-page join", &expected, &join_pages(&texts));
}

#[tokio::test]
async fn blank_page_gives_no_lines() {
    let page = Page {
        index: 0,
        image: image::RgbImage::from_pixel(600, 800, image::Rgb([255, 255, 255])),
    };
    let text = engine().recognize(&page).await.unwrap();
    assert!(text.lines.is_empty(), "{:?}", text.lines);
}

#[tokio::test]
async fn white_text_on_transparent_reads() {
    let page = load_page("transparent_white_text.png", 0);
    let text = engine().recognize(&page).await.unwrap();
    assert_reads(
        "transparent_white_text.png",
        &expected_text("transparent_white_text.txt"),
        &text.text(),
    );
}

#[tokio::test]
async fn cmyk_jpeg_reads() {
    let page = load_page("cmyk.jpg", 0);
    let text = engine().recognize(&page).await.unwrap();
    assert_reads(
        "cmyk.jpg",
        &expected_text("transparent_white_text.txt"),
        &text.text(),
    );
}

#[tokio::test]
async fn tiny_page_gives_no_lines() {
    let page = Page {
        index: 4,
        image: image::RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 0])),
    };
    let text = engine().recognize(&page).await.unwrap();
    assert_eq!(text.index, 4);
    assert!(text.lines.is_empty(), "{:?}", text.lines);
}

#[test]
fn missing_model_file_is_invalid_config() {
    let config = OcrsConfig {
        models: ModelSource::Files {
            detection: PathBuf::from("/nonexistent/text-detection.rten"),
            recognition: PathBuf::from("/nonexistent/text-recognition.rten"),
        },
        ..OcrsConfig::default()
    };
    let error = OcrsEngine::new(config).unwrap_err();
    assert_eq!(error.kind(), docsnap_core::ErrorKind::InvalidConfig);
    assert!(
        error.message().contains("/nonexistent/text-detection.rten"),
        "{}",
        error.message()
    );
}

#[test]
fn engine_reports_its_bound() {
    let engine = engine();
    assert_eq!(engine.name(), "ocrs");
    assert_eq!(
        engine.max_concurrent_pages(),
        OcrsConfig::default().max_concurrent_pages
    );
}
