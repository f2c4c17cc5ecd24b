//! The one-shot commands: `process`, `fill`, `ocr` and `keygen`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use docsnap_core::config::Config;
use docsnap_core::engine::Engine;
use docsnap_core::envelope::ServerKey;
use docsnap_core::types::{FileLibrary, FormToFill};
use docsnap_http::cli::DocumentKind;
use docsnap_http::metrics::{Metrics, TimedExtractor, TimedOcrEngine};
use serde::de::DeserializeOwned;

/// Runs `process --type doc|form IMAGE...` and prints the result JSON.
pub async fn process(
    config: &Config,
    kind: DocumentKind,
    images: &[PathBuf],
    file_lib: Option<&Path>,
) -> anyhow::Result<()> {
    let pages = read_images(images)?;
    let library = match file_lib {
        Some(path) => read_json::<FileLibrary>(path, "file library")?,
        None => FileLibrary::default(),
    };
    let engine = build_engine(config)?;

    let result = match kind {
        DocumentKind::Doc => {
            let processed = engine.process_document(pages, &library).await;
            serde_json::to_value(
                processed
                    .map_err(|error| name_page_file(error, images))?
                    .result,
            )?
        }
        DocumentKind::Form => {
            let processed = engine.process_form(pages, &library).await;
            serde_json::to_value(
                processed
                    .map_err(|error| name_page_file(error, images))?
                    .result,
            )?
        }
    };
    print_json(&result)
}

/// Runs `fill FORM_JSON --file-lib FILE` and prints the result JSON.
pub async fn fill(config: &Config, form: &Path, file_lib: &Path) -> anyhow::Result<()> {
    let form = read_json::<FormToFill>(form, "form")?;
    let library = read_json::<FileLibrary>(file_lib, "file library")?;
    let engine = build_engine(config)?;

    let result = engine.fill_form(&form, &library).await?;
    print_json(&serde_json::to_value(result)?)
}

/// Runs `ocr IMAGE...` and prints the text, pages separated by `----page N----`.
pub async fn ocr(config: &Config, images: &[PathBuf]) -> anyhow::Result<()> {
    let pages = read_images(images)?;
    let engine = build_engine(config)?;

    let texts = engine
        .ocr(pages)
        .await
        .map_err(|error| name_page_file(error, images))?;
    let mut output = String::new();
    for page in &texts {
        output.push_str(&format!("----page {}----\n", page.index + 1));
        output.push_str(&page.text());
        output.push('\n');
    }
    print!("{output}");
    Ok(())
}

/// Runs `keygen`: loads or creates the key pair and prints its fingerprint and public key.
pub fn keygen(config: &Config) -> anyhow::Result<()> {
    let key = ServerKey::load_or_generate(&config.data_dir).with_context(|| {
        format!(
            "failed to load or create the key pair in {}; make it a directory this user can write, or pass another --data-dir",
            config.data_dir.display()
        )
    })?;
    println!("fingerprint: {}", key.fingerprint());
    print!("{}", key.public_key_pem());
    Ok(())
}

/// Builds the engine the configuration describes.
pub fn build_engine(config: &Config) -> anyhow::Result<Engine> {
    Engine::from_config(config).context("failed to build the docsnap engine")
}

/// Builds the engine with its OCR engine and extractor timed into `metrics`.
pub fn build_timed_engine(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Engine> {
    let engine = build_engine(config)?;
    let ocr = TimedOcrEngine::new(engine.ocr_engine().clone(), metrics.clone());
    let extractor = TimedExtractor::new(engine.extractor().clone(), metrics.clone());
    // NOTE: Engine::new starts from the default intake limits, which is also
    // what Engine::from_config uses; if from_config ever sets others, pass them on here.
    Ok(Engine::new(Arc::new(ocr), Arc::new(extractor)))
}

/// Names the file behind a core error about `page N` (0-based), because the
/// core reports only page positions.
fn name_page_file(error: docsnap_core::Error, images: &[PathBuf]) -> anyhow::Error {
    let path = error
        .to_string()
        .strip_prefix("page ")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(index, _)| index.parse::<usize>().ok())
        .and_then(|index| images.get(index).cloned());
    match path {
        Some(path) => {
            anyhow::Error::new(error).context(format!("invalid image {}", path.display()))
        }
        None => error.into(),
    }
}

fn read_images(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|path| {
            std::fs::read(path).with_context(|| format!("failed to read image {}", path.display()))
        })
        .collect()
}

fn read_json<T: DeserializeOwned>(path: &Path, description: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {description} {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("invalid {description} JSON in {}", path.display()))?;
    // serde fills a struct from an array too, so `[]` would pass as an empty form.
    if !value.is_object() {
        anyhow::bail!(
            "invalid {description} JSON in {}: expected an object, found {}",
            path.display(),
            json_type(&value)
        );
    }
    serde_json::from_value(value)
        .with_context(|| format!("invalid {description} JSON in {}", path.display()))
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
