//! Multi-page recognition and the page-marked text that extractors read.

use futures::{StreamExt, TryStreamExt, stream};

use crate::error::Result;
use crate::ocr::{OcrEngine, Page, PageText};

/// Recognises every page, running up to the engine's
/// [`max_concurrent_pages`](OcrEngine::max_concurrent_pages) at once, and
/// returns the texts in page order. The first failure fails the whole call.
pub async fn recognize_pages(engine: &dyn OcrEngine, pages: &[Page]) -> Result<Vec<PageText>> {
    let concurrency = engine.max_concurrent_pages().max(1);
    // Collecting the futures first keeps the closure out of the stream type,
    // whose higher-ranked lifetime would otherwise make the caller's future
    // not `Send`.
    let recognitions: Vec<_> = pages.iter().map(|page| engine.recognize(page)).collect();
    stream::iter(recognitions)
        .buffered(concurrency)
        .try_collect()
        .await
}

/// Joins page texts, putting a `----page N----` line (N counted from 1)
/// before each page so that extractors can tell where a value was read.
pub fn join_pages(pages: &[PageText]) -> String {
    let mut joined = String::new();
    for (position, page) in pages.iter().enumerate() {
        if position > 0 {
            joined.push('\n');
        }
        joined.push_str(&format!("----page {}----\n", position + 1));
        joined.push_str(&page.text());
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::{BoundingBox, TextLine};

    fn page(index: usize, lines: &[&str]) -> PageText {
        PageText {
            index,
            width: 100,
            height: 100,
            lines: lines
                .iter()
                .map(|text| TextLine {
                    text: (*text).to_string(),
                    bbox: BoundingBox::default(),
                    confidence: None,
                })
                .collect(),
        }
    }

    #[test]
    fn join_marks_each_page() {
        let joined = join_pages(&[page(0, &["Name: Ada", "Date: 1815"]), page(1, &["Signed"])]);
        assert_eq!(
            joined,
            "----page 1----\nName: Ada\nDate: 1815\n----page 2----\nSigned"
        );
    }

    #[test]
    fn join_keeps_empty_pages() {
        assert_eq!(
            join_pages(&[page(0, &[]), page(1, &["x"])]),
            "----page 1----\n\n----page 2----\nx"
        );
    }

    #[test]
    fn join_of_no_pages_is_empty() {
        assert_eq!(join_pages(&[]), "");
    }
}
