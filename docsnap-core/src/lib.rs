//! docsnap turns photos and scans of documents and forms into structured
//! data, and fills blank forms from a user's earlier documents.
//!
//! [`engine::Engine`] runs the whole pipeline in one call. Each stage is also
//! public, so a caller can run, replace or inspect one of them:
//!
//! 1. **Intake** decodes a page image, applies its EXIF orientation and
//!    normalises it to upright 8-bit RGB within size limits.
//!
//!    ```
//!    use docsnap_core::ocr::{IntakeLimits, decode_page};
//!
//!    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/forms/library_card_form.png");
//!    let page = decode_page(&std::fs::read(path)?, 0, &IntakeLimits::default())?;
//!    assert_eq!(page.image.dimensions(), (1240, 1754));
//!    # Ok::<(), Box<dyn std::error::Error>>(())
//!    ```
//!
//! 2. **OCR** reads the lines of a page in reading order, each with its box.
//!    [`ocr::OcrsEngine`] runs in process on the embedded ocrs models;
//!    [`ocr::remote`] reaches OCR servers over HTTP.
//!
//!    ```
//!    # use docsnap_core::ocr::{IntakeLimits, decode_page};
//!    use docsnap_core::ocr::{OcrEngine, OcrsConfig, OcrsEngine};
//!
//!    # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/forms/library_card_form.png");
//!    # let page = decode_page(&std::fs::read(path)?, 0, &IntakeLimits::default())?;
//!    let engine = OcrsEngine::new(OcrsConfig::default())?;
//!    let text = engine.recognize_blocking(&page)?;
//!    assert!(text.text().contains("Library Card Application"));
//!    # Ok::<(), Box<dyn std::error::Error>>(())
//!    ```
//!
//! 3. **Extraction** turns the lines into a result. The offline
//!    [`extract::rules::RuleExtractor`] needs no network;
//!    [`extract::llm::LlmExtractor`] asks a language model.
//!
//!    ```
//!    use docsnap_core::extract::rules;
//!    use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
//!    use docsnap_core::types::FileLibrary;
//!
//!    let line = |text: &str, y: f32| TextLine {
//!        text: text.into(),
//!        bbox: BoundingBox { x: 100.0, y, width: 600.0, height: 30.0 },
//!        confidence: None,
//!    };
//!    let page = PageText {
//!        index: 0,
//!        width: 1240,
//!        height: 1754,
//!        lines: vec![line("Name: Jane Example", 100.0), line("Date of birth: 14 March 1987", 160.0)],
//!    };
//!    let result = rules::extract_document(&[page], &FileLibrary::default());
//!    assert_eq!(result.kv["Date of Birth (Full)"], "Mar 14, 1987");
//!    ```
//!
//! 4. **Validation** enforces the protocol's rules on any extractor's output:
//!    flat `kv`, date formats, at most four tags, `related` ids that exist.
//!
//!    ```
//!    use docsnap_core::extract::validate::validate_document;
//!    use docsnap_core::types::FileLibrary;
//!
//!    let raw = serde_json::json!({
//!        "title": "Passport", "tags": ["id"], "description": "A passport.",
//!        "kv": {"Holder": {"Name": "Jane Example", "Born": "1987-03-14"}},
//!        "related": [{"type": "doc", "resource_id": "not-in-the-library"}],
//!    });
//!    let result = validate_document(&raw, &FileLibrary::default())?;
//!    assert_eq!(result.kv["Holder.Born"], "Mar 14, 1987");
//!    assert!(result.related.is_empty());
//!    # Ok::<(), docsnap_core::Error>(())
//!    ```
//!
//! [`engine::Engine::with_cache`] keeps results in an encrypted
//! [`store::ResultCache`], so a repeated call skips OCR and extraction.
//!
//! The [`service::TaskService`] wraps the engine in the DocuSnap protocol:
//! encrypted submissions ([`envelope`]), a durable [`store`] and a worker
//! pool. [`config::Config`] describes a whole deployment.

pub mod config;
pub mod engine;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod llm;
pub mod ocr;
pub mod pipeline;
pub mod service;
pub mod store;
pub mod types;

pub use error::{Error, ErrorKind, Result};
