//! The default OCR engine: ocrs running in this process on rten.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use rten_imageproc::{BoundingRect, RotatedRect};
use tokio::sync::Semaphore;

use crate::error::{Error, ErrorKind, Result};
use crate::ocr::order::{find_gutters_in_lines, reading_order, split_line_at_gutters};
use crate::ocr::{BoundingBox, OcrEngine, Page, PageText, TextLine};

/// The ONNX models that the `bundled-models` feature compiles in: the
/// unmodified ocrs models by Robert Knight (CC BY-SA 4.0).
#[cfg(feature = "bundled-models")]
pub mod bundled {
    /// Text detection model, from the `ikvmt-ocr-detection` crate.
    pub const DETECTION_MODEL: &[u8] = ikvmt_ocr_detection::MODEL;
    /// Text recognition model, from the `ikvmt-ocr-recognition` crate.
    pub const RECOGNITION_MODEL: &[u8] = ikvmt_ocr_recognition::MODEL;
}

/// Source of the ocrs detection and recognition models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// The models embedded by the `bundled-models` cargo feature (on by default).
    Bundled,
    /// Model files in ONNX or `.rten` format, such as `text-detection.rten`
    /// and `text-recognition.rten` from the ocrs-models project.
    Files {
        /// Path of the text detection model.
        detection: PathBuf,
        /// Path of the text recognition model.
        recognition: PathBuf,
    },
}

/// Settings of an [`OcrsEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrsConfig {
    /// Source of the models.
    pub models: ModelSource,
    /// Pages recognised at once, at least 1. rten runs every model on one
    /// process-wide pool with a thread per physical core (override with the
    /// `RTEN_NUM_THREADS` environment variable), which all pages in flight
    /// share, so this bound does not multiply the inference threads. A second
    /// page keeps the pool busy while another runs its single-threaded steps.
    pub max_concurrent_pages: usize,
    /// Whether to find text columns, split lines that ocrs joined across a
    /// column gutter, and read columns one after another.
    pub split_columns: bool,
}

impl Default for OcrsConfig {
    fn default() -> Self {
        Self {
            models: ModelSource::Bundled,
            max_concurrent_pages: 2,
            split_columns: true,
        }
    }
}

/// The ocrs engine, built once and shared: clones share the models and
/// the concurrency bound.
///
/// It reads Latin script only (the models' alphabet is printable ASCII), and
/// every [`TextLine::confidence`] is `None` because ocrs 0.13 does not expose
/// the recognition scores.
#[derive(Clone)]
pub struct OcrsEngine {
    engine: Arc<ocrs::OcrEngine>,
    permits: Arc<Semaphore>,
    max_concurrent_pages: usize,
    inference_threads: usize,
    split_columns: bool,
    /// The model source and settings that shape the output.
    identity: String,
}

impl std::fmt::Debug for OcrsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcrsEngine")
            .field("max_concurrent_pages", &self.max_concurrent_pages)
            .field("inference_threads", &self.inference_threads)
            .field("split_columns", &self.split_columns)
            .finish_non_exhaustive()
    }
}

impl OcrsEngine {
    /// Loads the models; a missing or invalid model file is
    /// [`ErrorKind::InvalidConfig`].
    pub fn new(config: OcrsConfig) -> Result<Self> {
        let (detection_model, recognition_model) = load_models(&config.models)?;
        let identity = format!(
            "ocrs, models {:?}, split_columns {}",
            config.models, config.split_columns
        );
        let engine = ocrs::OcrEngine::new(ocrs::OcrEngineParams {
            detection_model: Some(detection_model),
            recognition_model: Some(recognition_model),
            ..Default::default()
        })
        .map_err(|error| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("failed to build the ocrs engine: {error}"),
            )
        })?;

        let max_concurrent_pages = config.max_concurrent_pages.max(1);
        let inference_threads = rten::thread_pool().run(rayon::current_num_threads);
        tracing::info!(
            max_concurrent_pages,
            inference_threads,
            split_columns = config.split_columns,
            "ocrs engine ready"
        );
        Ok(Self {
            engine: Arc::new(engine),
            permits: Arc::new(Semaphore::new(max_concurrent_pages)),
            max_concurrent_pages,
            inference_threads,
            split_columns: config.split_columns,
            identity,
        })
    }

    /// Threads of rten's process-wide pool, which every page in flight shares.
    pub fn inference_threads(&self) -> usize {
        self.inference_threads
    }

    /// Recognises one page on the calling thread, ignoring the concurrency
    /// bound. It blocks for the whole recognition, so async callers use
    /// [`OcrEngine::recognize`] instead.
    pub fn recognize_blocking(&self, page: &Page) -> Result<PageText> {
        let failure = |message: String| {
            Error::new(
                ErrorKind::OcrFailure,
                format!("page {}: {message}", page.index),
            )
        };
        catch_unwind(AssertUnwindSafe(|| {
            recognize_page(&self.engine, page, self.split_columns)
        }))
        .map_err(|_| failure("ocrs panicked while recognising the page".into()))?
        .map_err(|error| failure(format!("ocrs failed: {error}")))
    }
}

#[async_trait]
impl OcrEngine for OcrsEngine {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::new(ErrorKind::OcrFailure, "the ocrs engine is shut down"))?;

        let engine = self.clone();
        let page = page.clone();
        let index = page.index;
        tokio::task::spawn_blocking(move || engine.recognize_blocking(&page))
            .await
            .map_err(|error| {
                Error::new(
                    ErrorKind::OcrFailure,
                    format!("page {index}: the OCR task failed: {error}"),
                )
            })?
    }

    fn name(&self) -> &str {
        "ocrs"
    }

    fn cache_identity(&self) -> String {
        self.identity.clone()
    }

    fn max_concurrent_pages(&self) -> usize {
        self.max_concurrent_pages
    }
}

fn load_models(source: &ModelSource) -> Result<(rten::Model, rten::Model)> {
    match source {
        ModelSource::Bundled => load_bundled(),
        ModelSource::Files {
            detection,
            recognition,
        } => {
            let load = |path: &PathBuf, role: &str| {
                rten::Model::load_file(path).map_err(|error| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "failed to load the ocrs {role} model from {}: {error}; set the path of a .rten or .onnx file",
                            path.display()
                        ),
                    )
                })
            };
            Ok((
                load(detection, "detection")?,
                load(recognition, "recognition")?,
            ))
        }
    }
}

#[cfg(feature = "bundled-models")]
fn load_bundled() -> Result<(rten::Model, rten::Model)> {
    let load = |bytes: &'static [u8], role: &str| {
        rten::Model::load_static_slice(bytes).map_err(|error| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("failed to load the bundled ocrs {role} model: {error}"),
            )
        })
    };
    Ok((
        load(bundled::DETECTION_MODEL, "detection")?,
        load(bundled::RECOGNITION_MODEL, "recognition")?,
    ))
}

#[cfg(not(feature = "bundled-models"))]
fn load_bundled() -> Result<(rten::Model, rten::Model)> {
    Err(Error::new(
        ErrorKind::InvalidConfig,
        "docsnap-core was built without the bundled-models feature; set the ocrs model file paths",
    ))
}

/// Runs detection, line finding, optional column splitting and recognition;
/// errors are plain messages to which the caller adds the page index.
fn recognize_page(
    engine: &ocrs::OcrEngine,
    page: &Page,
    split_columns: bool,
) -> std::result::Result<PageText, String> {
    let started = Instant::now();
    let (width, height) = page.image.dimensions();
    let source = ocrs::ImageSource::from_bytes(page.image.as_raw(), (width, height))
        .map_err(|error| error.to_string())?;
    let input = engine
        .prepare_input(source)
        .map_err(|error| error.to_string())?;
    let words = engine
        .detect_words(&input)
        .map_err(|error| error.to_string())?;
    let detect_ms = started.elapsed().as_millis();
    let mut lines = engine.find_text_lines(&input, &words);

    if split_columns {
        lines = split_lines_at_gutters(lines);
    }

    let started = Instant::now();
    let recognized = engine
        .recognize_text(&input, &lines)
        .map_err(|error| error.to_string())?;
    tracing::debug!(
        page = page.index,
        lines = lines.len(),
        detect_ms,
        recognize_ms = started.elapsed().as_millis(),
        "ocrs stages timed"
    );
    let mut text_lines: Vec<TextLine> = lines
        .iter()
        .zip(recognized)
        .filter_map(|(word_rects, line)| {
            let text = line?.to_string().trim().to_string();
            (!text.is_empty()).then(|| TextLine {
                text,
                bbox: union_box(word_rects),
                confidence: None,
            })
        })
        .collect();

    if split_columns {
        let boxes: Vec<BoundingBox> = text_lines.iter().map(|line| line.bbox).collect();
        let order = reading_order(&boxes);
        let mut slots: Vec<Option<TextLine>> = text_lines.into_iter().map(Some).collect();
        text_lines = order.into_iter().filter_map(|i| slots[i].take()).collect();
    }

    Ok(PageText {
        index: page.index,
        width,
        height,
        lines: text_lines,
    })
}

/// Cuts lines at the gutters found from the word boxes of all lines. ocrs
/// can group words into lines across the whole page width, so a line of the
/// left column and the line beside it in the right column come out as one.
fn split_lines_at_gutters(lines: Vec<Vec<RotatedRect>>) -> Vec<Vec<RotatedRect>> {
    let line_boxes: Vec<Vec<BoundingBox>> = lines
        .iter()
        .map(|line| line.iter().map(rect_box).collect())
        .collect();
    let gutters = find_gutters_in_lines(&line_boxes);
    if gutters.is_empty() {
        return lines;
    }

    let mut split = Vec::with_capacity(lines.len());
    for (line, boxes) in lines.into_iter().zip(&line_boxes) {
        for range in split_line_at_gutters(boxes, &gutters) {
            split.push(line[range].to_vec());
        }
    }
    split
}

fn rect_box(rect: &RotatedRect) -> BoundingBox {
    let bounds = rect.bounding_rect();
    BoundingBox {
        x: bounds.left(),
        y: bounds.top(),
        width: bounds.width(),
        height: bounds.height(),
    }
}

fn union_box(rects: &[RotatedRect]) -> BoundingBox {
    let boxes: Vec<BoundingBox> = rects.iter().map(rect_box).collect();
    if boxes.is_empty() {
        return BoundingBox::default();
    }
    let left = boxes.iter().map(|b| b.x).fold(f32::INFINITY, f32::min);
    let top = boxes.iter().map(|b| b.y).fold(f32::INFINITY, f32::min);
    let right = boxes
        .iter()
        .map(|b| b.x + b.width)
        .fold(f32::NEG_INFINITY, f32::max);
    let bottom = boxes
        .iter()
        .map(|b| b.y + b.height)
        .fold(f32::NEG_INFINITY, f32::max);
    BoundingBox {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    }
}
