//! The document engine: decode, recognise, extract and validate, as separate
//! stages or as one call.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::{Config, LlmEndpoint, LlmPreset, OcrConfig, OcrEngineKind};
use crate::error::{Error, ErrorKind, Result};
use crate::extract::Extractor;
use crate::extract::llm::LlmExtractor;
use crate::extract::provenance::{Provenance, locate_values};
use crate::extract::rules::RuleExtractor;
use crate::extract::validate::{normalize_document, normalize_fill, normalize_form};
use crate::llm::{OpenAiCompatible, OpenAiConfig};
use crate::ocr::remote::{OcrPool, PoolConfig, RemoteOcrClient, RemoteOcrConfig};
use crate::ocr::{IntakeLimits, OcrEngine, Page, PageText, decode_pages, recognize_pages};
use crate::ocr::{ModelSource, OcrsConfig, OcrsEngine};
use crate::pipeline::{InnerPayload, Pipeline, TaskInput};
use crate::store::{CacheKey, CacheKeyBuilder, ResultCache};
use crate::types::{DocumentResult, FileLibrary, FillResult, FormResult, FormToFill, TaskKind};

/// Runs documents and forms through intake, OCR and extraction.
///
/// Cheap to clone; the OCR engine, the extractor and the result cache are
/// shared.
#[derive(Debug, Clone)]
pub struct Engine {
    limits: IntakeLimits,
    ocr: Arc<dyn OcrEngine>,
    extractor: Arc<dyn Extractor>,
    cache: Option<Arc<ResultCache>>,
}

/// The kind of call a cached result came from, part of its cache key.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Ocr,
    Document,
    Form,
    Fill,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ocr => "ocr",
            Self::Document => "document",
            Self::Form => "form",
            Self::Fill => "fill",
        }
    }
}

/// A result together with the recognised pages it was extracted from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Processed<T> {
    /// The result in the protocol's JSON shape.
    pub result: T,
    /// The recognised pages, lines in reading order.
    pub pages: Vec<PageText>,
    /// The page and box of each `kv` value.
    pub provenance: Provenance,
}

impl Engine {
    /// Creates an engine from an OCR engine and an extractor, with default
    /// intake limits.
    pub fn new(ocr: Arc<dyn OcrEngine>, extractor: Arc<dyn Extractor>) -> Self {
        Self {
            limits: IntakeLimits::default(),
            ocr,
            extractor,
            cache: None,
        }
    }

    /// Builds the engine a configuration describes: ocrs in process or a pool
    /// of remote OCR servers, and the LLM extractor when a language model is
    /// configured, else the rule extractor.
    pub fn from_config(config: &Config) -> Result<Self> {
        let ocr = build_ocr(&config.ocr)?;
        let extractor = match config.llm.endpoint() {
            Some(endpoint) => build_llm_extractor(&endpoint)?,
            None => Arc::new(RuleExtractor::new()) as Arc<dyn Extractor>,
        };
        Ok(Self::new(ocr, extractor))
    }

    /// Replaces the intake limits.
    pub fn with_intake_limits(mut self, limits: IntakeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Keeps every successful result in `cache`, and returns the stored
    /// result for a call whose input, engine and settings match an earlier
    /// one, without running OCR or extraction again. Failures are never cached.
    ///
    /// A cache that fails to read or write is logged and passed over: the
    /// call then runs as if there were no cache.
    pub fn with_cache(mut self, cache: Arc<ResultCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Returns the result cache, if any.
    pub fn cache(&self) -> Option<&Arc<ResultCache>> {
        self.cache.as_ref()
    }

    /// The OCR engine.
    pub fn ocr_engine(&self) -> &Arc<dyn OcrEngine> {
        &self.ocr
    }

    /// The extractor.
    pub fn extractor(&self) -> &Arc<dyn Extractor> {
        &self.extractor
    }

    /// Stage 1: decodes and normalises encoded page images, off the async
    /// runtime because decoding a large scan takes tens of milliseconds.
    pub async fn decode(&self, images: Vec<Vec<u8>>) -> Result<Vec<Page>> {
        let limits = self.limits.clone();
        tokio::task::spawn_blocking(move || decode_pages(&images, &limits))
            .await
            .map_err(|join_error| {
                Error::new(
                    ErrorKind::InvalidImage,
                    "image decoding stopped unexpectedly",
                )
                .with_source(join_error)
            })?
    }

    /// Stage 2: recognises the text of decoded pages, in page order.
    pub async fn recognize(&self, pages: &[Page]) -> Result<Vec<PageText>> {
        recognize_pages(self.ocr.as_ref(), pages).await
    }

    /// Stages 1 and 2: decodes and recognises encoded page images.
    pub async fn ocr(&self, images: Vec<Vec<u8>>) -> Result<Vec<PageText>> {
        let key = self.cache_key(Operation::Ocr, |key| Ok(pages_key(key, &images)))?;
        self.cached(key, async {
            let pages = self.decode(images).await?;
            self.recognize(&pages).await
        })
        .await
    }

    /// Stage 3: extracts and validates a document result from recognised pages.
    pub async fn extract_document(
        &self,
        pages: &[PageText],
        library: &FileLibrary,
    ) -> Result<DocumentResult> {
        let raw = self.extractor.document(pages, library).await?;
        Ok(normalize_document(raw, library))
    }

    /// Stage 3: extracts and validates a form result from recognised pages.
    pub async fn extract_form(
        &self,
        pages: &[PageText],
        library: &FileLibrary,
    ) -> Result<FormResult> {
        let raw = self.extractor.form(pages, library).await?;
        Ok(normalize_form(raw, library))
    }

    /// Reads a document from its page images.
    pub async fn process_document(
        &self,
        images: Vec<Vec<u8>>,
        library: &FileLibrary,
    ) -> Result<Processed<DocumentResult>> {
        let extract = async |pages: &[PageText]| {
            let result = self.extract_document(pages, library).await?;
            let provenance = locate_values(&result.kv, pages);
            Ok((result, provenance))
        };
        self.process(Operation::Document, images, library, extract)
            .await
    }

    /// Reads a form, with its blank fields, from its page images.
    pub async fn process_form(
        &self,
        images: Vec<Vec<u8>>,
        library: &FileLibrary,
    ) -> Result<Processed<FormResult>> {
        let extract = async |pages: &[PageText]| {
            let result = self.extract_form(pages, library).await?;
            let provenance = locate_values(&result.kv, pages);
            Ok((result, provenance))
        };
        self.process(Operation::Form, images, library, extract)
            .await
    }

    /// Runs intake and OCR on `images`, then `extract` on the pages, through
    /// the cache.
    async fn process<T>(
        &self,
        operation: Operation,
        images: Vec<Vec<u8>>,
        library: &FileLibrary,
        extract: impl AsyncFnOnce(&[PageText]) -> Result<(T, Provenance)>,
    ) -> Result<Processed<T>>
    where
        T: Serialize + DeserializeOwned,
    {
        let key = self.cache_key(operation, |key| pages_key(key, &images).json(library))?;
        self.cached(key, async {
            let pages = self.decode(images).await?;
            let pages = self.recognize(&pages).await?;
            let (result, provenance) = extract(&pages).await?;
            Ok(Processed {
                result,
                pages,
                provenance,
            })
        })
        .await
    }

    /// Fills a form's blank fields from the library, keeping only values
    /// found in the entry they cite.
    pub async fn fill_form(&self, form: &FormToFill, library: &FileLibrary) -> Result<FillResult> {
        let key = self.cache_key(Operation::Fill, |key| key.json(form)?.json(library))?;
        self.cached(key, async {
            let raw = self.extractor.fill(form, library).await?;
            Ok(normalize_fill(raw, form, library))
        })
        .await
    }

    /// Derives the cache key of a call from its operation, this engine's
    /// identity and the inputs `add_inputs` adds; `None` without a cache.
    fn cache_key(
        &self,
        operation: Operation,
        add_inputs: impl FnOnce(CacheKeyBuilder) -> Result<CacheKeyBuilder>,
    ) -> Result<Option<CacheKey>> {
        if self.cache.is_none() {
            return Ok(None);
        }
        let scope = format!(
            "docsnap-core {}; intake {:?}; ocr {}; extractor {}",
            env!("CARGO_PKG_VERSION"),
            self.limits,
            self.ocr.cache_identity(),
            self.extractor.cache_identity(),
        );
        let builder = CacheKey::builder(operation.as_str(), &scope);
        Ok(Some(add_inputs(builder)?.finish()))
    }

    /// Returns the cached result under `key` if there is one, else runs
    /// `compute` and stores its result when it succeeds.
    async fn cached<T>(
        &self,
        key: Option<CacheKey>,
        compute: impl Future<Output = Result<T>>,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
    {
        let (Some(cache), Some(key)) = (&self.cache, key) else {
            return compute.await;
        };
        match cache.get(&key).await {
            Ok(Some(hit)) => return Ok(hit),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "result cache lookup failed, so the call runs without it");
            }
        }
        let value = compute.await?;
        if let Err(error) = cache.put(&key, &value).await {
            tracing::warn!(%error, "failed to store a result in the result cache");
        }
        Ok(value)
    }
}

/// Adds the page count and each page image, in order, to a cache key.
fn pages_key(key: CacheKeyBuilder, images: &[Vec<u8>]) -> CacheKeyBuilder {
    let count = key.part(&(images.len() as u64).to_le_bytes());
    images.iter().fold(count, |key, image| key.part(image))
}

#[async_trait]
impl Pipeline for Engine {
    async fn run(&self, kind: TaskKind, payload: InnerPayload) -> Result<serde_json::Value> {
        let InnerPayload { input, library } = payload;
        match (kind, input) {
            (TaskKind::Doc, TaskInput::Pages(images)) => {
                to_json(&self.process_document(images, &library).await?.result)
            }
            (TaskKind::Form, TaskInput::Pages(images)) => {
                to_json(&self.process_form(images, &library).await?.result)
            }
            (TaskKind::Fill, TaskInput::Form(form)) => {
                to_json(&self.fill_form(&form, &library).await?)
            }
            (kind, _) => Err(Error::new(
                ErrorKind::ProcessingError,
                format!("a {kind} task needs {} as its input", expected_input(kind)),
            )),
        }
    }
}

fn expected_input(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Doc | TaskKind::Form => "page images",
        TaskKind::Fill => "a form object",
    }
}

fn to_json<T: serde::Serialize>(result: &T) -> Result<serde_json::Value> {
    serde_json::to_value(result).map_err(|error| {
        Error::new(ErrorKind::ProcessingError, "failed to serialise the result").with_source(error)
    })
}

fn build_ocr(config: &OcrConfig) -> Result<Arc<dyn OcrEngine>> {
    match config.engine {
        OcrEngineKind::Ocrs => {
            let models = match (&config.detection_model, &config.recognition_model) {
                (Some(detection), Some(recognition)) => ModelSource::Files {
                    detection: detection.clone(),
                    recognition: recognition.clone(),
                },
                (None, None) => ModelSource::Bundled,
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "set both ocr.detection_model and ocr.recognition_model, or neither \
                         to use the bundled models",
                    ));
                }
            };
            let engine = OcrsEngine::new(OcrsConfig {
                models,
                max_concurrent_pages: config.max_concurrent_pages.max(1),
                ..OcrsConfig::default()
            })?;
            Ok(Arc::new(engine))
        }
        OcrEngineKind::Remote => {
            if config.remote_urls.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    "ocr.engine is \"remote\" but ocr.remote_urls is empty: give at least one \
                     OCR server URL",
                ));
            }
            let client_config = RemoteOcrConfig {
                bearer_token: config
                    .remote_token
                    .as_ref()
                    .map(|token| token.expose().to_owned()),
                ..RemoteOcrConfig::default()
            };
            let clients = config
                .remote_urls
                .iter()
                .map(|url| {
                    let client = RemoteOcrClient::new(url, client_config.clone())?;
                    Ok(Arc::new(client) as Arc<dyn OcrEngine>)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Arc::new(OcrPool::new(clients, PoolConfig::default())?))
        }
    }
}

fn build_llm_extractor(endpoint: &LlmEndpoint) -> Result<Arc<dyn Extractor>> {
    let api_key = endpoint.api_key.as_ref().map(|key| key.expose().to_owned());
    let mut llm_config = match (endpoint.preset, api_key) {
        (LlmPreset::Zhipu, Some(key)) => OpenAiConfig::zhipu(key),
        (LlmPreset::Openai, Some(key)) => OpenAiConfig::openai(key),
        (_, key) => OpenAiConfig {
            api_key: key,
            ..OpenAiConfig::openai_compatible(&endpoint.base_url, &endpoint.model)
        },
    };
    llm_config.base_url = endpoint.base_url.clone();
    llm_config.model = endpoint.model.clone();
    llm_config.max_prompt_chars = endpoint.max_prompt_chars;

    let model = OpenAiCompatible::new(llm_config)?;
    Ok(Arc::new(LlmExtractor::new(Arc::new(model))))
}
