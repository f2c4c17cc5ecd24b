//! Text recognition: page images in, text lines with boxes out.

mod intake;
mod ocrs_engine;
pub mod order;
mod pages;
pub mod remote;

pub use intake::{IntakeLimits, decode_page, decode_pages};
#[cfg(feature = "bundled-models")]
pub use ocrs_engine::bundled;
pub use ocrs_engine::{ModelSource, OcrsConfig, OcrsEngine};
pub use pages::{join_pages, recognize_pages};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// An axis-aligned box in page pixels, origin at the top left.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// One line of recognised text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    /// The text of the line.
    pub text: String,
    /// Where the line is on the page.
    pub bbox: BoundingBox,
    /// Recognition confidence in `0.0..=1.0`, where the engine gives one.
    pub confidence: Option<f32>,
}

/// The recognised text of one page, lines in reading order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PageText {
    /// Zero-based page index within the task.
    pub index: usize,
    /// Width of the page image the boxes refer to, in pixels.
    pub width: u32,
    /// Height of the page image the boxes refer to, in pixels.
    pub height: u32,
    /// Lines in reading order.
    pub lines: Vec<TextLine>,
}

impl PageText {
    /// Returns the page's plain text: one line of text per line.
    pub fn text(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|line| line.text.as_str()).collect();
        lines.join("\n")
    }
}

/// A decoded, normalised page image ready for recognition.
#[derive(Debug, Clone)]
pub struct Page {
    /// Zero-based page index within the task.
    pub index: usize,
    /// The page as 8-bit RGB, upright (EXIF orientation applied).
    pub image: image::RgbImage,
}

/// A text recogniser.
///
/// Implementations are shared between tasks, so they must be cheap to call
/// concurrently; each bounds its own concurrency.
#[async_trait]
pub trait OcrEngine: Send + Sync + std::fmt::Debug {
    /// Recognises the text of one page.
    async fn recognize(&self, page: &Page) -> Result<PageText>;

    /// A short name for logs and metrics, such as `ocrs`.
    fn name(&self) -> &str;

    /// Returns the identity of this engine's output in a result cache. Two
    /// engines with the same identity read the same page the same way.
    fn cache_identity(&self) -> String {
        self.name().to_owned()
    }

    /// How many pages this engine recognises at once; callers such as
    /// [`recognize_pages`] keep at most this many calls in flight.
    fn max_concurrent_pages(&self) -> usize {
        1
    }
}
