//! The engine's result cache on real fixture images, the real ocrs engine and
//! real SQLite files: a repeated call returns the stored result without OCR,
//! anything that changes the result misses, and a broken cache never fails a call.
#![cfg(feature = "bundled-models")]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use docsnap_core::engine::Engine;
use docsnap_core::extract::rules::RuleExtractor;
use docsnap_core::ocr::{OcrEngine, OcrsConfig, OcrsEngine, Page, PageText};
use docsnap_core::store::ResultCache;
use docsnap_core::types::{FileLibrary, FormToFill};
use docsnap_core::{ErrorKind, Result};

/// The real ocrs engine, counting the pages it recognises.
#[derive(Debug)]
struct CountingOcr {
    inner: OcrsEngine,
    pages: AtomicUsize,
}

#[async_trait]
impl OcrEngine for CountingOcr {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        self.inner.recognize(page).await
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn cache_identity(&self) -> String {
        self.inner.cache_identity()
    }
}

impl CountingOcr {
    fn recognised(&self) -> usize {
        self.pages.load(Ordering::SeqCst)
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ocr")
        .join(name);
    std::fs::read(path).unwrap()
}

fn ocrs() -> OcrsEngine {
    static OCRS: OnceLock<OcrsEngine> = OnceLock::new();
    OCRS.get_or_init(|| OcrsEngine::new(OcrsConfig::default()).unwrap())
        .clone()
}

/// Builds an engine on the cache file in `dir`, with its own page counter.
fn engine_on(dir: &tempfile::TempDir) -> (Engine, Arc<CountingOcr>) {
    let ocr = Arc::new(CountingOcr {
        inner: ocrs(),
        pages: AtomicUsize::new(0),
    });
    let cache = ResultCache::open(dir.path().join("cache.db")).unwrap();
    let engine =
        Engine::new(ocr.clone(), Arc::new(RuleExtractor::new())).with_cache(Arc::new(cache));
    (engine, ocr)
}

fn library(name: &str) -> FileLibrary {
    serde_json::from_value(serde_json::json!({
        "docs": [{"resource_id": "id-1", "title": "Passport", "kv": {
            "Full Name (English/Latin)": name,
            "Date of Birth (Full)": "Mar 14, 1987"
        }}]
    }))
    .unwrap()
}

#[tokio::test]
async fn repeated_document_skips_ocr() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, ocr) = engine_on(&dir);
    let images = vec![fixture("letter.png"), fixture("letter_page2.png")];

    let first = engine
        .process_document(images.clone(), &FileLibrary::default())
        .await
        .unwrap();
    assert_eq!(ocr.recognised(), 2);
    let again = engine
        .process_document(images.clone(), &FileLibrary::default())
        .await
        .unwrap();

    assert_eq!(ocr.recognised(), 2, "the second call ran OCR");
    assert_eq!(again.result, first.result);
    assert_eq!(again.pages, first.pages);
    assert_eq!(again.provenance, first.provenance);
    let stats = engine.cache().unwrap().stats().await.unwrap();
    assert_eq!((stats.entries, stats.hits, stats.misses), (1, 1, 1));
}

#[tokio::test]
async fn anything_that_changes_the_result_misses() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, ocr) = engine_on(&dir);
    let letter = || vec![fixture("letter.png")];

    engine
        .process_document(letter(), &library("Jane Example"))
        .await
        .unwrap();
    engine
        .process_document(letter(), &library("John Example"))
        .await
        .unwrap();
    engine
        .process_form(letter(), &library("Jane Example"))
        .await
        .unwrap();
    engine.ocr(letter()).await.unwrap();
    engine
        .process_document(vec![fixture("letter_page2.png")], &library("Jane Example"))
        .await
        .unwrap();

    assert_eq!(ocr.recognised(), 5, "every call needed its own OCR");
    assert_eq!(engine.cache().unwrap().stats().await.unwrap().entries, 5);
}

#[tokio::test]
async fn results_outlive_the_engine_and_the_process_handle() {
    let dir = tempfile::tempdir().unwrap();
    let images = vec![fixture("letter.png")];
    let first = {
        let (engine, _) = engine_on(&dir);
        engine
            .process_form(images.clone(), &FileLibrary::default())
            .await
            .unwrap()
    };

    let (reopened, ocr) = engine_on(&dir);
    let again = reopened
        .process_form(images, &FileLibrary::default())
        .await
        .unwrap();

    assert_eq!(ocr.recognised(), 0);
    assert_eq!(again.result, first.result);
}

#[tokio::test]
async fn fills_are_cached_by_form_and_library() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine_on(&dir);
    let form = FormToFill {
        fields: vec!["Full name".into(), "Date of birth".into()],
        ..FormToFill::default()
    };

    let jane = engine
        .fill_form(&form, &library("Jane Example"))
        .await
        .unwrap();
    let cached = engine
        .fill_form(&form, &library("Jane Example"))
        .await
        .unwrap();
    let john = engine
        .fill_form(&form, &library("John Example"))
        .await
        .unwrap();

    assert_eq!(cached, jane);
    assert_eq!(john["Full name"].value, "John Example");
    let stats = engine.cache().unwrap().stats().await.unwrap();
    assert_eq!((stats.entries, stats.hits), (2, 1));
}

#[tokio::test]
async fn failures_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine_on(&dir);
    let broken = || vec![b"not an image at all".to_vec()];

    for _ in 0..2 {
        let error = engine
            .process_document(broken(), &FileLibrary::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidImage);
    }
    assert_eq!(engine.cache().unwrap().stats().await.unwrap().entries, 0);
}

#[tokio::test]
async fn broken_cache_never_fails_call() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, ocr) = engine_on(&dir);
    let path = engine.cache().unwrap().path().to_owned();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE result_cache")
        .unwrap();

    let images = vec![fixture("letter.png")];
    for _ in 0..2 {
        let processed = engine
            .process_document(images.clone(), &FileLibrary::default())
            .await
            .unwrap();
        assert!(!processed.result.title.is_empty());
    }
    assert_eq!(
        ocr.recognised(),
        2,
        "with no working cache every call runs OCR"
    );
}

#[test]
fn llm_settings_enter_cache_identity() {
    let identity = |toml: &str| {
        let config = docsnap_core::config::Config::from_toml(toml).unwrap();
        Engine::from_config(&config)
            .unwrap()
            .extractor()
            .cache_identity()
    };
    let local = "[llm]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"llama3\"\n";
    let other_server = "[llm]\nbase_url = \"http://127.0.0.1:10/v1\"\nmodel = \"llama3\"\n";
    let smaller_budget = format!("{local}max_prompt_chars = 5000\n");

    assert!(identity(&smaller_budget).contains("max_prompt_chars 5000"));
    assert_ne!(identity(local), identity(other_server));
    assert_ne!(identity(local), identity(&smaller_budget));
    assert_eq!(identity(""), "rules");
}
