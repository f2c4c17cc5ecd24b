//! The whole pipeline on real fixture images: intake, the real ocrs engine,
//! the rule extractor and validation.
#![cfg(feature = "bundled-models")]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use docsnap_core::ErrorKind;
use docsnap_core::engine::Engine;
use docsnap_core::extract::rules::RuleExtractor;
use docsnap_core::ocr::{OcrsConfig, OcrsEngine};
use docsnap_core::pipeline::{InnerPayload, Pipeline, TaskInput};
use docsnap_core::types::{FileLibrary, FormToFill, TaskKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ocr")
        .join(name);
    std::fs::read(path).unwrap()
}

/// One engine for all tests, because loading the models takes a moment.
fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let ocr = Arc::new(OcrsEngine::new(OcrsConfig::default()).unwrap());
            Engine::new(ocr, Arc::new(RuleExtractor::new()))
        })
        .clone()
}

#[tokio::test]
async fn document_from_letter() {
    let processed = engine()
        .process_document(vec![fixture("letter.png")], &FileLibrary::default())
        .await
        .unwrap();

    let kv = &processed.result.kv;
    assert_eq!(
        kv.get("Full Name (English/Latin)").map(String::as_str),
        Some("Jane Example")
    );
    assert_eq!(
        kv.get("Date of Birth (Full)").map(String::as_str),
        Some("Mar 14, 1987")
    );
    assert!(!processed.result.title.is_empty());
    assert!(processed.result.tags.len() <= 4);
    assert_eq!(processed.pages.len(), 1);
    assert!(
        processed
            .provenance
            .values
            .contains_key("Date of Birth (Full)")
    );
}

#[tokio::test]
async fn two_pages_keep_order() {
    let images = vec![fixture("letter.png"), fixture("letter_page2.png")];
    let pages = engine().ocr(images).await.unwrap();

    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].index, 0);
    assert_eq!(pages[1].index, 1);
    assert!(
        pages[1].text().contains("Declaration"),
        "{}",
        pages[1].text()
    );
}

#[tokio::test]
async fn pipeline_runs_form_task() {
    let payload = InnerPayload {
        input: TaskInput::Pages(vec![fixture("letter.png")]),
        library: FileLibrary::default(),
    };
    let value = engine().run(TaskKind::Form, payload).await.unwrap();

    assert!(value["kv"]["Form Type"].is_string());
    assert!(value["fields"].is_array());
    assert!(value["related"].is_array());
}

#[tokio::test]
async fn pipeline_fills_from_library() {
    let library: FileLibrary = serde_json::from_value(serde_json::json!({
        "docs": [{"resource_id": "id-1", "title": "Passport", "kv": {
            "Full Name (English/Latin)": "Jane Example",
            "Date of Birth (Full)": "Mar 14, 1987"
        }}]
    }))
    .unwrap();
    let form = FormToFill {
        fields: vec![
            "Full name".into(),
            "Date of birth".into(),
            "Shoe size".into(),
        ],
        ..FormToFill::default()
    };

    let fill = engine().fill_form(&form, &library).await.unwrap();

    assert_eq!(fill["Full name"].value, "Jane Example");
    assert_eq!(fill["Full name"].source.resource_id, "id-1");
    assert_eq!(fill["Date of birth"].value, "1987-03-14");
    assert!(!fill.contains_key("Shoe size"));
}

#[tokio::test]
async fn pipeline_rejects_heic_page() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    let payload = InnerPayload {
        input: TaskInput::Pages(vec![heic]),
        library: FileLibrary::default(),
    };
    let error = engine().run(TaskKind::Doc, payload).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidImage);
}

#[tokio::test]
async fn form_finds_printed_values_and_blanks() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forms");
    let image = std::fs::read(path.join("library_card_form.png")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join("library_card_form.json")).unwrap())
            .unwrap();

    let processed = engine()
        .process_form(vec![image], &FileLibrary::default())
        .await
        .unwrap();
    let result = processed.result;

    for (label, value) in expected["kv"].as_object().unwrap() {
        assert_eq!(
            result.kv.get(label),
            Some(&value.as_str().unwrap().to_string()),
            "{result:?}"
        );
    }
    assert!(result.kv.contains_key("Form Type"), "{result:?}");
    for label in expected["fields"].as_array().unwrap() {
        let label = label.as_str().unwrap();
        assert!(
            result.fields.iter().any(|field| field == label),
            "missing field {label}: {result:?}"
        );
    }
    for field in &result.fields {
        assert!(
            !result.kv.contains_key(field),
            "{field} is in kv and fields"
        );
    }
    // The page heading, printed larger above the labels, names the form.
    let heading = "Library Card Application";
    assert!(
        !result.fields.iter().any(|field| field == heading),
        "heading reported as a field: {result:?}"
    );
    assert_eq!(result.title, heading, "{result:?}");
}
